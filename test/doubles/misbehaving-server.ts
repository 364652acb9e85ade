// TEST DOUBLE: a deliberately misbehaving Open Inference Protocol server. No real server misbehaves
// on demand, so this one does, one way per URL prefix `/<mode>/v2/...`. It serves model "m" with
// input x FP32 [-1, 4] and output y FP32 [-1, 3]; in mode "good" it answers correctly
// (y = [0.1, 0.2, 0.7] per row), so every other mode differs from a correct server in one way.
import * as http from "http";
import * as net from "net";

export const MODES = [
  "good",
  "slow-headers",
  "slow-body",
  "truncated-json",
  "wrong-content-length",
  "5xx-burst",
  "nan-outputs",
  "wrong-dtype",
  "wrong-shape",
  "never-ready",
  "huge-body",
  "reset",
  "ready-false-body",
  "metadata-other-model",
  "wrong-model-name",
  "duplicate-outputs",
  "silent",
] as const;
export type Mode = (typeof MODES)[number];

const METADATA = {
  name: "m",
  versions: ["1"],
  platform: "double",
  inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
  outputs: [{ name: "y", datatype: "FP32", shape: [-1, 3] }],
};

export interface Double {
  readonly port: number;
  readonly url: (mode: Mode) => string;
  /** How many readiness checks it has answered (the flapping root's health checks, for waits). */
  readonly readyChecks: () => number;
  /** The most inferences it has had in flight at once (what a circuit breaker bounds). */
  readonly maxInFlight: () => number;
  stop(): Promise<void>;
}

export interface DoubleOptions {
  /**
   * Serve un-prefixed `/v2/...` paths as an upstream of Envoy, "flapping": readiness answers
   * 503, 503, 200, 503, 503, 200, ... (never three successes in a row), and infer answers carry
   * model_version "flapper".
   */
  readonly root?: RootMode;
  /** "slow": how long each inference takes. @default 100 */
  readonly delayMs?: number;
  /** "flaky": every n-th inference answers 500. @default 3 */
  readonly errorEvery?: number;
}

/**
 * Un-prefixed roots, as an upstream of Envoy (readiness answers 200 unless flapping; inferences
 * carry model_version = the mode): "flapping" (above), "slow" (every inference takes `delayMs`),
 * "flaky" (every `errorEvery`-th inference answers 500: a success rate of 2/3, never two failures
 * in a row).
 */
export type RootMode = "flapping" | "slow" | "flaky";

