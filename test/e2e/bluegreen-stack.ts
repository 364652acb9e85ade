import * as path from "path";
import { App, LocalBackend, TerraformStack, TerraformVariable } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import {
  Backend,
  FailoverPool,
  GatewayRoute,
  ModelControl,
  ModelRepository,
  TritonBlueGreen,
  WeightedService,
} from "../../lib";
import { VerifySpec } from "../../lib/run";
import { classifierSpec } from "../peers/triton-models";
import { kubeconfig, root } from "./engine";

// The stack of test/e2e/bluegreen.test.ts, in its own module so scripts/synth-fingerprint.ts can
// synthesize it outside jest.
const bin = path.join(root, "bin", "cdktf-triton.js");

/** The classifier's three classes and a short probe: versions 1 and 2 pass, version 3 fails. */
export const e2eSpec: VerifySpec = {
  ...classifierSpec(),
  deadlineSeconds: 300,
  waitForReadySeconds: 60,
  probe: { ...classifierSpec().probe!, requests: 50, concurrency: 2 },
};

export class BlueGreenE2eStack extends TerraformStack {
  constructor(scope: App, id: string, work: string, NS: string) {
    super(scope, id);
    new LocalBackend(this, { path: path.join(work, "terraform.tfstate") });
    new KubernetesProvider(this, "kubernetes", { configPath: kubeconfig });
    new HelmProvider(this, "helm", { kubernetes: { configPath: kubeconfig } });
    const ns = new NamespaceV1(this, "namespace", { metadata: { name: NS } });
    const namespace = ns.metadata.name;

    // A build tag per color, in its pods' annotations: a change to a release that only a plan sees
    // (a variable in its values), as a pipeline makes one.
    const build = (color: string) =>
      new TerraformVariable(this, `${color}_build`, { type: "string", default: "1" }).stringValue;
    const common = {
      modelRepository: ModelRepository.objectStore("s3://models/classifier", { credentialsSecret: "model-store" }),
      modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
      replicas: 2,
      gpus: 1,
      nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
      probes: { startupBudgetSeconds: 120 },
    };
    const bg = new TritonBlueGreen(this, "iris", {
      namespace,
      blue: { ...common, version: "v1", podAnnotations: { "example.com/build": build("blue") } },
      green: { ...common, version: "v2", podAnnotations: { "example.com/build": build("green") } },
      active: TritonBlueGreen.activeVariable(this, "active", "blue"),
      standby: TritonBlueGreen.standbyVariable(this, "standby", "preview"),
      verify: {
        spec: e2eSpec,
        kubeconfig,
        command: `${process.execPath} ${bin}`,
        afterSwitch: { spec: e2eSpec },
        reportDir: "reports",
      },
    });
    new WeightedService(this, "iris-canary", {
      namespace,
      replicas: 1,
      routes: [
        {
          backends: [
            { backend: Backend.release(bg.blue), weightPercent: 90 },
            { backend: Backend.release(bg.green), weightPercent: 10 },
          ],
        },
      ],
    });
    new GatewayRoute(this, "iris-route", {
      namespace,
      parentRefs: [{ name: "inference-gateway" }],
      hostnames: ["iris.example.com"],
      routes: [
        {
          match: { headers: { "x-variant": "green" } },
          backends: [{ backend: Backend.release(bg.green), weightPercent: 100 }],
        },
        {
          backends: [
            { backend: Backend.release(bg.blue), weightPercent: 80 },
            { backend: Backend.release(bg.green), weightPercent: 20 },
          ],
          timeoutSeconds: 5,
        },
      ],
    });
    new FailoverPool(this, "iris-failover", {
      namespace,
      replicas: 1,
      tiers: [
        { name: "primary", endpoints: [{ backend: Backend.release(bg.blue) }] },
        { name: "secondary", endpoints: [{ backend: Backend.release(bg.green) }] },
      ],
    });
  }
}
