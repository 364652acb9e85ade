// `npm run bench:verify`:
// 1. Request rate of the verifier's probe against autocannon, same endpoint, same connection
//    count, same number of requests, runs alternating; median of RUNS. Three endpoints: Triton's
//    classifier infer (the real Triton 2.51 of the tests), MLServer's iris infer (real servers,
//    which saturate first) and a fixed-response endpoint in its own process (a double that shows
//    the client's own overhead).
// 2. Time to a verdict for one model: health, readiness, metadata, golden cases and a 500-request
//    probe, against Triton and MLServer on loopback: in process (verify()), and as the CLI process
//    the gate runs.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import autocannon from "autocannon";
import { OipClient, runProbe, verify, VerifySpec } from "../../lib/run";
import { encodeInferRequest } from "../../lib/run/verify/binary";
import { irisMetadata, setosa, virginica } from "../../test/peers/iris";
import { startMlserver } from "../../test/peers/servers";
import { startTriton } from "../../test/peers/triton";
import { classifierSpec, setosa as irisSetosa } from "../../test/peers/triton-models";
import { packedCli } from "./packed-cli";
import { median } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONNECTIONS = 8;

interface Endpoint {
  name: string;
  origin: string;
  model: string;
  body: Buffer;
  headers: Record<string, string>;
  requests: number;
}

async function autocannonRate(e: Endpoint): Promise<number> {
  const t0 = performance.now();
  const result = await autocannon({
    url: `${e.origin}/v2/models/${e.model}/infer`,
    method: "POST",
    headers: e.headers,
    body: e.body,
    connections: CONNECTIONS,
    amount: e.requests,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (result.non2xx || result.errors)
    throw new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors`);
  return e.requests / seconds;
}

async function probeRate(e: Endpoint): Promise<number> {
  const client = new OipClient({ url: e.origin, connections: CONNECTIONS });
  try {
    const r = await runProbe(
      client,
      { model: e.model, payload: { body: e.body, headers: e.headers } },
      e.requests,
      CONNECTIONS,
      new AbortController().signal,
    );
    if (r.errors) throw new Error(`probe saw ${r.errors} errors: ${r.errorSamples[0]}`);
    return r.requestsPerSecond;
  } finally {
    await client.close();
  }
}

const verdictSpec: VerifySpec = {
  waitForReadySeconds: 30,
  models: [
    {
      name: "iris",
      metadata: irisMetadata,
      golden: [
        {
          name: "setosa",
          inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: setosa }],
          outputs: [{ name: "predict", data: [0] }],
        },
        {
          name: "virginica",
          inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: virginica }],
          outputs: [{ name: "predict", data: [2] }],
        },
        {
          name: "proba",
          inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: setosa }],
          outputs: [{ name: "predict_proba", argmax: true, data: [0] }],
        },
      ],
    },
  ],
  probe: { model: "iris", case: "setosa", requests: 500, concurrency: CONNECTIONS, budgets: { p99Seconds: 1 } },
};

async function main() {
  const mlserver = await startMlserver();
  const triton = await startTriton({ models: { classifier: [1] } });
  const fixed = spawn(process.execPath, [path.join(__dirname, "fixed-endpoint.js")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve) => fixed.stdout!.once("data", (d) => resolve(String(d).trim())));
  try {
    const iris = encodeInferRequest({ inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: setosa }] });
    const small = encodeInferRequest({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] });
    const classifier = encodeInferRequest({
      inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: irisSetosa }],
    });
    const endpoints: Endpoint[] = [
      {
        name: "Triton 2.51 classifier infer (real server, Python backend)",
        origin: triton.url,
        model: "classifier",
        body: classifier.body,
        headers: classifier.headers,
        requests: 2000,
      },
      {
        name: "MLServer iris infer (real server)",
        origin: mlserver.url,
        model: "iris",
        body: iris.body,
        headers: iris.headers,
        requests: 2000,
      },
      {
        name: "fixed-response endpoint (client overhead)",
        origin: `http://127.0.0.1:${port}`,
        model: "m",
        body: small.body,
        headers: small.headers,
        requests: 20000,
      },
    ];
    console.log(
      `verify benchmark: median of ${RUNS} runs, ${CONNECTIONS} connections, node ${process.version}, ${os.cpus().length} cores\n`,
    );
    console.log("| endpoint | requests | verifier probe req/s | autocannon req/s | ratio (target >= 0.9) |");
    console.log("|---|---:|---:|---:|---:|");
    for (const e of endpoints) {
      await probeRate({ ...e, requests: Math.min(500, e.requests) }); // warm-up
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        if (i % 2) {
          theirs.push(await autocannonRate(e));
          ours.push(await probeRate(e));
        } else {
          ours.push(await probeRate(e));
          theirs.push(await autocannonRate(e));
        }
      }
      console.log(
        `| ${e.name} | ${e.requests} | ${median(ours).toFixed(0)} | ${median(theirs).toFixed(0)} | ${(median(ours) / median(theirs)).toFixed(2)} |`,
      );
    }

    const tritonSpec: VerifySpec = {
      ...classifierSpec(),
      probe: { ...classifierSpec().probe!, requests: 500, concurrency: CONNECTIONS, budgets: { p99Seconds: 1 } },
    };
    const targets = [
      {
        name: "Triton 2.51, classifier (metadata, 1 golden case of 3 rows, 500-request probe)",
        url: triton.url,
        spec: tritonSpec,
      },
      {
        name: "MLServer 1.7, iris (metadata, 3 golden cases, 500-request probe)",
        url: mlserver.url,
        spec: verdictSpec,
      },
    ];
    // The CLI from the packed package, as a user's gate runs it (no ts-node).
    const packed = packedCli();
    console.log(
      "\n| time to a verdict (health, readiness, then the checks named) | verify() in process, s | CLI process from the packed package, as the gate runs it, s | target |",
    );
    console.log("|---|---:|---:|---:|");
    for (const t of targets) {
      const inProcess: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const report = await verify(t.spec, { url: t.url });
        if (report.verdict !== "pass") throw new Error(`verdict ${report.verdict}: ${JSON.stringify(report.checks)}`);
        inProcess.push(performance.now() - t0);
      }
      const specFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-verify-")), "spec.json");
      fs.writeFileSync(specFile, JSON.stringify(t.spec));
      const cli: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const r = spawnSync(process.execPath, [packed, "verify", "--spec", specFile, "--url", t.url, "--quiet"], {
          encoding: "utf8",
        });
        if (r.status !== 0) throw new Error(`CLI exited ${r.status}: ${r.stdout}${r.stderr}`);
        cli.push(performance.now() - t0);
      }
      console.log(
        `| ${t.name} | ${(median(inProcess) / 1000).toFixed(2)} | ${(median(cli) / 1000).toFixed(2)} | <= 1 |`,
      );
    }
  } finally {
    fixed.kill("SIGTERM");
    await Promise.all([mlserver.stop(), triton.stop()]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
