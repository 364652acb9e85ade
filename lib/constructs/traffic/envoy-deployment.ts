// Envoy in the cluster: a ConfigMap with the rendered files, a hardened Deployment that mounts it
// (listeners and clusters hot-reload when the ConfigMap changes; a changed bootstrap rolls the pods),
// a Service, and a PodDisruptionBudget. Shared by WeightedService and FailoverPool.
import { contentHash } from "../../core/names";
import { isIP } from "net";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DeploymentV1 } from "@cdktf/provider-kubernetes/lib/deployment-v1";
import { PodDisruptionBudgetV1 } from "@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { isPinnedImage, PropValidator } from "../validation";
import { providerAffinity, providerTopologySpread, Toleration, validatePodScheduling } from "../pod-scheduling";
import { PAIR_LABEL } from "../../core/pair";
import { ENVOY_OPS_PORT, EnvoyFiles, EnvoyModel } from "./envoy-model";
import { renderEnvoy } from "./envoy-config";

export { ENVOY_OPS_PORT };
import { dependable } from "cdktf/lib/tfExpression";
import { claimName } from "../names";
import { SERVICE_TYPES, ServiceType } from "../../core/closed-sets";

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
  /** @default - cpu 250m, memory 128Mi requested; memory 512Mi limit; no CPU limit */
  readonly resources?: EnvoyResources;
  /** @default "ClusterIP" */
  readonly serviceType?: ServiceType;
  /** Client CIDRs a LoadBalancer Service admits (`serviceType: "LoadBalancer"` only). @default - every source */
  readonly loadBalancerSourceRanges?: readonly string[];
  /** Secrets to pull the image with, from a private registry. @default [] */
  readonly imagePullSecrets?: readonly string[];
  /** @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** @default [] */
  readonly tolerations?: readonly Toleration[];
  /** The pods' affinity, as in a pod spec (camelCase fields). @default - none */
  readonly affinity?: Record<string, unknown>;
  /**
   * The pods' `topologySpreadConstraints`, as in a pod spec. `[]` for none.
   * @default - the replicas spread across nodes: maxSkew 1 on kubernetes.io/hostname, ScheduleAnyway
   */
  readonly topologySpreadConstraints?: readonly Record<string, unknown>[];
  /** The pods' PriorityClass (a data plane usually outranks the workloads behind it). @default - none */
  readonly priorityClassName?: string;
  /** The PodDisruptionBudget; `false` for none. @default { maxUnavailable: 1 } */
  readonly podDisruptionBudget?: EnvoyDisruptionBudget | false;
  /** Inbound TLS on the HTTP and gRPC listeners. @default - plain text */
  readonly tls?: EnvoyTlsProps;
  /** Your labels on every object and on the pods; the keys we set (app, app.kubernetes.io/*) are refused. @default {} */
  readonly labels?: Record<string, string>;
  /** Your annotations on every object (not the pods). @default {} */
  readonly annotations?: Record<string, string>;
  /** Labels on the pods only. @default {} */
  readonly podLabels?: Record<string, string>;
}

export interface EnvoyResources {
  /** @default "250m" */
  readonly cpuRequest?: string;
  /** @default - no CPU limit (a throttled proxy adds latency to every request) */
  readonly cpuLimit?: string;
  /** @default "128Mi" */
  readonly memoryRequest?: string;
  /** @default "512Mi" */
  readonly memoryLimit?: string;
}

/** One of the two: a count or a percentage ("25%"). */
export interface EnvoyDisruptionBudget {
  /** @default - 1 when minAvailable is not set */
  readonly maxUnavailable?: number | string;
  /** @default - none */
  readonly minAvailable?: number | string;
}

/**
 * Inbound TLS from Secrets in Envoy's namespace, mounted into its pods. Envoy watches the mounted
 * files: a new certificate in the Secret is served once the kubelet has refreshed the mount (its
 * sync loop, about a minute), without a restart.
 */
export interface EnvoyTlsProps {
  /** A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`) with the server certificate. */
  readonly secretName: string;
  /**
   * A Secret whose `ca.crt` signs the certificates clients must present (mutual TLS); it may be
   * `secretName` itself when that Secret holds a `ca.crt`.
   * @default - no client certificate asked
   */
  readonly clientCaSecretName?: string;
}

/** Where the pods mount the TLS Secrets. */
export const ENVOY_TLS_DIRS = {
  certificate: "/etc/envoy-tls/certificate",
  clientCa: "/etc/envoy-tls/client-ca",
} as const;

