import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Report, verify, VerifySpec } from "../lib/run";
import { MODES, Double, Mode, startMisbehavingServer } from "./doubles/misbehaving-server";
import { irisMetadata, setosa, virginica } from "./peers/iris";
import { expectInOrder, hangCheck } from "./hang-check";
import {
  freePort,
  makeCertificates,
  RunningMlserver,
  RunningServer,
  startKserve,
  startMlserver,
} from "./peers/servers";

// The verifier against real Open Inference Protocol servers (MLServer with scikit-learn, KServe's
// ModelServer) and, for failure modes no real server shows on demand, a named test double.

function irisSpec(overrides: Partial<VerifySpec> = {}): VerifySpec {
  return {
    deadlineSeconds: 60,
    waitForReadySeconds: 10,
    models: [
      {
        name: "iris",
        metadata: irisMetadata,
        golden: [
          {
            name: "setosa and virginica",
            inputs: [{ name: "x", datatype: "FP64", shape: [2, 4], data: [...setosa, ...virginica] }],
            outputs: [
              { name: "predict", datatype: "INT64", shape: [2, 1], data: [0, 2] },
              { name: "predict_proba", shape: [2, 3], argmax: true, data: [0, 2] },
            ],
          },
          {
            name: "setosa alone",
            inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: setosa }],
            outputs: [{ name: "predict", data: [0] }],
          },
        ],
      },
    ],
    probe: {
      model: "iris",
      case: "setosa alone",
      requests: 200,
      concurrency: 4,
      budgets: { p99Seconds: 5, maxErrorRate: 0 },
    },
    ...overrides,
  };
}

const messageOf = (r: Report, name: string) => r.checks.find((c) => c.name === name)?.message;
const statuses = (r: Report) => Object.fromEntries(r.checks.map((c) => [c.name, c.status]));

