// `npm run bench:promote`: how fast a staged promotion stops a bad candidate, measured end to end on
// the e2e rig (test/e2e/promote-fixture.ts: OpenTofu applying to the test cluster, our Envoy from the
// applied ConfigMap, real Tritons, a real Prometheus, steady load), next to Flagger's defaults
// computed from its documented configuration. Writes the table into docs/benchmarks.md.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PromotionMetric } from "../../lib";
import { PromoteRig, PromotionSettings, TEST_ANALYSIS, TEST_STEPS } from "../../test/e2e/promote-fixture";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
// Flagger's defaults (docs.flagger.app, canary analysis): a check every `interval` (1m), the canary
// rolled back after `threshold` (5) failed checks: a bad canary is stopped up to 5 minutes after
// it starts failing.
const FLAGGER = { intervalSeconds: 60, threshold: 5 };

interface Run {
  firstErrorToDecisionMs: number;
  decisionToZeroMs: number;
  lastCandidateAnswerAfterZeroMs: number;
  failed: number;
}

async function measure(label: string, settings: PromotionSettings): Promise<Run[]> {
  const rig = new PromoteRig(path.join(os.tmpdir(), `bench-promote-${label}`), `bench-promote-${label}`, settings);
  const runs: Run[] = [];
  try {
    await rig.start();
    for (let i = 0; i < RUNS; i++) {
      // Green becomes the bad candidate (5 % errors) while blue serves.
      await rig.stage("green", `bad-${i}`, rig.tritons.v5);
      const from = rig.load.samples.length;
      const json = path.join(rig.work, `bad-${i}.json`);
      const r = await rig.promote("--json", json);
      if (r.code !== 1) throw new Error(`the bad candidate was not aborted (exit ${r.code}):\n${r.out.slice(-3000)}`);
      const report = JSON.parse(fs.readFileSync(json, "utf8"));
      const epoch = (endMs: number) => performance.timeOrigin + endMs;
      const samples = rig.load.samples.slice(from);
      const firstError = samples.find((x) => x.status !== 200);
      const decision = Date.parse(report.timings.decisionAt);
      const zero = Date.parse(report.timings.zeroTrafficAt);
      const lastBad = [...samples].reverse().find((x) => x.version === "5" || x.status !== 200);
      if (!firstError || !lastBad) throw new Error("the bad candidate answered nothing");
      runs.push({
        firstErrorToDecisionMs: decision - epoch(firstError.endMs),
        decisionToZeroMs: zero - decision,
        lastCandidateAnswerAfterZeroMs: epoch(lastBad.endMs) - zero,
        failed: samples.filter((x) => x.status !== 200).length,
      });
      console.log(`${label} run ${i + 1}: ${JSON.stringify(runs[runs.length - 1])}`);
    }
  } finally {
    await rig.stop();
  }
  return runs;
}

async function main() {
  const test = await measure("test", { steps: TEST_STEPS, analysis: TEST_ANALYSIS });
  // What a user gets by default: a 30 s analysis interval, failureLimit 0.
  const defaults = await measure("defaults", {
    steps: [{ weightPercent: 10, bakeSeconds: 120 }, { weightPercent: 100, bakeSeconds: 120 }],
    analysis: { metrics: [PromotionMetric.successRate({ minPercent: 99 })] },
  });
  const flaggerMs = FLAGGER.intervalSeconds * FLAGGER.threshold * 1000;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const row = (name: string, runs: Run[]) => {
    const d = median(runs.map((r) => r.firstErrorToDecisionMs));
    const worst = Math.max(...runs.map((r) => r.firstErrorToDecisionMs));
    return `| ${name} | ${s(d)} [${s(worst)}] | ${(d / flaggerMs).toFixed(3)} | ${s(median(runs.map((r) => r.decisionToZeroMs)))} | ${median(runs.map((r) => r.failed))} |`;
  };
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, ${RUNS} aborted runs per row (median [worst]); a candidate failing 5 % of requests at a 10 % step, 4 clients of steady load through Envoy.`,
    "",
    "| analysis | first error -> abort decision | ratio to Flagger's defaults | decision -> candidate at 0 % in Envoy | requests failed (median) |",
    "|---|---|---|---|---|",
    row("ours, the tests' settings (2 s interval)", test),
    row("ours, defaults (30 s interval, failureLimit 0)", defaults),
    `| Flagger defaults (interval 1m, threshold 5), computed | up to ${s(flaggerMs)} | 1 | the next reconcile | - |`,
    "",
    `The last answer from the candidate came ${Math.round(-Math.max(...[...test, ...defaults].map((r) => r.lastCandidateAnswerAfterZeroMs)))} ms or more before every Envoy served 0 % (in every run): the rollback reaches open connections too (route tables by RDS).`,
    "",
    "The decision is the driver's (a failed measurement over its window); 0 % is when every Envoy serves the rollback's weights (the apply plus the ConfigMap reaching Envoy: here a stand-in polling the API server every 200 ms; a kubelet's sync takes up to about a minute more).",
  ];
  lines.forEach((l) => console.log(l));
  writeBenchmarkBlock("promote", "Staged promotion: stopping a bad candidate (npm run bench:promote)", lines);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
