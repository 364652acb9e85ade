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
  const labels: Record<string, string> = { ...triton, namespace: objects.Deployment.metadata.namespace, pod: `${objects.Deployment.metadata.name}-7d9f8-abcde`, job: objects.Service.metadata.name };
  for (const l of monitor.podTargetLabels ?? []) if (pod[l] !== undefined) labels[l] = pod[l];
  for (const r of monitor.endpoints[0].relabelings ?? []) {
    const m = /^__meta_kubernetes_pod_label_(.+)$/.exec(r.sourceLabels?.[0] ?? "");
    if (m && pod[m[1]] !== undefined) labels[r.targetLabel] = pod[m[1]];
  }
  return labels;
}

const series = (name: string, labels: Record<string, string>) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;

function runPromtool(rules: object, tests: object[]): { code: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "promtool-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify(rules));
    fs.writeFileSync(path.join(dir, "tests.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }));
    const r = spawnSync(promtool, ["test", "rules", path.join(dir, "tests.yaml")], { encoding: "utf8" });
    return { code: r.status, out: `${r.stdout}${r.stderr}${r.error ?? ""}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the chart's alerts, tested by promtool", () => {
  beforeAll(() => {
    if (!fs.existsSync(promtool)) throw new Error(`${promtool} is missing: run scripts/setup-tools.sh prometheus (npm test does)`);
  });
  const objects = render({ monitoring: { serviceMonitor: true, prometheusRule: true } });
  const rules = { groups: objects.PrometheusRule.spec.groups };
  const triton = { model: "iris", version: "1" };
  const scraped = scrapedLabels(objects, triton);
  const failuresAt = (failed: number, succeeded: number, labels = scraped) => [
    { series: series("nv_inference_request_failure", labels), values: `0+${failed}x30` },
    { series: series("nv_inference_request_success", labels), values: `0+${succeeded}x30` },
  ];
  const annotations = (alert: string) => objects.PrometheusRule.spec.groups[0].rules.find((r: any) => r.alert === alert).annotations;
  const summary = annotations("TritonInferenceFailures").summary;

  test("the ServiceMonitor keeps Triton's model version and adds app, color and the release's version", () => {
    expect(scraped).toMatchObject({ model: "iris", version: "1", app: "classifier", color: "green", release_version: "v7" });
  });

  test("TritonInferenceFailures fires at 10 % failures after its 5 minutes, not at 1 %, and not before", () => {
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: failuresAt(10, 90),
        alert_rule_test: [
          { eval_time: "4m", alertname: "TritonInferenceFailures", exp_alerts: [] },
          { eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [{ exp_labels: { severity: "warning" }, exp_annotations: { summary } }] },
        ],
      },
      { interval: "1m", input_series: failuresAt(1, 99), alert_rule_test: [{ eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [] }] },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });

  test("the other color's failures, or series without the ServiceMonitor's labels, do not fire it (and promtool says so when told they would)", () => {
    const blue = { ...scraped, color: "blue" };
    const bare = triton; // what Triton exports alone: the alert cannot see it
    const quiet = runPromtool(rules, [
      { interval: "1m", input_series: [...failuresAt(50, 50, blue), ...failuresAt(50, 50, bare)], alert_rule_test: [{ eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [] }] },
    ]);
    expect([quiet.code, quiet.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
    const wrong = runPromtool(rules, [
      { interval: "1m", input_series: failuresAt(50, 50, bare), alert_rule_test: [{ eval_time: "15m", alertname: "TritonInferenceFailures", exp_alerts: [{ exp_labels: { severity: "warning" } }] }] },
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain("FAILED");
  });

  test("TritonReplicasUnavailable fires after 15 minutes below the desired replicas, from kube-state-metrics' series", () => {
    const ksm = { namespace: objects.Deployment.metadata.namespace, deployment: objects.Deployment.metadata.name, job: "kube-state-metrics" };
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: [
          { series: series("kube_deployment_spec_replicas", ksm), values: "2x30" },
          { series: series("kube_deployment_status_replicas_available", ksm), values: "2x5 1x25" },
        ],
        alert_rule_test: [
          { eval_time: "15m", alertname: "TritonReplicasUnavailable", exp_alerts: [] },
          { eval_time: "25m", alertname: "TritonReplicasUnavailable", exp_alerts: [{ exp_labels: { severity: "warning", ...ksm }, exp_annotations: annotations("TritonReplicasUnavailable") }] },
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
  const p99 = (values: string, labels = scraped) => ({ series: series("nv_inference_request_summary_us", { ...labels, quantile: "0.99" }), values });

  test("the chart turns on Triton's latency summaries, which the alert reads", () => {
    expect(objects.Deployment.spec.template.spec.containers[0].args).toContain("--metrics-config=summary_latencies=true");
  });

  test("TritonP99LatencyHigh fires when p99 stays above 5000 ms for 5 minutes, not at 4000 ms, not for a 3-minute spike", () => {
    const r = runPromtool(rules, [
      {
        interval: "1m",
        input_series: [p99("6000000x20")],
        alert_rule_test: [
          { eval_time: "3m", alertname: "TritonP99LatencyHigh", exp_alerts: [] },
          { eval_time: "10m", alertname: "TritonP99LatencyHigh", exp_alerts: [{ exp_labels: { severity: "warning", app: "classifier", color: "green", model: "iris" }, exp_annotations: { summary: alert.annotations.summary.replace("{{ $labels.model }}", "iris") } }] },
        ],
      },
      { interval: "1m", input_series: [p99("4000000x20")], alert_rule_test: [{ eval_time: "10m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }] },
      { interval: "1m", input_series: [p99("1000x5 9000000x3 1000x12")], alert_rule_test: [{ eval_time: "15m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }] },
      { interval: "1m", input_series: [p99("9000000x20", { ...scraped, color: "blue" })], alert_rule_test: [{ eval_time: "10m", alertname: "TritonP99LatencyHigh", exp_alerts: [] }] },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });

  test("the queue-time metric is the pod's real mean wait with an idle model loaded; Triton's k8s-onprem query reports under half of it (server#8979)", () => {
    const { queueTimeAdapterRule } = require("../lib/release/autoscaling");
    const rule = queueTimeAdapterRule();
    const pod = { namespace: "ml", pod: "classifier-green-7d9f8-abcde" };
    const matchers = 'namespace="ml",pod="classifier-green-7d9f8-abcde"';
    const fill = (q: string) => q.replace(/<<\.LabelMatchers>>/g, matchers).replace(/<<\.GroupBy>>/g, "pod");
    const upstream = "avg(delta(nv_inference_queue_duration_us{<<.LabelMatchers>>}[30s])/(1+delta(nv_inference_request_success{<<.LabelMatchers>>}[30s]))) by (<<.GroupBy>>)";
    // Model iris: 2 requests every 15 s, each waiting 100 ms in the queue; model text: loaded, idle.
    const input_series = [
      { series: series("nv_inference_queue_duration_us", { ...pod, model: "iris", version: "1" }), values: "0+200000x40" },
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
          { expr: `round(${fill(rule.metricsQuery)})`, eval_time: "5m", exp_samples: [{ labels: `{pod="${pod.pod}"}`, value: 100000 }] },
          // The same pod through the upstream query: (4e5 / (1 + 4) + 0) / 2 = 40 ms of a real 100 ms.
          { expr: `round(${fill(upstream)})`, eval_time: "5m", exp_samples: [{ labels: `{pod="${pod.pod}"}`, value: 40000 }] },
        ],
      },
    ]);
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("SUCCESS")]);
  });
});