export async function startMisbehavingServer(options: DoubleOptions = {}): Promise<Double> {
  let inferCount = 0;
  let readyCount = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const server = http.createServer((req, res) => {
    const root = options.root && (req.url ?? "").startsWith("/v2/");
    const m = /^\/([a-z0-9-]+)(\/v2.*)$/.exec(req.url ?? "");
    const mode = (root ? options.root : m?.[1]) as Mode | RootMode;
    const path = root ? req.url! : (m?.[2] ?? "");
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (mode === "silent") return later(60_000, () => json(200, {})); // accepts, never answers in time
      if (path === "/v2/health/live") return json(200, { live: true });
      if (mode === "flapping" || mode === "slow" || mode === "flaky") {
        if (path === "/v2/health/ready") return json(++readyCount % 3 === 0 || mode !== "flapping" ? 200 : 503, {});
        const answer = {
          model_name: "iris",
          model_version: mode === "flapping" ? "flapper" : mode,
          outputs: [{ name: "predict", datatype: "INT64", shape: [1, 1], data: [0] }],
        };
        const n = ++inferCount;
        if (mode === "flaky" && n % (options.errorEvery ?? 3) === 0)
          return json(500, { error: "flaky: failing on purpose" });
        if (mode !== "slow") return json(200, answer);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        return later(options.delayMs ?? 100, () => {
          inFlight--;
          json(200, answer);
        });
      }
      if (path === "/v2/health/ready" || path === "/v2/models/m/ready") {
        if (mode === "ready-false-body") return json(200, { ready: false }); // 200, but the body says no
        return mode === "never-ready" ? json(503, { ready: false }) : json(200, { ready: true });
      }
      if (path === "/v2/models/m")
        return json(200, mode === "metadata-other-model" ? { ...METADATA, name: "other" } : METADATA);
      if (path !== "/v2/models/m/infer") return json(404, { error: "not found" });

      inferCount++;
      let rows = 1;
      try {
        rows = JSON.parse(Buffer.concat(chunks).toString()).inputs[0].shape[0];
      } catch {
        /* binary or odd request: one row */
      }
      const y = Array.from({ length: rows }, () => [0.1, 0.2, 0.7]).flat();
      const good = {
        model_name: "m",
        model_version: "1",
        outputs: [{ name: "y", datatype: "FP32", shape: [rows, 3], data: y }],
      };
      switch (mode) {
        case "good":
          return json(200, good);
        case "slow-headers":
          return later(60_000, () => json(200, good)); // answers long after any deadline
        case "slow-body": {
          const text = JSON.stringify(good);
          res.writeHead(200, { "content-type": "application/json", "content-length": text.length });
          res.write(text.slice(0, 10));
          return later(60_000, () => res.end(text.slice(10)));
        }
        case "truncated-json": {
          const text = JSON.stringify(good).slice(0, 40);
          res.writeHead(200, { "content-type": "application/json", "content-length": text.length });
          return res.end(text);
        }
        case "wrong-content-length": {
          const text = JSON.stringify(good);
          res.writeHead(200, { "content-type": "application/json", "content-length": text.length + 50 });
          res.write(text);
          return later(50, () => res.socket?.destroy());
        }
        case "5xx-burst":
          return inferCount % 3 === 0 ? json(503, { error: "overloaded" }) : json(200, good);
        case "nan-outputs": {
          // NaN cannot be JSON; a real server sends it in binary. FP32 NaN, binary extension.
          const header = Buffer.from(
            JSON.stringify({
              model_name: "m",
              outputs: [{ name: "y", datatype: "FP32", shape: [rows, 3], parameters: { binary_data_size: rows * 12 } }],
            }),
          );
          const data = Buffer.alloc(rows * 12);
          for (let i = 0; i < rows * 3; i++) data.writeFloatLE(NaN, i * 4);
          res.writeHead(200, {
            "content-type": "application/octet-stream",
            "inference-header-content-length": header.length,
          });
          return res.end(Buffer.concat([header, data]));
        }
        case "wrong-dtype":
          return json(200, { ...good, outputs: [{ ...good.outputs[0], datatype: "FP64" }] });
        case "wrong-shape":
          return json(200, { ...good, outputs: [{ ...good.outputs[0], shape: [rows * 3], data: y }] });
        case "huge-body": {
          // Claims 256 MiB and starts streaming it.
          res.writeHead(200, { "content-type": "application/json", "content-length": 256 * 1024 * 1024 });
          const chunk = Buffer.alloc(1024 * 1024, 0x20);
          const pump = () => {
            if (!res.destroyed && res.write(chunk)) setImmediate(pump);
          };
          res.on("drain", pump);
          return pump();
        }
        case "reset":
          return req.socket.destroy();
        case "never-ready":
        case "ready-false-body":
          return json(200, good); // would pass, if anything were sent
        case "metadata-other-model":
          return json(200, good);
        case "wrong-model-name":
          return json(200, { ...good, model_name: "other" });
        case "duplicate-outputs":
          // the first copy is right, the second wrong: which one is "y"?
          return json(200, { ...good, outputs: [good.outputs[0], { ...good.outputs[0], data: y.map((v) => 1 - v) }] });
        default:
          return json(404, { error: `unknown mode ${mode}` });
      }
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (mode) => `http://127.0.0.1:${port}/${mode}`,
    readyChecks: () => readyCount,
    maxInFlight: () => maxInFlight,
    stop: async () => {
      timers.forEach(clearTimeout);
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => server.close(r));
    },
  };
}
