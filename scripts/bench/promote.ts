// `npm run bench:promote`: how fast a staged promotion stops a bad candidate, measured end to end on
// the e2e rig (test/e2e/promote-fixture.ts: OpenTofu applying to the test cluster, 2 Envoy pods from
// the applied ConfigMap refreshed at a kubelet's pace (60 s sync loop per pod, with jitter), real
// Tritons, a real Prometheus, steady load), next to Flagger's defaults computed from its documented
// configuration; and how long each move of the weights takes to reach every Envoy pod, with the
// push and by the ConfigMap alone (the same runs). Writes the tables into docs/benchmarks.md.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PromotionMetric } from "../../lib";
import { ENVOY_PODS, PromoteRig, PromotionSettings, TEST_ANALYSIS, TEST_STEPS } from "../../test/e2e/promote-fixture";
import { KUBELET_SYNC_SECONDS } from "../../test/peers/kubelet";
import { median, writeBenchmarkBlock } from "./report";
import { until } from "../../test/peers/wait";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// Flagger's defaults (docs.flagger.app, canary analysis): a check every `interval` (1m), the canary
// rolled back after `threshold` (5) failed checks: a bad canary is stopped up to 5 minutes after
// it starts failing.
const FLAGGER = { intervalSeconds: 60, threshold: 5 };

interface Run {
  /** *first error* -> *decision* (docs/benchmarks.md, the clocks). */
  firstErrorToDecisionMs: number;
  /** The abort: *decision* -> *served* (every Envoy pod read back at 0 %: the push). */
  decisionToZeroMs: number;
  /**
   * The same rollback by the ConfigMap alone (the driver before the push), right after in the same
   * rig: with every pod serving 10 % from its file, the decision -> the apply of 0 % -> every pod
   * serving it (each kubelet's sync). Measured on the runs with the tests' settings.
   */
  decisionToFilesMs?: number;
  /** The first step: *move started* -> *served* (the apply, then the push). */
  stepStartToServedMs: number;
  /** The first step: *applied* -> *served* (the push alone). */
  stepAppliedToServedMs: number;
  /** The candidate's last answer (*in traffic*) relative to *served* at 0 % (negative: before). */
  lastCandidateAnswerAfterZeroMs: number;
  failed: number;
}

/**
 * A rollback as the driver did it before the push: a plain apply, then every pod's kubelet. The
 * candidate (green) first at 10 % in every pod's file (a plain apply, waited for), then the decision
 * and the apply of 0 %, timed until every pod serves it. Blue serves; no runtime value is set (the
 * driver cleared them before it exited: checked).
 */
async function rollbackByConfigMap(rig: PromoteRig): Promise<number> {
  if ((await rig.overrides()).length) throw new Error("a runtime value was left by the driver");
  // Each pod's kubelet syncs within 1.5 periods (its jitter): 30 s of slack.
  const limit = KUBELET_SYNC_SECONDS * 1500 + 30_000;
  await rig.stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=blue", "-var", "fraud_canary=10");
  await until(
    "every pod serving 10 % from its file",
    limit,
    async () => (await rig.versionServed()) === "weights canary: blue=90, green=10",
    200,
  );
  const decided = Date.now();
  await rig.stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=blue", "-var", "fraud_canary=0");
  await until(
    "every pod serving 0 % from its file",
    limit,
    async () => (await rig.versionServed()) === "weights canary: blue=100, green=0",
    100,
  );
  return Date.now() - decided;
}

async function measure(label: string, settings: PromotionSettings, configMapOnly = false): Promise<Run[]> {
  const rig = new PromoteRig(path.join(os.tmpdir(), `bench-promote-${label}`), `bench-promote-${label}`, settings);
  const runs: Run[] = [];
  try {
    await rig.start();
    for (let i = 0; i < RUNS; i++) {
      // Green becomes the bad candidate (5 % errors) while blue serves.
      await rig.stage("green", `bad-${i}`, rig.tritons.v5);
      const from = rig.load.samples.length;
      const json = path.join(rig.work, `bad-${i}.json`);
      const r = await rig.promote("--json-file", json);
      if (r.code !== 1) throw new Error(`the bad candidate was not aborted (exit ${r.code}):\n${r.out.slice(-3000)}`);
      const report = JSON.parse(fs.readFileSync(json, "utf8"));
      const epoch = (endMs: number) => performance.timeOrigin + endMs;
      const samples = rig.load.samples.slice(from);
      const firstError = samples.find((x) => x.status !== 200);
      const decision = Date.parse(report.timings.decisionAt);
      const zero = Date.parse(report.timings.zeroTrafficAt);
      const lastBad = [...samples].reverse().find((x) => x.version === "5" || x.status !== 200);
      if (!firstError || !lastBad) throw new Error("the bad candidate answered nothing");
      const moves = report.timings.moves as {
        order: string;
        startedAt: string;
        appliedAt?: string;
        servedAt?: string;
        filesAt?: string;
      }[];
      const [step] = moves;
      const abort = moves[moves.length - 1];
      if (
        moves.length !== 2 ||
        step.order !== "apply-first" ||
        abort.order !== "push-first" ||
        !step.servedAt ||
        !abort.servedAt
      )
        throw new Error(`unexpected moves: ${JSON.stringify(moves)}`);
      const t = (iso: string) => Date.parse(iso);
      runs.push({
        firstErrorToDecisionMs: decision - epoch(firstError.endMs),
        decisionToZeroMs: t(abort.servedAt) - decision,
        stepStartToServedMs: t(step.servedAt) - t(step.startedAt),
        stepAppliedToServedMs: t(step.servedAt) - t(step.appliedAt!),
        lastCandidateAnswerAfterZeroMs: epoch(lastBad.endMs) - zero,
        failed: samples.filter((x) => x.status !== 200).length,
      });
      if (configMapOnly) runs[runs.length - 1].decisionToFilesMs = await rollbackByConfigMap(rig);
      console.log(`${label} run ${i + 1}: ${JSON.stringify(runs[runs.length - 1])}`);
    }
  } finally {
    await rig.stop();
  }
  return runs;
}

