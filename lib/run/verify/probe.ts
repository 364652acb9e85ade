// The latency and error probe: N requests at concurrency C, the same pre-encoded request each time.
// Each answer is read whole and dropped (correctness is the golden cases' job): memory stays flat
// however many connections each receive a response at the size cap.
import { performance } from "perf_hooks";
import { InferenceClient, PreparedInfer } from "./client";

export interface ProbeResult {
  readonly requests: number;
  readonly completed: number;
  readonly errors: number;
  readonly errorRate: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly durationMs: number;
  readonly requestsPerSecond: number;
  /** The first few distinct error messages. */
  readonly errorSamples: readonly string[];
  /** The answered requests' latencies in buckets (1-2-5 bounds in ms, covering min to max). */
  readonly latencyBuckets: readonly LatencyBucket[];
}

/** Requests whose latency was at least `fromMs` and under `toMs`. */
export interface LatencyBucket {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
}

export async function runProbe(
  client: InferenceClient,
  target: PreparedInfer,
  requests: number,
  concurrency: number,
  signal: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<ProbeResult> {
  const latencies: number[] = [];
  const errorSamples = new Set<string>();
  let next = 0;
  let completed = 0;
  let errors = 0;
  const started = performance.now();
  const worker = async () => {
    while (!signal.aborted) {
      const i = next++;
      if (i >= requests) return;
      const t0 = performance.now();
      try {
        await client.probe(target, signal);
        latencies.push(performance.now() - t0);
      } catch (e) {
        if (signal.aborted) return;
        errors++;
        if (errorSamples.size < 5) errorSamples.add((e as Error).message.slice(0, 200));
      }
      completed++;
      onProgress?.(completed, requests);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  const durationMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    requests,
    completed,
    errors,
    errorRate: completed ? errors / completed : 1,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? latencies[latencies.length - 1] : NaN,
    durationMs,
    requestsPerSecond: completed / (durationMs / 1000),
    errorSamples: [...errorSamples],
    latencyBuckets: latencyBuckets(latencies),
  };
}

/** Sorted latencies in buckets with 1-2-5 bounds (0.1 ms, 0.2, 0.5, 1, 2, 5, ...), min to max. */
export function latencyBuckets(sorted: readonly number[]): LatencyBucket[] {
  if (sorted.length === 0) return [];
  const bounds: number[] = [];
  for (let decade = 0.1; bounds.length === 0 || bounds[bounds.length - 1] <= sorted[sorted.length - 1]; decade *= 10) {
    for (const m of [1, 2, 5]) bounds.push(Number((m * decade).toPrecision(3)));
  }
  const buckets: LatencyBucket[] = [];
  let i = 0;
  let from = 0;
  for (const to of bounds) {
    let count = 0;
    while (i < sorted.length && sorted[i] < to) {
      count++;
      i++;
    }
    if (count > 0 || buckets.length > 0) buckets.push({ fromMs: from, toMs: to, count });
    from = to;
    if (i >= sorted.length) break;
  }
  return buckets;
}

/** Nearest-rank percentile of sorted values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