describe("verifier against MLServer 1.7.1 (scikit-learn iris)", () => {
  let server: RunningMlserver;
  beforeAll(async () => {
    server = await startMlserver();
  }, 120_000);
  afterAll(() => server?.stop());

  test("passes a good candidate: health, readiness, metadata contract, golden cases, probe, server counters", async () => {
    const report = await verify(
      irisSpec({
        metrics: {
          successCounter: "model_infer_request_success_total",
          failureCounter: "model_infer_request_failure_total",
        },
      }),
      { url: server.url, metricsUrl: server.metricsUrl },
    );
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(statuses(report)).toEqual({
      "server live": "pass",
      "server ready": "pass",
      "metrics scraped before": "pass",
      "model iris ready": "pass",
      "model iris metadata": "pass",
      "model iris golden setosa and virginica": "pass",
      "model iris golden setosa alone": "pass",
      "probe iris/setosa alone": "pass",
      "server counters": "pass",
    });
    expect(report.verdict).toBe("pass");
    expect(report.probe).toMatchObject({ requests: 200, completed: 200, errors: 0 });
    expectInOrder(["p50", report.probe!.p50Ms], ["p99", report.probe!.p99Ms]);
    expect(report.checks.find((c) => c.name === "server counters")!.message).toMatch(
      /model_infer_request_success_total \+20[0-9]/,
    );
  });

  test("over gRPC: MLServer answers with typed contents (not raw bytes), decoded and checked the same way", async () => {
    const grpc = { url: `http://127.0.0.1:${server.ports.grpc}`, protocol: "grpc" as const };
    const report = await verify(irisSpec(), grpc);
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(report.probe).toMatchObject({ completed: 200, errors: 0 });
    const spec = irisSpec({ probe: undefined });
    const wrong: VerifySpec = {
      ...spec,
      models: [
        { ...spec.models[0], golden: [{ ...spec.models[0].golden![1], outputs: [{ name: "predict", data: [1] }] }] },
      ],
    };
    expect(messageOf(await verify(wrong, grpc), "model iris golden setosa alone")).toBe(
      "predict[0] = 0, expected 1 ± 0.000011",
    );
  });

  test("fails when a golden answer is wrong", async () => {
    const spec = irisSpec({ probe: undefined });
    const wrong: VerifySpec = {
      ...spec,
      models: [
        { ...spec.models[0], golden: [{ ...spec.models[0].golden![1], outputs: [{ name: "predict", data: [1] }] }] },
      ],
    };
    const report = await verify(wrong, { url: server.url });
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "model iris golden setosa alone")).toMatchObject({
      status: "fail",
      message: "predict[0] = 0, expected 1 ± 0.000011",
    });
  });

  test("fails when the metadata contract changed", async () => {
    const spec = irisSpec({ probe: undefined });
    const changed: VerifySpec = {
      ...spec,
      models: [
        {
          ...spec.models[0],
          golden: [],
          metadata: {
            inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
            outputs: spec.models[0].metadata!.outputs,
          },
        },
      ],
    };
    const report = await verify(changed, { url: server.url });
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "model iris metadata")!.message).toBe("input x is FP64, expected FP32");
  });

  test("checks a named model version through /versions/{v}", async () => {
    const report = await verify(
      { waitForReadySeconds: 5, models: [{ name: "iris", version: "v1", metadata: irisMetadata }] },
      { url: server.url },
    );
    expect(statuses(report)).toMatchObject({ "model iris/v1 ready": "pass", "model iris/v1 metadata": "pass" });
    const missing = await verify(
      { waitForReadySeconds: 1, models: [{ name: "iris", version: "v9" }] },
      { url: server.url },
      { pollIntervalSeconds: 0.2 },
    );
    expect(missing.verdict).toBe("fail");
  });

  test("fails when a model never becomes ready, after the readiness window", async () => {
    const report = await verify(
      { waitForReadySeconds: 2, models: [{ name: "absent" }] },
      { url: server.url },
      { pollIntervalSeconds: 0.2 },
    );
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "model absent ready")!.status).toBe("fail");
    // A promise of the product: it ends at the readiness window (2 s; about 2.5 s in all here), it does not hang.
    hangCheck("verify of a model that never becomes ready", report.durationMs, { normalMs: 2_500, deadlineMs: 2_000 });
  });

  test("fails a latency budget the server cannot meet", async () => {
    const report = await verify(
      irisSpec({
        probe: { model: "iris", case: "setosa alone", requests: 50, concurrency: 2, budgets: { p50Seconds: 0.000001 } },
      }),
      {
        url: server.url,
      },
    );
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "probe iris/setosa alone")!.message).toMatch(
      /^p50 [0-9.]+ ms > the budget.s 0.000001 s/,
    );
  });
});

describe("verifier against KServe 0.21 ModelServer (binary tensor extension)", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startKserve();
  }, 120_000);
  afterAll(() => server?.stop());

  const spec = (binary: boolean): VerifySpec => ({
    deadlineSeconds: 60,
    waitForReadySeconds: 10,
    models: [
      {
        name: "doubler",
        golden: [
          {
            name: "fp32",
            binary,
            inputs: [{ name: "INPUT0", datatype: "FP32", shape: [2, 2], data: [1.5, -2, 0.25, 1e6] }],
            outputs: [{ name: "OUTPUT0", datatype: "FP32", shape: [2, 2], data: [3, -4, 0.5, 2e6] }],
          },
          {
            name: "int64",
            binary,
            inputs: [{ name: "INPUT0", datatype: "INT64", shape: [3], data: [1, -2, 2 ** 40] }],
            outputs: [{ name: "OUTPUT0", datatype: "INT64", data: [2, -4, 2 ** 41] }],
          },
        ],
      },
    ],
    probe: { model: "doubler", case: "fp32", requests: 100, concurrency: 4, budgets: { p99Seconds: 5 } },
    baseline: { p99RegressionPercent: 1000, agreement: true },
  });

  test.each([false, true])("passes with binary tensors = %s, against itself as the baseline", async (binary) => {
    const report = await verify(spec(binary), { url: server.url, baselineUrl: server.url });
    expect(report.verdict).toBe("pass");
    expect(statuses(report)).toMatchObject({
      "model doubler golden fp32": "pass",
      "model doubler golden int64": "pass",
      "probe doubler/fp32": "pass",
      "baseline p99": "pass",
      "baseline agreement doubler fp32": "pass",
    });
  });

  test("FP16 travels only as binary; the answer is checked within FP16 precision", async () => {
    const report = await verify(
      {
        waitForReadySeconds: 10,
        models: [
          {
            name: "doubler",
            golden: [
              {
                name: "fp16",
                binary: true,
                inputs: [{ name: "INPUT0", datatype: "FP16", shape: [3], data: [0.1, 2.5, -1000] }],
                outputs: [{ name: "OUTPUT0", datatype: "FP16", data: [0.2, 5, -2000], atol: 1e-3, rtol: 1e-3 }],
              },
            ],
          },
        ],
      },
      { url: server.url },
    );
    expect(report.verdict).toBe("pass");
  });
});

