import { spawnSync } from "child_process";
import * as path from "path";
import { RunningTriton, startTriton } from "./peers/triton";

// Memory stays bounded when many connections each receive a response near the size cap: the probe
// reads each answer whole and keeps none of it. A real Triton answers 14 MiB tensors (3.5 M FP32,
// binary) under a 16 MiB cap; the verifier runs in a child process whose peak RSS is compared
// between 1 and 16 connections. Keeping the bodies would add 15 x 14 MiB and more.

const ELEMENTS = 3_500_000;
const probe = path.join(__dirname, "peers", "memory-probe.ts");
const tsNode = path.resolve(__dirname, "..", "node_modules", "ts-node", "dist", "bin.js");

describe("verifier memory with many connections at the size cap, against Triton", () => {
  let triton: RunningTriton;
  beforeAll(async () => {
    triton = await startTriton({ models: { tensors: [1] } });
  }, 120_000);
  afterAll(() => triton?.stop());

  const run = (concurrency: number) => {
    const r = spawnSync(
      process.execPath,
      [tsNode, "--transpile-only", probe, triton.url, String(concurrency), String(ELEMENTS)],
      { encoding: "utf8", timeout: 240_000 },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { verdict: string; errors?: string[]; maxRssMiB: number };
  };

  test("peak RSS at 16 connections is within 64 MiB of that at 1 connection", () => {
    const one = run(1);
    const sixteen = run(16);
    expect({ one: one.verdict, sixteen: sixteen.verdict, errors: sixteen.errors }).toEqual({
      one: "pass",
      sixteen: "pass",
      errors: [],
    });
    // printed for the record: the figures go with the note, not into a timed assertion
    console.log(
      `verifier peak RSS: ${one.maxRssMiB.toFixed(0)} MiB at 1 connection, ${sixteen.maxRssMiB.toFixed(0)} MiB at 16 (14 MiB answers)`,
    );
    expect(sixteen.maxRssMiB - one.maxRssMiB).toBeLessThan(64);
  }, 300_000);
});
