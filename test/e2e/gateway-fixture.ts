// The Gateway canary's rig, shared by test/e2e/gateway.test.ts and `npm run bench:gateway`: Contour
// (built from its Go module) watching the test cluster's API server and serving xDS to a real Envoy
// on this machine (test/peers/contour.ts); the stack (a blue/green pair, a TritonGatewayCanary
// attached to the Gateway, a TritonPromotion) applied by OpenTofu; the colors' Services
// selectorless, with EndpointSlices on this machine's non-loopback address where real Tritons listen
// (kwok's pods run nothing, and the API server refuses loopback endpoints). The Gateway's Envoy
// "pod" is a kwok pod labelled as Contour's are, whose admin port kwok forwards to the real Envoy's
// admin listener: the driver reaches it by `kubectl port-forward`, as on a cluster. A real
// Prometheus scrapes the Gateway Envoy's stats and the Tritons; steady load goes through the
// Gateway all along.
import * as fs from "fs";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Backend,
  GatewayDataPlane,
  MetricSpec,
  ModelControl,
  ModelRepository,
  PromotionMetric,
  PromotionStep,
  TritonBlueGreen,
  TritonCanary,
  TritonGatewayCanary,
  TritonPromotion,
} from "../../lib";
import { contourStatName, readGatewayServed } from "../../lib/run/gateway";
import { RunningTriton, startTriton } from "../peers/triton";
import { startAll } from "../peers/servers";
import { hostAddress, RunningContour, startContour } from "../peers/contour";
import { RunningPrometheus, ScrapeTarget, startPrometheus } from "../peers/prometheus";
import { classifierInference, steadyLoad } from "../peers/load";
import { until } from "../peers/wait";
import { engineEnv, EngineStack, kubeconfig, kubectl, kubectlBin, root, run, synthesize } from "./engine";

export const APP = "fraud";
export const ROUTE = "fraud-canary";
export const GATEWAY = "platform";
/** Each color's Service, as the route refers to it: selectorless, its endpoint a real Triton. */
export const SERVICE = { blue: "blue-triton", green: "green-triton" } as const;
export type Color = keyof typeof SERVICE;
const cli = path.join(root, "bin", "cdktf-triton.js");

export const GATEWAY_STEPS: PromotionStep[] = [
  { weightPercent: 10, bakeSeconds: 10 },
  { weightPercent: 50, bakeSeconds: 10 },
  { weightPercent: 100, bakeSeconds: 6 },
];

export const GATEWAY_ANALYSIS: { intervalSeconds: number; metrics: MetricSpec[] } = {
  intervalSeconds: 4,
  metrics: [
    PromotionMetric.successRate({ minPercent: 99, minRequests: 10 }),
    // Envoy refreshes its histograms every 5 s: a 6 s window holds at least one refresh.
    PromotionMetric.latency({ percentile: 99, maxSeconds: 0.5, intervalSeconds: 6, minRequests: 10 }),
    PromotionMetric.tritonFailureRate({ maxPercent: 1 }),
  ],
};

export class GatewayRig {
  public tritons!: Record<"v1" | "v2" | "v5", RunningTriton>;
  public contour!: RunningContour;
  public prometheus!: RunningPrometheus;
  public stack!: EngineStack;
  public load!: ReturnType<typeof steadyLoad>;
  public readonly reports: string;
  private address!: string;
  private readonly colors = {} as Record<Color, { version: string; triton: RunningTriton }>;

  /** `namespace`: the pair's and the route's; the Gateway and its Envoy pod live in `<namespace>-contour`. */
  constructor(
    public readonly work: string,
    public readonly namespace: string,
    private readonly steps: PromotionStep[] = GATEWAY_STEPS,
  ) {
    this.reports = path.join(work, "reports");
  }

  get gatewayNamespace(): string {
    return `${this.namespace}-contour`;
  }

