// Alert rules of a blue/green pair and of our Envoys in front of it, as Prometheus rule groups.
// Pure: TritonAlerts puts them in a PrometheusRule; the tests run them through promtool.
// Triton's own alerts per color (failure ratio, p99, replicas) are in the chart's PrometheusRule.
import { refuseUnknownKeys } from "../validation";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

export interface AlertThresholds {
  /** Envoy's p99 response time per cluster above this many seconds, for 5 minutes. @default 5 */
  readonly p99LatencySeconds?: number;
  /** Envoy's share of 5xx answers per cluster above this (0..1), for 5 minutes. @default 0.05 */
  readonly failureRatio?: number;
}

/** A failover pool's cluster: its tiers in order, each with its endpoints' host names. */
export interface PoolTiers {
  readonly cluster: string;
  readonly tiers: readonly { readonly name: string; readonly hosts: readonly string[] }[];
}

/** The pools among an Envoy model's clusters (clusters whose endpoints span priorities). */
export function poolTiersOf(model: {
  readonly clusters: readonly {
    readonly name: string;
    readonly tiers?: readonly string[];
    readonly endpoints: readonly { readonly host: string; readonly priority: number }[];
  }[];
}): PoolTiers[] {
  return model.clusters
    .filter((c) => c.tiers && c.tiers.length > 1)
    .map((c) => ({
      cluster: c.name,
      tiers: c.tiers!.map((name, priority) => ({
        name,
        hosts: [...new Set(c.endpoints.filter((e) => e.priority === priority).map((e) => e.host))],
      })),
    }));
}

/**
 * A PromQL regex matching exactly these host names, inside a double-quoted PromQL string (so each
 * regex escape is written twice). Terraform expressions in a name (`${var.namespace}`) are kept as
 * they are: they hold no regex metacharacter once interpolated (a namespace is a DNS label).
 */
