// The model-level canary's rig, shared by test/e2e/model-canary.test.ts and `npm run bench:capacity`:
// a pair applied to the test cluster by OpenTofu whose colors' pods are kwok's, each color's pods
// stood in for by one real Triton 2.51 started as the color's Deployment says, its postStart hook
// included (test/peers/triton-pod.ts; every pod of a color is port-forwarded to it), with the
// classifier's versions 1, 2 and 5 in its repository (5 fails one request in 20); two Envoy pods
// (real Envoys kept in sync at a kubelet's pace: test/peers/kubelet.ts); a real Prometheus scraping
// the Tritons; steady load through the Envoys, none of it naming a version.
import * as fs from "fs";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Backend,
  ModelControl,
  ModelRepository,
  PromotionMetric,
  PromotionStep,
  StandbyMode,
  TritonBlueGreen,
  TritonCanary,
  TritonModelCanary,
  TritonPromotion,
} from "../../lib";
import { servedVersions } from "../../lib/run/model-versions";
import { EnvoyKubelet } from "../peers/kubelet";
import { classifierInference, steadyLoad } from "../peers/load";
import { RunningPrometheus, startPrometheus } from "../peers/prometheus";
import { freePort } from "../peers/servers";
import { TritonPod } from "../peers/triton-pod";
import { classifierSpec } from "../peers/triton-models";
import { until } from "../peers/wait";
import { ColorForwards, EngineStack, engineEnv, kubeconfig, kubectlBin, root, run, synthesize } from "./engine";

export const MODEL_APP = "fraud";
const cli = path.join(root, "bin", "cdktf-triton.js");

export interface ModelRigSettings {
  readonly steps: readonly PromotionStep[];
  /** Each color's replicas. @default 1 */
  readonly replicas?: number;
  /** @default "warm" */
  readonly standby?: StandbyMode;
}

/** The model canary e2e's stack: the pair, the Envoy canary on `envoy`'s ports reaching each color at `tritonPorts`, the versions' promotion. */
export function modelStack(
  app: App,
  id: string,
  work: string,
  namespaceName: string,
  settings: ModelRigSettings,
  envoy: { http: number; grpc: number },
  tritonPorts: Record<"blue" | "green", { http: number; grpc: number }>,
): TerraformStack {
  const s = new TerraformStack(app, id);
  new LocalBackend(s, { path: path.join(work, "terraform.tfstate") });
  new KubernetesProvider(s, "kubernetes", { configPath: kubeconfig });
  new HelmProvider(s, "helm", { kubernetes: { configPath: kubeconfig } });
  const namespace = new NamespaceV1(s, "namespace", { metadata: { name: namespaceName } }).metadata.name;
  const common = {
    modelRepository: ModelRepository.objectStore("s3://models/fraud"),
    modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
    replicas: settings.replicas ?? 1,
    gpus: 1,
    nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
  };
  const pair = new TritonBlueGreen(s, MODEL_APP, {
    namespace,
    blue: { ...common, version: "2.51" },
    green: { ...common, version: "2.51" },
    active: TritonBlueGreen.activeVariable(s, "active", "blue"),
    standby: settings.standby ?? "warm",
  });
  const address = (color: "blue" | "green") =>
    Backend.address(color, "127.0.0.1", tritonPorts[color].http, tritonPorts[color].grpc);
  const canary = new TritonCanary(s, "fraud-canary", {
    pair,
    namespace,
    replicas: 2,
    canaryPercent: TritonCanary.percentVariable(s, "fraud_canary"),
    backends: { blue: address("blue"), green: address("green") },
    httpPort: envoy.http,
    grpcPort: envoy.grpc,
    outlierDetection: { consecutive5xx: 1000 },
  });
  // The next version's check before it takes a request: its golden answers and contract (no probe).
  const { probe: _probe, ...verify } = classifierSpec();
  const model = new TritonModelCanary(s, "classifier-versions", { canary, model: "classifier", version: 1, verify });
  new TritonPromotion(s, "classifier-promotion", {
    canary: model,
    steps: settings.steps,
    analysis: {
      intervalSeconds: 2,
      metrics: [
        // The next version's route's own counters in Envoy (Triton 2.51 counts a Python model's error response as a success).
        PromotionMetric.successRate({ minPercent: 99, minRequests: 20 }),
        PromotionMetric.tritonFailureRate({ maxPercent: 1, intervalSeconds: 3 }),
        // The candidate version answers: no data would leave every step inconclusive.
        PromotionMetric.promql({
          name: "version-throughput",
          query:
            'sum(rate(nv_inference_request_success{app="{{app}}",namespace="{{namespace}}",model="{{model}}",version="{{version}}"}[{{interval}}]))',
          min: 0.5,
          intervalSeconds: 3,
        }),
      ],
    },
  });
  return s;
}

