import * as http2 from "http2";
import { failoverPoolModel } from "../lib/constructs/failover/failover-pool-model";
import { Backend } from "../lib/constructs/traffic/backend";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { weightedRoutesModel } from "../lib/constructs/traffic/weighted-routes";
import { PropValidator } from "../lib/constructs/validation";
import { RunningEnvoy, startEnvoy } from "./peers/envoy";
import { freePort } from "./peers/servers";
import { RunningTriton, startTriton } from "./peers/triton";

// Triton's administrative APIs behind our data plane: a real Envoy 1.40 rendered by our code in
// front of a real Triton 2.51.0 whose own repository API is left open (explicit mode, no
// restriction), so what refuses here is Envoy alone.

// Envoy answers a refused gRPC call as gRPC does: HTTP 200, grpc-status 7 (PERMISSION_DENIED, from the 403).
const PERMISSION_DENIED = { status: 200, grpcStatus: "7" };
const infer = { inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };
const post = (url: string, body: unknown = {}) => fetch(url, { method: "POST", body: JSON.stringify(body) });

/** One unary gRPC call with an empty message over HTTP/2: the HTTP status and the grpc-status. */
function grpcCall(port: number, method: string): Promise<{ status: number; grpcStatus?: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": `/inference.GRPCInferenceService/${method}`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = 0;
    let grpcStatus: string | undefined;
    req.on("response", (h) => {
      status = Number(h[":status"]);
      grpcStatus = h["grpc-status"] as string | undefined;
    });
    req.on("trailers", (t) => (grpcStatus = (t["grpc-status"] as string | undefined) ?? grpcStatus));
    req.on("data", () => undefined);
    req.on("end", () => {
      session.close();
      resolve({ status, grpcStatus });
    });
    req.on("error", reject);
    req.end(Buffer.from([0, 0, 0, 0, 0])); // an uncompressed, empty protobuf message
  });
}

/** Polls until a request through Envoy gets 200: the host passed its first health checks. */
async function untilServing(url: string): Promise<void> {
  const end = Date.now() + 30_000; // health checks every second; slack for a loaded 2-core machine
  while (Date.now() < end) {
    if ((await post(url, infer).catch(() => undefined))?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing served through ${url} within 30s`);
}

describe("Triton's administrative APIs through our Envoy data plane", () => {
  let triton: RunningTriton;
  let envoy: RunningEnvoy | undefined;
  let http: number;
  let grpc: number;
  beforeAll(async () => {
    triton = await startTriton({
      models: { classifier: [1], text: [1] },
      args: ["--model-control-mode=explicit", "--load-model=classifier"],
    });
    [http, grpc] = [await freePort(), await freePort()];
  }, 120_000);
  afterEach(() => envoy?.stop());
  afterAll(() => triton?.stop());

  const backend = () => Backend.address("triton", "127.0.0.1", triton.ports.http, triton.ports.grpc);
  const start = async (model: ReturnType<typeof weightedRoutesModel>) => {
    const ports = { [`${model.name}-http`]: http, [`${model.name}-grpc`]: grpc };
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(model, { configDir, adminPort, listenAddress: "127.0.0.1", portOverrides: ports }),
    );
    await untilServing(`http://127.0.0.1:${http}/v2/models/classifier/infer`);
  };

  test("WeightedService by default: repository, trace and logging answer 403 on HTTP and gRPC; inference passes", async () => {
    await start(
      weightedRoutesModel(
        "canary",
        { routes: [{ backends: [{ backend: backend(), weightPercent: 100 }] }] },
        new PropValidator("test"),
      ),
    );
    const via = `http://127.0.0.1:${http}`;
    // Triton itself would answer these: the refusal is the data plane's
    expect((await post(`${triton.url}/v2/repository/index`)).status).toBe(200);
    expect((await post(`${via}/v2/repository/index`)).status).toBe(403);
    expect((await post(`${via}/v2/repository/models/text/load`)).status).toBe(403);
    expect((await post(`${via}/v2/repository/models/classifier/unload`)).status).toBe(403);
    expect((await fetch(`${via}/v2/trace/setting`)).status).toBe(403);
    expect((await fetch(`${via}/v2/logging`)).status).toBe(403);
    expect((await fetch(`${triton.url}/v2/models/text/ready`)).status).not.toBe(200);
    expect((await post(`${via}/v2/models/classifier/infer`, infer)).status).toBe(200);
    // gRPC: the admin methods are refused, the others reach Triton
    expect(await grpcCall(grpc, "RepositoryIndex")).toEqual(PERMISSION_DENIED);
    expect(await grpcCall(grpc, "RepositoryModelLoad")).toEqual(PERMISSION_DENIED);
    expect(await grpcCall(grpc, "ServerLive")).toEqual({ status: 200, grpcStatus: "0" });
  });

  test("FailoverPool by default refuses them too; allowAdminApis: true serves them", async () => {
    const pool = (allowAdminApis?: boolean) =>
      failoverPoolModel(
        "pool",
        { tiers: [{ name: "primary", endpoints: [{ backend: backend() }] }], allowAdminApis },
        new PropValidator("test"),
      );
    await start(pool());
    expect((await post(`http://127.0.0.1:${http}/v2/repository/index`)).status).toBe(403);
    expect(await grpcCall(grpc, "LogSettings")).toEqual(PERMISSION_DENIED);
    await envoy!.stop();
    await start(pool(true));
    const index = await post(`http://127.0.0.1:${http}/v2/repository/index`);
    expect(index.status).toBe(200);
    expect(((await index.json()) as { name: string }[]).map((m) => m.name).sort()).toEqual(["classifier", "text"]);
    expect(await grpcCall(grpc, "RepositoryIndex")).toEqual({ status: 200, grpcStatus: "0" });
  });
});
