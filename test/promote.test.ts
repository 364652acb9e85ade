import { TerraformVariable } from "cdktf";
import { parse } from "yaml";
import {
  Backend,
  GatewayDataPlane,
  PromotionMetric,
  TritonBlueGreen,
  TritonCanary,
  TritonGatewayCanary,
  TritonPromotion,
  TritonValidationError,
} from "../lib";
import { contourStatName, gatewayEnvoyQueries, routeProblem } from "../lib/run/gateway";
import { histogramQuantile, judge, judgeEnvoy, promqlOf, windowCounters } from "../lib/run/promote/analysis";
import { parsePrometheusText } from "../lib/core/prometheus-text";
import { historyTable, parseHistory } from "../lib/run/records/history";
import { PromotionRecord } from "../lib/run/records";
import { parseWeightsVersion, weightKey, weightsVersion } from "../lib/core/envoy";
import { sameWeights, weightsText } from "../lib/run/envoys";
import { colorProps, newStack, resourcesOf, synthJson } from "./helpers";

// The canary and the promotion at synth, and the analysis' arithmetic. The driver itself runs
// against real engines in test/e2e/promote.test.ts.
function pairIn(stack: any, standby: "warm" | "preview" | TerraformVariable = "warm") {
  return new TritonBlueGreen(stack, "fraud", {
    namespace: "ml",
    blue: colorProps({ version: "v1" }),
    green: colorProps({ version: "v2" }),
    active: TritonBlueGreen.activeVariable(stack),
    standby,
  });
}

const steps = [
  { weightPercent: 5, bakeSeconds: 60 },
  { weightPercent: 50, bakeSeconds: 60 },
  { weightPercent: 100, bakeSeconds: 60 },
];
const metrics = [PromotionMetric.successRate({ minPercent: 99 })];

function invalid(build: () => unknown): string {
  try {
    build();
  } catch (e) {
    if (e instanceof TritonValidationError) return e.message;
    throw e;
  }
  throw new Error("no TritonValidationError");
}

describe("TritonCanary", () => {
  test("stable = the active color, candidate = the other one, each weight one conditional on active, checked at plan", () => {
    const { stack } = newStack();
    const pair = pairIn(stack, TritonBlueGreen.standbyVariable(stack));
    const canary = new TritonCanary(stack, "fraud-canary", {
      pair,
      namespace: "ml",
      canaryPercent: TritonCanary.percentVariable(stack, "fraud_canary"),
    });
    const json = synthJson(stack);
    const weights = Object.entries<string>(json.locals).filter(([k]) => k.startsWith("fraud-canary_weight-"));
    expect(weights.map(([, v]) => v)).toEqual([
      '${(var.active == "blue") ? (100 - var.fraud_canary) : var.fraud_canary}',
      '${(var.active == "green") ? (100 - var.fraud_canary) : var.fraud_canary}',
    ]);
    const [cm] = resourcesOf(json, "kubernetes_config_map_v1");
    const table = parse(cm.data["rds-0.yaml"]);
    expect(
      table.resources[0].virtual_hosts[0].routes
        .find((r: any) => r.name === "canary")
        .route.weighted_clusters.clusters.map((c: any) => c.name),
    ).toEqual(["fraud-blue-http", "fraud-green-http"]);
    expect(cm.lifecycle.precondition.map((p: any) => p.error_message.split(":")[0])).toEqual([
      "test/fraud-canary",
      "test/fraud-canary",
      "test/fraud-canary",
    ]);
    expect(canary.clusters).toEqual({
      blue: ["fraud-blue-http", "fraud-blue-grpc"],
      green: ["fraud-green-http", "fraud-green-grpc"],
    });
    // The variable refuses what is not a whole percent.
    expect(json.variable.fraud_canary.validation[0].condition).toBe(
      "${var.fraud_canary >= 0 && var.fraud_canary <= 100 && floor(var.fraud_canary) == var.fraud_canary}",
    );
  });

  test("literal active and canary: literal weights, checked at synth; a canary above 0 on a standby that is not warm is refused", () => {
    const { stack } = newStack();
    const pair = new TritonBlueGreen(stack, "fraud", {
      blue: colorProps({ version: "v1" }),
      green: colorProps({ version: "v2" }),
      active: "green",
      standby: "warm",
    });
    new TritonCanary(stack, "c", {
      pair,
      canaryPercent: 20,
      backends: { blue: Backend.address("b", "10.0.0.1", 8000), green: Backend.address("g", "10.0.0.2", 8000) },
    });
    const [cm] = resourcesOf(synthJson(stack), "kubernetes_config_map_v1");
    expect(parse(cm.data["rds-0.yaml"]).version_info).toBe("weights canary: b=20, g=80");

    const other = newStack().stack;
    const preview = new TritonBlueGreen(other, "fraud", {
      blue: colorProps({ version: "v1" }),
      green: colorProps({ version: "v2" }),
      active: "blue",
    });
    expect(invalid(() => new TritonCanary(other, "c", { pair: preview, canaryPercent: 10 }))).toContain(
      'canaryPercent = 10 is invalid: expected 0 while test/fraud keeps its standby "preview" (a canary needs standby "warm": full replicas)',
    );
    expect(invalid(() => new TritonCanary(newStack().stack, "c", { pair: preview, canaryPercent: 101 }))).toContain(
      "canaryPercent = 101 is invalid",
    );
    // A canary variable on a literal "preview" standby: the plan refuses any value above 0.
    const third = newStack().stack;
    const pairPreview = new TritonBlueGreen(third, "fraud", {
      blue: colorProps({ version: "v1" }),
      green: colorProps({ version: "v2" }),
      active: "blue",
    });
    new TritonCanary(third, "c", { pair: pairPreview, canaryPercent: TritonCanary.percentVariable(third) });
    const [cm3] = resourcesOf(synthJson(third), "kubernetes_config_map_v1");
    expect(cm3.lifecycle.precondition.slice(-1)).toEqual([
      {
        condition: '${var.canary == 0 || "preview" == "warm"}',
        error_message:
          'test/c: canaryPercent is ${var.canary} while fraud\'s standby is "preview": a canary above 0 sends real traffic to the standby color, which must run full replicas (standby "warm").',
      },
    ]);
  });
});

