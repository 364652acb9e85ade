import * as fs from "fs";
import * as path from "path";
import { performance } from "perf_hooks";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Backend, GatewayDataPlane, ModelControl, ModelRepository, PromotionMetric, TritonBlueGreen, TritonCanary, TritonGatewayCanary, TritonPromotion } from "../../lib";
import { readGatewayServed, readRouteStatus, routeProblem } from "../../lib/run/gateway";
import { RunningTriton, startTriton } from "../peers/triton";
import { startAll } from "../peers/servers";
import { hostAddress, RunningContour, startContour } from "../peers/contour";
import { RunningPrometheus, ScrapeTarget, startPrometheus } from "../peers/prometheus";
import { classifierInference, steadyLoad } from "../peers/load";
import { until } from "../peers/wait";
import { engineEnv, EngineStack, kubeconfig, kubectl, kubectlBin, root, run, synthesize, unavailable } from "./engine";

// The canary on the platform's own Gateway, on a real Gateway API implementation: Contour (built
// from its Go module) watching the test cluster's API server and serving xDS to a real Envoy on this
// machine (test/peers/contour.ts). The stack (a blue/green pair, a TritonGatewayCanary attached to
// the Gateway, a TritonPromotion) is applied by OpenTofu; the colors' Services are selectorless,
// with EndpointSlices on this machine's non-loopback address where real Tritons listen (kwok's pods
// run nothing, and the API server refuses loopback endpoints). The Gateway's Envoy "pod" is a kwok
// pod labelled as Contour's are, whose admin port kwok forwards to the real Envoy's admin listener:
// the driver reaches it by `kubectl port-forward`, as on a cluster. A real Prometheus scrapes the
// Gateway Envoy's stats and the Tritons; steady load goes through the Gateway all along.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const cli = path.join(root, "bin", "cdktf-triton.js");
const NS = "e2e-gateway";
const GATEWAY_NS = "e2e-gateway-contour";
const GATEWAY = "platform";
const APP = "fraud";
const ROUTE = "fraud-canary";
/** Each color's Service, as the route refers to it: selectorless, its endpoint a real Triton. */
const SERVICE = { blue: "blue-triton", green: "green-triton" } as const;
type Color = keyof typeof SERVICE;