export class ModelRig {
  public stack!: EngineStack;
  public tritons!: Record<"blue" | "green", TritonPod>;
  public kubelet!: EnvoyKubelet;
  public prometheus!: RunningPrometheus;
  public load!: ReturnType<typeof steadyLoad>;
  private forwards?: ColorForwards;
  private http = 0;

  constructor(
    public readonly work: string,
    public readonly namespace: string,
    public readonly settings: ModelRigSettings,
  ) {}

  /** Applies the stack (classifier version 1 pinned), starts every stand-in and the load. */
  async start(): Promise<this> {
    fs.rmSync(this.work, { recursive: true, force: true });
    fs.mkdirSync(this.work, { recursive: true });
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "delete",
      "namespace",
      this.namespace,
      "--ignore-not-found",
      "--wait=true",
    ]);
    this.http = await freePort();
    const grpc = await freePort();
    const ports = async () => ({ http: await freePort(), grpc: await freePort(), metrics: await freePort() });
    const tritonPorts = { blue: await ports(), green: await ports() };
    this.stack = synthesize(path.join(this.work, "out"), "model", (app, id) =>
      modelStack(app, id, this.work, this.namespace, this.settings, { http: this.http, grpc }, tritonPorts),
    );
    await this.stack.ok("init", "-input=false");
    await this.stack.ok("apply", "-input=false", "-auto-approve");
    const models = { classifier: [1, 2, 5] };
    this.tritons = {
      blue: new TritonPod(this.namespace, `${MODEL_APP}-blue`, models, tritonPorts.blue),
      green: new TritonPod(this.namespace, `${MODEL_APP}-green`, models, tritonPorts.green),
    };
    // A scaled-down standby has no pod to stand in for.
    await Promise.all([
      this.tritons.blue.start(),
      ...(this.settings.standby === "scaled-down" ? [] : [this.tritons.green.start()]),
    ]);
    this.forwards = new ColorForwards(this.namespace, MODEL_APP, {
      blue: tritonPorts.blue.http,
      green: tritonPorts.green.http,
    }).start();
    this.kubelet = await new EnvoyKubelet(this.namespace, "fraud-canary").start(2);
    this.prometheus = await startPrometheus(
      (["blue", "green"] as const).map((color) => ({
        address: `127.0.0.1:${tritonPorts[color].metrics}`,
        metricsPath: "/metrics",
        labels: { app: MODEL_APP, namespace: this.namespace, color },
      })),
    );
    this.load = steadyLoad(this.kubelet.urls(this.http), 4, classifierInference);
    // Envoy serves once its health checks pass: 30 s is slack for a loaded machine.
    await until("the load answered through Envoy", 30_000, () => this.load.samples.some((s) => s.status === 200));
    return this;
  }

  async stop(): Promise<void> {
    await this.load?.stop();
    await Promise.all([
      this.forwards?.stop(),
      this.kubelet?.stop(),
      this.prometheus?.stop(),
      this.tritons?.blue.stop(),
      this.tritons?.green.stop(),
    ]);
  }

  /** `cdktf-triton promote` of the model's versions, as a pipeline runs it, to its end. */
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
        ...args,
      ],
      { env: engineEnv(), timeout: 600_000 },
    );
  }

  /** The versions of the classifier each color's Triton has READY (its repository API, with the key its chart made). */
  async indexes(): Promise<Record<"blue" | "green", number[]>> {
    const key = async (color: string) => {
      const r = await run(kubectlBin, [
        "--kubeconfig",
        kubeconfig,
        "get",
        "secret",
        `${MODEL_APP}-${color}-restricted-api`,
        "-n",
        this.namespace,
        "-o",
        "jsonpath={.data.token}",
      ]);
      return { header: "triton-admin-key", key: Buffer.from(r.stdout.trim(), "base64").toString("utf8") };
    };
    return {
      blue: await servedVersions({ url: this.tritons.blue.url, restricted: await key("blue") }, "classifier"),
      green: await servedVersions({ url: this.tritons.green.url, restricted: await key("green") }, "classifier"),
    };
  }
}
