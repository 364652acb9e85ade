// `npm run bench:switch`: what the gate costs in the apply that switches, with and without fast
// rollback. The gate's command (`cdktf-triton verify`, as local-exec runs it) against a real Triton
// 2.51.0 serving the classifier: a full verification (the reference: health, readiness, metadata,
// a golden case, 50 probe requests) side by side with a rollback to a fingerprint that passed the
// same spec before (checks skipped). Wall time of the whole process, median of BENCH_RUNS runs.
// Writes the table into docs/benchmarks.md.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { startTriton } from "../../test/peers/triton";
import { classifierSpec } from "../../test/peers/triton-models";
import { packedCli } from "./packed-cli";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

async function main() {
  const BIN = packedCli();
  const triton = await startTriton({ models: { classifier: [1] } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-switch-"));
  const lines: string[] = [];
  const out = (s = "") => {
    console.log(s);
    lines.push(s);
  };
  try {
    const spec = { ...classifierSpec(), probe: { ...classifierSpec().probe!, requests: 50, concurrency: 2 } };
    const specFile = path.join(dir, "verify.json");
    fs.writeFileSync(specFile, JSON.stringify(spec));
    const specHash = createHash("sha256").update(fs.readFileSync(specFile)).digest("hex").slice(0, 16);
    const fingerprint = "0123456789abcdef";
    const run = (extra: string[]) => {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        [BIN, "verify", "--spec", specFile, "--url", triton.url, "--fingerprint", fingerprint, "-q", ...extra],
        { encoding: "utf8", timeout: 120_000 },
      );
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`cdktf-triton verify exited ${r.status}: ${r.stdout}${r.stderr}`);
      return { ms, out: r.stdout };
    };
    const verified: number[] = [];
    const skipped: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      verified.push(run([]).ms);
      const s = run(["--passed", `${fingerprint} ${specHash} 2026-11-29T00:00:00Z`]);
      if (s.out.trim() !== "pass") throw new Error(`the skipped run said ${s.out}`);
      skipped.push(s.ms);
    }
    const v = median(verified);
    const k = median(skipped);
    out(
      `Run of ${new Date().toISOString().slice(0, 10)}: Triton 2.51.0 (nvidia-pytriton 0.7.0) on loopback, the classifier's spec with 1 golden case and 50 probe requests at concurrency 2, ${RUNS} runs each (median; worst in brackets). Wall time of \`cdktf-triton verify\` from the packed package as the gate runs it (Node start included; a port-forward, which the gate adds in a cluster, is not).`,
    );
    out();
    out("| gate run | wall time | ratio to the verified switch |");
    out("|---|---:|---:|");
    out(
      `| verified switch (reference): every check | ${v.toFixed(0)} ms [${Math.max(...verified).toFixed(0)} ms] | 1.00 |`,
    );
    out(
      `| rollback to a fingerprint that passed: checks skipped | ${k.toFixed(0)} ms [${Math.max(...skipped).toFixed(0)} ms] | ${(k / v).toFixed(2)} |`,
    );
  } finally {
    await triton.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  writeBenchmarkBlock("switch", "Switch safety: `npm run bench:switch`", lines);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