const ENVOY_LABEL_KEYS = [
  "app",
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/managed-by",
  PAIR_LABEL,
];

export function validateDataPlane(props: DataPlaneProps, name: string, v: PropValidator): void {
  v.dnsLabel("name", name, 63);
  v.dnsLabel("namespace", props.namespace);
  v.integer("replicas", props.replicas, 1, 100);
  if (props.image !== undefined)
    v.check("image", props.image, isPinnedImage(props.image), "an image reference with an explicit tag or digest");
  v.resources(props.resources, { cpuRequest: "250m", memoryRequest: "128Mi", memoryLimit: "512Mi" });
  v.oneOf("serviceType", props.serviceType, SERVICE_TYPES);
  const ranges = props.loadBalancerSourceRanges;
  if (ranges !== undefined) {
    v.check(
      "loadBalancerSourceRanges",
      ranges,
      props.serviceType === "LoadBalancer",
      `no source ranges with serviceType "${props.serviceType ?? "ClusterIP"}": only a LoadBalancer Service filters by source`,
    );
    if (!Array.isArray(ranges))
      v.check("loadBalancerSourceRanges", ranges, false, 'a list of CIDRs such as "10.0.0.0/8"');
    else
      ranges.forEach((r, i) =>
        v.check(`loadBalancerSourceRanges[${i}]`, r, isCidr(r), 'a CIDR such as "10.0.0.0/8" or "2001:db8::/32"'),
      );
  }
  validatePodScheduling(props, v);
  validateDisruptionBudget(props.podDisruptionBudget, props.replicas ?? 2, v);
  if (props.tls !== undefined) {
    if (typeof props.tls !== "object" || props.tls === null)
      v.check("tls", props.tls, false, "an object with secretName and optionally clientCaSecretName");
    else {
      v.check(
        "tls.secretName",
        props.tls.secretName,
        props.tls.secretName !== undefined,
        "the name of a kubernetes.io/tls Secret in Envoy's namespace",
      );
      v.dnsSubdomain("tls.secretName", props.tls.secretName);
      v.dnsSubdomain("tls.clientCaSecretName", props.tls.clientCaSecretName);
    }
  }
  v.userLabels("labels", props.labels, ENVOY_LABEL_KEYS);
  v.userLabels("podLabels", props.podLabels, ENVOY_LABEL_KEYS);
  v.stringMap("annotations", props.annotations, "annotation");
}

function validateDisruptionBudget(
  pdb: EnvoyDisruptionBudget | false | undefined,
  replicas: number,
  v: PropValidator,
): void {
  if (pdb === undefined || pdb === false) return;
  if (typeof pdb !== "object" || pdb === null) {
    v.check("podDisruptionBudget", pdb, false, "false, or an object with maxUnavailable or minAvailable");
    return;
  }
  const set = (["maxUnavailable", "minAvailable"] as const).filter((k) => pdb[k] !== undefined);
  v.check(
    "podDisruptionBudget",
    JSON.stringify(pdb),
    set.length === 1,
    "exactly one of maxUnavailable and minAvailable",
  );
  for (const k of set) {
    const x = pdb[k]!;
    const ok =
      (typeof x === "number" && Number.isInteger(x) && x >= 0) ||
      (typeof x === "string" && /^(100|[1-9]?[0-9])%$/.test(x));
    v.check(`podDisruptionBudget.${k}`, x, ok, 'a whole number of pods or a percentage such as "25%"');
  }
  // A budget no eviction can meet blocks every node drain for good.
  const blocks =
    pdb.maxUnavailable === 0 ||
    pdb.maxUnavailable === "0%" ||
    pdb.minAvailable === "100%" ||
    (typeof pdb.minAvailable === "number" && Number.isInteger(replicas) && pdb.minAvailable >= replicas);
  const k = pdb.maxUnavailable !== undefined ? "maxUnavailable" : "minAvailable";
  v.check(
    `podDisruptionBudget.${k}`,
    pdb[k],
    !blocks,
    `a budget that lets one of the ${replicas} replicas go: otherwise no node holding an Envoy pod can be drained`,
  );
}

