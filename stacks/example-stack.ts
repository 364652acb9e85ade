import { LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Construct } from "constructs";
import {
  Backend,
  FailoverPool,
  ModelControl,
  ModelRepository,
  PromotionMetric,
  TritonAlerts,
  TritonBlueGreen,
  TritonCanary,
  TritonDashboard,
  TritonModelCanary,
  TritonPromotion,
  VerifySpec,
} from "../lib";

/**
 * The example: one model (an image classifier) served blue/green. A pipeline switches colors with
 * `-var active=green`, keeps the old color warm with `-var standby=warm` while it bakes, then
 * `-var standby=scaled-down`; or promotes the candidate in steps with `cdktf-triton promote`
 * (5 -> 25 -> 50 -> 100 % through the canary's Envoy, analysed, aborted on bad metrics). A new
 * version of the model alone (same inputs and outputs) goes in place: loaded beside the current
 * one in the serving pods, canaried in the same steps. A failover pool in front sends traffic to
 * another region when this cluster's canary route is down.
 */
export class ExampleStack extends TerraformStack {
  public readonly classifier: TritonBlueGreen;
  public readonly canary: TritonCanary;
  public readonly promotion: TritonPromotion;
  public readonly resnet50: TritonModelCanary;
  public readonly versionPromotion: TritonPromotion;
  public readonly failover: FailoverPool;
  public readonly alerts: TritonAlerts;
  public readonly dashboard: TritonDashboard;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // cdktf's implicit local backend records an absolute path of the machine that ran synth. A
    // relative one keeps the output relocatable; Terraform runs in cdktf.out/stacks/<id>, so this
    // puts the state beside cdktf.json, outside the folder that synth rewrites.
    new LocalBackend(this, { path: `../../../terraform.${id}.tfstate` });

    const kubeconfig = new TerraformVariable(this, "kubeconfig", {
      type: "string",
      default: "~/.kube/config",
      description: "Path of the kubeconfig that reaches the cluster.",
    });
    const namespace = new TerraformVariable(this, "namespace", {
      type: "string",
      default: "default",
      description: "Namespace for the releases and Services; it must exist.",
    });
    new KubernetesProvider(this, "kubernetes", { configPath: kubeconfig.stringValue });
    new HelmProvider(this, "helm", { kubernetes: { configPath: kubeconfig.stringValue } });

    const models = ModelRepository.objectStore("s3://models-prod/classifier", {
      credentialsSecret: "model-store-credentials",
    });
    const common = {
      modelRepository: models,
      modelControl: ModelControl.explicit({ loadModels: ["resnet50"] }),
      replicas: 3,
      // Up to 6 pods on Triton's queue time (an adapter serves the metric: README); never below
      // what the replica rule gives the color (3 serving, 1 in preview).
      autoscaling: { maxReplicas: 6, targetQueueTimeSeconds: 0.02 },
      gpus: 1,
      resources: { cpuRequest: "4", memoryRequest: "16Gi" },
      nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
      probes: { startupBudgetSeconds: 1200 },
      // Each color's ServiceMonitor and Triton alerts (failures, p99 above 5000 ms, replicas).
      monitoring: { serviceMonitor: true, prometheusRule: true, labels: { release: "kube-prometheus" } },
    };

