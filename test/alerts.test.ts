import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { render } from "./peers/chart";

// The chart's PrometheusRule, run by the real promtool (built pinned by scripts/setup-tools.sh from
// github.com/prometheus/prometheus) on series labelled the way Prometheus labels what the chart's
// ServiceMonitor scrapes: Triton's own labels (model, version), the ServiceMonitor's
// podTargetLabels with the pod's values, and its relabelings. So an alert that selects a label the
// ServiceMonitor never attaches cannot pass here.

const promtool = path.resolve(__dirname, "..", ".tools", "bin", "promtool");

/** The labels a Triton series gets once scraped through the ServiceMonitor, from the rendered objects. */
function scrapedLabels(objects: Record<string, any>, triton: Record<string, string>): Record<string, string> {
  const pod = objects.Deployment.spec.template.metadata.labels as Record<string, string>;
  const monitor = objects.ServiceMonitor.spec;
  const labels: Record<string, string> = {
    ...triton,
    namespace: objects.Deployment.metadata.namespace,
    pod: `${objects.Deployment.metadata.name}-7d9f8-abcde`,
    job: objects.Service.metadata.name,
  };
  for (const l of monitor.podTargetLabels ?? []) if (pod[l] !== undefined) labels[l] = pod[l];
  for (const r of monitor.endpoints[0].relabelings ?? []) {
    const m = /^__meta_kubernetes_pod_label_(.+)$/.exec(r.sourceLabels?.[0] ?? "");
    if (m && pod[m[1]] !== undefined) labels[r.targetLabel] = pod[m[1]];
  }
  return labels;
}

const series = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