function isCidr(r: unknown): boolean {
  if (typeof r !== "string") return false;
  const [ip, bits, ...rest] = r.split("/");
  const family = isIP(ip);
  return rest.length === 0 && family !== 0 && /^\d{1,3}$/.test(bits ?? "") && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * The body of WeightedService and FailoverPool: validate where Envoy runs, build the model (which
 * validates the routing props and throws once for both), and deploy it.
 */
export function deployEnvoy(
  scope: Construct,
  props: DataPlaneProps,
  id: string,
  build: (name: string, v: PropValidator) => EnvoyModel,
  ownLabels: Record<string, string> = {},
) {
  const name = props.name ?? id;
  const v = new PropValidator(scope.node.path);
  validateDataPlane(props, name, v);
  for (const kind of ["ConfigMap", "Deployment", "Service"])
    claimName(scope, v, "name", name, `${kind} ${props.namespace ?? "default"}/${name}`);
  const model = build(name, v);
  return {
    model,
    envoy: new EnvoyDeployment(scope, "envoy", name, model, { ...props, labels: { ...props.labels, ...ownLabels } }),
  };
}

export class EnvoyDeployment extends Construct {
  private rendered: EnvoyFiles;
  private readonly renderOptions: Parameters<typeof renderEnvoy>[1];
  public readonly configMap: ConfigMapV1;
  public readonly deployment: DeploymentV1;
  public readonly service: ServiceV1;
  /** Absent with `podDisruptionBudget: false`. */
  public readonly podDisruptionBudget?: PodDisruptionBudgetV1;

  /** The rendered files, as the ConfigMap holds them. */
  public get files(): EnvoyFiles {
    return this.rendered;
  }

  /**
   * Renders the ConfigMap again from a changed model (routes added after construction, e.g. a
   * model's pinned versions). Listeners and routes reload in the pods; the bootstrap must not change.
   */
  public rerender(model: EnvoyModel): void {
    const files = renderEnvoy(model, this.renderOptions);
    if (files["envoy.yaml"] !== this.rendered["envoy.yaml"])
      throw new Error(`${this.node.path}: a re-render would change Envoy's bootstrap, which only a new pod reads`);
    this.rendered = files;
    this.configMap.data = { ...files };
  }

  constructor(scope: Construct, id: string, name: string, model: EnvoyModel, props: DataPlaneProps) {
    super(scope, id);
    const namespace = props.namespace ?? "default";
    const labels = {
      ...props.labels,
      app: name,
      "app.kubernetes.io/name": "envoy",
      "app.kubernetes.io/instance": name,
      "app.kubernetes.io/managed-by": "cdktf-triton",
    };
    const annotations = props.annotations && Object.keys(props.annotations).length ? props.annotations : undefined;
    const selector = { app: name, "app.kubernetes.io/instance": name };
    const tls = props.tls;
    this.renderOptions = {
      configDir: "/etc/envoy",
      opsPort: ENVOY_OPS_PORT,
      tls: tls
        ? {
            certificateDir: ENVOY_TLS_DIRS.certificate,
            clientCaDir: tls.clientCaSecretName ? ENVOY_TLS_DIRS.clientCa : undefined,
          }
        : undefined,
    };
    this.rendered = renderEnvoy(model, this.renderOptions);
    const tlsVolumes = tls ? envoyTlsVolumes(tls) : [];
    this.configMap = new ConfigMapV1(this, "config", {
      metadata: { name, namespace, labels, annotations },
      data: { ...this.files },
    });
    const ports = model.listeners.map((l) => ({ name: l.name.endsWith("-grpc") ? "grpc" : "http", port: l.port }));
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
              "cdktf-triton/bootstrap": contentHash(this.files["envoy.yaml"]),
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(ENVOY_OPS_PORT),
              "prometheus.io/path": "/stats/prometheus",
            },
          },
          spec: {
            ...podPlacement(props, selector),
            container: [envoyContainer(props, ports, tls)],
            volume: [{ name: "config", configMap: { name } }, { name: "tmp", emptyDir: {} }, ...tlsVolumes],
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
        loadBalancerSourceRanges: props.loadBalancerSourceRanges?.length
          ? [...props.loadBalancerSourceRanges]
          : undefined,
        selector,
        port: [
          // gRPC in plain text is HTTP/2 with prior knowledge (h2c); over TLS, ALPN says h2.
          ...ports.map((p) => ({
            name: p.name,
            port: p.port,
            targetPort: p.name,
            protocol: "TCP",
            ...(p.name === "grpc" && !tls ? { appProtocol: "kubernetes.io/h2c" } : {}),
          })),
          { name: "metrics", port: ENVOY_OPS_PORT, targetPort: "ops", protocol: "TCP" },
        ],
      },
    });
    this.podDisruptionBudget = envoyPdb(
      this,
      props.podDisruptionBudget,
      { name, namespace, labels, annotations },
      selector,
    );
  }
}