describe("TritonGatewayCanary", () => {
  test("an HTTPRoute with the pair's colors as weighted backendRefs, each weight one conditional on active; the Envoy canary's plan rules on its release", () => {
    const { stack } = newStack();
    const pair = pairIn(stack, TritonBlueGreen.standbyVariable(stack));
    const canary = new TritonGatewayCanary(stack, "fraud-canary", {
      pair,
      canaryPercent: TritonCanary.percentVariable(stack, "fraud_canary"),
      parentRefs: [{ name: "platform", namespace: "gateways", sectionName: "http" }],
      hostnames: ["fraud.example.com"],
      match: { pathPrefix: "/v2/models/fraud" },
      dataPlane: GatewayDataPlane.contour(),
    });
    const json = synthJson(stack);
    const weights = Object.entries<string>(json.locals).filter(([k]) => k.startsWith("fraud-canary_weight-"));
    expect(weights.map(([, v]) => v)).toEqual([
      '${(var.active == "blue") ? (100 - var.fraud_canary) : var.fraud_canary}',
      '${(var.active == "green") ? (100 - var.fraud_canary) : var.fraud_canary}',
    ]);
    const [release] = resourcesOf(json, "helm_release");
    const values = JSON.parse(release.values[0].replace(/\$\{[^}]+\}/g, "0"));
    expect(release).toMatchObject({ name: "fraud-canary", namespace: "ml" });
    expect(values.spec).toMatchObject({
      parentRefs: [{ name: "platform", namespace: "gateways", sectionName: "http" }],
      hostnames: ["fraud.example.com"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/v2/models/fraud" } }],
          backendRefs: [
            { name: "fraud-blue", namespace: "ml", port: 8000 },
            { name: "fraud-green", namespace: "ml", port: 8000 },
          ],
        },
      ],
    });
    // The weights are bare numbers from the locals; the sum, the switch and the warm standby at plan.
    expect(release.values[0]).toMatch(/"weight": \$\{local\.fraud-canary_weight-blue_\w+\}/);
    expect(release.lifecycle.precondition.map((p: any) => p.error_message.split(":").slice(0, 2).join(":"))).toEqual([
      "test/fraud-canary/route: routes[0].backends",
      expect.stringMatching(
        /^test\/fraud-canary: canaryPercent is \$\{var.fraud_canary\} while this plan switches fraud from \$\{local.fraud_serving-color_\w+\} to \$\{var.active\}$/,
      ),
      'test/fraud-canary: canaryPercent is ${var.fraud_canary} while fraud\'s standby is "${var.standby}"',
    ]);
    expect(canary.services).toEqual({
      blue: { namespace: "ml", name: "fraud-blue", port: 8000 },
      green: { namespace: "ml", name: "fraud-green", port: 8000 },
    });
  });

  test("refuses a backend that is not a Service, a data plane it cannot read, and a promotion without one", () => {
    const { stack } = newStack();
    const pair = pairIn(stack);
    expect(
      invalid(
        () =>
          new TritonGatewayCanary(stack, "c1", {
            pair,
            canaryPercent: 0,
            parentRefs: [{ name: "gw" }],
            backends: { blue: Backend.address("b", "10.0.0.1", 8000), green: Backend.release(pair.green) },
          }),
      ),
    ).toContain(
      'backends.blue = "b" is invalid: expected a Service in the cluster (Backend.release, Backend.service): an HTTPRoute refers to Services',
    );
    const bad = invalid(
      () =>
        new TritonGatewayCanary(stack, "c2", {
          pair,
          canaryPercent: 0,
          parentRefs: [{ name: "gw" }],
          dataPlane: { implementation: "istio" as never, namespace: "Istio_System", podLabels: {}, adminPort: 0 },
        }),
    );
    expect(bad).toContain(
      'dataPlane.implementation = "istio" is invalid: expected contour (GatewayDataPlane.contour())',
    );
    expect(bad).toContain('dataPlane.namespace = "Istio_System" is invalid');
    expect(bad).toContain(
      'dataPlane.podLabels = "{}" is invalid: expected at least one label that selects the Gateway\'s Envoy pods',
    );
    expect(bad).toContain("dataPlane.adminPort = 0 is invalid: expected an integer from 1 to 65535");
    expect(invalid(() => new TritonGatewayCanary(stack, "c3", { pair, canaryPercent: 0, parentRefs: [] }))).toContain(
      "parentRefs = [] is invalid: expected at least one Gateway",
    );
    const canary = new TritonGatewayCanary(stack, "c4", {
      pair,
      canaryPercent: TritonCanary.percentVariable(stack),
      parentRefs: [{ name: "gw" }],
    });
    expect(invalid(() => new TritonPromotion(stack, "p", { canary, steps, analysis: { metrics } }))).toContain(
      'canary.dataPlane = "test/c4" is invalid: expected a TritonGatewayCanary with its dataPlane (e.g. GatewayDataPlane.contour())',
    );
  });

  test("its promotion's spec names the route and the Gateway's Envoy; the output carries each color's Service", () => {
    const { stack } = newStack();
    const pair = pairIn(stack);
    const canary = new TritonGatewayCanary(stack, "fraud-canary", {
      pair,
      canaryPercent: TritonCanary.percentVariable(stack, "fraud_canary"),
      parentRefs: [{ name: "platform", namespace: "gateways" }],
      dataPlane: GatewayDataPlane.contour({
        namespace: "gateways",
        podLabels: { "app.kubernetes.io/name": "envoy", "gateway.networking.k8s.io/gateway-name": "platform" },
      }),
    });
    const promotion = new TritonPromotion(stack, "promote", { canary, steps, analysis: { metrics } });
    expect(promotion.spec.envoy).toBeUndefined();
    expect(promotion.spec.gateway).toEqual({
      implementation: "contour",
      route: "fraud-canary",
      envoy: {
        namespace: "gateways",
        podLabels: { "app.kubernetes.io/name": "envoy", "gateway.networking.k8s.io/gateway-name": "platform" },
        adminPort: 9001,
      },
    });
    expect(synthJson(stack).output.fraud_promotion.value).toMatchObject({
      envoyNamespace: "gateways",
      gateway: { routeNamespace: "ml", services: { blue: { namespace: "ml", name: "fraud-blue", port: 8000 } } },
    });
  });

  test("the run side: Contour's stat names, the Gateway Envoy's queries, and a route in force only once every parent accepted its generation", () => {
    expect(contourStatName({ namespace: "ml", name: "fraud-blue", port: 8000 })).toBe("ml_fraud-blue_8000");
    expect(gatewayEnvoyQueries("envoy-success-rate", "ml_fraud-green_8000", 30)).toEqual({
      requests: 'sum(increase(envoy_cluster_upstream_rq_completed{envoy_cluster_name="ml_fraud-green_8000"}[30s]))',
      errors:
        'sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name="ml_fraud-green_8000",envoy_response_code_class="5"}[30s]))',
    });
    expect(gatewayEnvoyQueries("envoy-latency", "s", 6, 95).value).toBe(
      'histogram_quantile(0.95, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="s"}[6s]))) / 1000',
    );
    const cond = (type: string, status: string, observedGeneration: number, reason = "") => ({
      type,
      status,
      observedGeneration,
      reason,
    });
    const parent = (conditions: any[]) => ({
      parent: "gw/platform",
      controller: "projectcontour.io/gateway-controller",
      conditions,
    });
    expect(routeProblem({ generation: 3, parents: [] })).toEqual({
      why: "no Gateway controller has written its status yet",
      refused: false,
    });
    expect(
      routeProblem({
        generation: 3,
        parents: [parent([cond("Accepted", "True", 2), cond("ResolvedRefs", "True", 2)])],
      }),
    ).toEqual({ why: "gw/platform has not reported Accepted for generation 3 yet", refused: false });
    expect(
      routeProblem({
        generation: 3,
        parents: [parent([cond("Accepted", "True", 3), cond("ResolvedRefs", "False", 3, "BackendNotFound")])],
      }),
    ).toMatchObject({ refused: true, why: expect.stringContaining("says ResolvedRefs False: BackendNotFound") });
    expect(
      routeProblem({
        generation: 3,
        parents: [parent([cond("Accepted", "True", 3), cond("ResolvedRefs", "True", 3)])],
      }),
    ).toBeUndefined();
  });
});

