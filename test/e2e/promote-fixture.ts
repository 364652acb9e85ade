// The staged-promotion rig, shared by test/e2e/promote.test.ts and `npm run bench:promote`: the
// stack (a blue/green pair, its canary with 2 Envoy pods, and its TritonPromotion) applied to the
// test cluster by OpenTofu; one real Envoy on loopback per Envoy pod, from the ConfigMap the apply
// wrote and kept in sync at a kubelet's pace (test/peers/kubelet.ts: a 60 s sync loop per pod, with
// jitter), each pod's admin and ops ports reached by `kubectl port-forward` (kwok's PortForwards);
// real Tritons behind them (the classifier's versions 1 and 2 good, version 5 failing 5 % or 200 ms
// slower); a real Prometheus scraping the Envoys and the Tritons; steady load through both Envoys
// all along; a recording webhook receiver.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Backend,
  MetricSpec,
  ModelControl,
  ModelRepository,
  PromotionMetric,
  PromotionStep,
  TritonBlueGreen,
  TritonCanary,
  TritonDashboard,
  TritonPromotion,
} from "../../lib";
import { RunningTriton, startTriton } from "../peers/triton";
import { freePort, startAll } from "../peers/servers";
import { EnvoyKubelet } from "../peers/kubelet";
import { RunningPrometheus, ScrapeTarget, startPrometheus } from "../peers/prometheus";
import { startWebhookReceiver, WebhookReceiver } from "../peers/webhook";
import { classifierInference, steadyLoad } from "../peers/load";
import { until } from "../peers/wait";
import { readServed, weightsText } from "../../lib/run/envoys";
import { LeaseView, PairLease } from "../../lib/run/promote/lease";
import { engineEnv, EngineStack, kubeconfig, kubectl, kubectlBin, root, run, synthesize } from "./engine";

export const APP = "fraud";
const cli = path.join(root, "bin", "cdktf-triton.js");

/** The analysis of the tests: short windows, so each step sees several measurements. */
export const TEST_ANALYSIS: { intervalSeconds: number; metrics: MetricSpec[] } = {
  intervalSeconds: 2,
  metrics: [
    PromotionMetric.successRate({ minPercent: 99, minRequests: 20 }),
    // Envoy refreshes its histograms every 5 s: a 6 s window holds at least one refresh.
    PromotionMetric.latency({ percentile: 99, maxSeconds: 0.15, intervalSeconds: 6, minRequests: 20 }),
    PromotionMetric.tritonFailureRate({ maxPercent: 1, intervalSeconds: 3 }),
    // Loose: it must return data on Triton's own counters (no data would leave every step inconclusive).
    PromotionMetric.tritonQueueTime({ maxSeconds: 1, intervalSeconds: 3 }),
    PromotionMetric.promql({
      name: "candidate-throughput",
      query:
        'sum(rate(nv_inference_request_success{app="{{app}}",namespace="{{namespace}}",color="{{color}}"}[{{interval}}]))',
      min: 1,
      intervalSeconds: 3,
    }),
  ],
};

/** Short bakes for a test; each step still sees several analyses. */
export const TEST_STEPS: PromotionStep[] = [
  { weightPercent: 10, bakeSeconds: 8 },
  { weightPercent: 50, bakeSeconds: 8 },
  { weightPercent: 100, bakeSeconds: 8 },
];

/** The canary's listener ports as the stack names them (each Envoy pod's are moved to ports of its own here). */
export interface Ports {
  http: number;
  grpc: number;
}

/** The canary's Envoy pods: 2, so "every Envoy" means more than one. */
export const ENVOY_PODS = 2;

export type Colors = Record<"blue" | "green", { version: string; triton: RunningTriton }>;

export interface PromotionSettings {
  readonly steps: PromotionStep[];
  readonly analysis: { intervalSeconds?: number; metrics: MetricSpec[] };
  /** Capacity that follows the weight: each color's replicas, and the surge (standby "preview", 1 pod, otherwise). */
  readonly followCanary?: { readonly replicas: number; readonly surge: number };
  /** Each color's replicas without followCanary (a warm standby runs as many). @default 1 */
  readonly replicas?: number;
}

