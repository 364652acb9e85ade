import { execFileSync } from "child_process";
import * as fs from "fs";
import { ModelControl, ModelRepository } from "../lib";
import { helm, render } from "./peers/chart";
import { TRITON_CHART_DIR } from "../lib/constructs/chart";

// The chart is rendered by the real helm CLI (built by scripts/setup-tools.sh). Outside CI a
// missing helm skips these tests and says so in their names; in CI it is an error.
const haveHelm = fs.existsSync(helm);
if (!haveHelm && process.env.CI) throw new Error(`helm not found at ${helm}: run scripts/setup-tools.sh`);
const describeHelm = haveHelm ? describe : describe.skip;
const suffix = haveHelm ? "" : " (skipped: helm not installed, run scripts/setup-tools.sh)";

describeHelm(`the bundled chart, rendered by helm${suffix}`, () => {
  test("passes helm lint --strict", () => {
    expect(() => execFileSync(helm, ["lint", "--strict", TRITON_CHART_DIR], { encoding: "utf8" })).not.toThrow();
  });

  test("renders Deployment, Service, ServiceAccount and PDB, and no monitoring objects by default", () => {
    const objects = render();
    expect(Object.keys(objects).sort()).toEqual(["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]);
    for (const obj of Object.values(objects)) {
      expect(obj.metadata).toMatchObject({ name: "classifier-green", namespace: "serving" });
      expect(obj.metadata.labels).toMatchObject({ app: "classifier", color: "green", version: "v7" });
    }
  });

  test("runs tritonserver with the repository, control mode, strict readiness and exit timeout", () => {
    const deployment = render({
      replicas: 3,
      modelControl: ModelControl.explicit({ loadModels: ["resnet50", "bert"] }),
      drain: { exitTimeoutSeconds: 45, preStopSeconds: 15 },
      extraArgs: ["--log-verbose=1"],
    }).Deployment;
    expect(deployment.spec.replicas).toBe(3);
    // The selector never carries the version, which changes on every upgrade
    expect(deployment.spec.selector.matchLabels).toEqual({
      app: "classifier",
      color: "green",
      "app.kubernetes.io/instance": "classifier-green",
    });
    expect(deployment.spec.template.metadata.labels).toMatchObject({
      app: "classifier",
      color: "green",
      version: "v7",
    });
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toEqual(["tritonserver"]);
    expect(container.args).toEqual([
      "--model-repository=s3://models/classifier",
      "--model-control-mode=explicit",
      "--load-model=resnet50",
      "--load-model=bert",
      "--strict-readiness=true",
      "--exit-timeout-secs=45",
      "--http-port=8000",
      "--grpc-port=8001",
      "--metrics-port=8002",
      "--allow-metrics=true",
      "--metrics-config=summary_latencies=true",
      // explicit mode: the repository, trace and logging APIs need the key from the chart's Secret
      "--http-restricted-api=model-repository,trace,logging:triton-admin-key=$(TRITON_RESTRICTED_API_KEY)",
      "--grpc-restricted-protocol=model-repository,trace,logging:triton-admin-key=$(TRITON_RESTRICTED_API_KEY)",
      "--log-verbose=1",
    ]);
    expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([
      ["http", 8000],
      ["grpc", 8001],
      ["metrics", 8002],
    ]);
    // Drain: preStop pause, then Triton's exit timeout, within the grace period
    expect(container.lifecycle.preStop.exec.command).toEqual(["sleep", "15"]);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(65);
  });

  test("probes: startup budget for model loads, readiness on /v2/health/ready, liveness on /v2/health/live", () => {
    const container = render({ probes: { startupBudgetSeconds: 1200, periodSeconds: 20 } }).Deployment.spec.template
      .spec.containers[0];
    expect(container.startupProbe).toEqual({
      httpGet: { path: "/v2/health/live", port: "http" },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 60,
    });
    expect(container.readinessProbe).toEqual({
      httpGet: { path: "/v2/health/ready", port: "http" },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 3,
    });
    expect(container.livenessProbe).toEqual({
      httpGet: { path: "/v2/health/live", port: "http" },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 3,
    });
  });

  test("hardened: non-root, read-only root filesystem, no privilege escalation, all capabilities dropped", () => {
    const pod = render().Deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe("classifier-green");
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    // A read-only root needs writable /tmp and an in-memory /dev/shm
    expect(pod.volumes).toEqual([
      { name: "tmp", emptyDir: {} },
      { name: "shm", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } },
    ]);
  });

  test("GPUs: nvidia.com/gpu requests and limits, node selector and the GPU toleration", () => {
    const pod = render({ gpus: 2, nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" } }).Deployment.spec.template
      .spec;
    expect(pod.containers[0].resources).toEqual({
      requests: { cpu: "1", memory: "4Gi", "nvidia.com/gpu": "2" },
      limits: { memory: "4Gi", "nvidia.com/gpu": "2" },
    });
    expect(pod.nodeSelector).toEqual({ "nvidia.com/gpu.product": "NVIDIA-L4" });
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  });

  test("object-store credentials come from the named Secret, as env vars or (gs://) a mounted file", () => {
    const s3 = render({ modelRepository: ModelRepository.objectStore("s3://b/m", { credentialsSecret: "s3-creds" }) });
    expect(s3.Deployment.spec.template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: "s3-creds" } }]);

    const gs = render({ modelRepository: ModelRepository.objectStore("gs://b/m", { credentialsSecret: "gcs-sa" }) })
      .Deployment.spec.template.spec;
    expect(gs.containers[0].envFrom).toBeUndefined();
    expect(gs.containers[0].env).toEqual([
      { name: "GOOGLE_APPLICATION_CREDENTIALS", value: "/var/run/secrets/triton-gcs/credentials.json" },
    ]);
    expect(gs.volumes).toContainEqual({ name: "gcs-credentials", secret: { secretName: "gcs-sa" } });
  });

  test("a PersistentVolumeClaim repository is mounted read-only at /models", () => {
    const pod = render({
      modelRepository: ModelRepository.persistentVolumeClaim("model-store", { subPath: "triton" }),
    }).Deployment.spec.template.spec;
    expect(pod.containers[0].args[0]).toBe("--model-repository=/models");
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "models",
      mountPath: "/models",
      readOnly: true,
      subPath: "triton",
    });
    expect(pod.volumes).toContainEqual({
      name: "models",
      persistentVolumeClaim: { claimName: "model-store", readOnly: true },
    });
  });

  test("the color's Service selects only its pods on 8000/8001/8002; the PDB allows one disruption", () => {
    const objects = render({ maxUnavailable: 1 });
    expect(objects.Service.spec.selector).toEqual(objects.Deployment.spec.selector.matchLabels);
    expect(objects.Service.spec.ports.map((p: any) => p.port)).toEqual([8000, 8001, 8002]);
    expect(objects.PodDisruptionBudget.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: objects.Deployment.spec.selector.matchLabels },
    });
  });

  test("ServiceMonitor and PrometheusRule when enabled, with the extra labels", () => {
    const objects = render({ monitoring: { serviceMonitor: true, prometheusRule: true, labels: { release: "prom" } } });
    expect(objects.ServiceMonitor.metadata.labels).toMatchObject({ release: "prom", app: "classifier" });
    expect(objects.ServiceMonitor.spec.endpoints).toEqual([
      {
        port: "metrics",
        path: "/metrics",
        interval: "30s",
        relabelings: [{ sourceLabels: ["__meta_kubernetes_pod_label_version"], targetLabel: "release_version" }],
      },
    ]);
    const alerts = objects.PrometheusRule.spec.groups[0].rules.map((r: any) => r.alert);
    expect(alerts).toEqual(["TritonInferenceFailures", "TritonP99LatencyHigh", "TritonReplicasUnavailable"]);
    expect(objects.PrometheusRule.spec.groups[0].rules[0].expr).toContain(
      'nv_inference_request_failure{app="classifier",color="green"}',
    );
    // Every label the alerts select Triton's series by is one the ServiceMonitor attaches to them
    // (Triton exports only model and version, and `quantile` on its summaries): without
    // podTargetLabels the alert could never fire.
    const selected = objects.PrometheusRule.spec.groups[0].rules.flatMap((r: any) =>
      [...(r.expr as string).matchAll(/nv_[a-z_]+\{([^}]*)\}/g)].flatMap((m) =>
        m[1].split(",").map((kv) => kv.split("=")[0].trim()),
      ),
    );
    expect(selected.length).toBeGreaterThan(0);
    expect(
      [...new Set(selected)].filter(
        (l) => l !== "quantile" && !objects.ServiceMonitor.spec.podTargetLabels.includes(l),
      ),
    ).toEqual([]);
    for (const l of objects.ServiceMonitor.spec.podTargetLabels)
      expect(objects.Deployment.spec.template.metadata.labels[l]).toBeDefined();
  });

  test("the team's labels and annotations on every object, pod labels on pods only; pull secrets, priority, spread", () => {
    const objects = render({
      labels: { "cost-center": "ml-42", team: "fraud" },
      annotations: { "example.com/owner": "fraud@example.com" },
      podLabels: { "azure.workload.identity/use": "true" },
      serviceAccountAnnotations: { "iam.gke.io/gcp-service-account": "triton@p.iam.gserviceaccount.com" },
      imagePullSecrets: ["registry"],
      priorityClassName: "inference-high",
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
      ],
      modelControl: ModelControl.explicit({ loadModels: ["m"] }), // renders the restricted-API Secret too
      monitoring: { serviceMonitor: true, prometheusRule: true },
    });
    expect(Object.keys(objects).sort()).toEqual([
      "Deployment",
      "PodDisruptionBudget",
      "PrometheusRule",
      "Secret",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);
    for (const obj of Object.values(objects)) {
      expect(obj.metadata.labels).toMatchObject({ "cost-center": "ml-42", team: "fraud", app: "classifier" });
      expect(obj.metadata.labels["azure.workload.identity/use"]).toBeUndefined();
      expect(obj.metadata.annotations).toMatchObject({ "example.com/owner": "fraud@example.com" });
    }
    expect(objects.ServiceAccount.metadata.annotations["iam.gke.io/gcp-service-account"]).toBe(
      "triton@p.iam.gserviceaccount.com",
    );
    const pod = objects.Deployment.spec.template;
    expect(pod.metadata.labels).toMatchObject({
      "cost-center": "ml-42",
      "azure.workload.identity/use": "true",
      app: "classifier",
      color: "green",
    });
    expect(objects.Deployment.spec.selector.matchLabels).toEqual({
      app: "classifier",
      color: "green",
      "app.kubernetes.io/instance": "classifier-green",
    });
    expect(pod.spec).toMatchObject({
      imagePullSecrets: [{ name: "registry" }],
      priorityClassName: "inference-high",
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
      ],
    });
  });

  test("by default the two colors' pods keep apart (preferred anti-affinity per node); an affinity given replaces it", () => {
    const pod = render().Deployment.spec.template.spec;
    expect(pod.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: {
                matchExpressions: [
                  { key: "app", operator: "In", values: ["classifier"] },
                  { key: "color", operator: "NotIn", values: ["green"] },
                ],
              },
            },
          },
        ],
      },
    });
    const zone = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
        },
      },
    };
    expect(render({ affinity: zone }).Deployment.spec.template.spec.affinity).toEqual(zone);
    expect(render().Deployment.metadata.annotations).toBeUndefined(); // none given: none rendered
  });

  test("restricted API: explicit mode renders a Secret with a random key the pod reads; the key is in no value", () => {
    const objects = render({ modelControl: ModelControl.explicit({ loadModels: ["resnet50"] }) });
    expect(objects.Secret.metadata.name).toBe("classifier-green-restricted-api");
    expect(Buffer.from(objects.Secret.data.token, "base64").toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    const container = objects.Deployment.spec.template.spec.containers[0];
    expect(container.env).toEqual([
      {
        name: "TRITON_RESTRICTED_API_KEY",
        valueFrom: { secretKeyRef: { name: "classifier-green-restricted-api", key: "token" } },
      },
    ]);
    // a second render (another install) gets another key: it is never a constant of the chart
    expect(render({ modelControl: ModelControl.explicit({ loadModels: ["resnet50"] }) }).Secret.data.token).not.toBe(
      objects.Secret.data.token,
    );
  });

  test("restricted API: the user's Secret is read, not rendered; none and poll modes leave it off unless asked", () => {
    const objects = render({
      restrictedApi: {
        secretName: "triton-keys",
        secretKey: "admin",
        header: "x-team-key",
        apis: ["model-repository"],
      },
    });
    expect(objects.Secret).toBeUndefined();
    const container = objects.Deployment.spec.template.spec.containers[0];
    expect(container.args).toContain("--http-restricted-api=model-repository:x-team-key=$(TRITON_RESTRICTED_API_KEY)");
    expect(container.env).toEqual([
      { name: "TRITON_RESTRICTED_API_KEY", valueFrom: { secretKeyRef: { name: "triton-keys", key: "admin" } } },
    ]);
    for (const modelControl of [ModelControl.none(), ModelControl.poll()]) {
      const off = render({ modelControl });
      expect(off.Secret).toBeUndefined();
      expect(off.Deployment.spec.template.spec.containers[0].args.join(" ")).not.toContain("restricted");
    }
    expect(render({ modelControl: ModelControl.explicit(), restrictedApi: false }).Secret).toBeUndefined();
  });

  test("the chart itself refuses a bad color or control mode", () => {
    const run = (set: string) => () =>
      execFileSync(helm, ["template", "x", TRITON_CHART_DIR, "--set", set], { encoding: "utf8", stdio: "pipe" });
    expect(run("color=red")).toThrow(/color must be blue or green, not "red"/);
    expect(run("server.mode=lazy")).toThrow(/server.mode must be none, poll or explicit, not "lazy"/);
  });
});
