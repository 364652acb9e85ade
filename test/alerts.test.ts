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