/** The stack: what a platform team writes. Each color is reached on loopback (`colors`); the engine reaches the cluster with `access`. */
export function promoteStack(
  app: App,
  id: string,
  work: string,
  namespaceName: string,
  ports: Ports,
  colors: Colors,
  settings: PromotionSettings,
  access = kubeconfig,
): TerraformStack {
  const s = new TerraformStack(app, id);
  new LocalBackend(s, { path: path.join(work, "terraform.tfstate") });
  new KubernetesProvider(s, "kubernetes", { configPath: access });
  new HelmProvider(s, "helm", { kubernetes: { configPath: access } });
  const namespace = new NamespaceV1(s, "namespace", { metadata: { name: namespaceName } }).metadata.name;
  const common = {
    modelRepository: ModelRepository.objectStore("s3://models/fraud", { credentialsSecret: "model-store" }),
    modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
    replicas: settings.followCanary?.replicas ?? settings.replicas ?? 1,
    // An HPA per color on Triton's queue time (nothing serves the metric here: it holds the minimum).
    autoscaling: { maxReplicas: Math.max(3, settings.followCanary?.replicas ?? settings.replicas ?? 1) },
    gpus: 1,
    nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
  };
  const canaryPercent = TritonCanary.percentVariable(s, "fraud_canary");
  const pair = new TritonBlueGreen(s, APP, {
    namespace,
    blue: { ...common, version: colors.blue.version },
    green: { ...common, version: colors.green.version },
    active: TritonBlueGreen.activeVariable(s, "active", "blue"),
    standby: TritonBlueGreen.standbyVariable(s, "standby", settings.followCanary ? "preview" : "warm"),
    ...(settings.followCanary ? { followCanary: { canaryPercent, surge: settings.followCanary.surge } } : {}),
  });
  const address = (color: "blue" | "green") =>
    Backend.address(color, "127.0.0.1", colors[color].triton.ports.http, colors[color].triton.ports.grpc);
  const canary = new TritonCanary(s, "fraud-canary", {
    pair,
    namespace,
    replicas: ENVOY_PODS,
    canaryPercent,
    backends: { blue: address("blue"), green: address("green") },
    httpPort: ports.http,
    grpcPort: ports.grpc,
    // Out of the way of the analysis: a host is never ejected for its errors here.
    outlierDetection: { consecutive5xx: 1000 },
  });
  new TritonPromotion(s, "fraud-promotion", { canary, steps: settings.steps, analysis: settings.analysis });
  new TritonDashboard(s, "fraud-dashboard", { pair, envoys: [canary] });
  return s;
}

export class PromoteRig {
  public tritons!: Record<"v1" | "v2" | "v5" | "slow", RunningTriton>;
  public stack!: EngineStack;
  public kubelet!: EnvoyKubelet;
  public prometheus!: RunningPrometheus;
  public webhook!: WebhookReceiver;
  public load!: ReturnType<typeof steadyLoad>;
  public readonly reports: string;
  /**
   * The kubeconfig the driver and its engine use: a copy of the test cluster's, so that a test can
   * point it elsewhere (an API server that does not answer) while the rig keeps reading the cluster.
   */
  public readonly driverKubeconfig: string;
  private ports!: Ports;
  /** What each color runs in the stack as last synthesized. */
  private colors!: Colors;

  constructor(
    public readonly work: string,
    public readonly namespace: string,
    public settings: PromotionSettings = { steps: TEST_STEPS, analysis: TEST_ANALYSIS },
  ) {
    this.reports = path.join(work, "reports");
    this.driverKubeconfig = path.join(work, "driver-kubeconfig");
  }

