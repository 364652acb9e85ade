// The promotion's analysis: each metric measured over a window, compared with its threshold. Envoy's
// metrics come from our Envoys' ops ports (`/stats/prometheus`: per-cluster counters, and the
// request-time histogram for percentiles); Triton's and custom ones from a Prometheus HTTP API.
// A window without data is "inconclusive", never a pass. Runtime code: no cdktf here.
import { MetricSpec } from "../../core/promotion-spec";
import { parsePrometheusText } from "../../core/prometheus-text";
import { queueTimePerRequestSeconds } from "../../core/queue-time";
import { Measurement } from "../records";
import { gatewayEnvoyQueries } from "../gateway";
import { getText, readUrl } from "../http";

/** What the placeholders of a query stand for. */
export interface QueryContext {
  readonly app: string;
  readonly namespace: string;
  /** The candidate color. */
  readonly color: string;
  /** The stable (active) color. */
  readonly stable: string;
  /** A model-level canary's model and candidate version: Triton's metrics of that version alone. @default - every model of the color */
  readonly model?: { readonly name: string; readonly version: string };
}

/** Envoy's per-cluster counters we use, summed over the given clusters (of one Envoy, or of all). */
export interface EnvoyCounters {
  readonly completed: number;
  readonly errors5xx: number;
  /** Cumulative histogram of upstream request time: upper bound (ms, Infinity last) -> count. */
  readonly buckets: ReadonlyMap<number, number>;
  /** One Envoy's: how long its process has run (s); lower than before means it restarted. */
  readonly uptime?: number;
}

/** The counters summed over the given clusters and Envoys, and each Envoy's own (by its URL). */
export interface EnvoySnapshot extends EnvoyCounters {
  /** Each Envoy's counters, so a window can tell an Envoy that restarted (its counters start again from 0). */
  readonly byEnvoy?: ReadonlyMap<string, EnvoyCounters>;
}

/** Sums counters. */
function sum(all: readonly EnvoyCounters[]): EnvoyCounters {
  const buckets = new Map<number, number>();
  for (const c of all) for (const [b, n] of c.buckets) buckets.set(b, (buckets.get(b) ?? 0) + n);
  return {
    completed: all.reduce((n, c) => n + c.completed, 0),
    errors5xx: all.reduce((n, c) => n + c.errors5xx, 0),
    buckets,
  };
}

/** Whose counters: clusters by name, or routes by their stat_prefix (a model's next-version route). */
export type EnvoyCounterSource = readonly string[] | { readonly routes: readonly string[] };

/**
 * Reads every Envoy's stats once (its admin's, or its ops port's `/stats/prometheus`) and sums the
 * numbers of `clusters`. A pod that does not answer fails the snapshot, unless `unreadable` is
 * given: then it is left out and named there (a step's baseline: a pod restarting as the step
 * starts counts from 0 in its first window, as a new pod does).
 */
export async function envoySnapshot(
  urls: readonly string[],
  clusters: EnvoyCounterSource,
  unreadable?: string[],
): Promise<EnvoySnapshot> {
  // A cluster's counters (envoy_cluster_*), or a route's (envoy_vhost_route_*: a route with a stat_prefix).
  const [prefix, label, names] = Array.isArray(clusters)
    ? ["envoy_cluster_", "envoy_cluster_name", clusters as readonly string[]]
    : ["envoy_vhost_route_", "envoy_route", (clusters as { routes: readonly string[] }).routes];
  const byEnvoy = new Map<string, EnvoyCounters>();
  const read = async (base: string): Promise<EnvoyCounters> => {
    let completed = 0;
    let errors5xx = 0;
    let uptime: number | undefined;
    const buckets = new Map<number, number>();
    for (const s of parsePrometheusText(await getText(`${base.replace(/\/$/, "")}/stats/prometheus`))) {
      if (s.name === "envoy_server_uptime") uptime = s.value;
      if (!names.includes(s.labels[label])) continue;
      if (s.name === `${prefix}upstream_rq_completed`) completed += s.value;
      else if (s.name === `${prefix}upstream_rq_xx` && s.labels.envoy_response_code_class === "5") errors5xx += s.value;
      else if (s.name === `${prefix}upstream_rq_time_bucket`) {
        const bound = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
        buckets.set(bound, (buckets.get(bound) ?? 0) + s.value);
      }
    }
    return { completed, errors5xx, buckets, uptime };
  };
  const answers = await Promise.allSettled(urls.map(read));
  answers.forEach((a, i) => {
    if (a.status === "fulfilled") byEnvoy.set(urls[i], a.value);
    else if (unreadable) unreadable.push(`${urls[i]} (${(a.reason as Error).message})`);
    else throw a.reason;
  });
  return { ...sum([...byEnvoy.values()]), byEnvoy };
}

