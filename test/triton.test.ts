import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Report, scrapeMetrics, verify, VerifySpec } from "../lib/run";
import {
  classifierMetadata,
  classifierProbabilities,
  classifierSpec,
  setosa,
  versicolor,
  virginica,
} from "./peers/triton-models";
import { hangCheck } from "./hang-check";
import { freePort, makeCertificates, startAll } from "./peers/servers";
import { RunningTriton, startTriton } from "./peers/triton";

const BIN = path.resolve(__dirname, "..", "bin", "cdktf-triton.js");

/** A wrong expectation for an element: the pass with the right one compared something. */
const spoil = (d: number | boolean | string) => (typeof d === "number" ? d + 7 : typeof d === "boolean" ? !d : `${d}!`);

type Golden = NonNullable<VerifySpec["models"][number]["golden"]>;
/** One golden case per datatype of the tensors model. */
const DATATYPE_CASES: [string, Golden][] = [
  [
    "FP32",
    [
      {
        name: "fp32",
        inputs: [{ name: "F32", datatype: "FP32", shape: [3], data: [1.5, -2, 1e6] }],
        outputs: [{ name: "F32_OUT", datatype: "FP32", shape: [3], data: [3, -4, 2e6] }],
      },
    ],
  ],
  [
    "FP16",
    [
      {
        name: "fp16",
        inputs: [{ name: "F16", datatype: "FP16", shape: [3], data: [0.1, 2.5, -1000] }],
        outputs: [{ name: "F16_OUT", datatype: "FP16", shape: [3], data: [0.2, 5, -2000], atol: 1e-3, rtol: 1e-3 }],
      },
    ],
  ],
  [
    "BF16",
    [
      {
        name: "bf16",
        inputs: [{ name: "B16", datatype: "BF16", shape: [3], data: [0.1, 3.14159, -1e10] }],
        outputs: [{ name: "B16_OUT", datatype: "BF16", shape: [3], data: [0.1, 3.14159, -1e10], rtol: 1e-2 }],
      },
    ],
  ],
  [
    "BOOL",
    [
      {
        name: "bool",
        inputs: [{ name: "FLAG", datatype: "BOOL", shape: [3], data: [true, false, true] }],
        outputs: [{ name: "FLAG_OUT", datatype: "BOOL", shape: [3], data: [false, true, false] }],
      },
    ],
  ],
  [
    "INT64",
    [
      {
        name: "int64",
        inputs: [{ name: "I64", datatype: "INT64", shape: [2], data: [41, -(2 ** 40)] }],
        outputs: [{ name: "I64_OUT", datatype: "INT64", shape: [2], data: [42, -(2 ** 40) + 1] }],
      },
    ],
  ],
  [
    "BYTES",
    [
      {
        name: "bytes",
        inputs: [{ name: "STR", datatype: "BYTES", shape: [2], data: ["abc", "h\u00e9llo"] }],
        outputs: [{ name: "STR_OUT", datatype: "BYTES", shape: [2], data: ["cba", "oll\u00e9h"] }],
      },
    ],
  ],
];

// The verifier against the real Triton Inference Server 2.51.0 (nvidia-pytriton wheel, our own
// Python-backend models in test/models/): the server this library exists for.

const statuses = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));
const messageOf = (r: Report, name: string) => r.checks.find((c) => c.name === name)?.message;