/** The listeners' certificate (and the client CA, when clients must present one), mounted from their Secrets. */
function envoyTlsVolumes(tls: NonNullable<DataPlaneProps["tls"]>) {
  return [
    {
      name: "tls-certificate",
      secret: {
        secretName: tls.secretName,
        items: [
          { key: "tls.crt", path: "tls.crt" },
          { key: "tls.key", path: "tls.key" },
        ],
      },
    },
    ...(tls.clientCaSecretName
      ? [
          {
            name: "tls-client-ca",
            secret: { secretName: tls.clientCaSecretName, items: [{ key: "ca.crt", path: "ca.crt" }] },
          },
        ]
      : []),
  ];
}

/** The Envoy pods' security context and placement: non-root, their nodes, tolerations, affinity and spread. */
function podPlacement(props: DataPlaneProps, selector: Record<string, string>) {
  const spread = props.topologySpreadConstraints ?? [
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: selector },
    },
  ];
  return {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 30,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: "101",
      runAsGroup: "101",
      seccompProfile: { type: "RuntimeDefault" },
    },
    imagePullSecrets: props.imagePullSecrets?.length ? props.imagePullSecrets.map((name) => ({ name })) : undefined,
    nodeSelector: props.nodeSelector && Object.keys(props.nodeSelector).length ? props.nodeSelector : undefined,
    toleration: props.tolerations?.length
      ? props.tolerations.map((t) => ({
          ...t,
          tolerationSeconds: t.tolerationSeconds === undefined ? undefined : String(t.tolerationSeconds),
        }))
      : undefined,
    affinity: props.affinity ? providerAffinity(props.affinity) : undefined,
    topologySpreadConstraint: spread.length ? providerTopologySpread(spread) : undefined,
    priorityClassName: props.priorityClassName,
  };
}

/** The Envoy pods' disruption budget (one pod at a time by default), unless switched off. */
function envoyPdb(
  scope: Construct,
  pdb: DataPlaneProps["podDisruptionBudget"],
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> },
  selector: Record<string, string>,
): PodDisruptionBudgetV1 | undefined {
  if (pdb === false) return undefined;
  const budget =
    pdb?.minAvailable !== undefined
      ? { minAvailable: String(pdb.minAvailable) }
      : { maxUnavailable: String(pdb?.maxUnavailable ?? 1) };
  return new PodDisruptionBudgetV1(scope, "pdb", {
    metadata,
    spec: { ...budget, selector: { matchLabels: selector } },
  });
}

/** Envoy's container: the config and TLS mounts, the ops port's probes, non-root and read-only. */
function envoyContainer(
  props: DataPlaneProps,
  ports: readonly { readonly name: string; readonly port: number }[],
  tls: DataPlaneProps["tls"],
) {
  // Readiness walks every data listener (see opsResources in envoy-config); liveness is the process alone.
  const probe = { periodSeconds: 5, timeoutSeconds: 2 };
  const readinessProbe = { ...probe, httpGet: { path: "/ready", port: String(ENVOY_OPS_PORT) }, failureThreshold: 3 };
  const livenessProbe = { ...probe, httpGet: { path: "/live", port: String(ENVOY_OPS_PORT) }, failureThreshold: 6 };
  return {
    name: "envoy",
    image: props.image ?? DEFAULT_ENVOY_IMAGE,
    args: ["-c", "/etc/envoy/envoy.yaml", "--log-level", "info", "--drain-time-s", "10", "--disable-hot-restart"],
    port: [
      ...ports.map((p) => ({ name: p.name, containerPort: p.port })),
      { name: "ops", containerPort: ENVOY_OPS_PORT },
    ],
    readinessProbe,
    livenessProbe,
    lifecycle: { preStop: [{ exec: { command: ["sleep", "5"] } }] },
    resources: {
      requests: { cpu: props.resources?.cpuRequest ?? "250m", memory: props.resources?.memoryRequest ?? "128Mi" },
      limits: {
        ...(props.resources?.cpuLimit ? { cpu: props.resources.cpuLimit } : {}),
        memory: props.resources?.memoryLimit ?? "512Mi",
      },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    },
    volumeMount: [
      { name: "config", mountPath: "/etc/envoy", readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
      ...(tls ? [{ name: "tls-certificate", mountPath: ENVOY_TLS_DIRS.certificate, readOnly: true }] : []),
      ...(tls?.clientCaSecretName
        ? [{ name: "tls-client-ca", mountPath: ENVOY_TLS_DIRS.clientCa, readOnly: true }]
        : []),
    ],
  };
}
