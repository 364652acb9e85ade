// Charts as Vega-Lite specs, compiled by vega-lite and rendered to SVG by Vega in Node (no browser,
// no canvas): the report embeds the SVG, so it needs no script and no network when viewed.
import * as vega from "vega";
import { compile, TopLevelSpec } from "vega-lite";

const CONFIG = {
  font: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
  axis: { labelFontSize: 11, titleFontSize: 11, labelLimit: 180 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  view: { stroke: "#ddd" },
};

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Quiet: a facet without a value (a metric with no conclusive measurement) is drawn empty, not
  // warned about on the CLI's output.
  const quiet = {
    level: () => quiet,
    error: (...a: unknown[]) => {
      throw new Error(a.map(String).join(" "));
    },
    warn: () => quiet,
    info: () => quiet,
    debug: () => quiet,
  };
  const compiled = compile(
    { ...spec, config: { ...CONFIG, ...(spec as { config?: object }).config } } as TopLevelSpec,
    { logger: quiet as never },
  ).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface VersionFigures {
  readonly version: string;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly requestsPerSecond: number;
  readonly errorRatePercent: number;
}

/** p50, p95 and p99 per version: one bar per version and quantile. */
export function latencySpec(rows: readonly VersionFigures[]): TopLevelSpec {
  const values = rows.flatMap((r) => [
    { version: r.version, quantile: "p50", ms: r.p50Ms },
    { version: r.version, quantile: "p95", ms: r.p95Ms },
    { version: r.version, quantile: "p99", ms: r.p99Ms },
  ]);
  return {
    title: "Latency per version (last verification probe)",
    width: { step: 28 },
    height: 200,
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "version", type: "nominal", title: "version", sort: null },
      xOffset: { field: "quantile", sort: ["p50", "p95", "p99"] },
      y: { field: "ms", type: "quantitative", title: "ms" },
      color: {
        field: "quantile",
        type: "nominal",
        sort: ["p50", "p95", "p99"],
        scale: { range: ["#9ecae1", "#4292c6", "#08519c"] },
      },
    },
  };
}

/** One bar per version for a number of each (throughput, error rate). */
export function perVersionSpec(
  rows: readonly VersionFigures[],
  field: "requestsPerSecond" | "errorRatePercent",
  title: string,
  axis: string,
  color: string,
): TopLevelSpec {
  return {
    title,
    width: { step: 40 },
    height: 160,
    data: { values: rows.map((r) => ({ version: r.version, value: r[field] })) },
    mark: { type: "bar", color, tooltip: true },
    encoding: {
      x: { field: "version", type: "nominal", title: "version", sort: null },
      y: { field: "value", type: "quantitative", title: axis },
    },
  };
}

/** The probe's latency buckets: one bar per bucket. */
export function distributionSpec(
  buckets: readonly { fromMs: number; toMs: number; count: number }[],
  title: string,
): TopLevelSpec {
  const label = (b: { fromMs: number; toMs: number }) => `${b.fromMs}–${b.toMs} ms`;
  return {
    title,
    width: { step: 36 },
    height: 160,
    data: { values: buckets.map((b) => ({ bucket: label(b), requests: b.count })) },
    mark: { type: "bar", color: "#6baed6", tooltip: true },
    encoding: {
      x: { field: "bucket", type: "ordinal", sort: null, title: "latency", axis: { labelAngle: -40 } },
      y: { field: "requests", type: "quantitative", title: "requests" },
    },
  };
}

/** A promotion's traffic steps: the candidate's weight over time (a step line, a point per step). */
export function weightsSpec(
  points: readonly { at: string; weightPercent: number; verdict: string }[],
  title: string,
): TopLevelSpec {
  return {
    title,
    width: 520,
    height: 140,
    data: { values: points },
    layer: [
      {
        mark: { type: "line", interpolate: "step-after", color: "#4292c6" },
        encoding: {
          x: { field: "at", type: "temporal", title: "time" },
          y: { field: "weightPercent", type: "quantitative", title: "candidate %", scale: { domain: [0, 100] } },
        },
      },
      {
        mark: { type: "point", filled: true, size: 70, tooltip: true },
        encoding: {
          x: { field: "at", type: "temporal" },
          y: { field: "weightPercent", type: "quantitative" },
          color: {
            field: "verdict",
            type: "nominal",
            scale: {
              domain: ["pass", "fail", "inconclusive", "interrupted", "running"],
              range: ["#31a354", "#de2d26", "#fd8d3c", "#756bb1", "#969696"],
            },
          },
        },
      },
    ],
  };
}

/** A promotion's measurements: a point per analysis, per metric, against its threshold (a rule). */
export function measurementsSpec(
  points: readonly { at: string; metric: string; value: number; verdict: string }[],
  thresholds: readonly { metric: string; bound: "min" | "max"; value: number }[],
  title: string,
): TopLevelSpec {
  return {
    title,
    data: {
      values: [
        ...points.map((p) => ({ ...p, layer: "measurement" })),
        ...thresholds.map((t) => ({ metric: t.metric, threshold: t.value, bound: t.bound, layer: "threshold" })),
      ],
    },
    facet: {
      row: {
        field: "metric",
        type: "nominal",
        title: null,
        header: { labelAngle: 0, labelAlign: "left", labelFontWeight: "bold" },
      },
    },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 520,
      height: 110,
      layer: [
        {
          transform: [{ filter: "datum.layer === 'measurement'" }],
          mark: { type: "point", filled: true, size: 60, tooltip: true },
          encoding: {
            x: { field: "at", type: "temporal", title: "time" },
            y: { field: "value", type: "quantitative", title: "value", scale: { zero: false } },
            color: {
              field: "verdict",
              type: "nominal",
              scale: { domain: ["pass", "fail", "inconclusive"], range: ["#31a354", "#de2d26", "#fd8d3c"] },
            },
          },
        },
        {
          transform: [{ filter: "datum.layer === 'threshold'" }],
          mark: { type: "rule", strokeDash: [4, 3], color: "#555" },
          encoding: { y: { field: "threshold", type: "quantitative" } },
        },
      ],
    },
  } as TopLevelSpec;
}

/** Failover events: a point per event, per host, over time. */
export function eventsSpec(events: readonly { at: string; host: string; kind: string }[]): TopLevelSpec {
  return {
    title: "Failover events (Envoy's health checkers)",
    width: 520,
    height: { step: 26 },
    data: { values: events },
    mark: { type: "point", filled: true, size: 90, tooltip: true },
    encoding: {
      x: { field: "at", type: "temporal", title: "time" },
      y: { field: "host", type: "nominal", title: "host", axis: { labelLimit: 320 } },
      color: {
        field: "kind",
        type: "nominal",
        title: "event",
        scale: {
          domain: ["ejected", "failed", "healthy", "degraded", "not-degraded"],
          range: ["#de2d26", "#fd8d3c", "#31a354", "#bcbddc", "#756bb1"],
        },
      },
      shape: { field: "kind", type: "nominal", legend: null },
    },
  };
}
