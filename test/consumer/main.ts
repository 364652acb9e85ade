import { App, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Backend,
  FailoverPool,
  GateTarget,
  GatewayRoute,
  ModelControl,
  ModelRepository,
  PromotionMetric,
  TritonBlueGreen,
  TritonCanary,
  TritonPromotion,
  TritonRelease,
  VerificationGate,
  WeightedService,
} from "cdktf-triton";

class Inference extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new KubernetesProvider(this, "kubernetes", { configPath: "~/.kube/config" });
    new HelmProvider(this, "helm", { kubernetes: { configPath: "~/.kube/config" } });
    const color = {
      modelRepository: ModelRepository.objectStore("s3://models/fraud"),
      modelControl: ModelControl.explicit({ loadModels: ["fraud"] }),
      replicas: 2,
      gpus: 1,
    };
    const spec = { models: [{ name: "fraud" }] };
    const pair = new TritonBlueGreen(this, "fraud", {
      namespace: "ml",
      blue: { ...color, version: "v1" },
      green: { ...color, version: "v2" },
      active: TritonBlueGreen.activeVariable(this),
      verify: { spec, afterSwitch: { spec } },
    });
    new TritonRelease(this, "shadow", {
      appName: "shadow",
      color: "blue",
      namespace: "ml",
      version: "v1",
      modelRepository: ModelRepository.objectStore("s3://models/shadow"),
    });
    new WeightedService(this, "canary", {
      namespace: "ml",
      routes: [
        {
          backends: [
            { backend: Backend.release(pair.blue), weightPercent: 90 },
            { backend: Backend.release(pair.green), weightPercent: 10 },
          ],
        },
      ],
    });
    new FailoverPool(this, "failover", {
      namespace: "ml",
      tiers: [
        { name: "primary", endpoints: [{ backend: Backend.release(pair.blue) }] },
        { name: "secondary", endpoints: [{ backend: Backend.release(pair.green) }] },
      ],
    });
    new GatewayRoute(this, "route", {
      namespace: "ml",
      parentRefs: [{ name: "gateway" }],
      routes: [{ backends: [{ backend: Backend.release(pair.blue), weightPercent: 100 }] }],
    });
    new VerificationGate(this, "smoke", { spec, target: GateTarget.url("http://fraud.ml.example.com:8000") });
    const staged = new TritonCanary(this, "staged", {
      pair,
      namespace: "ml",
      canaryPercent: TritonCanary.percentVariable(this, "fraud_canary"),
    });
    new TritonPromotion(this, "promotion", {
      canary: staged,
      steps: [
        { weightPercent: 10, bakeSeconds: 60 },
        { weightPercent: 100, bakeSeconds: 60 },
      ],
      analysis: {
        metrics: [
          PromotionMetric.successRate({ minPercent: 99 }),
          PromotionMetric.tritonFailureRate({ maxPercent: 1 }),
        ],
      },
    });
  }
}

const app = new App({ outdir: "cdktf.out" });
new Inference(app, "inference");
app.synth();
