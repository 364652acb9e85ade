// `npm run bench:gateway`: how fast the weights move through the platform's Gateway (Contour and a
// real Envoy, on the e2e rig of test/e2e/gateway-fixture.ts: OpenTofu, the test cluster, real
// Tritons, a real Prometheus, steady load through the Gateway). Each measured run is
// `cdktf-triton promote` of a candidate that fails 5 % of requests: its first step (a rise: applied,
// then served: *move started* -> *served*, and *applied* -> *served*) and its abort (a fall: the
// HTTPRoute patched first, then applied: *decision* -> *served*), read back by the driver from the
// Gateway's Envoy's admin (the clocks: docs/benchmarks.md).
// The reference, side by side: the same rollback as a pipeline does it without the driver,
// `tofu apply -var fraud_canary=0`, timed from the apply's start to the Gateway's Envoy serving 0 %
// (its admin polled every 50 ms). Writes the table into docs/benchmarks.md.
import * as os from "os";
import * as fs from "fs";
import * as path from "path";
import { GatewayRig, SERVICE } from "../../test/e2e/gateway-fixture";
import { until } from "../../test/peers/wait";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function main() {
  const rig = new GatewayRig(path.join(os.tmpdir(), "bench-gateway"), "bench-gateway");
  const rise: { decided: number; applied: number }[] = [];
  const abort: number[] = [];
  const byApply: number[] = [];
  const served = (blue: number) => async () =>
    JSON.stringify(await rig.served()) === JSON.stringify({ [SERVICE.blue]: blue, [SERVICE.green]: 100 - blue });
  try {
    await rig.start();
    // Green serves (switched to by a plain apply: the pair has no gate here); blue is the bad candidate.
    await rig.stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=green");
    await rig.stage("blue", "v5", rig.tritons.v5);
    for (let i = 0; i < RUNS * 2; i++) {
      if (i % 2 === 0) {
        const json = path.join(rig.work, `run-${i}.json`);
        const r = await rig.promote("--json-file", json);
        if (r.code !== 1) throw new Error(`the promotion did not abort (exit ${r.code}):\n${r.out.slice(-3000)}`);
        const timings = JSON.parse(fs.readFileSync(json, "utf8")).timings;
        const moves = timings.moves;
        const [first, last] = [moves[0], moves[moves.length - 1]];
        if (last.order !== "push-first") throw new Error(`the abort was not patched first: ${JSON.stringify(last)}`);
        rise.push({
          decided: Date.parse(first.servedAt) - Date.parse(first.startedAt),
          applied: Date.parse(first.servedAt) - Date.parse(first.appliedAt),
        });
        abort.push(Date.parse(last.servedAt) - Date.parse(timings.decisionAt));
        console.log(
          `run ${i + 1} (the driver): step 1 served ${rise[rise.length - 1].decided} ms after its move started, ${rise[rise.length - 1].applied} ms after the apply; the abort served ${abort[abort.length - 1]} ms after the decision`,
        );
      } else {
        await rig.stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=green", "-var", "fraud_canary=10");
        await until("the Gateway serving 10 % to blue", 30_000, served(10), 50);
        const t0 = Date.now();
        await rig.stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=green", "-var", "fraud_canary=0");
        await until("the Gateway serving 0 % to blue", 30_000, served(0), 50);
        byApply.push(Date.now() - t0);
        console.log(
          `run ${i + 1} (the reference, a plain apply): served ${byApply[byApply.length - 1]} ms after the apply started`,
        );
      }
    }
  } finally {
    await rig.stop();
  }
  const s = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
  const mw = (xs: number[]) => `${s(median(xs))} [${s(Math.max(...xs))}]`;
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, ${RUNS} runs each, alternating (median [worst]); Contour v1.33.8 serving xDS to one real Envoy 1.40, OpenTofu applying the stack, 4 clients of steady load through the Gateway.`,
    "",
    "| move | from *decision* (an abort) or *move started* (a step) -> *served* by the Gateway's Envoy | *applied* -> *served* |",
    "|---|---|---|",
    `| a step's rise to 10 % (the driver: applied, then read back; from *move started*) | ${mw(rise.map((r) => r.decided))} | ${mw(rise.map((r) => r.applied))} |`,
    `| an abort to 0 % (the driver: the HTTPRoute patched, read back, then applied; from *decision*) | ${mw(abort)} | (applied after) |`,
    `| the same rollback by \`tofu apply -var fraud_canary=0\` (reference; from the apply's start, as a pipeline's decision) | ${mw(byApply)} | |`,
    "",
    `Ratio, the driver's abort to the rollback by apply: ${(median(abort) / median(byApply)).toFixed(2)}. A rise waits for OpenTofu's apply (most of its time), then Contour's push and the read-back; the target (issue 22) is at most 2 s from the apply to the Gateway's Envoy serving it, and an abort within 2 s of its decision.`,
  ];
  lines.forEach((l) => console.log(l));
  writeBenchmarkBlock("gateway", "The canary through the platform's Gateway (npm run bench:gateway)", lines);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