describe("TritonPromotion", () => {
  test("writes promotion.json and the pair's state as an output", () => {
    const { stack } = newStack();
    const pair = pairIn(stack);
    const canary = new TritonCanary(stack, "fraud-canary", {
      pair,
      namespace: "ml",
      canaryPercent: TritonCanary.percentVariable(stack, "fraud_canary"),
    });
    const promotion = new TritonPromotion(stack, "promote", { canary, steps, analysis: { metrics } });
    expect(promotion.spec).toMatchObject({
      version: 2,
      path: "test/promote",
      app: "fraud",
      variables: { active: "active", canary: "fraud_canary" },
      output: "fraud_promotion",
      envoy: { name: "fraud-canary", opsPort: 9902, adminPort: 9901, route: "canary" },
      analysis: {
        intervalSeconds: 30,
        metrics: [{ name: "request-success-rate", kind: "envoy-success-rate", min: 99 }],
      },
      history: { configMap: "fraud-promotions", limit: 50 },
      webhookUrlEnv: "CDKTF_TRITON_WEBHOOK_URL",
    });
    const json = synthJson(stack);
    expect(json.output.fraud_promotion.value).toMatchObject({
      active: "${var.active}",
      canary: "${var.fraud_canary}",
      namespace: "ml",
      blue: { version: "v1" },
      green: { version: "v2" },
    });
  });

  test("refuses steps that do not increase, weights outside 1 to 100, no analysis, a metric without a threshold, and a canary or active that the driver cannot set", () => {
    const build =
      (props: any, literal = false) =>
      () => {
        const { stack } = newStack();
        const pair = literal
          ? new TritonBlueGreen(stack, "fraud", {
              blue: colorProps({ version: "v1" }),
              green: colorProps({ version: "v2" }),
              active: "blue",
              standby: "warm",
            })
          : pairIn(stack);
        const canary = new TritonCanary(stack, "c", {
          pair,
          canaryPercent: literal ? 0 : TritonCanary.percentVariable(stack),
        });
        return new TritonPromotion(stack, "p", { canary, steps, analysis: { metrics }, ...props });
      };
    const message = invalid(
      build({
        steps: [
          { weightPercent: 50, bakeSeconds: 60 },
          { weightPercent: 25, bakeSeconds: 0 },
          { weightPercent: 120, bakeSeconds: 60 },
        ],
        analysis: {
          metrics: [
            { name: "x", kind: "promql", query: "up" },
            { name: "x", kind: "latency" },
          ],
        },
      }),
    );
    expect(message).toContain("Invalid props for test/p:");
    expect(message).toContain(
      "steps[1].weightPercent = 25 is invalid: expected a weight above the previous step's 50: steps increase",
    );
    expect(message).toContain(
      "steps[1].bakeSeconds = 0 is invalid: expected a whole number of seconds from 1 to 86400",
    );
    expect(message).toContain(
      "steps[2].weightPercent = 120 is invalid: expected a whole number from 1 to 100 (percent of requests to the candidate)",
    );
    expect(message).toContain(
      'analysis.metrics[0] = "(no threshold)" is invalid: expected a threshold: min, max or both',
    );
    expect(message).toContain(
      'analysis.metrics[1].name = "x" is invalid: expected a name no other metric of this analysis has',
    );
    expect(message).toContain(
      'analysis.metrics[1].kind = "latency" is invalid: expected one of envoy-success-rate, envoy-latency, triton-failure-rate, triton-queue-time, promql',
    );
    expect(invalid(build({ analysis: { metrics: [] } }))).toContain(
      "analysis.metrics = [] is invalid: expected at least one metric (a promotion without analysis would promote anything)",
    );
    const literal = invalid(build({}, true));
    expect(literal).toContain("a TritonCanary whose canaryPercent is a TerraformVariable");
    expect(literal).toContain("a TritonCanary whose pair's active is a TerraformVariable");
  });
});