  /** What the platform team writes (public for scripts/synth-fingerprint.ts). */
  build(app: App, id: string): TerraformStack {
    const s = new TerraformStack(app, id);
    new LocalBackend(s, { path: path.join(this.work, "terraform.tfstate") });
    new KubernetesProvider(s, "kubernetes", { configPath: kubeconfig });
    new HelmProvider(s, "helm", { kubernetes: { configPath: kubeconfig } });
    const common = {
      modelRepository: ModelRepository.objectStore("s3://models/fraud", { credentialsSecret: "model-store" }),
      modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
      replicas: 1,
      gpus: 1,
    };
    const pair = new TritonBlueGreen(s, APP, {
      namespace: this.namespace,
      blue: { ...common, version: this.colors.blue.version },
      green: { ...common, version: this.colors.green.version },
      active: TritonBlueGreen.activeVariable(s, "active", "blue"),
      standby: TritonBlueGreen.standbyVariable(s, "standby", "warm"),
    });
    const canary = new TritonGatewayCanary(s, ROUTE, {
      pair,
      canaryPercent: TritonCanary.percentVariable(s, "fraud_canary"),
      parentRefs: [{ name: GATEWAY, namespace: this.gatewayNamespace, sectionName: "http" }],
      backends: {
        blue: Backend.service(SERVICE.blue, { namespace: this.namespace }),
        green: Backend.service(SERVICE.green, { namespace: this.namespace }),
      },
      dataPlane: GatewayDataPlane.contour({ namespace: this.gatewayNamespace }),
    });
    new TritonPromotion(s, "fraud-promotion", { canary, steps: this.steps, analysis: GATEWAY_ANALYSIS });
    return s;
  }