describe("verifier over TLS, against KServe serving HTTPS with a certificate of a test CA", () => {
  let server: RunningServer;
  let certs: ReturnType<typeof makeCertificates>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-tls-"));
  beforeAll(async () => {
    certs = makeCertificates(dir);
    server = await startKserve(certs);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const spec: VerifySpec = {
    waitForReadySeconds: 2,
    models: [
      {
        name: "doubler",
        golden: [
          {
            name: "g",
            inputs: [{ name: "INPUT0", datatype: "FP32", shape: [1], data: [2] }],
            outputs: [{ name: "OUTPUT0", data: [4] }],
          },
        ],
      },
    ],
  };

  test("passes when the CA is given", async () => {
    const report = await verify(spec, { url: server.url, client: { tls: { ca: fs.readFileSync(certs.caFile) } } });
    expect(report.verdict).toBe("pass");
  });

  test("could not verify (error, not pass) when the certificate is not trusted", async () => {
    const report = await verify(spec, { url: server.url }, { pollIntervalSeconds: 0.2 });
    expect(report.verdict).toBe("error");
    expect(report.checks[0].message).toMatch(/^TLS: /);
  });

  describe("mTLS: the server demands a client certificate", () => {
    let mtls: RunningServer;
    beforeAll(async () => {
      mtls = await startKserve(certs, true);
    }, 120_000);
    afterAll(() => mtls?.stop());

    test("passes with the client certificate and key", async () => {
      const tls = {
        ca: fs.readFileSync(certs.caFile),
        cert: fs.readFileSync(certs.clientCertFile),
        key: fs.readFileSync(certs.clientKeyFile),
      };
      expect((await verify(spec, { url: mtls.url, client: { tls } })).verdict).toBe("pass");
    });

    test("never passes without one", async () => {
      const report = await verify(
        spec,
        { url: mtls.url, client: { tls: { ca: fs.readFileSync(certs.caFile) } } },
        { pollIntervalSeconds: 0.2 },
      );
      expect(report.verdict).not.toBe("pass");
    });
  });
});

describe("verifier against a misbehaving server (test double): never pass, always within the deadline", () => {
  let double: Double;
  beforeAll(async () => {
    double = await startMisbehavingServer();
  });
  afterAll(() => double?.stop());

  const spec: VerifySpec = {
    deadlineSeconds: 6,
    waitForReadySeconds: 2,
    models: [
      {
        name: "m",
        metadata: {
          inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
          outputs: [{ name: "y", datatype: "FP32", shape: [-1, 3] }],
        },
        golden: [
          {
            name: "one row",
            inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }],
            outputs: [{ name: "y", datatype: "FP32", shape: [1, 3], data: [0.1, 0.2, 0.7] }],
          },
        ],
      },
    ],
    probe: { model: "m", case: "one row", requests: 60, concurrency: 4, budgets: { p99Seconds: 2, maxErrorRate: 0 } },
  };
  const client = {
    headersTimeoutSeconds: 1.5,
    bodyTimeoutSeconds: 1.5,
    connectTimeoutSeconds: 1,
    maxResponseBytes: 1024 * 1024,
  };

  test("the double's good mode passes, so each other mode differs in one way only", async () => {
    const report = await verify(spec, { url: double.url("good"), client });
    expect(report.verdict).toBe("pass");
  });

  const bad = MODES.filter((m) => m !== "good");
  test.each(bad.map((m) => [m]))("%s: not a pass, and done before the deadline", async (mode) => {
    const t0 = Date.now();
    const report = await verify(spec, { url: double.url(mode as Mode), client }, { pollIntervalSeconds: 0.2 });
    const elapsed = Date.now() - t0;
    expect(["fail", "error"]).toContain(report.verdict);
    expect(report.checks.some((c) => c.status === "fail" || c.status === "error")).toBe(true);
    // The verifier never hangs past its deadline (normal: a few seconds against the double).
    hangCheck(`verify against the ${mode} double`, elapsed, {
      normalMs: 3_000,
      deadlineMs: spec.deadlineSeconds! * 1000,
    });
  });

  test("never ready: nothing that sends inference runs, so the probe cannot pass", async () => {
    const report = await verify(spec, { url: double.url("never-ready"), client }, { pollIntervalSeconds: 0.2 });
    expect(report.verdict).toBe("fail");
    expect(statuses(report)).toMatchObject({ "server ready": "fail", "probe m/one row": "skipped" });
    expect(report.probe).toBeUndefined();
    expect(report.checks.find((c) => c.name === "server ready")!.message).toBe(
      'not ready within 2s: the last answer was 503 {"ready":false}',
    );
  });

  test("a 200 whose body says ready: false is not ready", async () => {
    const report = await verify(spec, { url: double.url("ready-false-body"), client }, { pollIntervalSeconds: 0.2 });
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "server ready")!.message).toBe(
      'not ready within 2s: the last answer was 200 {"ready":false}',
    );
    expect(statuses(report)["probe m/one row"]).toBe("skipped");
  });

  test.each<[Mode, RegExp]>([
    ["metadata-other-model", /the metadata is of model "other", not "m"/],
    ["wrong-model-name", /the response is from model "other", not "m"/],
    ["duplicate-outputs", /the response has output y more than once/],
  ])("%s: the golden case fails on what the response claims", async (mode, message) => {
    const report = await verify({ ...spec, probe: undefined }, { url: double.url(mode), client });
    expect(report.verdict).toBe("fail");
    expect(report.checks.find((c) => c.name === "model m golden one row")!.message).toMatch(message);
  });

  test("golden inputs are checked against the model's published inputs before they are sent", async () => {
    const wrongInput: VerifySpec = {
      waitForReadySeconds: 2,
      models: [
        {
          name: "m",
          golden: [
            {
              name: "fp64",
              inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: [1, 2, 3, 4] }],
              outputs: [{ name: "y", data: [0.1, 0.2, 0.7] }],
            },
          ],
        },
      ],
    };
    const report = await verify(wrongInput, { url: double.url("good"), client });
    expect(report.checks.find((c) => c.name === "model m golden fp64")!.message).toBe(
      "the golden input x is FP64, the model takes FP32",
    );
  });

  test("a listener that accepts and never answers: could not verify (error) at the readiness window, not the deadline", async () => {
    const t0 = Date.now();
    const report = await verify(
      { ...spec, deadlineSeconds: 60 },
      { url: double.url("silent"), client: { ...client, headersTimeoutSeconds: 60 } },
      { pollIntervalSeconds: 0.2 },
    );
    expect(report.verdict).toBe("error");
    expect(report.checks[0]).toMatchObject({
      name: "server live",
      status: "error",
      message: "no answer to live within the 2s readiness window",
    });
    // The readiness window (2 s) ends it, about 3 s in all: the hang bound (15 s) is far under the
    // deadline and the headers timeout (60 s), so a run that waited for either fails here.
    hangCheck("verify against a listener that never answers", Date.now() - t0, { normalMs: 3_000, deadlineMs: 2_000 });
  });

  test("an address where nothing listens: could not verify (error), quickly", async () => {
    const port = await freePort();
    const report = await verify(
      { waitForReadySeconds: 1, models: [{ name: "m" }] },
      { url: `http://127.0.0.1:${port}` },
      { pollIntervalSeconds: 0.2 },
    );
    expect(report.verdict).toBe("error");
    expect(report.checks[0]).toMatchObject({ name: "server live", status: "error" });
    expect(report.checks.slice(1).every((c) => c.status === "skipped")).toBe(true);
  });
});