export function hostsRegex(hosts: readonly string[]): string {
  const escape = (h: string) =>
    h
      .split(/(\$\{[^}]*\})/)
      .map((part, i) => (i % 2 ? part : part.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\\\${c}`)))
      .join("");
  return hosts.map(escape).join("|");
}

/** Our Envoys' own clusters (the admin, the readiness hops), never alerted on. */
const OPS = 'envoy_cluster_name!~"envoy-admin|ready-listener-.*"';

/**
 * The pair's alert: the color its active Service selects has no ready pod (from kube-state-metrics'
 * endpoint series): traffic to the app fails, whatever each release's own state.
 */
export function pairAlertRules(app: string, namespace: string): RuleGroup {
  const sel = `namespace="${namespace}",endpoint="${app}"`;
  return {
    name: `${app}.pair`,
    rules: [
      {
        alert: "TritonServingColorNotReady",
        expr: `(sum by (namespace, endpoint) (kube_endpoint_address{${sel},ready="true"}) or on (namespace, endpoint) (0 * group by (namespace, endpoint) (kube_endpoint_info{${sel}}))) == 0`,
        for: "1m",
        labels: { severity: "critical", app },
        annotations: { summary: `${app}: the serving color has no ready pod (Service ${app} has no ready endpoint)` },
      },
    ],
  };
}

/**
 * One Envoy's alerts, per cluster (a color of a canary, a pool): hosts ejected, every host out of
 * rotation (no backup left), p99 response time, 5xx ratio. Its series carry the pod's `app` label
 * (the Envoy's name) as a pod scrape or PodMonitor attaches it.
 */
export function envoyAlertRules(
  envoy: string,
  namespace: string,
  t: AlertThresholds = {},
  pools: readonly PoolTiers[] = [],
): RuleGroup {
  refuseUnknownKeys("envoyAlertRules#2", t);
  refuseUnknownKeys("envoyAlertRules#3", pools);
  const sel = `namespace="${namespace}",app="${envoy}",${OPS}`;
  const by = "by (namespace, app, envoy_cluster_name)";
  const p99 = Math.round((t.p99LatencySeconds ?? 5) * 1000); // Triton and Envoy measure milliseconds
  const ratio = t.failureRatio ?? 0.05;
  return {
    name: `${envoy}.envoy`,
    rules: [
      {
        alert: "EnvoyHostsEjected",
        expr: `sum ${by} (envoy_cluster_outlier_detection_ejections_active{${sel}}) > 0`,
        for: "1m",
        labels: { severity: "warning" },
        annotations: {
          summary: `Envoy ${envoy}: {{ $value }} host(s) of {{ $labels.envoy_cluster_name }} ejected for their errors`,
        },
      },
      {
        alert: "EnvoyNoHealthyHost",
        expr: `sum ${by} (envoy_cluster_membership_healthy{${sel}}) == 0 and on (namespace, app, envoy_cluster_name) sum ${by} (envoy_cluster_membership_total{${sel}}) > 0`,
        for: "30s",
        labels: { severity: "critical" },
        annotations: {
          summary: `Envoy ${envoy}: every host of {{ $labels.envoy_cluster_name }} is out of rotation: no backup left, requests get 503`,
        },
      },
      {
        alert: "EnvoyHostsUnhealthy",
        expr: `sum ${by} (envoy_cluster_membership_healthy{${sel}}) < sum ${by} (envoy_cluster_membership_total{${sel}})`,
        for: "2m",
        labels: { severity: "warning" },
        annotations: {
          summary: `Envoy ${envoy}: hosts of {{ $labels.envoy_cluster_name }} are out of rotation; a pool may be serving from a lower tier`,
        },
      },
      {
        alert: "EnvoyP99LatencyHigh",
        expr: `histogram_quantile(0.99, sum by (namespace, app, envoy_cluster_name, le) (rate(envoy_cluster_upstream_rq_time_bucket{${sel}}[5m]))) > ${p99}`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: {
          summary: `Envoy ${envoy}: p99 response time of {{ $labels.envoy_cluster_name }} above ${p99} ms`,
        },
      },
      {
        alert: "EnvoyFailureRatioHigh",
        expr: `sum ${by} (rate(envoy_cluster_upstream_rq_xx{${sel},envoy_response_code_class="5"}[5m])) / clamp_min(sum ${by} (rate(envoy_cluster_upstream_rq_completed{${sel}}[5m])), 1e-9) > ${ratio}`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: {
          summary: `Envoy ${envoy}: more than ${ratio} of the answers from {{ $labels.envoy_cluster_name }} are 5xx`,
        },
      },
      // A pool's tiers, from its per-endpoint stats (labelled with each endpoint's host name).
      ...pools.flatMap((p) => {
        const at = `${sel},envoy_cluster_name="${p.cluster}"`;
        const lower = p.tiers.slice(1).flatMap((tier) => tier.hosts);
        return [
          ...p.tiers.map((tier) => ({
            alert: "EnvoyTierDown",
            expr: `max ${by} (envoy_cluster_endpoint_healthy{${at},envoy_endpoint_hostname=~"${hostsRegex(tier.hosts)}"}) == 0`,
            for: "30s",
            labels: { severity: "warning", tier: tier.name },
            annotations: {
              summary: `Envoy ${envoy}: every host of tier ${tier.name} of ${p.cluster} is out of rotation`,
            },
          })),
          {
            alert: "EnvoyFailoverToLowerTier",
            expr: `sum ${by} (rate(envoy_cluster_endpoint_rq_total{${at},envoy_endpoint_hostname=~"${hostsRegex(lower)}"}[2m])) > 0`,
            for: "1m",
            labels: { severity: "warning" },
            annotations: { summary: `Envoy ${envoy}: ${p.cluster} sends requests to a tier below ${p.tiers[0].name}` },
          },
        ];
      }),
    ],
  };
}