  /** Each color's Service and its EndpointSlice: the Triton that color runs, on this machine's address. */
  private async endpoints(): Promise<void> {
    const objects = (Object.keys(SERVICE) as Color[]).flatMap((color) => [
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: SERVICE[color], namespace: this.namespace },
        spec: { ports: [{ name: "http", port: 8000, targetPort: 8000 }] },
      },
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: `${SERVICE[color]}-1`,
          namespace: this.namespace,
          labels: { "kubernetes.io/service-name": SERVICE[color] },
        },
        addressType: "IPv4",
        ports: [{ name: "http", port: this.colors[color].triton.ports.http, protocol: "TCP" }],
        endpoints: [{ addresses: [this.address], conditions: { ready: true } }],
      },
    ]);
    await this.apply(objects);
  }

  private async apply(objects: object[]): Promise<void> {
    const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
      input: objects.map((o) => JSON.stringify(o)).join("\n"),
    });
    if (r.code !== 0) throw new Error(r.out);
  }

  private targets(): ScrapeTarget[] {
    return [
      {
        address: `127.0.0.1:${this.contour.statsPort}`,
        metricsPath: "/stats/prometheus",
        labels: { app: "envoy", namespace: this.gatewayNamespace },
      },
      ...(Object.keys(SERVICE) as Color[]).map((color) => ({
        address: `127.0.0.1:${this.colors[color].triton.ports.metrics}`,
        metricsPath: "/metrics",
        labels: { app: APP, namespace: this.namespace, color },
      })),
    ];
  }

  /** Starts everything, applies the stack (blue v1 serving, green v2 the candidate) and the load. */
  async start(): Promise<this> {
    fs.rmSync(this.work, { recursive: true, force: true });
    fs.mkdirSync(this.work, { recursive: true });
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "delete",
      "namespace",
      this.namespace,
      this.gatewayNamespace,
      "--ignore-not-found",
      "--wait=true",
    ]);
    await run(kubectlBin, ["--kubeconfig", kubeconfig, "create", "namespace", this.namespace]);
    this.address = hostAddress();
    const [v1, v2, v5] = await startAll([
      startTriton({ models: { classifier: [1] }, address: this.address }),
      startTriton({ models: { classifier: [2] }, address: this.address }),
      startTriton({ models: { classifier: [5] }, address: this.address, env: { CLASSIFIER_FAIL_EVERY: "20" } }),
    ]);
    this.tritons = { v1, v2, v5 };
    Object.assign(this.colors, { blue: { version: "v1", triton: v1 }, green: { version: "v2", triton: v2 } });
    this.contour = await startContour(this.gatewayNamespace, GATEWAY);
    // The Gateway's Envoy as a pod: labelled as Contour's Envoy pods are; kwok forwards its admin port
    // (Contour's read-only admin listener, 9001) to the real Envoy's.
    await this.apply([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "envoy-0", namespace: this.gatewayNamespace, labels: { app: "envoy" } },
        spec: { containers: [{ name: "envoy", image: "docker.io/envoyproxy/envoy:v1.40.0" }] },
      },
      {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "PortForward",
        metadata: { name: "envoy-0", namespace: this.gatewayNamespace },
        spec: { forwards: [{ ports: [9001], target: { address: "127.0.0.1", port: this.contour.adminPort } }] },
      },
    ]);
    // kwok marks a scheduled pod Running within seconds: 60 s is slack for a loaded machine.
    await until(
      "the Gateway's Envoy pod Running",
      60_000,
      async () => (await kubectl("get", "pod", "envoy-0", "-n", this.gatewayNamespace)).status.phase === "Running",
      250,
    );
    await this.endpoints();
    this.prometheus = await startPrometheus(this.targets());
    this.synth();
    await this.stack.ok("init", "-input=false");
    await this.stack.ok("apply", "-input=false", "-auto-approve");
    this.load = steadyLoad(this.contour.httpUrl, 4, classifierInference);
    // Contour pushes the route within a second; 30 s is slack for its first sync on a loaded machine.
    await until(
      "the Gateway's Envoy serving blue=100, green=0",
      30_000,
      async () => JSON.stringify(await this.served()) === JSON.stringify({ [SERVICE.blue]: 100, [SERVICE.green]: 0 }),
      200,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${this.contour.logs()}`);
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.load?.stop();
    await Promise.all([
      this.contour?.stop(),
      this.prometheus?.stop(),
      ...Object.values(this.tritons ?? {}).map((t) => t.stop()),
    ]);
  }

  private synth(): void {
    this.stack = synthesize(path.join(this.work, "out"), "gateway", (app, id) => this.build(app, id));
  }

  /** Stages a release on `color` (the standby) behind `triton`, as a pipeline would (applied with `active` = the other color). */
  async stage(color: Color, version: string, triton: RunningTriton): Promise<void> {
    this.colors[color] = { version, triton };
    this.synth();
    await this.endpoints();
    await this.prometheus.setTargets(this.targets());
    await this.stack.ok(
      "apply",
      "-input=false",
      "-auto-approve",
      "-var",
      `active=${color === "blue" ? "green" : "blue"}`,
    );
  }

  /** What the Gateway's Envoy serves between the two colors (Service name -> percent). */
  async served(): Promise<Record<string, number> | undefined> {
    const stat = (color: Color) => contourStatName({ namespace: this.namespace, name: SERVICE[color], port: 8000 });
    return (
      await readGatewayServed(`http://127.0.0.1:${this.contour.adminPort}`, {
        [SERVICE.blue]: stat("blue"),
        [SERVICE.green]: stat("green"),
      })
    ).served;
  }

  /** `cdktf-triton promote` as a pipeline runs it, to its end. */
  promote(...args: string[]) {
    return run(
      process.execPath,
      [
        cli,
        "promote",
        "--stack",
        this.stack.dir,
        "--engine",
        "tofu",
        "--kubeconfig",
        kubeconfig,
        "--prometheus-url",
        this.prometheus.url,
        "--report-dir",
        this.reports,
        ...args,
      ],
      { env: engineEnv(), timeout: 600_000 },
    );
  }
}
