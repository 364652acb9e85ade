// One synth run, in its own process so peak memory is its own: `ours` composes TritonBlueGreen,
// `raw` declares the same resources (per model: two helm_release of the same chart with the same
// values, two kubernetes_service_v1) directly with the providers. Prints one JSON line.
import { performance } from "perf_hooks";
const started = performance.now();
import * as path from "path";
import { App, AssetType, LocalBackend, TerraformAsset, TerraformStack, TerraformVariable } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { Release } from "@cdktf/provider-helm/lib/release";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { ModelRepository, TritonBlueGreen } from "../../lib";

const [mode, modelsArg, outdir] = process.argv.slice(2);
const models = Number(modelsArg);
if (!["ours", "raw"].includes(mode) || !Number.isInteger(models) || !outdir) {
  console.error("usage: synth-run.ts ours|raw <models> <outdir>");
  process.exit(2);
}
const loaded = performance.now();

const app = new App({ outdir });
const stack = new TerraformStack(app, "bench");
new LocalBackend(stack, { path: "terraform.tfstate" });
new KubernetesProvider(stack, "kubernetes", { configPath: "~/.kube/config" });
new HelmProvider(stack, "helm", { kubernetes: { configPath: "~/.kube/config" } });
const active = new TerraformVariable(stack, "active", { type: "string", default: "blue" });

if (mode === "ours") {
  for (let i = 0; i < models; i++) {
    new TritonBlueGreen(stack, `model-${i}`, {
      blue: { version: "v1", modelRepository: ModelRepository.objectStore(`s3://models/m${i}`), replicas: 2 },
      green: { version: "v2", modelRepository: ModelRepository.objectStore(`s3://models/m${i}`), replicas: 2 },
      active,
    });
  }
} else {
  const chart = new TerraformAsset(stack, "chart", {
    path: path.resolve(__dirname, "..", "..", "charts", "triton"),
    type: AssetType.DIRECTORY,
  });
  for (let i = 0; i < models; i++) {
    const app = `model-${i}`;
    const releases = (["blue", "green"] as const).map(
      (color) =>
        new Release(stack, `${app}-${color}`, {
          name: `${app}-${color}`,
          namespace: "default",
          chart: chart.path,
          values: [JSON.stringify(rawValues(app, color, `s3://models/m${i}`, color === "blue" ? "v1" : "v2"), null, 2)],
          set: [{ name: "replicas", type: "auto", value: `\${var.active == "${color}" ? 2 : 1}` }],
          wait: true,
          atomic: true,
          cleanupOnFail: true,
          timeout: 1200,
          maxHistory: 10,
        }),
    );
    const ports = [
      { name: "http", port: 8000, targetPort: "http", protocol: "TCP" },
      { name: "grpc", port: 8001, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
      { name: "metrics", port: 8002, targetPort: "metrics", protocol: "TCP" },
    ];
    new ServiceV1(stack, `${app}-active`, {
      metadata: { name: app, namespace: "default", labels: { app, "cdktf-triton/role": "active" } },
      spec: { type: "ClusterIP", selector: { app, color: active.stringValue }, port: ports },
      dependsOn: releases,
    });
    new ServiceV1(stack, `${app}-preview`, {
      metadata: { name: `${app}-preview`, namespace: "default", labels: { app, "cdktf-triton/role": "preview" } },
      spec: { type: "ClusterIP", selector: { app, color: `\${var.active == "blue" ? "green" : "blue"}` }, port: ports },
    });
  }
}
const constructed = performance.now();
app.synth();
const done = performance.now();
console.log(
  JSON.stringify({
    mode,
    models,
    constructMs: constructed - loaded,
    synthMs: done - constructed,
    // performance.now() counts from process start: this includes node and ts-node booting.
    totalMs: done,
    importMs: loaded - started,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);

/** The values a user would write by hand for the same chart (the chart's keys, same defaults). */
function rawValues(app: string, color: string, uri: string, version: string) {
  return {
    app,
    color,
    version,
    image: "nvcr.io/nvidia/tritonserver:25.10-py3",
    modelRepository: {
      uri,
      credentialsSecret: "",
      credentialsKey: "credentials.json",
      pvc: { claimName: "", subPath: "" },
    },
    server: {
      mode: "none",
      repositoryPollSeconds: 30,
      loadModels: [],
      strictReadiness: true,
      exitTimeoutSeconds: 30,
      extraArgs: [],
    },
    ports: { http: 8000, grpc: 8001, metrics: 8002 },
    probes: {
      startup: { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 90 },
      readiness: { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
      liveness: { periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    },
    drain: { preStopSeconds: 10, terminationGracePeriodSeconds: 45 },
    resources: { requests: { cpu: "1", memory: "4Gi" }, limits: { memory: "4Gi" } },
    nodeSelector: {},
    tolerations: [],
    shmSize: "1Gi",
    serviceAccount: { annotations: {} },
    podAnnotations: {},
    pdb: { maxUnavailable: 1 },
    monitoring: { labels: {}, serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } },
  };
}
