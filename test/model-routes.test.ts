import { Backend } from "../lib/constructs/traffic/backend";
import { EnvoyModel } from "../lib/constructs/traffic/envoy-model";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { weightedRoutesModel } from "../lib/constructs/traffic/weighted-routes";
import { PropValidator } from "../lib/constructs/validation";
import { ModelVersionsRoute, nextVersionKey } from "../lib/core/envoy";
import { GrpcOipClient } from "../lib/run/verify/grpc-client";
import { RunningEnvoy, startEnvoy } from "./peers/envoy";
import { freePort } from "./peers/servers";
import { RunningTriton, startTriton } from "./peers/triton";

// A model's versions behind our Envoy: a real Envoy 1.40 rendered by our code in front of a real
// Triton 2.51.0 serving the classifier's versions 1 and 2 (explicit control, both loaded). Envoy
// pins the requests that name no version to the pinned version, sends the runtime's share of them
// to the next version, and passes the requests that name a version unchanged.

const infer = { inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

describe("a model's pinned versions through our Envoy", () => {
  let triton: RunningTriton;
  let envoy: RunningEnvoy | undefined;
  let http: number;
  let grpc: number;
  beforeAll(async () => {
    triton = await startTriton({
      models: { classifier: [1, 2] },
      args: ["--model-control-mode=explicit", "--load-model=classifier"],
    });
    [http, grpc] = [await freePort(), await freePort()];
  }, 120_000);
  afterEach(() => envoy?.stop());
  afterAll(() => triton?.stop());

  const via = (path: string) => `http://127.0.0.1:${http}${path}`;
  /** The version that answered each of `n` unversioned inferences, counted. */
  const answers = async (n: number, path = "/v2/models/classifier/infer"): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const res = await fetch(via(path), { method: "POST", body: JSON.stringify(infer) });
      const body = (await res.json()) as { model_version?: string; error?: string };
      const key = res.status === 200 ? `v${body.model_version}` : `${res.status} ${body.error}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };
  const runtime = async (key: string, value: number) => {
    const res = await fetch(`http://127.0.0.1:${envoy!.adminPort}/runtime_modify?${key}=${value}`, { method: "POST" });
    expect(res.status).toBe(200);
  };
  const start = async (versions: ModelVersionsRoute) => {
    const backend = Backend.address("triton", "127.0.0.1", triton.ports.http, triton.ports.grpc);
    const model = weightedRoutesModel(
      "canary",
      { routes: [{ name: "canary", backends: [{ backend, weightPercent: 100 }] }] },
      new PropValidator("test"),
    );
    const pinned: EnvoyModel = {
      ...model,
      listeners: model.listeners.map((l, i) =>
        i === 0 ? { ...l, routes: l.routes.map((r) => ({ ...r, versions: [versions] })) } : l,
      ),
    };
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(pinned, {
        configDir,
        adminPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "canary-http": http, "canary-grpc": grpc },
      }),
    );
    // Health checks pass within seconds; until then Envoy answers 503.
    const end = Date.now() + 30_000;
    while ((await fetch(via("/v2/models/classifier/versions/1/ready")).catch(() => undefined))?.status !== 200) {
      if (Date.now() > end) throw new Error("Envoy served nothing within 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  test("requests that name no version go to the pinned version, whatever Triton's default (the highest) would be; a named version passes", async () => {
    await start({ model: "classifier", pinned: 1, next: 2, nextPercent: 0 });
    expect(await answers(20)).toEqual({ v1: 20 });
    expect(await answers(5, "/v2/models/classifier/versions/2/infer")).toEqual({ v2: 5 });
    // Triton itself, asked without a version, answers from version 2.
    const direct = await fetch(`${triton.url}/v2/models/classifier/infer`, {
      method: "POST",
      body: JSON.stringify(infer),
    });
    expect(((await direct.json()) as { model_version: string }).model_version).toBe("2");
    // The metadata and readiness that name no version are the pinned version's.
    const meta = (await (await fetch(via("/v2/models/classifier"))).json()) as { versions: string[] };
    expect(meta.versions).toEqual(["1"]);
    expect((await fetch(via("/v2/models/classifier/ready"))).status).toBe(200);
  }, 60_000);

  test("the runtime's share moves unversioned requests to the next version at the next request: 100 %, then about 30 %, then 0", async () => {
    await start({ model: "classifier", pinned: 1, next: 2, nextPercent: 0 });
    await runtime(nextVersionKey("classifier"), 100);
    expect(await answers(20)).toEqual({ v2: 20 });
    await runtime(nextVersionKey("classifier"), 30);
    const mixed = await answers(200);
    // 200 independent draws at 30 %: 60 expected, 4.5 standard deviations either side.
    expect(mixed.v1 + mixed.v2).toBe(200);
    expect(mixed.v2).toBeGreaterThan(30);
    expect(mixed.v2).toBeLessThan(90);
    await runtime(nextVersionKey("classifier"), 0);
    expect(await answers(20)).toEqual({ v1: 20 });
  }, 60_000);

  test("gRPC: the version is in the request's body, which Envoy does not rewrite: a request naming none gets Triton's highest loaded version; one naming a version gets it", async () => {
    await start({ model: "classifier", pinned: 1, next: 2, nextPercent: 0 });
    const client = new GrpcOipClient({ url: `http://127.0.0.1:${grpc}` });
    try {
      const request = {
        inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
      } as never;
      // Over HTTP the same request is pinned to version 1; over gRPC it reaches version 2, the highest loaded.
      expect(await answers(5)).toEqual({ v1: 5 });
      expect((await client.infer("classifier", undefined, request)).modelVersion).toBe("2");
      expect((await client.infer("classifier", "1", request)).modelVersion).toBe("1");
    } finally {
      await client.close();
    }
  }, 60_000);

  test("the file's share is the default; with no next version (0), a share left in the runtime still lands on the pinned version", async () => {
    await start({ model: "classifier", pinned: 2, next: 2, nextPercent: 100 });
    expect(await answers(10)).toEqual({ v2: 10 });
    await envoy!.stop();
    await start({ model: "classifier", pinned: 1, next: 0, nextPercent: 0 });
    await runtime(nextVersionKey("classifier"), 100);
    expect(await answers(20)).toEqual({ v1: 20 });
  }, 60_000);
});