describe("the analysis", () => {
  test("reads Envoy's samples, labels and text readouts included", () => {
    const samples = parsePrometheusText(
      '# TYPE x counter\nenvoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="a-http",le="+Inf"} 5\nenvoy_http_rds_version_text{text_value="weights canary: a=1, b=99"} 0\n',
    );
    expect(samples).toEqual([
      { name: "envoy_cluster_upstream_rq_time_bucket", labels: { envoy_cluster_name: "a-http", le: "+Inf" }, value: 5 },
      { name: "envoy_http_rds_version_text", labels: { text_value: "weights canary: a=1, b=99" }, value: 0 },
    ]);
  });

  test("percentiles interpolate within a bucket, as Prometheus' histogram_quantile does", () => {
    const h = new Map([
      [5, 50],
      [10, 90],
      [25, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, h)).toBe(5);
    expect(histogramQuantile(0.7, h)).toBe(7.5);
    expect(histogramQuantile(0.99, h)).toBeCloseTo(23.5, 5);
    expect(histogramQuantile(0.99, new Map([[Infinity, 0]]))).toBeUndefined();
  });

  test("a window without data is inconclusive, never a pass; thresholds bound both ways", () => {
    const m = PromotionMetric.successRate({ minPercent: 99, minRequests: 10 });
    const snap = (completed: number, errors5xx: number) => ({ completed, errors5xx, buckets: new Map() });
    expect(judgeEnvoy(m, snap(100, 0), snap(105, 0), "t")).toMatchObject({
      verdict: "inconclusive",
      detail: "5 candidate requests in the window (fewer than minRequests 10)",
    });
    expect(judgeEnvoy(m, snap(100, 0), snap(200, 2), "t")).toMatchObject({ verdict: "fail", value: 98 });
    expect(judgeEnvoy(m, snap(100, 0), snap(200, 1), "t")).toMatchObject({ verdict: "pass", value: 99 });
    // Per Envoy pod: one that restarted counts from 0 again, a new one counts from its start; the other's delta as usual.
    const pod = (completed: number, errors5xx: number, uptime: number) => ({
      completed,
      errors5xx,
      buckets: new Map([[Infinity, completed]]),
      uptime,
    });
    const pods = (entries: [string, ReturnType<typeof pod>][]) => ({
      completed: 0,
      errors5xx: 0,
      buckets: new Map(),
      byEnvoy: new Map(entries),
    });
    const before = pods([
      ["a", pod(1000, 0, 50)],
      ["b", pod(5000, 0, 50)],
    ]);
    expect(
      windowCounters(
        before,
        pods([
          ["a", pod(1100, 1, 60)],
          ["b", pod(3000, 0, 60)],
        ]),
      ),
    ).toMatchObject({ completed: 100 + 3000, errors5xx: 1 });
    expect(
      windowCounters(
        before,
        pods([
          ["a", pod(1100, 1, 60)],
          ["b", pod(5040, 0, 5)],
          ["c", pod(30, 0, 3)],
        ]),
      ),
    ).toMatchObject({ completed: 100 + 5040 + 30, errors5xx: 1 });
    expect(
      judgeEnvoy(
        m,
        before,
        pods([
          ["a", pod(1100, 1, 60)],
          ["b", pod(3000, 0, 8)],
        ]),
        "t",
      ),
    ).toMatchObject({ verdict: "pass", value: 99.968 });
    expect(judge({ name: "q", kind: "promql", min: 1, max: 2 }, NaN, "t").verdict).toBe("inconclusive");
    expect(judge({ name: "q", kind: "promql", min: 1, max: 2 }, 3, "t")).toMatchObject({
      verdict: "fail",
      detail: "must be >= 1 and <= 2",
    });
  });

  test("the Triton metrics are PromQL on the ServiceMonitor's labels, placeholders replaced", () => {
    const ctx = { app: "fraud", namespace: "ml", color: "green", stable: "blue" };
    expect(promqlOf(PromotionMetric.tritonFailureRate({ maxPercent: 1 }), ctx, 30)).toBe(
      '100 * sum(rate(nv_inference_request_failure{app="fraud",namespace="ml",color="green"}[30s])) / (sum(rate(nv_inference_request_success{app="fraud",namespace="ml",color="green"}[30s])) + sum(rate(nv_inference_request_failure{app="fraud",namespace="ml",color="green"}[30s])))',
    );
    expect(
      promqlOf(
        PromotionMetric.promql({
          name: "x",
          query: 'x{c="{{color}}",s="{{ stable }}"}[{{interval}}] {{unknown}}',
          max: 1,
        }),
        ctx,
        10,
      ),
    ).toBe('x{c="green",s="blue"}[10s] {{unknown}}');
  });
});

describe("the weights a pod serves", () => {
  test("the route tables' version reads back as written; runtime keys per route and cluster; texts compare by value", () => {
    const version = weightsVersion([
      {
        name: "canary",
        clusters: [
          { cluster: "fraud-blue-http", weight: 75 },
          { cluster: "fraud-green-http", weight: 25 },
        ],
      },
      {
        name: "ab",
        clusters: [
          { cluster: "a-grpc", weight: 50 },
          { cluster: "b-grpc", weight: 50 },
        ],
      },
    ])!;
    expect(version).toBe("weights canary: fraud-blue=75, fraud-green=25; ab: a=50, b=50");
    expect(parseWeightsVersion(version)).toEqual(
      new Map([
        [
          "canary",
          new Map([
            ["fraud-blue", 75],
            ["fraud-green", 25],
          ]),
        ],
        [
          "ab",
          new Map([
            ["a", 50],
            ["b", 50],
          ]),
        ],
      ]),
    );
    // A long version folded by YAML reads the same.
    expect(parseWeightsVersion("weights canary: classifier-blue=90,\n  classifier-green=10")?.get("canary")).toEqual(
      new Map([
        ["classifier-blue", 90],
        ["classifier-green", 10],
      ]),
    );
    expect(parseWeightsVersion("weights canary: blue=${local.w}, green=0")).toBeUndefined();
    expect(parseWeightsVersion("something else")).toBeUndefined();
    expect(weightKey("canary", "fraud-blue-http")).toBe("weights.canary.fraud-blue-http");
    expect(weightsText("canary", { blue: 90, green: 10 })).toBe("weights canary: blue=90, green=10");
    expect(weightsText("canary", undefined)).toBe("mixed weights");
    expect([
      sameWeights({ blue: 90, green: 10 }, { green: 10, blue: 90 }),
      sameWeights({ blue: 90 }, { blue: 90, green: 10 }),
      sameWeights(undefined, { blue: 100 }),
    ]).toEqual([true, false, false]);
  });
});

describe("the history", () => {
  test("a corrupted line is reported and skipped; the table shows each promotion's steps and outcome", () => {
    const record: PromotionRecord = {
      kind: "promotion",
      id: "p1",
      app: "fraud",
      namespace: "ml",
      by: "ci@runner",
      engine: "tofu",
      startedAt: "2026-11-29T06:00:00.000Z",
      from: { color: "blue", version: "v1", fingerprint: "a" },
      to: { color: "green", version: "v2", fingerprint: "b" },
      status: "aborted",
      reason: "request-success-rate = 95",
      currentStep: -1,
      steps: [{ weightPercent: 10, startedAt: "2026-11-29T06:00:01.000Z", verdict: "fail", metrics: [] }],
    };
    const { records, problems } = parseHistory(`${JSON.stringify(record)}\n{not json\n{"kind":"other"}\n`);
    expect(records).toEqual([record]);
    expect(problems).toEqual([expect.stringMatching(/^line 2: not JSON/), "line 3: not a history record"]);
    expect(historyTable(records)).toMatch(
      /2026-11-29T06:00:00.000Z\s+fraud\s+promotion\s+blue v1 -> green v2\s+10%\(fail\)\s+aborted: request-success-rate = 95\s+ci@runner/,
    );
  });
});
