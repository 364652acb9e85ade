import { parse } from "yaml";
import { queueTimeAdapterRule, TritonAlerts, TritonBlueGreen, TritonCanary, TritonDashboard } from "../lib";
import { colorProps, newStack, resourcesOf, synthJson } from "./helpers";
import { TerraformVariable } from "cdktf";
import { render, renderChart } from "./peers/chart";

// What TritonDashboard and TritonAlerts synthesize, and the chart's HPA. Their queries and rules run
// against real engines elsewhere: the dashboard's against Prometheus in test/e2e/promote.test.ts,
// the rules in promtool (test/alerts.test.ts), both applied to the test cluster by the example e2e.
describe("observability constructs", () => {
  const setup = () => {
    const { stack } = newStack();
    const namespace = new TerraformVariable(stack, "namespace", { type: "string" });
    const pair = new TritonBlueGreen(stack, "classifier", {
      namespace: namespace.stringValue,
      active: "blue",
      blue: colorProps(),
      green: colorProps(),
      standby: "warm",
    });
    const canary = new TritonCanary(stack, "classifier-canary", {
      pair,
      canaryPercent: 0,
      namespace: namespace.stringValue,
    });
    return { stack, pair, canary };
  };

  test("TritonDashboard: a ConfigMap with the Grafana sidecar's label; queries per color and per Envoy cluster, the namespace from Terraform; no ${ for Terraform to misread", () => {
    const { stack, pair, canary } = setup();
    new TritonDashboard(stack, "dash", { pair, envoys: [canary], annotations: { grafana_folder: "ML" } });
    const [cm] = resourcesOf(synthJson(stack), "kubernetes_config_map_v1").filter(
      (c: any) => c.metadata.name === "classifier-dashboard",
    );
    expect(cm.metadata).toMatchObject({
      namespace: "${var.namespace}",
      labels: { grafana_dashboard: "1", app: "classifier" },
      annotations: { grafana_folder: "ML" },
    });
    const text: string = cm.data["classifier.json"];
    expect(text.replace(/\$\{var\.namespace\}/g, "")).not.toContain("${");
    const dashboard = JSON.parse(text.replace(/\$\{var\.namespace\}/g, "ml"));
    expect(dashboard.panels.map((p: any) => p.title)).toEqual([
      "Requests per second",
      "Success rate",
      "p99 latency",
      "Queue time per request",
      "Compute time per request",
      "GPU utilisation (GPU pods only)",
      "GPU memory used (GPU pods only)",
      "Envoy traffic share per cluster (the weights in effect)",
      "Envoy hosts ejected",
      "Envoy healthy hosts",
      "Envoy health-check failures per second",
    ]);
    expect(dashboard.panels[0].targets[0].expr).toContain(
      'nv_inference_request_success{app="classifier",namespace="ml"}',
    );
    expect(dashboard.panels[7].targets[0].expr).toContain('app=~"classifier-canary",namespace="ml"');
    expect(dashboard.panels.every((p: any) => p.datasource.uid === "$datasource")).toBe(true);
  });

  test("TritonAlerts: a helm_release of the bundled rules chart with the pair's and each Envoy's groups; the chart renders them into a PrometheusRule", () => {
    const { stack, pair, canary } = setup();
    const alerts = new TritonAlerts(stack, "alerts", {
      pair,
      envoys: [canary],
      labels: { release: "prom" },
      p99LatencySeconds: 2,
    });
    const [release] = resourcesOf(synthJson(stack), "helm_release").filter((r: any) => r.name === "classifier-alerts");
    expect(release.chart).toMatch(/^assets\/cdktf-triton-rules-chart\//);
    expect(release.namespace).toBe("${var.namespace}");
    const values = JSON.parse(release.values[0]);
    expect(values.groups.map((g: any) => g.name)).toEqual(["classifier.pair", "classifier-canary.envoy"]);
    expect(values.groups[1].rules.find((r: any) => r.alert === "EnvoyP99LatencyHigh").expr).toMatch(/> 2000$/);
    const objects = renderChart("rules", {
      name: "classifier-alerts",
      labels: { release: "prom" },
      groups: alerts.groups,
    });
    expect(objects.PrometheusRule.metadata).toMatchObject({ name: "classifier-alerts", labels: { release: "prom" } });
    expect(objects.PrometheusRule.spec.groups).toEqual(JSON.parse(JSON.stringify(alerts.groups)));
  });

  test("the chart's HPA: min the color's replicas, max as given, on the queue-time metric; none for a color at 0 pods; the adapter rule's query names the metric", () => {
    const objects = render({ replicas: 3, autoscaling: { maxReplicas: 6, targetQueueTimeSeconds: 0.02 } });
    expect(objects.HorizontalPodAutoscaler.spec).toMatchObject({
      minReplicas: 3,
      maxReplicas: 6,
      scaleTargetRef: { kind: "Deployment", name: objects.Deployment.metadata.name },
    });
    expect(objects.HorizontalPodAutoscaler.spec.metrics[0].pods).toEqual({
      metric: { name: "triton_queue_time_us" },
      target: { type: "AverageValue", averageValue: "20000" },
    });
    expect(objects.Deployment.spec.replicas).toBe(3);
    expect(render({ replicas: 0, autoscaling: { maxReplicas: 6 } }).HorizontalPodAutoscaler).toBeUndefined();
    expect(queueTimeAdapterRule("q").name).toEqual({ matches: "^nv_inference_queue_duration_us$", as: "q" });
    expect(parse(JSON.stringify(queueTimeAdapterRule()))).toMatchObject({
      resources: { overrides: { pod: { resource: "pod" } } },
    });
  });
});
