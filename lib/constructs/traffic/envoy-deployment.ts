// Envoy in the cluster: a ConfigMap with the rendered files, a hardened Deployment that mounts it
// (listeners and clusters hot-reload when the ConfigMap changes; a changed bootstrap rolls the pods),
// a Service, and a PodDisruptionBudget. Shared by WeightedService and FailoverPool.
import { createHash } from "crypto";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { isPinnedImage, PropValidator } from "../validation";
import { PAIR_LABEL } from "../../core/pair";
import { ENVOY_OPS_PORT, EnvoyFiles, EnvoyModel, renderEnvoy } from "./envoy-config";

export { ENVOY_OPS_PORT };
import { dependable } from "cdktf/lib/tfExpression";
import { claimName } from "../names";

export const DEFAULT_ENVOY_IMAGE = "envoyproxy/envoy:v1.40.0";

/** Where and how Envoy runs. */
export interface DataPlaneProps {
  /** Name of the Deployment, Service and ConfigMap. RFC 1123 label. @default - the construct id */
  readonly name?: string;
  /** @default "default" */
  readonly namespace?: string;
  /** @default 2 */
  readonly replicas?: number;
  /** @default DEFAULT_ENVOY_IMAGE */
  readonly image?: string;
  /** @default - cpu 250m, memory 128Mi requested; memory 512Mi limit */
  readonly resources?: { readonly cpuRequest?: string; readonly memoryRequest?: string; readonly memoryLimit?: string };
  /** @default "ClusterIP" */
  readonly serviceType?: "ClusterIP" | "NodePort" | "LoadBalancer";
  /** Your labels on every object and on the pods; the keys we set (app, app.kubernetes.io/*) are refused. @default {} */
  readonly labels?: Record<string, string>;
  /** Your annotations on every object (not the pods). @default {} */
  readonly annotations?: Record<string, string>;
  /** Labels on the pods only. @default {} */
  readonly podLabels?: Record<string, string>;
}

const ENVOY_LABEL_KEYS = ["app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", PAIR_LABEL];

export function validateDataPlane(props: DataPlaneProps, name: string, v: PropValidator): void {
  v.dnsLabel("name", name, 63);
  v.dnsLabel("namespace", props.namespace);
  v.integer("replicas", props.replicas, 1, 100);
  if (props.image !== undefined) v.check("image", props.image, isPinnedImage(props.image), "an image reference with an explicit tag or digest");
  v.quantity("resources.cpuRequest", props.resources?.cpuRequest);
  v.quantity("resources.memoryRequest", props.resources?.memoryRequest);
  v.quantity("resources.memoryLimit", props.resources?.memoryLimit);
  v.oneOf("serviceType", props.serviceType, ["ClusterIP", "NodePort", "LoadBalancer"]);
  v.userLabels("labels", props.labels, ENVOY_LABEL_KEYS);
  v.userLabels("podLabels", props.podLabels, ENVOY_LABEL_KEYS);
  v.stringMap("annotations", props.annotations, "annotation");
}

/**
 * The body of WeightedService and FailoverPool: validate where Envoy runs, build the model (which
 * validates the routing props and throws once for both), and deploy it.
 */
export function deployEnvoy(scope: Construct, props: DataPlaneProps, id: string, build: (name: string, v: PropValidator) => EnvoyModel, ownLabels: Record<string, string> = {}) {
  const name = props.name ?? id;
  const v = new PropValidator(scope.node.path);
  validateDataPlane(props, name, v);
  for (const kind of ["ConfigMap", "Deployment", "Service"]) claimName(scope, v, "name", name, `${kind} ${props.namespace ?? "default"}/${name}`);
  const model = build(name, v);
  return { model, envoy: new EnvoyDeployment(scope, "envoy", name, model, { ...props, labels: { ...props.labels, ...ownLabels } }) };
}

export class EnvoyDeployment extends Construct {
  public readonly files: EnvoyFiles;
  public readonly configMap: ConfigMapV1;
  public readonly deployment: DeploymentV1;
  public readonly service: ServiceV1;
  public readonly podDisruptionBudget: PodDisruptionBudgetV1;