    // What a color (or a model version) must answer before it takes traffic.
    const spec: VerifySpec = {
      waitForReadySeconds: 1200,
      models: [
        {
          name: "resnet50",
          metadata: {
            inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }],
            outputs: [{ name: "probabilities", datatype: "FP32", shape: [-1, 1000] }],
          },
          golden: [
            {
              name: "all-zero image is class 0 or 1",
              binary: true,
              inputs: [
                { name: "input", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(3 * 224 * 224).fill(0) },
              ],
              outputs: [{ name: "probabilities", topK: 2, data: [0, 1] }],
            },
          ],
        },
      ],
      probe: {
        model: "resnet50",
        case: "all-zero image is class 0 or 1",
        requests: 200,
        concurrency: 4,
        budgets: { p99Seconds: 0.25, maxErrorRate: 0 },
      },
    };
    this.classifier = new TritonBlueGreen(this, "classifier", {
      namespace: namespace.stringValue,
      blue: { ...common, version: "2026-10-01", image: "nvcr.io/nvidia/tritonserver:25.09-py3" },
      green: { ...common, version: "2026-11-15", image: "nvcr.io/nvidia/tritonserver:25.10-py3" },
      active: TritonBlueGreen.activeVariable(this, "active", "blue"),
      standby: TritonBlueGreen.standbyVariable(this, "standby", "preview"),
      previewReplicas: 1,
      // Before the switch moves, the color to serve must answer like this (through kubectl
      // port-forward from where apply runs); a failure fails the apply and leaves traffic as it was.
      verify: {
        kubeconfig: "~/.kube/config",
        reportDir: "verify-reports",
        spec,
      },
    });

    // The canary: Envoy in front of the pair, the active color at 100 - classifier_canary %, the
    // other color at classifier_canary % (0 unless a pipeline or `promote` sets it).
    this.canary = new TritonCanary(this, "classifier-canary", {
      pair: this.classifier,
      namespace: namespace.stringValue,
      canaryPercent: TritonCanary.percentVariable(this, "classifier_canary"),
    });
    // The staged promotion `cdktf-triton promote` runs: each step bakes under analysis; a step
    // that fails a threshold puts the candidate back to 0 % and stops.
    const steps = [
      { weightPercent: 5, bakeSeconds: 300 },
      { weightPercent: 25, bakeSeconds: 300 },
      { weightPercent: 50, bakeSeconds: 600 },
      { weightPercent: 100, bakeSeconds: 600 },
    ];
    this.promotion = new TritonPromotion(this, "classifier-promotion", {
      canary: this.canary,
      steps,
      analysis: {
        intervalSeconds: 60,
        metrics: [
          PromotionMetric.successRate({ minPercent: 99 }),
          PromotionMetric.latency({ percentile: 99, maxSeconds: 0.25 }),
          PromotionMetric.tritonFailureRate({ maxPercent: 1 }),
          PromotionMetric.tritonQueueTime({ maxSeconds: 0.05 }),
        ],
      },
      confirmBeforeSwitch: true,
    });
    // A new resnet50 version in place (same inputs and outputs, same server): loaded beside version
    // 1 in the serving pods, checked on its own endpoints, then a growing share of the requests
    // that name no version (`cdktf-triton promote --promotion resnet50-version-promotion
    // --next-version 2`); the end unloads version 1. Peak: the serving color's pods, not twice.
    this.resnet50 = new TritonModelCanary(this, "resnet50-versions", {
      canary: this.canary,
      model: "resnet50",
      version: 1,
      verify: spec,
    });
    this.versionPromotion = new TritonPromotion(this, "resnet50-version-promotion", {
      canary: this.resnet50,
      steps,
      // Both versions are behind the same Envoy cluster: Triton's metrics of the new version.
      analysis: {
        intervalSeconds: 60,
        metrics: [
          PromotionMetric.tritonFailureRate({ maxPercent: 1 }),
          PromotionMetric.tritonQueueTime({ maxSeconds: 0.05 }),
        ],
      },
    });
    // Clients call the failover pool: this cluster's canary route first, another region's Triton
    // (over TLS) when it is down.
    this.failover = new FailoverPool(this, "classifier-failover", {
      namespace: namespace.stringValue,
      tiers: [
        { name: "primary", endpoints: [{ backend: Backend.service("classifier-canary") }] },
        { name: "backup", endpoints: [{ backend: Backend.external("https://triton.eu-west-1.example.com") }] },
      ],
      // One request in ten as a JSON line on Envoy's stdout, next to its health checkers' events.
      accessLog: { sampledPercent: 10 },
    });
    // Alerts (a PrometheusRule): the serving color without a ready pod; per Envoy cluster, hosts
    // ejected, no healthy host left, p99 above 5000 ms, 5xx above 5 %.
    this.alerts = new TritonAlerts(this, "classifier-alerts", {
      pair: this.classifier,
      envoys: [this.canary, this.failover],
      labels: { release: "kube-prometheus" },
    });
    // The pair's Grafana dashboard, a ConfigMap Grafana's dashboard sidecar picks up.
    this.dashboard = new TritonDashboard(this, "classifier-dashboard", {
      pair: this.classifier,
      envoys: [this.canary, this.failover],
    });
  }
}