describe("verifier against Triton 2.51.0", () => {
  let triton: RunningTriton;
  beforeAll(async () => {
    triton = await startTriton({ models: { classifier: [1, 2, 3], text: [1], tensors: [1] } });
  }, 120_000);
  afterAll(() => triton?.stop());

  test("passes a good candidate: health, readiness, metadata, golden, probe, and Triton's own counters", async () => {
    const report = await verify(classifierSpec({ version: "1" }), { url: triton.url, metricsUrl: triton.metricsUrl });
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(statuses(report)).toEqual({
      "server live": "pass",
      "server ready": "pass",
      "metrics scraped before": "pass",
      "model classifier/1 ready": "pass",
      "model classifier/1 metadata": "pass",
      "model classifier/1 golden three classes": "pass",
      "probe classifier/three classes": "pass",
      "server counters": "pass",
    });
    expect(report.verdict).toBe("pass");
    expect(report.probe).toMatchObject({ requests: 200, completed: 200, errors: 0 });
    // 1 golden + 200 probe requests, counted by Triton under nv_inference_request_success{model,version}
    expect(messageOf(report, "server counters")).toBe(
      "nv_inference_request_success +201, nv_inference_request_failure +0 (we sent 201 inferences)",
    );
  });

  test("Triton's counters carry model and version labels, and failures a reason", async () => {
    const samples = await scrapeMetrics(triton.metricsUrl);
    const success = samples.filter((s) => s.name === "nv_inference_request_success" && s.labels.model === "classifier");
    expect(success.map((s) => s.labels.version).sort()).toEqual(["1", "2", "3"]);
    const failure = samples.filter(
      (s) => s.name === "nv_inference_request_failure" && s.labels.model === "classifier" && s.labels.version === "1",
    );
    expect(failure.map((s) => s.labels.reason).sort()).toEqual(["BACKEND", "CANCELED", "OTHER", "REJECTED"]);
  });

  test("the deliberately wrong version 3 fails its golden case; the probe does not make up for it", async () => {
    const report = await verify(classifierSpec({ version: "3" }), { url: triton.url });
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "model classifier/3 golden three classes")).toMatchObject({
      status: "fail",
    });
    expect(messageOf(report, "model classifier/3 golden three classes")).toBe(
      "PROBABILITIES row 0: top 1 classes [1], expected [0]",
    );
  });

  test("versions: each named version's readiness and metadata through /versions/{v}; an absent version fails", async () => {
    const report = await verify(
      {
        waitForReadySeconds: 5,
        models: ["1", "2", "3"].map((version) => ({ name: "classifier", version, metadata: classifierMetadata })),
      },
      { url: triton.url },
    );
    expect(report.verdict).toBe("pass");
    expect(Object.keys(statuses(report))).toContain("model classifier/2 metadata");
    const absent = await verify(
      { waitForReadySeconds: 1, models: [{ name: "classifier", version: "4" }] },
      { url: triton.url },
      { pollIntervalSeconds: 0.2 },
    );
    expect(absent.verdict).toBe("fail");
    expect(absent.checks.find((c) => c.name === "model classifier/4 ready")!.status).toBe("fail");
  });

  test("the metadata contract: a changed datatype or shape fails with what Triton published", async () => {
    const report = await verify(
      {
        waitForReadySeconds: 5,
        models: [
          {
            name: "classifier",
            version: "1",
            metadata: {
              inputs: [{ name: "INPUT", datatype: "FP64", shape: [-1, 4] }],
              outputs: classifierMetadata.outputs,
            },
          },
        ],
      },
      { url: triton.url },
    );
    expect(report.verdict).toBe("fail");
    expect(messageOf(report, "model classifier/1 metadata")).toBe("input INPUT is FP32, expected FP64");
    const shape = await verify(
      {
        waitForReadySeconds: 5,
        models: [
          {
            name: "classifier",
            version: "1",
            metadata: {
              inputs: classifierMetadata.inputs,
              outputs: [{ name: "PROBABILITIES", datatype: "FP32", shape: [-1, 4] }],
            },
          },
        ],
      },
      { url: triton.url },
    );
    expect(messageOf(shape, "model classifier/1 metadata")).toMatch(/PROBABILITIES/);
    expect(shape.verdict).toBe("fail");
  });

  test.each([false, true])(
    "golden probabilities within tolerance, JSON and binary (binary = %s); versions 1 and 2 differ",
    async (binary) => {
      const rows = [setosa, versicolor, virginica];
      const spec = (version: string, temperature: number): VerifySpec => ({
        waitForReadySeconds: 5,
        models: [
          {
            name: "classifier",
            version,
            golden: [
              {
                name: "probabilities",
                binary,
                inputs: [{ name: "INPUT", datatype: "FP32", shape: [3, 4], data: rows.flat() }],
                outputs: [
                  {
                    name: "PROBABILITIES",
                    datatype: "FP32",
                    shape: [3, 3],
                    data: rows.flatMap((r) => classifierProbabilities(r, temperature)),
                    atol: 1e-5,
                  },
                ],
              },
            ],
          },
        ],
      });
      expect((await verify(spec("1", 1), { url: triton.url })).verdict).toBe("pass");
      expect((await verify(spec("2", 0.5), { url: triton.url })).verdict).toBe("pass");
      // version 1's probabilities are not version 2's
      expect((await verify(spec("2", 1), { url: triton.url })).verdict).toBe("fail");
    },
  );

  // Each datatype through Triton's Python backend as binary tensors, and as JSON where the protocol
  // allows it (FP16 and BF16 have no JSON form in Triton).
  const httpCases: [string, boolean, Golden][] = [
    ...DATATYPE_CASES.map(([dt, g]): [string, boolean, Golden] => [dt, true, g]),
    ...DATATYPE_CASES.filter(([dt]) => !["FP16", "BF16"].includes(dt)).map(([dt, g]): [string, boolean, Golden] => [
      dt,
      false,
      g,
    ]),
  ];
  test.each(httpCases)("%s golden case (binary = %s) on the wire to Triton and back", async (_dt, binary, golden) => {
    const spec: VerifySpec = {
      waitForReadySeconds: 5,
      models: [{ name: "tensors", golden: golden.map((g) => ({ ...g, binary })) }],
    };
    const report = await verify(spec, { url: triton.url });
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    const wrong: VerifySpec = {
      ...spec,
      models: [
        {
          name: "tensors",
          golden: golden.map((g) => ({
            ...g,
            binary,
            outputs: g.outputs.map((o) => ({ ...o, data: o.data.map(spoil) })),
          })),
        },
      ],
    };
    expect((await verify(wrong, { url: triton.url })).verdict).toBe("fail");
  });

  test("BYTES in, BYTES and INT32 out (text model), binary", async () => {
    const report = await verify(
      {
        waitForReadySeconds: 5,
        models: [
          {
            name: "text",
            golden: [
              {
                name: "upper",
                binary: true,
                inputs: [{ name: "TEXT", datatype: "BYTES", shape: [2], data: ["h\u00e9llo", ""] }],
                outputs: [
                  { name: "UPPER", datatype: "BYTES", shape: [2], data: ["H\u00c9LLO", ""] },
                  { name: "LENGTH", datatype: "INT32", shape: [2], data: [6, 0] },
                ],
              },
            ],
          },
        ],
      },
      { url: triton.url },
    );
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
  });
});