describeE2e("the canary on the platform's Gateway (Contour): promoted and aborted through an HTTPRoute", () => {
  const work = path.join(root, "test", ".tmp", NS);
  const reports = path.join(work, "reports");
  let address: string;
  let tritons: Record<"v1" | "v2" | "v5", RunningTriton>;
  let contour: RunningContour;
  let prometheus: RunningPrometheus;
  let stack: EngineStack;
  let load: ReturnType<typeof steadyLoad>;
  const colors: Record<Color, { version: string; triton: RunningTriton }> = {} as never;

  /** What the platform team writes. */
  const gatewayStack = (app: App, id: string): TerraformStack => {
    const s = new TerraformStack(app, id);
    new LocalBackend(s, { path: path.join(work, "terraform.tfstate") });
    new KubernetesProvider(s, "kubernetes", { configPath: kubeconfig });
    new HelmProvider(s, "helm", { kubernetes: { configPath: kubeconfig } });
    const common = {
      modelRepository: ModelRepository.objectStore("s3://models/fraud", { credentialsSecret: "model-store" }),
      modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
      replicas: 1,
      gpus: 1,
    };
    const pair = new TritonBlueGreen(s, APP, {
      namespace: NS,
      blue: { ...common, version: colors.blue.version },
      green: { ...common, version: colors.green.version },
      active: TritonBlueGreen.activeVariable(s, "active", "blue"),
      standby: TritonBlueGreen.standbyVariable(s, "standby", "warm"),
    });
    const canary = new TritonGatewayCanary(s, ROUTE, {
      pair,
      canaryPercent: TritonCanary.percentVariable(s, "fraud_canary"),
      parentRefs: [{ name: GATEWAY, namespace: GATEWAY_NS, sectionName: "http" }],
      backends: { blue: Backend.service(SERVICE.blue, { namespace: NS }), green: Backend.service(SERVICE.green, { namespace: NS }) },
      dataPlane: GatewayDataPlane.contour({ namespace: GATEWAY_NS }),
    });
    new TritonPromotion(s, "fraud-promotion", {
      canary,
      steps: [
        { weightPercent: 10, bakeSeconds: 10 },
        { weightPercent: 50, bakeSeconds: 10 },
        { weightPercent: 100, bakeSeconds: 6 },
      ],
      analysis: {
        intervalSeconds: 4,
        metrics: [
          PromotionMetric.successRate({ minPercent: 99, minRequests: 10 }),
          // Envoy refreshes its histograms every 5 s: a 6 s window holds at least one refresh.
          PromotionMetric.latency({ percentile: 99, maxMs: 500, intervalSeconds: 6, minRequests: 10 }),
          PromotionMetric.tritonFailureRate({ maxPercent: 1 }),
        ],
      },
    });
    return s;
  };

  /** Each color's Service and its EndpointSlice: the Triton that color runs, on this machine's address. */
  const endpoints = async () => {
    const objects = (Object.keys(SERVICE) as Color[]).flatMap((color) => [
      { apiVersion: "v1", kind: "Service", metadata: { name: SERVICE[color], namespace: NS }, spec: { ports: [{ name: "http", port: 8000, targetPort: 8000 }] } },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: `${SERVICE[color]}-1`, namespace: NS, labels: { "kubernetes.io/service-name": SERVICE[color] } },
        addressType: "IPv4",
        ports: [{ name: "http", port: colors[color].triton.ports.http, protocol: "TCP" }],
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
      },
    ]);
    const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: objects.map((o) => JSON.stringify(o)).join("\n") });
    if (r.code !== 0) throw new Error(r.out);
  };

  const targets = (): ScrapeTarget[] => [
    { address: `127.0.0.1:${contour.statsPort}`, metricsPath: "/stats/prometheus", labels: { app: "envoy", namespace: GATEWAY_NS } },
    ...(Object.keys(SERVICE) as Color[]).map((color) => ({ address: `127.0.0.1:${colors[color].triton.ports.metrics}`, metricsPath: "/metrics", labels: { app: APP, namespace: NS, color } })),
  ];

  /** What the Gateway's Envoy serves between the two colors. */
  const served = async () => (await readGatewayServed(`http://127.0.0.1:${contour.adminPort}`, { [SERVICE.blue]: `${NS}_${SERVICE.blue}_8000`, [SERVICE.green]: `${NS}_${SERVICE.green}_8000` })).served;

  const promote = (...args: string[]) =>
    run(process.execPath, [cli, "promote", "--stack", stack.dir, "--engine", "tofu", "--kubeconfig", kubeconfig, "--prometheus-url", prometheus.url, "--report-dir", reports, ...args], { env: engineEnv(), timeout: 600_000 });

  beforeAll(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    await run(kubectlBin, ["--kubeconfig", kubeconfig, "delete", "namespace", NS, GATEWAY_NS, "--ignore-not-found", "--wait=true"]);
    await run(kubectlBin, ["--kubeconfig", kubeconfig, "create", "namespace", NS]);
    address = hostAddress();
    const [v1, v2, v5] = await startAll([
      startTriton({ models: { classifier: [1] }, address }),
      startTriton({ models: { classifier: [2] }, address }),
      startTriton({ models: { classifier: [5] }, address, env: { CLASSIFIER_FAIL_EVERY: "20" } }),
    ]);
    tritons = { v1, v2, v5 };
    Object.assign(colors, { blue: { version: "v1", triton: v1 }, green: { version: "v2", triton: v2 } });
    contour = await startContour(GATEWAY_NS, GATEWAY);
    // The Gateway's Envoy as a pod: labelled as Contour's Envoy pods are; kwok forwards its admin port
    // (Contour's read-only admin listener, 9001) to the real Envoy's.
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "envoy-0", namespace: GATEWAY_NS, labels: { app: "envoy" } },
      spec: { containers: [{ name: "envoy", image: "docker.io/envoyproxy/envoy:v1.40.0" }] },
    };
    const forward = { apiVersion: "kwok.x-k8s.io/v1alpha1", kind: "PortForward", metadata: { name: "envoy-0", namespace: GATEWAY_NS }, spec: { forwards: [{ ports: [9001], target: { address: "127.0.0.1", port: contour.adminPort } }] } };
    const applied = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], { input: [pod, forward].map((o) => JSON.stringify(o)).join("\n") });
    if (applied.code !== 0) throw new Error(applied.out);
    // kwok marks a scheduled pod Running within seconds: 60 s is slack for a loaded machine.
    await until("the Gateway's Envoy pod Running", 60_000, async () => (await kubectl("get", "pod", "envoy-0", "-n", GATEWAY_NS)).status.phase === "Running", 250);
    await endpoints();
    prometheus = await startPrometheus(targets());
    stack = synthesize(path.join(work, "out"), "gateway", gatewayStack);
    await stack.ok("init", "-input=false");
    await stack.ok("apply", "-input=false", "-auto-approve");
    load = steadyLoad(contour.httpUrl, 4, classifierInference);
    // Contour pushes the route within a second; 30 s is slack for its first sync on a loaded machine.
    await until("the Gateway's Envoy serving blue=100, green=0", 30_000, async () => JSON.stringify(await served()) === JSON.stringify({ [SERVICE.blue]: 100, [SERVICE.green]: 0 }), 200).catch(async (e) => {
      throw new Error(`${(e as Error).message}\n${contour.logs()}`);
    });
  }, 600_000);

  afterAll(async () => {
    await load?.stop();
    await Promise.all([contour?.stop(), prometheus?.stop(), ...Object.values(tritons ?? {}).map((t) => t.stop())]);
  }, 120_000);

  test("a good candidate is promoted through the Gateway: every step's weights served by the Gateway's Envoy within 2 s of the apply, the route Accepted, no failed request", async () => {
    const t0 = performance.now();
    const r = await promote("--json", path.join(work, "good.json"));
    const t1 = performance.now();
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("promoted: green (v2) serves all traffic")]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "good.json"), "utf8"));
    expect(report.record.status).toBe("promoted");
    expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([[10, "pass"], [50, "pass"], [100, "pass"]]);
    // Every move: applied, then served by the Gateway's Envoy (Contour's xDS push) within 2 s.
    const moves = report.timings.moves as { weights: string; decidedAt: string; appliedAt: string; servedAt: string; order: string }[];
    expect(moves.map((m) => m.weights)).toEqual([
      `weights ${ROUTE}: ${SERVICE.blue}=90, ${SERVICE.green}=10`,
      `weights ${ROUTE}: ${SERVICE.blue}=50, ${SERVICE.green}=50`,
      `weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`,
      `weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`,
    ]);
    for (const m of moves) {
      expect(m.order).toBe("apply-first");
      expect(Date.parse(m.servedAt) - Date.parse(m.appliedAt)).toBeLessThanOrEqual(2_000);
    }
    const timings = moves.map((m) => `${Date.parse(m.servedAt) - Date.parse(m.decidedAt)} ms decided->served, ${Date.parse(m.servedAt) - Date.parse(m.appliedAt)} ms applied->served`);
    fs.writeFileSync(path.join(work, "timings.txt"), timings.join("\n") + "\n");
    // Every metric measured through Prometheus, the Gateway Envoy's ones included.
    expect(new Set(report.measurements.filter((m: any) => m.verdict === "pass").map((m: any) => m.metric))).toEqual(new Set(["request-success-rate", "request-duration-p99", "triton-failure-rate"]));
    // The route as Contour accepted it, for its current generation.
    const status = await readRouteStatus({ kubeconfig, kubectl: kubectlBin }, NS, ROUTE);
    expect(routeProblem(status)).toBeUndefined();
    expect(status.parents).toEqual([expect.objectContaining({ parent: `${GATEWAY_NS}/${GATEWAY}/http`, controller: "projectcontour.io/gateway-controller" })]);
    const route = await kubectl("get", "httproute", ROUTE, "-n", NS);
    expect(route.spec.rules[0].backendRefs.map((b: any) => [b.name, b.weight])).toEqual([[SERVICE.blue, 0], [SERVICE.green, 100]]);
    expect(await served()).toEqual({ [SERVICE.blue]: 0, [SERVICE.green]: 100 });
    // No request through the Gateway failed while the promotion ran.
    const during = load.samples.filter((s) => s.endMs >= t0 && s.endMs <= t1);
    expect(during.length).toBeGreaterThan(100);
    expect(during.filter((s) => s.status !== 200).length).toBe(0);
    // The candidate (v2) answered once the weights moved: the traffic really went through the route.
    expect(during.some((s) => s.version === "2")).toBe(true);
  }, 600_000);

  test("a bad candidate is aborted: the Gateway's Envoy is back on the serving color within 2 s of the decision (the route patched, then applied)", async () => {
    // Stage blue as the candidate: a release whose model fails 5 % of requests.
    colors.blue = { version: "v5", triton: tritons.v5 };
    stack = synthesize(path.join(work, "out"), "gateway", gatewayStack);
    await endpoints();
    await prometheus.setTargets(targets());
    await stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=green");
    const r = await promote("--json", path.join(work, "bad.json"));
    expect([r.code, r.out]).toEqual([1, expect.stringMatching(/aborting: (request-success-rate|triton-failure-rate) = [\d.]+ at 10 %/)]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "bad.json"), "utf8"));
    expect(report.record).toMatchObject({ status: "aborted", currentStep: -1 });
    const last = report.timings.moves[report.timings.moves.length - 1];
    // The rollback is a fall of the candidate's share: the route's weights patched first, served by
    // the Gateway's Envoy within 2 s of the decision, then applied (Terraform stays the record).
    expect([last.weights, last.order]).toEqual([`weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`, "push-first"]);
    expect(Date.parse(last.servedAt) - Date.parse(last.decidedAt)).toBeLessThanOrEqual(2_000);
    expect(Date.parse(last.appliedAt)).toBeGreaterThan(Date.parse(last.servedAt));
    fs.appendFileSync(path.join(work, "timings.txt"), `abort: ${Date.parse(last.servedAt) - Date.parse(last.decidedAt)} ms decided->served (patched), applied ${Date.parse(last.appliedAt) - Date.parse(last.servedAt)} ms later\n`);
    expect(await served()).toEqual({ [SERVICE.blue]: 0, [SERVICE.green]: 100 });
    const route = await kubectl("get", "httproute", ROUTE, "-n", NS);
    expect(route.spec.rules[0].backendRefs.map((b: any) => [b.name, b.weight])).toEqual([[SERVICE.blue, 0], [SERVICE.green, 100]]);
    expect(routeProblem(await readRouteStatus({ kubeconfig, kubectl: kubectlBin }, NS, ROUTE))).toBeUndefined();
  }, 600_000);
});
