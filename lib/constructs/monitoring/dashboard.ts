// A Grafana dashboard per blue/green pair, as JSON: every panel split by color (Triton's series,
// labelled app and color by the chart's ServiceMonitor) or by Envoy cluster (our Envoys' series,
// labelled with their pods' `app`). Pure: the same arguments give the same dashboard.
import { refuseUnknownKeys } from "../validation";
import { queueTimePerRequestUs } from "../../core/queue-time";

/** One panel query, as Grafana stores it (PromQL with Grafana's $__rate_interval). */
export interface DashboardQuery {
  readonly panel: string;
  readonly expr: string;
  /** Present only where Triton exports it: GPU series exist only on a GPU. */
  readonly onlyWith?: "gpu";
}

export interface DashboardOptions {
  readonly app: string;
  /** The pair's namespace (a Terraform expression is fine: it is embedded as text). */
  readonly namespace: string;
  /** The names of our Envoys in front of the pair (their pods' `app` label). @default [] */
  readonly envoys?: readonly string[];
  /** @default `Triton ${app}` */
  readonly title?: string;
}

const OPS = 'envoy_cluster_name!~"envoy-admin|ready-listener-.*"';

/** The queries of the dashboard, in panel order. */
export function dashboardQueries(o: DashboardOptions): DashboardQuery[] {
  refuseUnknownKeys("dashboardQueries#0", o);
  return queriesOf(o);
}

function queriesOf(o: DashboardOptions): DashboardQuery[] {
  const t = `app="${o.app}",namespace="${o.namespace}"`;
  const rate = (m: string, sel = t) => `sum by (color) (rate(${m}{${sel}}[$__rate_interval]))`;
  const requests = `(${rate("nv_inference_request_success")} + ${rate("nv_inference_request_failure")})`;
  const q: DashboardQuery[] = [
    { panel: "Requests per second", expr: requests },
    { panel: "Success rate", expr: `100 * ${rate("nv_inference_request_success")} / clamp_min(${requests}, 1e-9)` },
    { panel: "p99 latency", expr: `max by (color) (nv_inference_request_summary_us{${t},quantile="0.99"}) / 1000` },
    { panel: "Queue time per request", expr: queueTimePerRequestUs(rate, "zero") },
    {
      panel: "Compute time per request",
      expr: `${rate("nv_inference_compute_infer_duration_us")} / clamp_min(${rate("nv_inference_request_success")}, 1e-9)`,
    },
    { panel: "GPU utilisation", expr: `100 * avg by (color) (nv_gpu_utilization{${t}})`, onlyWith: "gpu" },
    { panel: "GPU memory used", expr: `sum by (color) (nv_gpu_memory_used_bytes{${t}})`, onlyWith: "gpu" },
  ];
  if (o.envoys?.length) {
    const e = `app=~"${o.envoys.join("|")}",namespace="${o.namespace}",${OPS}`;
    const completed = `sum by (app, envoy_cluster_name) (rate(envoy_cluster_upstream_rq_completed{${e}}[$__rate_interval]))`;
    q.push(
      {
        panel: "Envoy traffic share per cluster (the weights in effect)",
        expr: `100 * ${completed} / ignoring (envoy_cluster_name) group_left sum by (app) (rate(envoy_cluster_upstream_rq_completed{${e}}[$__rate_interval]))`,
      },
      {
        panel: "Envoy hosts ejected",
        expr: `sum by (app, envoy_cluster_name) (envoy_cluster_outlier_detection_ejections_active{${e}})`,
      },
      {
        panel: "Envoy healthy hosts",
        expr: `sum by (app, envoy_cluster_name) (envoy_cluster_membership_healthy{${e}})`,
      },
      {
        panel: "Envoy health-check failures per second",
        expr: `sum by (app, envoy_cluster_name) (rate(envoy_cluster_health_check_failure{${e}}[$__rate_interval]))`,
      },
    );
  }
  return q;
}

const UNITS: Record<string, string> = {
  "Requests per second": "reqps",
  "Success rate": "percent",
  "p99 latency": "ms",
  "Queue time per request": "µs",
  "Compute time per request": "µs",
  "GPU utilisation": "percent",
  "GPU memory used": "bytes",
  "Envoy traffic share per cluster (the weights in effect)": "percent",
};

/**
 * The dashboard JSON (Grafana's model, schemaVersion 39), with a Prometheus data source variable
 * (`$datasource`: Grafana's other spelling, `${datasource}`, is Terraform's interpolation).
 */
export function pairDashboard(o: DashboardOptions): Record<string, unknown> {
  refuseUnknownKeys("pairDashboard#0", o);
  const queries = queriesOf(o);
  return {
    title: o.title ?? `Triton ${o.app}`,
    uid: `cdktf-triton-${o.app}`.slice(0, 40),
    tags: ["cdktf-triton", "triton", o.app],
    editable: false,
    schemaVersion: 39,
    time: { from: "now-1h", to: "now" },
    refresh: "30s",
    templating: { list: [{ name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus" }] },
    panels: queries.map((q, i) => ({
      id: i + 1,
      type: "timeseries",
      title: q.panel + (q.onlyWith === "gpu" ? " (GPU pods only)" : ""),
      datasource: { type: "prometheus", uid: "$datasource" },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: UNITS[q.panel] ?? "short" }, overrides: [] },
      options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
      targets: [
        {
          refId: "A",
          datasource: { type: "prometheus", uid: "$datasource" },
          expr: q.expr,
          legendFormat: q.expr.includes("by (color)") ? "{{color}}" : "{{app}} {{envoy_cluster_name}}",
        },
      ],
    })),
  };
}