  constructor(scope: Construct, id: string, name: string, model: EnvoyModel, props: DataPlaneProps) {
    super(scope, id);
    const namespace = props.namespace ?? "default";
    const labels = { ...props.labels, app: name, "app.kubernetes.io/name": "envoy", "app.kubernetes.io/instance": name, "app.kubernetes.io/managed-by": "cdktf-triton" };
    const annotations = props.annotations && Object.keys(props.annotations).length ? props.annotations : undefined;
    const selector = { app: name, "app.kubernetes.io/instance": name };
    this.files = renderEnvoy(model, { configDir: "/etc/envoy", opsPort: ENVOY_OPS_PORT });
    this.configMap = new ConfigMapV1(this, "config", { metadata: { name, namespace, labels, annotations }, data: { ...this.files } });
    const ports = model.listeners.map((l) => ({ name: l.name.endsWith("-grpc") ? "grpc" : "http", port: l.port }));
    // Readiness walks every data listener (see opsResources in envoy-config); liveness is the process alone.
    const probe = { periodSeconds: 5, timeoutSeconds: 2 };
    const readinessProbe = { ...probe, httpGet: { path: "/ready", port: String(ENVOY_OPS_PORT) }, failureThreshold: 3 };
    const livenessProbe = { ...probe, httpGet: { path: "/live", port: String(ENVOY_OPS_PORT) }, failureThreshold: 6 };
    this.deployment = new DeploymentV1(this, "deployment", {
      metadata: { name, namespace, labels, annotations },
      waitForRollout: true,
      spec: {
        replicas: String(props.replicas ?? 2),
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "1", maxUnavailable: "0" } },
        template: {
          metadata: {
            labels: { ...props.podLabels, ...labels },
            annotations: {
              // Listeners and clusters reload from the mounted files; only a new bootstrap restarts pods.
              "cdktf-triton/bootstrap": createHash("sha256").update(this.files["envoy.yaml"]).digest("hex").slice(0, 16),
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(ENVOY_OPS_PORT),
              "prometheus.io/path": "/stats/prometheus",
            },
          },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 30,
            securityContext: { runAsNonRoot: true, runAsUser: "101", runAsGroup: "101", seccompProfile: { type: "RuntimeDefault" } },
            container: [
              {
                name: "envoy",
                image: props.image ?? DEFAULT_ENVOY_IMAGE,
                args: ["-c", "/etc/envoy/envoy.yaml", "--log-level", "info", "--drain-time-s", "10", "--disable-hot-restart"],
                port: [...ports.map((p) => ({ name: p.name, containerPort: p.port })), { name: "ops", containerPort: ENVOY_OPS_PORT }],
                readinessProbe,
                livenessProbe,
                lifecycle: { preStop: [{ exec: { command: ["sleep", "5"] } }] },
                resources: {
                  requests: { cpu: props.resources?.cpuRequest ?? "250m", memory: props.resources?.memoryRequest ?? "128Mi" },
                  limits: { memory: props.resources?.memoryLimit ?? "512Mi" },
                },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ["ALL"] } },
                volumeMount: [
                  { name: "config", mountPath: "/etc/envoy", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volume: [
              { name: "config", configMap: { name } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    });
    // A real depends_on: cdktf drops construct-level node.addDependency.
    this.deployment.dependsOn = [dependable(this.configMap)];
    this.service = new ServiceV1(this, "service", {
      metadata: { name, namespace, labels, annotations },
      spec: {
        type: props.serviceType ?? "ClusterIP",
        selector,
        port: [
          ...ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: "TCP", ...(p.name === "grpc" ? { appProtocol: "kubernetes.io/h2c" } : {}) })),
          { name: "metrics", port: ENVOY_OPS_PORT, targetPort: "ops", protocol: "TCP" },
        ],
      },
    });
    this.podDisruptionBudget = new PodDisruptionBudgetV1(this, "pdb", {
      metadata: { name, namespace, labels, annotations },
      spec: { maxUnavailable: "1", selector: { matchLabels: selector } },
    });
  }
}