async function main() {
  const test = await measure("test", { steps: TEST_STEPS, analysis: TEST_ANALYSIS }, true);
  // What a user gets by default: a 30 s analysis interval, failureLimit 0.
  const defaults = await measure("defaults", {
    steps: [
      { weightPercent: 10, bakeSeconds: 120 },
      { weightPercent: 100, bakeSeconds: 120 },
    ],
    analysis: { metrics: [PromotionMetric.successRate({ minPercent: 99 })] },
  });
  const flaggerMs = FLAGGER.intervalSeconds * FLAGGER.threshold * 1000;
  const s = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
  const row = (name: string, runs: Run[]) => {
    const d = median(runs.map((r) => r.firstErrorToDecisionMs));
    const worst = Math.max(...runs.map((r) => r.firstErrorToDecisionMs));
    return `| ${name} | ${s(d)} [${s(worst)}] | ${(d / flaggerMs).toFixed(3)} | ${s(median(runs.map((r) => r.decisionToZeroMs)))} | ${median(runs.map((r) => r.failed))} |`;
  };
  const all = [...test, ...defaults];
  const mw = (xs: number[]) => `${s(median(xs))} [${s(Math.max(...xs))}]`;
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, ${RUNS} aborted runs per row (median [worst]); a candidate failing 5 % of requests at a 10 % step, 4 clients of steady load through ${ENVOY_PODS} Envoy pods whose mounted ConfigMap a stand-in kubelet refreshes every ${KUBELET_SYNC_SECONDS} s per pod, plus up to half of it as jitter (a kubelet's default sync loop).`,
    "",
    "| analysis | *first error* -> *decision* | ratio to Flagger's defaults | *decision* -> *served* (the candidate at 0 % in every Envoy pod) | requests failed (median) |",
    "|---|---|---|---|---|",
    row("ours, the tests' settings (2 s interval)", test),
    row("ours, defaults (30 s interval, failureLimit 0)", defaults),
    `| Flagger defaults (interval 1m, threshold 5), computed | up to ${s(flaggerMs)} | 1 | the next reconcile | - |`,
    "",
    `How the weights reach every Envoy pod, the same ${all.length} runs (median [worst]):`,
    "",
    "| move | with the push (read back from every pod) | by the ConfigMap alone (every pod's mounted file) |",
    "|---|---|---|",
    `| abort: *decision* -> *served* at 0 % | ${mw(all.map((r) => r.decisionToZeroMs))} | ${mw(test.map((r) => r.decisionToFilesMs!))} (${test.length} runs; from the apply's start) |`,
    `| a step (10 %): *move started* -> *served* (the apply, then the push) | ${mw(all.map((r) => r.stepStartToServedMs))} | - |`,
    `| a step (10 %): *applied* -> *served* (the push) | ${mw(all.map((r) => r.stepAppliedToServedMs))} | - |`,
    "",
    `The candidate's last answer (*in traffic*) came ${Math.round(-Math.max(...all.map((r) => r.lastCandidateAnswerAfterZeroMs)))} ms or more before *served* at 0 % (in every run): the rollback reaches open connections too (runtime values and route tables apply per request).`,
    "",
    "The *decision* is the driver's (a failed measurement over its window), before it writes the abort to the history and then pushes. With the push, 0 % is when the driver has read the rollback's weights back from every pod's admin (POST /runtime_modify through a port-forward, then GET /runtime and the route tables' version); it applies after that. The ConfigMap column is the rollback as the driver did it before the push, measured in the same rig right after each run with the tests' settings: every pod serving 10 % from its file, then the decision, the apply of 0 % (OpenTofu) and each pod's kubelet sync, until every pod serves 0 % (polled every 100 ms). A step applies first (its capacity and the ConfigMap), then pushes: its start -> served is mostly the engine's apply.",
  ];
  lines.forEach((l) => console.log(l));
  writeBenchmarkBlock("promote", "Staged promotion: stopping a bad candidate (npm run bench:promote)", lines);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