/**
 * What the Envoys counted between two snapshots. Per Envoy when both have them: an Envoy that
 * restarted (its uptime went down, or a counter did: they start again from 0), and one not in
 * `before` (a new pod), count all they counted in the window (as Prometheus' rate() treats a
 * counter reset).
 */
export function windowCounters(before: EnvoySnapshot, after: EnvoySnapshot): EnvoyCounters {
  if (!before.byEnvoy || !after.byEnvoy)
    return {
      completed: after.completed - before.completed,
      errors5xx: after.errors5xx - before.errors5xx,
      buckets: histogramDelta(after.buckets, before.buckets),
    };
  const parts = [...after.byEnvoy].map(([url, a]) => {
    const b = before.byEnvoy!.get(url);
    const restarted = !b || (a.uptime !== undefined && b.uptime !== undefined && a.uptime < b.uptime);
    const reset =
      restarted ||
      a.completed < b.completed ||
      a.errors5xx < b.errors5xx ||
      [...a.buckets].some(([bound, n]) => n < (b.buckets.get(bound) ?? 0));
    return reset
      ? a
      : {
          completed: a.completed - b.completed,
          errors5xx: a.errors5xx - b.errors5xx,
          buckets: histogramDelta(a.buckets, b.buckets),
        };
  });
  return sum(parts);
}

/**
 * The q-quantile (0..1) of a cumulative histogram, interpolated linearly within its bucket (as
 * Prometheus' histogram_quantile does); undefined when it holds no observation.
 */
export function histogramQuantile(q: number, cumulative: ReadonlyMap<number, number>): number | undefined {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = bounds.length ? cumulative.get(bounds[bounds.length - 1])! : 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of bounds) {
    const count = cumulative.get(b)!;
    if (count >= rank) {
      if (b === Infinity) return lowerBound; // beyond the last finite bucket: its bound, as Prometheus does
      return lowerBound + ((b - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1e-9);
    }
    lowerBound = b;
    lowerCount = count;
  }
  return lowerBound;
}

