// Load through Envoy for the data-plane tests and benchmark: counts who answered (by the
// model_version MLServer instances carry) and when.
import { performance } from "perf_hooks";
import { Pool } from "undici";
import { setosa } from "./iris";

const body = JSON.stringify({ inputs: [{ name: "x", shape: [1, 4], datatype: "FP64", data: setosa }] });

export interface LoadResult {
  readonly byVersion: Record<string, number>;
  readonly failed: number;
  readonly statuses: Record<number, number>;
}

/** Sends `requests` inferences at `concurrency` and counts who answered. */
export async function load(
  url: string,
  requests: number,
  concurrency: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const pool = new Pool(url, { connections: concurrency });
  const byVersion: Record<string, number> = {};
  const statuses: Record<number, number> = {};
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) {
        try {
          const res = await pool.request({
            method: "POST",
            path: "/v2/models/iris/infer",
            headers: { "content-type": "application/json", ...headers },
            body,
          });
          const text = await res.body.text();
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode !== 200) failed++;
          else {
            const v = JSON.parse(text).model_version;
            byVersion[v] = (byVersion[v] ?? 0) + 1;
          }
        } catch {
          failed++;
        }
      }
    }),
  );
  await pool.close();
  return { byVersion, failed, statuses };
}

interface Sample {
  readonly endMs: number;
  readonly latencyMs: number;
  readonly status: number;
  readonly version?: string;
  /** Why a request got no answer (status 0). */
  readonly error?: string;
}

/** What the steady load sends: by default MLServer's iris; `classifierInference` for the Triton test models. */
export interface LoadRequest {
  readonly path: string;
  readonly body: string;
}

/** One row to Triton's `classifier` test model. */
export const classifierInference: LoadRequest = {
  path: "/v2/models/classifier/infer",
  body: JSON.stringify({ inputs: [{ name: "INPUT", shape: [1, 4], datatype: "FP32", data: setosa }] }),
};

/**
 * Steady load at `concurrency` until stopped; every response is recorded with its time. Several
 * URLs (the pods behind a Service) take the requests in turn.
 */
export function steadyLoad(
  url: string | readonly string[],
  concurrency: number,
  what: LoadRequest = { path: "/v2/models/iris/infer", body },
) {
  const pools = (typeof url === "string" ? [url] : url).map((u) => new Pool(u, { connections: concurrency }));
  const samples: Sample[] = [];
  let running = true;
  let turn = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      const t0 = performance.now();
      const pool = pools[turn++ % pools.length];
      try {
        const res = await pool.request({
          method: "POST",
          path: what.path,
          headers: { "content-type": "application/json" },
          body: what.body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await res.body.text();
        const now = performance.now();
        samples.push({
          endMs: now,
          latencyMs: now - t0,
          status: res.statusCode,
          version: res.statusCode === 200 ? JSON.parse(text).model_version : undefined,
        });
      } catch (e) {
        const now = performance.now();
        const cause = (e as { cause?: Error }).cause;
        samples.push({
          endMs: now,
          latencyMs: now - t0,
          status: 0,
          error: `${(e as Error).message}${cause ? ` (${cause.message})` : ""}`,
        });
      }
    }
  });
  let stopped: Promise<Sample[]> | undefined;
  return {
    samples,
    /** Stops the load (idempotent) and returns every sample. */
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await Promise.all(workers);
        await Promise.all(pools.map((p) => p.close()));
        return samples;
      })()),
  };
}
