// `npm run bench:synth`: synth cost of our constructs against a raw cdktf stack with the same
// resources, for 1, 10 and 50 blue/green models. Each run is its own process (runs alternate
// ours/raw so machine noise hits both); the median of RUNS is reported, with ratios ours/raw.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { median } from "./report";

interface Run {
  mode: string;
  models: number;
  importMs: number;
  constructMs: number;
  synthMs: number;
  totalMs: number;
  maxRssMiB: number;
}

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES = (process.env.BENCH_MODELS ?? "1,10,50").split(",").map(Number);
const root = path.resolve(__dirname, "..", "..");
const tsNode = path.join(root, "node_modules", ".bin", "ts-node");

function once(mode: string, models: number): Run {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${mode}-`));
  try {
    const out = execFileSync(
      process.execPath,
      [tsNode, "--transpile-only", path.join(__dirname, "synth-run.ts"), mode, String(models), outdir],
      {
        cwd: root,
        env: { ...process.env, CHECKPOINT_DISABLE: "1" },
        encoding: "utf8",
      },
    );
    return JSON.parse(out.trim().split("\n").pop()!);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

const f = (x: number, d = 0) => x.toFixed(d);

console.log(`synth benchmark: median of ${RUNS} runs per cell, node ${process.version}, ${os.cpus().length} cores`);
console.log("");
console.log(
  "| models | ours construct+synth ms | raw construct+synth ms | ratio | ours process ms | raw process ms | ratio | ours peak RSS MiB | raw peak RSS MiB | ratio |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const models of SIZES) {
  const runs: Record<string, Run[]> = { ours: [], raw: [] };
  for (let i = 0; i < RUNS; i++)
    for (const mode of i % 2 ? ["raw", "ours"] : ["ours", "raw"]) runs[mode].push(once(mode, models));
  const m = (mode: string, key: keyof Run) => median(runs[mode].map((r) => r[key] as number));
  const work = (mode: string) => median(runs[mode].map((r) => r.constructMs + r.synthMs));
  console.log(
    `| ${models} | ${f(work("ours"))} | ${f(work("raw"))} | ${f(work("ours") / work("raw"), 2)} ` +
      `| ${f(m("ours", "totalMs"))} | ${f(m("raw", "totalMs"))} | ${f(m("ours", "totalMs") / m("raw", "totalMs"), 2)} ` +
      `| ${f(m("ours", "maxRssMiB"))} | ${f(m("raw", "maxRssMiB"))} | ${f(m("ours", "maxRssMiB") / m("raw", "maxRssMiB"), 2)} |`,
  );
}