  /** Starts everything, applies the stack (blue v1 serving, green v2 the candidate) and the load. */
  async start(): Promise<this> {
    fs.rmSync(this.work, { recursive: true, force: true });
    fs.mkdirSync(this.work, { recursive: true });
    fs.copyFileSync(kubeconfig, this.driverKubeconfig);
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "delete",
      "namespace",
      this.namespace,
      "--ignore-not-found",
      "--wait=true",
    ]);
    this.ports = { http: await freePort(), grpc: await freePort() };
    // Latency summaries on, as the chart runs Triton (the p99 alert and the dashboard read them).
    const args = ["--metrics-config=summary_latencies=true"];
    const [v1, v2, v5, slow] = await startAll([
      startTriton({ models: { classifier: [1] }, args }),
      startTriton({ models: { classifier: [2] }, args }),
      startTriton({ models: { classifier: [5] }, args, env: { CLASSIFIER_FAIL_EVERY: "20" } }),
      startTriton({
        models: { classifier: [5] },
        args,
        env: { CLASSIFIER_FAIL_EVERY: "0", CLASSIFIER_DELAY_MS: "200" },
      }),
    ]);
    this.tritons = { v1, v2, v5, slow };
    this.webhook = await startWebhookReceiver();
    this.synth({ blue: { version: "v1", triton: v1 }, green: { version: "v2", triton: v2 } });
    await this.stack.ok("init", "-input=false");
    await this.stack.ok("apply", "-input=false", "-auto-approve");
    this.kubelet = await new EnvoyKubelet(this.namespace, "fraud-canary").start(ENVOY_PODS);
    this.prometheus = await startPrometheus(this.targets(v1, v2));
    // Every request through the Envoys (in turn, as their Service would spread them), for the whole run.
    this.load = steadyLoad(this.kubelet.urls(this.ports.http), 4, classifierInference);
    // Envoy reads its route tables just after it starts: 15 s is slack for a loaded machine.
    await until(
      "Envoy serving the first apply's weights",
      15_000,
      async () => (await this.versionServed()) === "weights canary: blue=100, green=0",
    );
    return this;
  }

  async stop(): Promise<void> {
    await this.load?.stop();
    await Promise.all([
      this.kubelet?.stop(),
      this.prometheus?.stop(),
      this.webhook?.stop(),
      ...Object.values(this.tritons ?? {}).map((t) => t.stop()),
    ]);
  }

  /** Synthesizes the stack with these colors (and, once, an extra PromQL metric). */
  synth(colors: Colors, extraQuery?: string): EngineStack {
    this.colors = colors;
    const settings = extraQuery
      ? {
          ...this.settings,
          analysis: {
            ...this.settings.analysis,
            metrics: [
              ...this.settings.analysis.metrics,
              PromotionMetric.promql({ name: "extra", query: extraQuery, max: 1 }),
            ],
          },
        }
      : this.settings;
    this.stack = synthesize(path.join(this.work, "out"), "promote", (app, id) =>
      promoteStack(app, id, this.work, this.namespace, this.ports, colors, settings, this.driverKubeconfig),
    );
    return this.stack;
  }

  /** Prometheus labels each Triton as the ServiceMonitor would: app, namespace, and the color it serves as. */
  targets(blue: RunningTriton, green: RunningTriton): ScrapeTarget[] {
    return [
      ...this.kubelet.all().map((p) => ({
        address: `127.0.0.1:${p.opsPort}`,
        metricsPath: "/stats/prometheus",
        labels: { app: "fraud-canary", namespace: this.namespace, pod: p.pod },
      })),
      ...(
        [
          ["blue", blue],
          ["green", green],
        ] as const
      ).map(([color, t]) => ({
        address: `127.0.0.1:${t.ports.metrics}`,
        metricsPath: "/metrics",
        labels: { app: APP, namespace: this.namespace, color },
      })),
    ];
  }

  /**
   * Stages a new release on `color` (the standby) behind `triton`, as a pipeline would (applied with
   * `active` = the other color), and waits until Envoy and Prometheus see it.
   */
  async stage(color: "blue" | "green", version: string, triton: RunningTriton): Promise<void> {
    const active = color === "blue" ? "green" : "blue";
    this.synth({ ...this.colors, [color]: { version, triton } } as Colors);
    await this.stack.ok("apply", "-input=false", "-auto-approve", "-var", `active=${active}`);
    await this.prometheus.setTargets(this.targets(this.colors.blue.triton, this.colors.green.triton));
    // The rig moves a color to another Triton by rewriting its address in the ConfigMap; a cluster
    // keeps the color's Service and replaces its pods, with no kubelet sync involved: so the pods
    // take this change at once (never a weight: those go at the kubelet's pace).
    await this.kubelet.syncAll();
    // Envoy reloads its clusters at once: 30 s is slack for a loaded machine.
    for (const pod of this.kubelet.all()) {
      await until(`Envoy pod ${pod.pod} reaching ${color}'s new server`, 30_000, async () =>
        (await fetch(`${pod.adminUrl}/clusters`).then((r) => r.text())).includes(
          `${color}-http::127.0.0.1:${triton.ports.http}::`,
        ),
      );
    }
    const expected = `weights canary: blue=${active === "blue" ? 100 : 0}, green=${active === "green" ? 100 : 0}`;
    if ((await this.versionServed()) !== expected)
      throw new Error(`staged ${color} while Envoy serves ${await this.versionServed()}`);
  }

  /** Stages a new release on blue while green serves. */
  stageBlue(version: string, triton: RunningTriton): Promise<void> {
    return this.stage("blue", version, triton);
  }

  /** The driver reaches each Envoy pod by its default: a `kubectl port-forward` to the pod's admin port (kwok's PortForward to its Envoy here). */
  private promoteArgs(args: string[]): string[] {
    return [
      cli,
      "promote",
      "--stack",
      this.stack.dir,
      "--engine",
      "tofu",
      "--kubeconfig",
      this.driverKubeconfig,
      "--prometheus-url",
      this.prometheus.url,
      "--report-dir",
      this.reports,
      ...args,
    ];
  }

  /** `cdktf-triton promote` as a pipeline runs it, to its end. */
  promote(...args: string[]) {
    return run(process.execPath, this.promoteArgs(args), {
      env: engineEnv({ CDKTF_TRITON_WEBHOOK_URL: this.webhook.url }),
      timeout: 600_000,
    });
  }

  /**
   * The CLI as a process a test can signal: its own process group (`killGroup` stops it and the
   * engine it runs at once, as a cancelled CI job's runner does), its output so far in `output()`.
   */
  promoteProcess(...args: string[]): {
    proc: ChildProcess;
    output: () => string;
    killGroup: () => void;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>;
  } {
    const proc = spawn(process.execPath, this.promoteArgs(args), {
      env: engineEnv({ CDKTF_TRITON_WEBHOOK_URL: this.webhook.url }),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
      proc.on("close", (code, signal) => resolve({ code, signal, out })),
    );
    return { proc, output: () => out, killGroup: () => process.kill(-proc.pid!, "SIGKILL"), exited };
  }

  /** Waits (on the webhook's messages) until the promotion announced step `weight`. A step is an apply plus a rollout: 120 s is slack. */
  untilStep(from: number, weight: number): Promise<void> {
    return until(
      `the promotion at ${weight} %`,
      120_000,
      () => this.webhook.messages.slice(from).some((m) => m.event === "step" && m.weightPercent === weight),
      100,
    );
  }

  /** The weights every Envoy pod serves, its runtime's over its file's (one answer, or a mix joined by " | "). */
  async versionServed(): Promise<string> {
    return [
      ...new Set(
        await Promise.all(
          this.kubelet.all().map(async (p) => weightsText("canary", (await this.served(p.adminUrl)).served)),
        ),
      ),
    ].join(" | ");
  }

  /** What one Envoy serves on the canary route: its file's weights, its runtime's, and the result. */
  served(adminUrl: string) {
    return readServed(adminUrl, { route: "canary", clusters: ["blue-http", "blue-grpc", "green-http", "green-grpc"] });
  }

  /** Whether any Envoy pod holds runtime weights. */
  async overrides(): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.kubelet.all())
      if (Object.keys((await this.served(p.adminUrl)).overrides).length) out.push(p.pod);
    return out;
  }

  /** The pair's promotion lease as a reader sees it. */
  lease(): Promise<LeaseView> {
    return new PairLease({ kubeconfig }, this.namespace, APP).read();
  }

  /** After a driver was killed: until its lease expired (15 s without renewal; 30 s is slack). */
  async untilLeaseExpired(): Promise<void> {
    await until("the killed driver's lease expired", 30_000, async () => !(await this.lease()).live, 250);
  }

  /** A command of the CLI for this pair (`--app`, `-n`, `--kubeconfig` added), to its end. */
  cli(command: string, ...args: string[]) {
    return run(
      process.execPath,
      [cli, command, "--app", APP, "-n", this.namespace, "--kubeconfig", kubeconfig, ...args],
      { env: engineEnv(), timeout: 600_000 },
    );
  }

  /** The reasons of the driver's Kubernetes Events on the pair's active Service, oldest first (the cluster's own, e.g. ClusterIPNotAllocated from the API server's repair loop, left out). */
  async eventReasons(): Promise<string[]> {
    const events = await kubectl(
      "get",
      "events",
      "-n",
      this.namespace,
      "--field-selector",
      `involvedObject.name=${APP},involvedObject.kind=Service`,
    );
    // Our Events are named <service>.<creation time in ms, hex><random>: their names sort by time.
    return (events.items as any[])
      .filter((e) => e.source?.component === "cdktf-triton-promote")
      .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)))
      .map((e) => e.reason);
  }

  /** The pair's state output. */
  async state(): Promise<any> {
    return JSON.parse(
      (await this.stack.ok("output", "-json", "fraud_promotion"))
        .trim()
        .split("\n")
        .find((l) => l.startsWith("{"))!,
    );
  }

  /** The pair's history ConfigMap, parsed. */
  async history(): Promise<any[]> {
    const cm = await kubectl("get", "configmap", `${APP}-promotions`, "-n", this.namespace);
    return (cm.data["history.jsonl"] as string)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  }
}