function runPromtool(rules: object, tests: object[]): { code: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promtool-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify(rules));
    fs.writeFileSync(
      path.join(dir, "tests.yaml"),
      stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }),
    );
    const r = spawnSync(promtool, ["test", "rules", path.join(dir, "tests.yaml")], { encoding: "utf8" });
    return { code: r.status, out: `${r.stdout}${r.stderr}${r.error ?? ""}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the chart's alerts, tested by promtool", () => {
  beforeAll(() => {
    if (!fs.existsSync(promtool))
      throw new Error(`${promtool} is missing: run scripts/setup-tools.sh prometheus (npm test does)`);
  });
  const objects = render({ monitoring: { serviceMonitor: true, prometheusRule: true } });
  const rules = { groups: objects.PrometheusRule.spec.groups };
  const triton = { model: "iris", version: "1" };
  const scraped = scrapedLabels(objects, triton);
  const failuresAt = (failed: number, succeeded: number, labels = scraped) => [
    { series: series("nv_inference_request_failure", labels), values: `0+${failed}x30` },
    { series: series("nv_inference_request_success", labels), values: `0+${succeeded}x30` },
  ];
  const annotations = (alert: string) =>
    objects.PrometheusRule.spec.groups[0].rules.find((r: any) => r.alert === alert).annotations;
  const summary = annotations("TritonInferenceFailures").summary;

  test("the ServiceMonitor keeps Triton's model version and adds app, color and the release's version", () => {
    expect(scraped).toMatchObject({
      model: "iris",
      version: "1",
      app: "classifier",
      color: "green",
      release_version: "v7",
    });
  });

  test("TritonInferenceFailures fires at 10 % failures after its 5 minutes, not at 1 %, and not before", () => {
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: failuresAt(10, 90),
        alert_rule_test: [
          { eval_time: "4m", alertname: "TritonInferenceFailures", exp_alerts: [] },
          {
            eval_time: "15m",
            alertname: "TritonInferenceFailures",
            exp_alerts: [{ exp_labels: { severity: "warning" }, exp_annotations: { summary } }],
          },
        ],
      },
      {
        interval: "1m",
        input_series: failuresAt(1, 99),
        alert_rule_test: [{ eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [] }],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });

  test("the other color's failures, or series without the ServiceMonitor's labels, do not fire it (and promtool says so when told they would)", () => {
    const blue = { ...scraped, color: "blue" };
    const bare = triton; // what Triton exports alone: the alert cannot see it
    const quiet = runPromtool(rules, [
      {
        interval: "1m",
        input_series: [...failuresAt(50, 50, blue), ...failuresAt(50, 50, bare)],
        alert_rule_test: [{ eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [] }],
      },
    ]);
    expect([quiet.code, quiet.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
    const wrong = runPromtool(rules, [
      {
        interval: "1m",
        input_series: failuresAt(50, 50, bare),
        alert_rule_test: [
          {
            eval_time: "15m",
            alertname: "TritonInferenceFailures",
            exp_alerts: [{ exp_labels: { severity: "warning" } }],
          },
        ],
      },
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain("FAILED");
  });

  test("TritonReplicasUnavailable fires after 15 minutes below the desired replicas, from kube-state-metrics' series", () => {
    const ksm = {
      namespace: objects.Deployment.metadata.namespace,
      deployment: objects.Deployment.metadata.name,
      job: "kube-state-metrics",
    };
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: [
          { series: series("kube_deployment_spec_replicas", ksm), values: "2x30" },
          { series: series("kube_deployment_status_replicas_available", ksm), values: "2x5 1x25" },
        ],
        alert_rule_test: [
          { eval_time: "15m", alertname: "TritonReplicasUnavailable", exp_alerts: [] },
          {
            eval_time: "25m",
            alertname: "TritonReplicasUnavailable",
            exp_alerts: [
              {
                exp_labels: { severity: "warning", ...ksm },
                exp_annotations: annotations("TritonReplicasUnavailable"),
              },
            ],
          },
        ],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });
});

describe("the p99 latency alert and the autoscaler's queue-time query, tested by promtool", () => {
  const objects = render({ monitoring: { serviceMonitor: true, prometheusRule: true } });
  const rules = { groups: objects.PrometheusRule.spec.groups };
  const scraped = scrapedLabels(objects, { model: "iris", version: "1" });
  const alert = objects.PrometheusRule.spec.groups[0].rules.find((r: any) => r.alert === "TritonP99LatencyHigh");
  // Triton's summary (--metrics-config=summary_latencies=true, which the chart sets) in microseconds.
  const p99 = (values: string, labels = scraped) => ({
    series: series("nv_inference_request_summary_us", { ...labels, quantile: "0.99" }),
    values,
  });

  test("the chart turns on Triton's latency summaries, which the alert reads", () => {
    expect(objects.Deployment.spec.template.spec.containers[0].args).toContain(
      "--metrics-config=summary_latencies=true",
    );
  });

  test("TritonP99LatencyHigh fires when p99 stays above 5000 ms for 5 minutes, not at 4000 ms, not for a 3-minute spike", () => {
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: [p99("6000000x20")],
        alert_rule_test: [
          { eval_time: "3m", alertname: "TritonP99LatencyHigh", exp_alerts: [] },
          {
            eval_time: "10m",
            alertname: "TritonP99LatencyHigh",
            exp_alerts: [
              {
                exp_labels: { severity: "warning", app: "classifier", color: "green", model: "iris" },
                exp_annotations: { summary: alert.annotations.summary.replace("{{ $labels.model }}", "iris") },
              },
            ],
          },
        ],
      },
      {
        interval: "1m",
        input_series: [p99("4000000x20")],
        alert_rule_test: [{ eval_time: "10m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }],
      },
      {
        interval: "1m",
        input_series: [p99("1000x5 9000000x3 1000x12")],
        alert_rule_test: [{ eval_time: "15m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }],
      },
      {
        interval: "1m",
        input_series: [p99("9000000x20", { ...scraped, color: "blue" })],
        alert_rule_test: [{ eval_time: "10m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });

  test("the queue-time metric is the pod's real mean wait with an idle model loaded; Triton's k8s-onprem query reports under half of it (server#8979)", () => {
    const { queueTimeAdapterRule } = require("../lib/constructs/release/autoscaling");
    const rule = queueTimeAdapterRule();
    const pod = { namespace: "ml", pod: "classifier-green-7d9f8-abcde" };
    const matchers = 'namespace="ml",pod="classifier-green-7d9f8-abcde"';
    const fill = (q: string) => q.replace(/<<\.LabelMatchers>>/g, matchers).replace(/<<\.GroupBy>>/g, "pod");
    const upstream =
      "avg(delta(nv_inference_queue_duration_us{<<.LabelMatchers>>}[30s])/(1+delta(nv_inference_request_success{<<.LabelMatchers>>}[30s]))) by (<<.GroupBy>>)";
    // Model iris: 2 requests every 15 s, each waiting 100 ms in the queue; model text: loaded, idle.
    const input_series = [
      {
        series: series("nv_inference_queue_duration_us", { ...pod, model: "iris", version: "1" }),
        values: "0+200000x40",
      },
      { series: series("nv_inference_request_success", { ...pod, model: "iris", version: "1" }), values: "0+2x40" },
      { series: series("nv_inference_queue_duration_us", { ...pod, model: "text", version: "1" }), values: "0x40" },
      { series: series("nv_inference_request_success", { ...pod, model: "text", version: "1" }), values: "0x40" },
    ];
    const r = runPromtool({ groups: [] }, [
      {
        interval: "15s",
        input_series,
        promql_expr_test: [
          // round(): the division leaves 1e5 plus a last-digit float error.
          {
            expr: `round(${fill(rule.metricsQuery)})`,
            eval_time: "5m",
            exp_samples: [{ labels: `{pod="${pod.pod}"}`, value: 100000 }],
          },
          // The same pod through the upstream query: (4e5 / (1 + 4) + 0) / 2 = 40 ms of a real 100 ms.
          {
            expr: `round(${fill(upstream)})`,
            eval_time: "5m",
            exp_samples: [{ labels: `{pod="${pod.pod}"}`, value: 40000 }],
          },
        ],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });

  test("queue time per request is one number in the dashboard, the adapter rule and the promotion's analysis, failures or not (core/queue-time)", () => {
    const { queueTimeAdapterRule } = require("../lib/constructs/release/autoscaling");
    const { dashboardQueries } = require("../lib/constructs/monitoring/dashboard");
    const { promqlOf } = require("../lib/run/promote/analysis");
    const labels = {
      namespace: "ml",
      app: "classifier",
      color: "green",
      pod: "classifier-green-7d9f8-abcde",
      model: "iris",
      version: "1",
    };
    // Every 15 s: 3 requests complete, waiting 150 ms in all (50 ms each); 1 fails before it queues.
    const input_series = [
      { series: series("nv_inference_queue_duration_us", labels), values: "0+150000x40" },
      { series: series("nv_inference_request_success", labels), values: "0+3x40" },
      { series: series("nv_inference_request_failure", labels), values: "0+1x40" },
    ];
    const adapter = queueTimeAdapterRule()
      .metricsQuery.replace(/<<\.LabelMatchers>>/g, 'namespace="ml",pod="classifier-green-7d9f8-abcde"')
      .replace(/<<\.GroupBy>>/g, "pod");
    const panel = dashboardQueries({ app: "classifier", namespace: "ml" })
      .find((q: { panel: string }) => q.panel === "Queue time per request")
      .expr.replace(/\$__rate_interval/g, "1m");
    const analysis = promqlOf(
      { name: "queue", kind: "triton-queue-time", max: 1 },
      { app: "classifier", namespace: "ml", color: "green", stable: "blue" },
      60,
    );
    const r = runPromtool({ groups: [] }, [
      {
        interval: "15s",
        input_series,
        promql_expr_test: [
          {
            expr: `round(${adapter})`,
            eval_time: "5m",
            exp_samples: [{ labels: `{pod="${labels.pod}"}`, value: 50000 }],
          },
          { expr: `round(${panel})`, eval_time: "5m", exp_samples: [{ labels: '{color="green"}', value: 50000 }] },
          { expr: `round(1e6 * ${analysis})`, eval_time: "5m", exp_samples: [{ labels: "{}", value: 50000 }] },
        ],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });
});

describe("TritonAlerts' rules (the pair's and its Envoys'), tested by promtool", () => {
  const { pairAlertRules, envoyAlertRules } = require("../lib/constructs/monitoring/alerts");
  const rules = { groups: [pairAlertRules("classifier", "ml"), envoyAlertRules("classifier-canary", "ml")] };
  // What a pod scrape (or PodMonitor) of our Envoy gives its series: the pod's namespace and app.
  const envoy = (cluster: string) => ({
    namespace: "ml",
    app: "classifier-canary",
    pod: "classifier-canary-5d8f-x2x7q",
    envoy_cluster_name: cluster,
    job: "kubernetes-pods",
  });
  const ksm = { namespace: "ml", endpoint: "classifier", job: "kube-state-metrics" };
  const check = (tests: object[]) => {
    const r = runPromtool(rules, tests);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  };
  const ruleOf = (alertname: string) =>
    rules.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === alertname);
  /** The alert as Prometheus would send it: its labels, and its annotations with $labels and $value filled in. */
  const fired = (alertname: string, labels: Record<string, string>, at: string, value = "") => ({
    eval_time: at,
    alertname,
    exp_alerts: [
      {
        exp_labels: labels,
        exp_annotations: Object.fromEntries(
          Object.entries(ruleOf(alertname).annotations as Record<string, string>).map(([k, v]) => [
            k,
            v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, l: string) => labels[l]).replace(/\{\{ \$value \}\}/g, value),
          ]),
        ),
      },
    ],
  });
  const quiet = (alertname: string, at: string) => ({ eval_time: at, alertname, exp_alerts: [] });

  test("TritonServingColorNotReady fires when the active Service has no ready endpoint for a minute; not while one is ready, not for another Service", () => {
    check([
      {
        interval: "1m",
        input_series: [
          // The pod turns unready at 4m: its address's ready="true" series ends (Prometheus forgets
          // it 5 minutes after its last sample), a ready="false" one begins.
          { series: series("kube_endpoint_info", ksm), values: "1x15" },
          { series: series("kube_endpoint_address", { ...ksm, ip: "10.0.0.7", ready: "true" }), values: "1x3 _x12" },
          { series: series("kube_endpoint_address", { ...ksm, ip: "10.0.0.7", ready: "false" }), values: "_x3 1x12" },
          { series: series("kube_endpoint_info", { ...ksm, endpoint: "other" }), values: "1x15" },
        ],
        alert_rule_test: [
          quiet("TritonServingColorNotReady", "3m"),
          fired(
            "TritonServingColorNotReady",
            { severity: "critical", app: "classifier", namespace: "ml", endpoint: "classifier" },
            "12m",
          ),
        ],
      },
      {
        interval: "1m",
        input_series: [
          { series: series("kube_endpoint_info", ksm), values: "1x10" },
          { series: series("kube_endpoint_address", { ...ksm, ip: "10.0.0.7", ready: "true" }), values: "1x10" },
        ],
        alert_rule_test: [quiet("TritonServingColorNotReady", "10m")],
      },
    ]);
  });

  test("EnvoyHostsEjected fires on an ejection that lasts a minute, not on none, and never for Envoy's own ops clusters", () => {
    check([
      {
        interval: "1m",
        input_series: [
          {
            series: series("envoy_cluster_outlier_detection_ejections_active", envoy("classifier-green-http")),
            values: "0 0 1x8",
          },
          {
            series: series("envoy_cluster_outlier_detection_ejections_active", envoy("classifier-blue-http")),
            values: "0x10",
          },
          { series: series("envoy_cluster_outlier_detection_ejections_active", envoy("envoy-admin")), values: "1x10" },
        ],
        alert_rule_test: [
          quiet("EnvoyHostsEjected", "2m"),
          fired(
            "EnvoyHostsEjected",
            {
              severity: "warning",
              namespace: "ml",
              app: "classifier-canary",
              envoy_cluster_name: "classifier-green-http",
            },
            "5m",
            "1",
          ),
        ],
      },
    ]);
  });

  test("EnvoyNoHealthyHost fires when every host of a cluster is out (no backup left); EnvoyHostsUnhealthy when some are; neither when all are in", () => {
    const membership = (cluster: string, healthy: string, total: string) => [
      { series: series("envoy_cluster_membership_healthy", envoy(cluster)), values: healthy },
      { series: series("envoy_cluster_membership_total", envoy(cluster)), values: total },
    ];
    check([
      {
        interval: "1m",
        input_series: [
          ...membership("pool-http", "2 2 1 1 1 0x6", "2x10"),
          ...membership("ready-listener-0", "0x10", "1x10"),
          ...membership("empty-http", "0x10", "0x10"),
        ],
        alert_rule_test: [
          quiet("EnvoyNoHealthyHost", "3m"),
          quiet("EnvoyHostsUnhealthy", "2m"),
          fired(
            "EnvoyHostsUnhealthy",
            { severity: "warning", namespace: "ml", app: "classifier-canary", envoy_cluster_name: "pool-http" },
            "4m",
          ),
          fired(
            "EnvoyNoHealthyHost",
            { severity: "critical", namespace: "ml", app: "classifier-canary", envoy_cluster_name: "pool-http" },
            "7m",
          ),
        ],
      },
      {
        interval: "1m",
        input_series: membership("pool-http", "2x10", "2x10"),
        alert_rule_test: [quiet("EnvoyNoHealthyHost", "8m"), quiet("EnvoyHostsUnhealthy", "8m")],
      },
    ]);
  });

  test("EnvoyP99LatencyHigh fires when a cluster's p99 stays above 5000 ms for 5 minutes, not below", () => {
    const buckets = (cluster: string, perMinute: Record<string, number>) =>
      ["1000", "5000", "10000", "+Inf"].map((le) => ({
        series: series("envoy_cluster_upstream_rq_time_bucket", { ...envoy(cluster), le }),
        values: `0+${perMinute[le]}x20`,
      }));
    check([
      {
        interval: "1m",
        // 100 requests a minute, every one between 5 and 10 s on green; every one under 1 s on blue.
        input_series: [
          ...buckets("classifier-green-http", { "1000": 0, "5000": 0, "10000": 100, "+Inf": 100 }),
          ...buckets("classifier-blue-http", { "1000": 100, "5000": 100, "10000": 100, "+Inf": 100 }),
        ],
        alert_rule_test: [
          quiet("EnvoyP99LatencyHigh", "4m"),
          fired(
            "EnvoyP99LatencyHigh",
            {
              severity: "warning",
              namespace: "ml",
              app: "classifier-canary",
              envoy_cluster_name: "classifier-green-http",
            },
            "15m",
          ),
        ],
      },
    ]);
  });

  test("EnvoyFailureRatioHigh fires at 10 % 5xx for 5 minutes, not at 1 %", () => {
    const answers = (cluster: string, failed: number) => [
      { series: series("envoy_cluster_upstream_rq_completed", envoy(cluster)), values: "0+100x30" },
      {
        series: series("envoy_cluster_upstream_rq_xx", { ...envoy(cluster), envoy_response_code_class: "5" }),
        values: `0+${failed}x30`,
      },
    ];
    check([
      {
        interval: "1m",
        input_series: [...answers("classifier-green-http", 10), ...answers("classifier-blue-http", 1)],
        alert_rule_test: [
          quiet("EnvoyFailureRatioHigh", "4m"),
          fired(
            "EnvoyFailureRatioHigh",
            {
              severity: "warning",
              namespace: "ml",
              app: "classifier-canary",
              envoy_cluster_name: "classifier-green-http",
            },
            "15m",
          ),
        ],
      },
    ]);
  });
});

describe("a failover pool's tier alerts (from Envoy's per-endpoint stats), tested by promtool", () => {
  const { envoyAlertRules } = require("../lib/constructs/monitoring/alerts");
  const pools = [
    {
      cluster: "classifier-failover-http",
      tiers: [
        { name: "primary", hosts: ["classifier-canary.ml.svc.cluster.local"] },
        { name: "backup", hosts: ["triton.eu-west-1.example.com"] },
      ],
    },
  ];
  const rules = { groups: [envoyAlertRules("classifier-failover", "ml", {}, pools)] };
  const endpoint = (host: string, address: string) => ({
    namespace: "ml",
    app: "classifier-failover",
    envoy_cluster_name: "classifier-failover-http",
    envoy_endpoint_hostname: host,
    envoy_endpoint_address: address,
    job: "kubernetes-pods",
  });
  const primary = endpoint("classifier-canary.ml.svc.cluster.local", "10.96.0.12:8000");
  const backup = endpoint("triton.eu-west-1.example.com", "34.1.2.3:443");
  // Same shape as the backup's name, but not it: the regex's dots are escaped.
  const decoy = endpoint("tritonXeu-west-1.example.com", "34.1.2.4:443");
  const summary = (alert: string) =>
    rules.groups[0].rules.find(
      (r: any) => r.alert === alert && (alert !== "EnvoyTierDown" || r.labels.tier === "primary"),
    ).annotations.summary;
  const check = (tests: object[]) => {
    const r = runPromtool(rules, tests);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  };
  const labels = { namespace: "ml", app: "classifier-failover", envoy_cluster_name: "classifier-failover-http" };

  test("EnvoyTierDown names the tier whose every host is out (the primary here), not the one still healthy", () => {
    check([
      {
        interval: "1m",
        input_series: [
          { series: series("envoy_cluster_endpoint_healthy", primary), values: "1 1 0x8" },
          { series: series("envoy_cluster_endpoint_healthy", backup), values: "1x10" },
        ],
        alert_rule_test: [
          { eval_time: "1m", alertname: "EnvoyTierDown", exp_alerts: [] },
          {
            eval_time: "5m",
            alertname: "EnvoyTierDown",
            exp_alerts: [
              {
                exp_labels: { severity: "warning", tier: "primary", ...labels },
                exp_annotations: { summary: summary("EnvoyTierDown") },
              },
            ],
          },
        ],
      },
    ]);
  });

  test("EnvoyFailoverToLowerTier fires while the backup tier takes requests, not while only the primary does (nor a host whose name only looks like the backup's)", () => {
    check([
      {
        interval: "1m",
        input_series: [
          { series: series("envoy_cluster_endpoint_rq_total", primary), values: "0+100x4 400x10" },
          { series: series("envoy_cluster_endpoint_rq_total", backup), values: "0x4 0+100x10" },
          { series: series("envoy_cluster_endpoint_rq_total", decoy), values: "0+100x14" },
        ],
        alert_rule_test: [
          { eval_time: "4m", alertname: "EnvoyFailoverToLowerTier", exp_alerts: [] },
          {
            eval_time: "9m",
            alertname: "EnvoyFailoverToLowerTier",
            exp_alerts: [
              {
                exp_labels: { severity: "warning", ...labels },
                exp_annotations: { summary: summary("EnvoyFailoverToLowerTier") },
              },
            ],
          },
        ],
      },
    ]);
  });
});
