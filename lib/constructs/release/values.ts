import { ModelControl, ModelControlValues } from "./model-control";
import { ModelRepositoryValues } from "./model-repository";
import {
  AutoscalingOptions,
  Color,
  DEFAULT_TRITON_IMAGE,
  RestrictedApiName,
  Toleration,
  TritonReleaseProps,
} from "./props";

/** Flags the chart sets itself; `extraArgs` may not override them. */
export const MANAGED_FLAGS = [
  "--model-repository",
  "--model-store",
  "--model-control-mode",
  "--repository-poll-secs",
  "--load-model",
  "--strict-readiness",
  "--exit-timeout-secs",
  "--http-port",
  "--grpc-port",
  "--metrics-port",
  "--allow-http",
  "--allow-grpc",
  "--allow-metrics",
  "--http-restricted-api",
  "--grpc-restricted-protocol",
];

/** What {@link RestrictedApiOptions} default to. */
export const RESTRICTED_API_DEFAULTS = {
  apis: ["model-repository", "trace", "logging"] as readonly RestrictedApiName[],
  header: "triton-admin-key",
  secretKey: "token",
};

/** Triton's ports, fixed so every release, Service and probe agrees. */
export const TRITON_PORTS = { http: 8000, grpc: 8001, metrics: 8002 } as const;

/** The values our chart takes (charts/triton/values.yaml documents each). */
export interface TritonChartValues {
  readonly app: string;
  readonly color: Color;
  readonly version: string;
  readonly image: string;
  readonly modelRepository: ModelRepositoryValues;
  readonly server: ModelControlValues & {
    readonly strictReadiness: boolean;
    readonly exitTimeoutSeconds: number;
    readonly extraArgs: readonly string[];
  };
  readonly restrictedApi: {
    readonly enabled: boolean;
    readonly apis: readonly RestrictedApiName[];
    readonly header: string;
    /** Empty: the chart creates `<release>-restricted-api`. */
    readonly secretName: string;
    readonly secretKey: string;
  };
  readonly ports: typeof TRITON_PORTS;
  /**
   * Models whose versions a ConfigMap pins (TritonModelCanary); absent when none, so other releases' values do not change.
   * @default - none
   */
  readonly pinnedVersions?: readonly PinnedVersions[];
  readonly probes: {
    readonly startup: ProbeValues;
    readonly readiness: ProbeValues;
    readonly liveness: ProbeValues;
  };
  readonly drain: { readonly preStopSeconds: number; readonly terminationGracePeriodSeconds: number };
  readonly resources: {
    readonly requests: Record<string, string>;
    readonly limits: Record<string, string>;
  };
  readonly nodeSelector: Record<string, string>;
  readonly tolerations: readonly Toleration[];
  readonly shmSize: string;
  readonly serviceAccount: { readonly annotations: Record<string, string> };
  readonly podAnnotations: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly podLabels: Record<string, string>;
  readonly imagePullSecrets: readonly { readonly name: string }[];
  readonly affinity: Record<string, unknown>;
  readonly topologySpreadConstraints: readonly Record<string, unknown>[];
  readonly priorityClassName: string;
  readonly pdb: { readonly maxUnavailable: number };
  readonly monitoring: {
    readonly labels: Record<string, string>;
    readonly serviceMonitor: { readonly enabled: boolean };
    readonly prometheusRule: {
      readonly enabled: boolean;
      readonly failureRatio: number;
      readonly p99LatencyMs: number;
    };
  };
  readonly autoscaling: {
    readonly enabled: boolean;
    readonly maxReplicas: number;
    readonly metricName: string;
    readonly targetQueueTimeUs: number;
  };
}