describe("baseline comparison between two real Tritons serving different versions", () => {
  let v1: RunningTriton;
  let v2: RunningTriton;
  let v3: RunningTriton;
  beforeAll(async () => {
    [v1, v2, v3] = await startAll([
      startTriton({ models: { classifier: [1] } }),
      startTriton({ models: { classifier: [2] } }),
      startTriton({ models: { classifier: [3] } }),
    ]);
  }, 180_000);
  afterAll(() => Promise.all([v1, v2, v3].map((t) => t?.stop())));

  const spec = (): VerifySpec => ({ ...classifierSpec(), baseline: { p99RegressionPercent: 1000, agreement: true } });

  test("version 2 against version 1: agrees on the classes (argmax), p99 within the regression budget", async () => {
    const report = await verify(spec(), { url: v2.url, baselineUrl: v1.url, metricsUrl: v2.metricsUrl });
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(statuses(report)).toMatchObject({
      "baseline p99": "pass",
      "baseline agreement classifier three classes": "pass",
    });
    expect(report.baselineProbe).toMatchObject({ completed: 200, errors: 0 });
  });

  test("version 2 against version 1 on exact probabilities: its own golden case passes, and it differs from the baseline", async () => {
    const rows = [setosa, versicolor, virginica];
    const exact: VerifySpec = {
      waitForReadySeconds: 5,
      models: [
        {
          name: "classifier",
          golden: [
            {
              name: "probabilities",
              inputs: [{ name: "INPUT", datatype: "FP32", shape: [3, 4], data: rows.flat() }],
              outputs: [
                { name: "PROBABILITIES", data: rows.flatMap((r) => classifierProbabilities(r, 0.5)), atol: 1e-4 },
              ],
            },
          ],
        },
      ],
      baseline: { agreement: true },
    };
    const report = await verify(exact, { url: v2.url, baselineUrl: v1.url });
    expect(statuses(report)).toMatchObject({
      "model classifier golden probabilities": "pass",
      "baseline agreement classifier probabilities": "fail",
    });
    expect(messageOf(report, "baseline agreement classifier probabilities")).toMatch(
      /^differs from the baseline: PROBABILITIES\[0\] = /,
    );
  });

  test("server counters read from another server's /metrics (a wrong metricsUrl): fewer successes than answers fails", async () => {
    const report = await verify(classifierSpec({ version: "2" }), { url: v2.url, metricsUrl: v1.metricsUrl });
    expect(report.verdict).toBe("fail");
    expect(messageOf(report, "server counters")).toBe(
      "nv_inference_request_success +0, nv_inference_request_failure +0 (we sent 201 inferences): the server counted fewer successes than it answered",
    );
  });

  test("the wrong version 3 against version 1: its golden case fails and it disagrees with the baseline", async () => {
    const report = await verify(spec(), { url: v3.url, baselineUrl: v1.url });
    expect(report.verdict).toBe("fail");
    expect(statuses(report)).toMatchObject({
      "model classifier golden three classes": "fail",
      "baseline agreement classifier three classes": "fail",
    });
  });
});