/** The difference of two cumulative histograms (after - before). */
function histogramDelta(after: ReadonlyMap<number, number>, before: ReadonlyMap<number, number>): Map<number, number> {
  const d = new Map<number, number>();
  for (const [b, c] of after) d.set(b, Math.max(0, c - (before.get(b) ?? 0)));
  return d;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Compares a value with the metric's threshold. */
export function judge(metric: MetricSpec, value: number | undefined, at: string, noData = "no data"): Measurement {
  const threshold = {
    ...(metric.min !== undefined ? { min: metric.min } : {}),
    ...(metric.max !== undefined ? { max: metric.max } : {}),
  };
  if (value === undefined || !Number.isFinite(value))
    return { metric: metric.name, at, verdict: "inconclusive", detail: noData, ...threshold };
  const low = metric.min !== undefined && value < metric.min;
  const high = metric.max !== undefined && value > metric.max;
  const bounds = [
    metric.min !== undefined ? `>= ${metric.min}` : "",
    metric.max !== undefined ? `<= ${metric.max}` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  return {
    metric: metric.name,
    at,
    value: round(value),
    verdict: low || high ? "fail" : "pass",
    detail: `must be ${bounds}`,
    ...threshold,
  };
}

/** An Envoy metric over the window between two snapshots. */
export function judgeEnvoy(metric: MetricSpec, before: EnvoySnapshot, after: EnvoySnapshot, at: string): Measurement {
  const window = windowCounters(before, after);
  const requests = window.completed;
  const minRequests = metric.minRequests ?? 10;
  if (requests < minRequests)
    return judge(
      metric,
      undefined,
      at,
      `${requests} candidate requests in the window (fewer than minRequests ${minRequests})`,
    );
  if (metric.kind === "envoy-success-rate") return judge(metric, (100 * (requests - window.errors5xx)) / requests, at);
  // Envoy's request-time histogram is in milliseconds; thresholds are in seconds.
  const ms = histogramQuantile((metric.percentile ?? 99) / 100, window.buckets);
  return judge(
    metric,
    ms === undefined ? undefined : ms / 1000,
    at,
    "no request-time observations in the window (Envoy flushes histograms every 5 s)",
  );
}

/** The PromQL a Prometheus metric runs, placeholders replaced. */
export function promqlOf(metric: MetricSpec, ctx: QueryContext, intervalSeconds: number): string {
  const sel = `{app="{{app}}",namespace="{{namespace}}",color="{{color}}"${ctx.model ? `,model="{{model}}",version="{{version}}"` : ""}}`;
  const rate = (name: string) => `sum(rate(${name}${sel}[{{interval}}]))`;
  const template =
    metric.kind === "triton-failure-rate"
      ? `100 * ${rate("nv_inference_request_failure")} / (${rate("nv_inference_request_success")} + ${rate("nv_inference_request_failure")})`
      : metric.kind === "triton-queue-time"
        ? queueTimePerRequestSeconds(rate, "no-data")
        : metric.query!;
  const values: Record<string, string> = {
    app: ctx.app,
    namespace: ctx.namespace,
    color: ctx.color,
    stable: ctx.stable,
    interval: `${intervalSeconds}s`,
    ...(ctx.model ? { model: ctx.model.name, version: ctx.model.version } : {}),
  };
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
}

export class PrometheusError extends Error {}

/**
 * Runs an instant query; the value of its single sample, or undefined when it returns no sample
 * (or NaN: a rate over no requests). More than one series is an error: the query must aggregate.
 */
export async function queryPrometheus(baseUrl: string, query: string): Promise<number | undefined> {
  const url = `${baseUrl.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await readUrl(url);
  const text = res.text;
  let body: { status?: string; error?: string; errorType?: string; data?: { resultType: string; result: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new PrometheusError(`${baseUrl} answered ${res.statusCode} without JSON: ${text.slice(0, 200)}`);
  }
  if (body.status !== "success")
    throw new PrometheusError(
      `Prometheus refused ${JSON.stringify(query)}: ${body.errorType ?? res.statusCode}: ${body.error ?? text.slice(0, 200)}`,
    );
  const data = body.data!;
  if (data.resultType === "scalar") return finite(Number((data.result as [number, string])[1]));
  if (data.resultType !== "vector")
    throw new PrometheusError(
      `${JSON.stringify(query)} returned a ${data.resultType}: the analysis needs one number (a scalar or a single-sample vector)`,
    );
  const result = data.result as { value: [number, string] }[];
  if (result.length === 0) return undefined;
  if (result.length > 1)
    throw new PrometheusError(
      `${JSON.stringify(query)} returned ${result.length} series: aggregate it to one (sum, max, ...)`,
    );
  return finite(Number(result[0].value[1]));
}

const finite = (x: number) => (Number.isFinite(x) ? x : undefined);

/**
 * An Envoy metric of the Gateway's Envoy (TritonGatewayCanary), from Prometheus: the candidate's
 * cluster's counters over the window, summed over every Gateway Envoy it scrapes. `increase()`
 * extrapolates to the window's edges, so the request count is an estimate.
 */
export async function judgeGatewayEnvoy(
  metric: MetricSpec,
  prometheusUrl: string,
  statName: string,
  windowSeconds: number,
  at: string,
): Promise<Measurement> {
  const kind = metric.kind === "envoy-latency" ? "envoy-latency" : "envoy-success-rate";
  const q = gatewayEnvoyQueries(kind, statName, windowSeconds, metric.percentile ?? 99);
  const requests = (await queryPrometheus(prometheusUrl, q.requests)) ?? 0;
  const minRequests = metric.minRequests ?? 10;
  if (requests < minRequests)
    return judge(
      metric,
      undefined,
      at,
      `${Math.round(requests)} candidate requests in the window through the Gateway's Envoy (fewer than minRequests ${minRequests})`,
    );
  if (kind === "envoy-success-rate") {
    // The 5xx series exists only once the cluster answered a 5xx: none is 0 errors.
    const errors = (await queryPrometheus(prometheusUrl, q.errors!)) ?? 0;
    return judge(metric, (100 * (requests - errors)) / requests, at);
  }
  return judge(
    metric,
    await queryPrometheus(prometheusUrl, q.value!),
    at,
    "no request-time observations in the window (Envoy flushes histograms every 5 s)",
  );
}
