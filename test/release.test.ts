import "cdktf/lib/testing/adapters/jest";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Testing } from "cdktf";
import { DEFAULT_TRITON_IMAGE, ModelControl, ModelRepository, TritonRelease } from "../lib";
import { newStack, releaseByName, resourcesOf, s3Models, synthJson, valuesOf } from "./helpers";

describe("TritonRelease", () => {
  test("declares one helm_release of the bundled chart with documented defaults", () => {
    // Given a release with only the required props
    const { stack } = newStack();
    new TritonRelease(stack, "classifier-blue", {
      appName: "classifier",
      color: "blue",
      version: "v1",
      modelRepository: s3Models,
    });

    // When synthesized
    const synthesized = Testing.synth(stack);

    // Then one helm_release, named <app>-<color>, waits for readiness and rolls back on failure
    expect(synthesized).toHaveResourceWithProperties(Release, {
      name: "classifier-blue",
      namespace: "default",
      wait: true,
      atomic: true,
      cleanup_on_fail: true,
      timeout: 1200,
      set: [{ name: "replicas", value: "1", type: "auto" }],
    });
    const release = releaseByName(JSON.parse(synthesized), "classifier-blue");
    expect(release.chart).toMatch(/^assets\/cdktf-triton-chart\/[0-9A-F]+$/);

    const values = valuesOf(release);
    expect(values).toMatchObject({
      app: "classifier",
      color: "blue",
      version: "v1",
      image: DEFAULT_TRITON_IMAGE,
      modelRepository: { uri: "s3://models/classifier", credentialsSecret: "", pvc: { claimName: "" } },
      server: { mode: "none", strictReadiness: true, exitTimeoutSeconds: 30, extraArgs: [] },
      ports: { http: 8000, grpc: 8001, metrics: 8002 },
      // 900 s startup budget at a 10 s period
      probes: { startup: { periodSeconds: 10, failureThreshold: 90 }, readiness: { failureThreshold: 3 } },
      // preStop 10 + exit timeout 30 + 5 s margin
      drain: { preStopSeconds: 10, terminationGracePeriodSeconds: 45 },
      resources: { requests: { cpu: "1", memory: "4Gi" }, limits: { memory: "4Gi" } },
      tolerations: [],
      pdb: { maxUnavailable: 1 },
      monitoring: { serviceMonitor: { enabled: false }, prometheusRule: { enabled: false } },
    });
    expect(values.resources.limits.cpu).toBeUndefined();
  });

  test("renders GPUs, node selection, probes, drain and model control into chart values", () => {
    const { stack } = newStack();
    new TritonRelease(stack, "r", {
      appName: "llm",
      color: "green",
      version: "2026-11-15",
      namespace: "serving",
      image: "registry.example.com:5000/triton/server@sha256:" + "a".repeat(64),
      replicas: 4,
      modelRepository: ModelRepository.objectStore("gs://bucket/repo", {
        credentialsSecret: "gcs-sa",
        credentialsKey: "key.json",
      }),
      modelControl: ModelControl.poll({ intervalSeconds: 15 }),
      strictReadiness: false,
      gpus: 2,
      resources: { cpuRequest: "8", cpuLimit: "16", memoryRequest: "32Gi", memoryLimit: "48Gi" },
      nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-H100" },
      probes: { startupBudgetSeconds: 1800, periodSeconds: 15, timeoutSeconds: 10, failureThreshold: 5 },
      drain: { preStopSeconds: 20, exitTimeoutSeconds: 60 },
      maxUnavailable: 2,
      shmSize: "8Gi",
      serviceAccountAnnotations: { "iam.gke.io/gcp-service-account": "triton@p.iam.gserviceaccount.com" },
      monitoring: { serviceMonitor: true, prometheusRule: true, labels: { release: "kube-prometheus" } },
      extraArgs: ["--log-verbose=1"],
    });
    const release = releaseByName(synthJson(stack), "llm-green");
    expect(release.namespace).toBe("serving");
    expect(release.timeout).toBe(2100);
    expect(release.set).toEqual([{ name: "replicas", value: "4", type: "auto" }]);
    expect(valuesOf(release)).toMatchObject({
      modelRepository: { uri: "gs://bucket/repo", credentialsSecret: "gcs-sa", credentialsKey: "key.json" },
      server: {
        mode: "poll",
        repositoryPollSeconds: 15,
        strictReadiness: false,
        exitTimeoutSeconds: 60,
        extraArgs: ["--log-verbose=1"],
      },
      probes: {
        startup: { periodSeconds: 15, timeoutSeconds: 10, failureThreshold: 120 },
        liveness: { periodSeconds: 15, timeoutSeconds: 10, failureThreshold: 5 },
      },
      drain: { preStopSeconds: 20, terminationGracePeriodSeconds: 85 },
      resources: {
        requests: { cpu: "8", memory: "32Gi", "nvidia.com/gpu": "2" },
        limits: { cpu: "16", memory: "48Gi", "nvidia.com/gpu": "2" },
      },
      nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-H100" },
      // gpus > 0 and no tolerations given: tolerate the GPU taint
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      shmSize: "8Gi",
      pdb: { maxUnavailable: 2 },
      monitoring: {
        labels: { release: "kube-prometheus" },
        serviceMonitor: { enabled: true },
        prometheusRule: { enabled: true },
      },
    });
  });

  test("mounts a PersistentVolumeClaim model repository and loads explicit models", () => {
    const { stack } = newStack();
    new TritonRelease(stack, "r", {
      appName: "det",
      color: "blue",
      version: "v3",
      modelRepository: ModelRepository.persistentVolumeClaim("model-store", { subPath: "triton/repo" }),
      modelControl: ModelControl.explicit({ loadModels: ["yolo", "ensemble_det"] }),
    });
    const values = valuesOf(releaseByName(synthJson(stack), "det-blue"));
    expect(values.modelRepository).toEqual({
      uri: "/models",
      credentialsSecret: "",
      credentialsKey: "",
      pvc: { claimName: "model-store", subPath: "triton/repo" },
    });
    expect(values.server).toMatchObject({ mode: "explicit", loadModels: ["yolo", "ensemble_det"] });
  });

  test("ships one chart asset per stack however many releases use it", () => {
    const { stack } = newStack();
    for (const color of ["blue", "green"] as const) {
      for (const app of ["a", "b", "c"]) {
        new TritonRelease(stack, `${app}-${color}`, { appName: app, color, version: "v1", modelRepository: s3Models });
      }
    }
    const charts = new Set(resourcesOf(synthJson(stack), "helm_release").map((r) => r.chart));
    expect(charts.size).toBe(1);
  });

  test("keeps credentials out of the synthesized JSON: only the Secret's name is there", () => {
    const { stack } = newStack();
    new TritonRelease(stack, "r", {
      appName: "a",
      color: "blue",
      version: "v1",
      modelRepository: ModelRepository.objectStore("s3://bucket/models", { credentialsSecret: "s3-creds" }),
    });
    const text = Testing.synth(stack);
    expect(text).toContain("s3-creds");
    expect(text).not.toMatch(/AWS_SECRET_ACCESS_KEY|password|secret_key/i);
  });
});
