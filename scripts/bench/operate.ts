// `npm run bench:operate`: how long an abort takes from another shell (`cdktf-triton abort`, the
// packed package's CLI as a user's project runs it: no ts-node), side by side with Ctrl-C in the
// driver's own shell, on the e2e rig (test/e2e/promote-fixture.ts: OpenTofu, the test cluster, 2 real
// Envoy pods refreshed at a kubelet's pace, real Tritons, a real Prometheus, steady load). Each run
// promotes a good candidate, and once every Envoy pod serves its first step (10 %) the operator
// acts (*asked*); timed until every Envoy pod serves 0 % (*served*: each pod's admin polled every
// 50 ms), and the driver's own *decision* -> *served*. Before each abort from another shell, a
// `pause` and a `resume` are timed *asked* -> *answered* (the command's exit). The clocks:
// docs/benchmarks.md. Writes the table into docs/benchmarks.md.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ENVOY_PODS, PromoteRig, TEST_ANALYSIS } from "../../test/e2e/promote-fixture";
import { engineEnv, kubeconfig } from "../../test/e2e/engine";
import { KUBELET_SYNC_SECONDS } from "../../test/peers/kubelet";
import { until } from "../../test/peers/wait";
import { packedCli } from "./packed-cli";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ZERO = "weights canary: blue=100, green=0";

interface Run {
  /** *asked* (the abort command starts, or the signal is sent) -> *served* at 0 % (the bench's poll). */
  actToZeroMs: number;
  /** The driver's own: *decision* (it read the request, or received the signal) -> *served* (its read-back). */
  seenToServedMs: number;
}

/** A command of the packed CLI for the rig's pair, *asked* -> *answered* (its exit); refused unless it exits 0. */
async function answered(bin: string, rig: PromoteRig, command: string): Promise<number> {
  const t0 = Date.now();
  const proc = spawn(
    process.execPath,
    [bin, command, "--app", "fraud", "-n", rig.namespace, "--kubeconfig", kubeconfig],
    { env: engineEnv(), stdio: "ignore" },
  );
  const code = await new Promise((r) => proc.on("close", r));
  if (code !== 0) throw new Error(`cdktf-triton ${command} exited ${code}`);
  return Date.now() - t0;
}

async function untilZero(rig: PromoteRig): Promise<number> {
  await until("every Envoy pod serving 0 %", 30_000, async () => (await rig.versionServed()) === ZERO, 50);
  return Date.now();
}

async function main() {
  const bin = packedCli();
  const rig = new PromoteRig(path.join(os.tmpdir(), "bench-operate"), "bench-operate", {
    steps: [
      { weightPercent: 10, bakeSeconds: 120 },
      { weightPercent: 100, bakeSeconds: 8 },
    ],
    analysis: TEST_ANALYSIS,
  });
  const other: Run[] = [];
  const own: Run[] = [];
  const pauses: number[] = [];
  const resumes: number[] = [];
  try {
    await rig.start();
    for (let i = 0; i < RUNS * 2; i++) {
      const fromShell = i % 2 === 0;
      const from = rig.webhook.messages.length;
      const json = path.join(rig.work, `run-${i}.json`);
      // --rollout-timeout 1: the run does not wait a kubelet sync for the files before the next run.
      const driver = rig.promoteProcess("--json-file", json, "--rollout-timeout", "1");
      await rig.untilStep(from, 10);
      await until(
        "every pod serving 10 %",
        10_000,
        async () => (await rig.versionServed()) === "weights canary: blue=90, green=10",
        50,
      );
      if (fromShell) {
        pauses.push(await answered(bin, rig, "pause"));
        resumes.push(await answered(bin, rig, "resume"));
      }
      const acted = Date.now();
      if (fromShell) {
        const abort = spawn(
          process.execPath,
          [bin, "abort", "--app", "fraud", "-n", rig.namespace, "--kubeconfig", kubeconfig],
          { env: engineEnv(), stdio: "ignore" },
        );
        const zero = await untilZero(rig);
        await new Promise((r) => abort.on("close", r));
        const done = await driver.exited;
        if (done.code !== 1) throw new Error(`the driver did not abort (exit ${done.code}):\n${done.out.slice(-2000)}`);
        const report = JSON.parse(fs.readFileSync(json, "utf8"));
        const move = report.timings.moves[report.timings.moves.length - 1];
        other.push({
          actToZeroMs: zero - acted,
          seenToServedMs: Date.parse(move.servedAt) - Date.parse(report.timings.decisionAt),
        });
      } else {
        driver.proc.kill("SIGINT");
        const zero = await untilZero(rig);
        const done = await driver.exited;
        if (done.code !== 130)
          throw new Error(`the driver was not interrupted (exit ${done.code}):\n${done.out.slice(-2000)}`);
        const report = JSON.parse(fs.readFileSync(json, "utf8"));
        const move = report.timings.moves[report.timings.moves.length - 1];
        own.push({
          actToZeroMs: zero - acted,
          seenToServedMs: Date.parse(move.servedAt) - Date.parse(report.timings.decisionAt),
        });
      }
      console.log(
        `run ${i + 1} (${fromShell ? "abort from another shell" : "Ctrl-C in the driver's shell"}): ${JSON.stringify((fromShell ? other : own).slice(-1)[0])}`,
      );
    }
  } finally {
    await rig.stop();
  }
  const s = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
  const mw = (xs: number[]) => `${s(median(xs))} [${s(Math.max(...xs))}]`;
  const ratio = median(other.map((r) => r.actToZeroMs)) / median(own.map((r) => r.actToZeroMs));
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, ${RUNS} runs each, alternating (median [worst]); a good candidate at its first step (10 %), 4 clients of steady load through ${ENVOY_PODS} Envoy pods (a stand-in kubelet refreshes their mounted ConfigMap every ${KUBELET_SYNC_SECONDS} s, with jitter).`,
    "",
    "| the operator | *asked* -> *served* at 0 % in every Envoy pod | the driver: *decision* -> *served* |",
    "|---|---|---|",
    `| \`cdktf-triton abort\` from another shell (the packed CLI) | ${mw(other.map((r) => r.actToZeroMs))} | ${mw(other.map((r) => r.seenToServedMs))} (decision: it read the request in its lease) |`,
    `| Ctrl-C in the driver's shell (reference) | ${mw(own.map((r) => r.actToZeroMs))} | ${mw(own.map((r) => r.seenToServedMs))} (decision: it received the signal) |`,
    "",
    `| request from another shell (the packed CLI) | *asked* -> *answered* (the command's exit) |`,
    "|---|---|",
    `| \`cdktf-triton pause\` | ${mw(pauses)} |`,
    `| \`cdktf-triton resume\` | ${mw(resumes)} |`,
    "",
    `Ratio, another shell to the driver's own (*asked* -> *served*): ${ratio.toFixed(1)}. From another shell the abort costs the CLI's start (Node, then one kubectl read and write of the Lease) and the driver's next look at its lease (every second); the rest is the same: the abort's decision written to the history, then the push. A pause or resume is answered at the driver's next look at its lease, then read back by the command.`,
  ];
  lines.forEach((l) => console.log(l));
  writeBenchmarkBlock("operate", "Operating a promotion: abort from another shell (npm run bench:operate)", lines);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