describe("the Triton launcher", () => {
  test("a Triton that cannot start fails quickly with the tail of its log", async () => {
    const t0 = Date.now();
    await expect(startTriton({ models: { classifier: [1] }, args: ["--model-control-mode=bogus"] })).rejects.toThrow(
      /exited with [0-9]+[\s\S]*model-control-mode/,
    );
    // It fails when the process exits (about 5 s here), not at the launcher's 90 s readiness bound.
    hangCheck("a Triton that cannot start", Date.now() - t0, { normalMs: 5_000 });
  });
});

describe("verifier over gRPC (KServe v2 gRPC) against Triton's port 8001", () => {
  let triton: RunningTriton;
  beforeAll(async () => {
    triton = await startTriton({ models: { classifier: [1, 3], tensors: [1], text: [1] } });
  }, 120_000);
  afterAll(() => triton?.stop());
  const grpc = () => ({
    url: `http://${triton.grpcAddress}`,
    protocol: "grpc" as const,
    metricsUrl: triton.metricsUrl,
  });

  test("passes a good candidate: health, readiness, metadata, golden, probe, Triton's counters", async () => {
    const report = await verify(classifierSpec({ version: "1" }), grpc());
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(report.verdict).toBe("pass");
    expect(report.probe).toMatchObject({ completed: 200, errors: 0 });
    expect(messageOf(report, "server counters")).toBe(
      "nv_inference_request_success +201, nv_inference_request_failure +0 (we sent 201 inferences)",
    );
  });

  test("the wrong version 3 fails its golden case; a changed contract fails the metadata check", async () => {
    const wrong = await verify(classifierSpec({ version: "3" }), grpc());
    expect(wrong.verdict).toBe("fail");
    expect(messageOf(wrong, "model classifier/3 golden three classes")).toBe(
      "PROBABILITIES row 0: top 1 classes [1], expected [0]",
    );
    const contract = await verify(
      {
        waitForReadySeconds: 5,
        models: [
          {
            name: "classifier",
            version: "1",
            metadata: {
              inputs: [{ name: "INPUT", datatype: "FP16", shape: [-1, 4] }],
              outputs: classifierMetadata.outputs,
            },
          },
        ],
      },
      grpc(),
    );
    expect(messageOf(contract, "model classifier/1 metadata")).toBe("input INPUT is FP32, expected FP16");
  });

  // binary: raw_input_contents; otherwise typed contents (FP16 and BF16 have none: raw either way)
  const grpcCases = [true, false].flatMap((binary) =>
    DATATYPE_CASES.map(([dt, g]): [string, boolean, Golden] => [dt, binary, g]),
  );
  test.each(grpcCases)("%s golden case over gRPC (binary = %s)", async (_dt, binary, golden) => {
    const spec: VerifySpec = {
      waitForReadySeconds: 5,
      models: [{ name: "tensors", golden: golden.map((g) => ({ ...g, binary })) }],
    };
    const report = await verify(spec, grpc());
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    const wrong: VerifySpec = {
      ...spec,
      models: [
        {
          name: "tensors",
          golden: golden.map((g) => ({
            ...g,
            binary,
            outputs: g.outputs.map((o) => ({ ...o, data: o.data.map(spoil) })),
          })),
        },
      ],
    };
    expect((await verify(wrong, grpc())).verdict).toBe("fail");
  });

  test("the CLI with --protocol grpc: exit 0 for version 1, exit 1 for the wrong version 3", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grpc-cli-"));
    try {
      const cli = (version: string) => {
        fs.writeFileSync(path.join(dir, `v${version}.json`), JSON.stringify(classifierSpec({ version })));
        return spawnSync(
          process.execPath,
          [
            BIN,
            "verify",
            "--spec",
            path.join(dir, `v${version}.json`),
            "--protocol",
            "grpc",
            "--url",
            `http://${triton.grpcAddress}`,
          ],
          {
            encoding: "utf8",
            timeout: 120_000,
          },
        );
      };
      const pass = cli("1");
      expect(pass.stdout).toContain("PASS: the candidate may take traffic");
      expect(pass.status).toBe(0);
      const fail = cli("3");
      expect(fail.stdout).toContain("FAIL  model classifier/3 golden three classes");
      expect(fail.status).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("an absent model version is not ready, saying what Triton answered; nothing listening is an error", async () => {
    const absent = await verify({ waitForReadySeconds: 3, models: [{ name: "classifier", version: "7" }] }, grpc(), {
      pollIntervalSeconds: 0.2,
    });
    expect(absent.verdict).toBe("fail");
    expect(messageOf(absent, "model classifier/7 ready")).toMatch(/^not ready within 3s: the last answer was /);
    const port = await freePort();
    const nothing = await verify(
      { waitForReadySeconds: 1, models: [{ name: "m" }] },
      { url: `http://127.0.0.1:${port}`, protocol: "grpc" },
      { pollIntervalSeconds: 0.2 },
    );
    expect(nothing.verdict).toBe("error");
    expect(nothing.checks[0]).toMatchObject({ name: "server live", status: "error" });
  });
});

describe("verifier over gRPC with TLS (Triton's --grpc-use-ssl, a certificate of a test CA)", () => {
  let triton: RunningTriton;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "grpc-tls-"));
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(async () => {
    certs = makeCertificates(dir);
    triton = await startTriton({
      models: { classifier: [1] },
      args: ["--grpc-use-ssl=true", `--grpc-server-cert=${certs.certFile}`, `--grpc-server-key=${certs.keyFile}`],
    });
  }, 120_000);
  afterAll(async () => {
    await triton?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("https:// with the CA passes; without the CA it could not verify (error, never pass)", async () => {
    const url = `https://localhost:${triton.ports.grpc}`;
    const ok = await verify(classifierSpec({ version: "1" }), {
      url,
      protocol: "grpc",
      client: { tls: { ca: fs.readFileSync(certs.caFile) } },
    });
    expect(ok.checks.filter((c) => c.status !== "pass")).toEqual([]);
    const untrusted = await verify(
      { waitForReadySeconds: 1, models: [{ name: "classifier" }] },
      { url, protocol: "grpc" },
      { pollIntervalSeconds: 0.2 },
    );
    expect(untrusted.verdict).toBe("error");
    // and plaintext against the TLS port is no pass either
    const plain = await verify(
      { waitForReadySeconds: 1, models: [{ name: "classifier" }] },
      { url: `http://localhost:${triton.ports.grpc}`, protocol: "grpc" },
      { pollIntervalSeconds: 0.2 },
    );
    expect(plain.verdict).not.toBe("pass");
  });
});