interface ProbeValues {
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

/** Props with every default applied, as {@link TritonRelease} exposes them. */
export type ResolvedReleaseProps = Required<
  Omit<
    TritonReleaseProps,
    "resources" | "probes" | "drain" | "monitoring" | "replicas" | "restrictedApi" | "autoscaling"
  >
> & {
  /** False when off; otherwise every field resolved ("" secretName: the chart's own Secret). */
  readonly restrictedApi: false | Required<Exclude<TritonReleaseProps["restrictedApi"], false | undefined>>;
  readonly replicas: number;
  readonly resources: Required<Omit<TritonReleaseProps["resources"] & {}, "cpuLimit">> & { readonly cpuLimit?: string };
  readonly probes: Required<TritonReleaseProps["probes"] & {}>;
  readonly drain: Required<TritonReleaseProps["drain"] & {}>;
  readonly monitoring: Required<TritonReleaseProps["monitoring"] & {}>;
  /** False when off. */
  readonly autoscaling: false | Required<AutoscalingOptions>;
};

/** Applies every documented default once. */
export function resolveReleaseProps(props: TritonReleaseProps): ResolvedReleaseProps {
  const gpus = props.gpus ?? 0;
  const probes = {
    startupBudgetSeconds: props.probes?.startupBudgetSeconds ?? 900,
    periodSeconds: props.probes?.periodSeconds ?? 10,
    timeoutSeconds: props.probes?.timeoutSeconds ?? 5,
    failureThreshold: props.probes?.failureThreshold ?? 3,
  };
  const memoryRequest = props.resources?.memoryRequest ?? "4Gi";
  const modelControl = props.modelControl ?? ModelControl.none();
  const restricted = props.restrictedApi ?? (modelControl.mode === "explicit" ? {} : false);
  return {
    ...props,
    restrictedApi:
      restricted === false
        ? false
        : {
            apis: restricted.apis ?? RESTRICTED_API_DEFAULTS.apis,
            header: restricted.header ?? RESTRICTED_API_DEFAULTS.header,
            secretName: restricted.secretName ?? "",
            secretKey: restricted.secretKey ?? RESTRICTED_API_DEFAULTS.secretKey,
          },
    namespace: props.namespace ?? "default",
    releaseName: props.releaseName ?? `${props.appName}-${props.color}`,
    image: props.image ?? DEFAULT_TRITON_IMAGE,
    replicas: props.replicas ?? 1,
    modelControl,
    strictReadiness: props.strictReadiness ?? true,
    gpus,
    resources: {
      cpuRequest: props.resources?.cpuRequest ?? "1",
      cpuLimit: props.resources?.cpuLimit,
      memoryRequest,
      memoryLimit: props.resources?.memoryLimit ?? memoryRequest,
    },
    nodeSelector: props.nodeSelector ?? {},
    tolerations:
      props.tolerations ?? (gpus > 0 ? [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] : []),
    probes,
    drain: {
      preStopSeconds: props.drain?.preStopSeconds ?? 10,
      exitTimeoutSeconds: props.drain?.exitTimeoutSeconds ?? 30,
    },
    maxUnavailable: props.maxUnavailable ?? 1,
    shmSize: props.shmSize ?? "1Gi",
    serviceAccountAnnotations: props.serviceAccountAnnotations ?? {},
    podAnnotations: props.podAnnotations ?? {},
    labels: props.labels ?? {},
    annotations: props.annotations ?? {},
    podLabels: props.podLabels ?? {},
    imagePullSecrets: props.imagePullSecrets ?? [],
    affinity: props.affinity ?? colorAntiAffinity(props.appName, props.color),
    topologySpreadConstraints: props.topologySpreadConstraints ?? [],
    priorityClassName: props.priorityClassName ?? "",
    monitoring: {
      serviceMonitor: props.monitoring?.serviceMonitor ?? false,
      prometheusRule: props.monitoring?.prometheusRule ?? false,
      labels: props.monitoring?.labels ?? {},
      failureRatio: props.monitoring?.failureRatio ?? 0.05,
      p99LatencySeconds: props.monitoring?.p99LatencySeconds ?? 5,
    },
    autoscaling: props.autoscaling
      ? {
          maxReplicas: props.autoscaling.maxReplicas,
          targetQueueTimeSeconds: props.autoscaling.targetQueueTimeSeconds ?? 0.05,
          metricName: props.autoscaling.metricName ?? "triton_queue_time_us",
        }
      : false,
    extraArgs: props.extraArgs ?? [],
    helmTimeoutSeconds: props.helmTimeoutSeconds ?? probes.startupBudgetSeconds + 300,
  };
}

/**
 * Renders resolved props into our chart's values. Pure: the same props give the same values.
 * Replicas are not here: they may be a Terraform expression and go through helm_release `set`.
 */
/** One model whose versions are pinned: the ConfigMap key that holds them (e.g. "3,4"). */
export interface PinnedVersions {
  readonly model: string;
  readonly configMap: string;
  readonly key: string;
}

export function renderChartValues(p: ResolvedReleaseProps): TritonChartValues {
  const gpuResources: Record<string, string> = p.gpus > 0 ? { "nvidia.com/gpu": String(p.gpus) } : {};
  return {
    app: p.appName,
    color: p.color,
    version: p.version,
    image: p.image,
    modelRepository: p.modelRepository._toValues(),
    server: {
      ...p.modelControl._toValues(),
      strictReadiness: p.strictReadiness,
      exitTimeoutSeconds: p.drain.exitTimeoutSeconds,
      extraArgs: p.extraArgs,
    },
    restrictedApi: {
      enabled: p.restrictedApi !== false,
      ...(p.restrictedApi || { ...RESTRICTED_API_DEFAULTS, secretName: "" }),
    },
    ports: TRITON_PORTS,
    probes: {
      startup: {
        periodSeconds: p.probes.periodSeconds,
        timeoutSeconds: p.probes.timeoutSeconds,
        failureThreshold: Math.ceil(p.probes.startupBudgetSeconds / p.probes.periodSeconds),
      },
      readiness: {
        periodSeconds: p.probes.periodSeconds,
        timeoutSeconds: p.probes.timeoutSeconds,
        failureThreshold: p.probes.failureThreshold,
      },
      liveness: {
        periodSeconds: p.probes.periodSeconds,
        timeoutSeconds: p.probes.timeoutSeconds,
        failureThreshold: p.probes.failureThreshold,
      },
    },
    drain: {
      preStopSeconds: p.drain.preStopSeconds,
      // Room for the preStop pause, Triton's own exit timeout, and a margin to flush and exit.
      terminationGracePeriodSeconds: p.drain.preStopSeconds + p.drain.exitTimeoutSeconds + 5,
    },
    resources: {
      requests: { cpu: p.resources.cpuRequest, memory: p.resources.memoryRequest, ...gpuResources },
      limits: {
        ...(p.resources.cpuLimit !== undefined ? { cpu: p.resources.cpuLimit } : {}),
        memory: p.resources.memoryLimit,
        ...gpuResources,
      },
    },
    nodeSelector: p.nodeSelector,
    tolerations: p.tolerations,
    shmSize: p.shmSize,
    serviceAccount: { annotations: p.serviceAccountAnnotations },
    podAnnotations: p.podAnnotations,
    labels: p.labels,
    annotations: p.annotations,
    podLabels: p.podLabels,
    imagePullSecrets: p.imagePullSecrets.map((name) => ({ name })),
    affinity: p.affinity,
    topologySpreadConstraints: p.topologySpreadConstraints,
    priorityClassName: p.priorityClassName,
    pdb: { maxUnavailable: p.maxUnavailable },
    monitoring: {
      labels: p.monitoring.labels,
      serviceMonitor: { enabled: p.monitoring.serviceMonitor },
      prometheusRule: {
        enabled: p.monitoring.prometheusRule,
        failureRatio: p.monitoring.failureRatio,
        p99LatencyMs: Math.round(p.monitoring.p99LatencySeconds * 1000),
      },
    },
    // The chart speaks Triton's units: the adapter's metric is in microseconds.
    autoscaling: p.autoscaling
      ? {
          enabled: true,
          maxReplicas: p.autoscaling.maxReplicas,
          metricName: p.autoscaling.metricName,
          targetQueueTimeUs: Math.round(p.autoscaling.targetQueueTimeSeconds * 1e6),
        }
      : { enabled: false, maxReplicas: 1, metricName: "triton_queue_time_us", targetQueueTimeUs: 50000 },
  };
}

/** Label keys the chart sets itself: a user's label must not replace them (selectors rely on them). */
export const CHART_LABEL_KEYS: readonly string[] = [
  "app",
  "color",
  "version",
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
  "helm.sh/chart",
];

/** The default affinity: keep away from the other color's pods of the same app, where the cluster allows. */
export function colorAntiAffinity(app: string, color: Color): Record<string, unknown> {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: {
              matchExpressions: [
                { key: "app", operator: "In", values: [app] },
                { key: "color", operator: "NotIn", values: [color] },
              ],
            },
          },
        },
      ],
    },
  };
}
