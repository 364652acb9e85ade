import { Color } from "../../core/colors";
import { ModelControl } from "./model-control";
import { ModelRepository } from "./model-repository";

/** A blue/green color. */
export { COLORS } from "../../core/colors";
export type { Color };

/** The Triton image used when none is given. Pin your own in production. */
export const DEFAULT_TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:25.10-py3";

/** A Kubernetes toleration. */
export type { Toleration } from "../pod-scheduling";
import type { Toleration } from "../pod-scheduling";

/** CPU and memory of the Triton container. GPUs are set by `gpus`. */
export interface ResourceOptions {
  /** @default "1" */
  readonly cpuRequest?: string;
  /** @default - no CPU limit (throttling hurts tail latency) */
  readonly cpuLimit?: string;
  /** @default "4Gi" */
  readonly memoryRequest?: string;
  /** @default - memoryRequest */
  readonly memoryLimit?: string;
}

/** Probe timing. Readiness is `/v2/health/ready`, liveness `/v2/health/live`. */
export interface ProbeOptions {
  /**
   * How long a pod may take from start until Triton's HTTP endpoint answers, which includes loading
   * every model. Becomes the startup probe's `failureThreshold × periodSeconds`.
   * @default 900
   */
  readonly startupBudgetSeconds?: number;
  /** @default 10 */
  readonly periodSeconds?: number;
  /** @default 5 */
  readonly timeoutSeconds?: number;
  /** Consecutive failures before readiness (or liveness) fails. @default 3 */
  readonly failureThreshold?: number;
}

/** How a pod shuts down without dropping in-flight requests. */
export interface DrainOptions {
  /**
   * A pause in preStop, so endpoints stop sending new requests before Triton starts to exit.
   * @default 10
   */
  readonly preStopSeconds?: number;
  /**
   * Triton's `--exit-timeout-secs`: how long it waits for in-flight inferences on shutdown.
   * @default 30
   */
  readonly exitTimeoutSeconds?: number;
}

/** Optional Prometheus Operator objects. Both need the monitoring.coreos.com CRDs. */
export interface MonitoringOptions {
  /** @default false */
  readonly serviceMonitor?: boolean;
  /** @default false */
  readonly prometheusRule?: boolean;
  /** Extra labels on both, e.g. the `release` label your Prometheus selects. @default {} */
  readonly labels?: Record<string, string>;
  /** TritonInferenceFailures fires when more than this share of inferences fail for 5 minutes (0 < x < 1). @default 0.05 */
  readonly failureRatio?: number;
  /**
   * TritonP99LatencyHigh fires when a model's p99 latency (Triton's latency summary, the slowest
   * pod) stays above this many seconds for 5 minutes.
   * @default 5
   */
  readonly p99LatencySeconds?: number;
}

/**
 * A HorizontalPodAutoscaler per color on Triton's average queue time per request (a Pods metric from
 * a custom metrics adapter; docs/observing.md gives prometheus-adapter's rule). Its minimum is the color's
 * replicas as the blue/green replica rule sets them, so capacity never drops below what the pair
 * promises. An apply sets the Deployment to the larger of its live replicas (what the HPA set) and
 * that minimum: it never undoes a scale-up, and still waits for the rule's capacity to be ready
 * before a switch. A color at 0 pods gets no HPA.
 */
export interface AutoscalingOptions {
  /** The most pods the HPA may run (at least `replicas`). */
  readonly maxReplicas: number;
  /**
   * Average queue time per request (core/queue-time), in seconds, each pod is kept under. The
   * adapter serves the metric in microseconds (Triton's unit); the HPA's target is this times 1e6.
   * @default 0.05
   */
  readonly targetQueueTimeSeconds?: number;
  /** The custom metric's name, as the adapter serves it. @default "triton_queue_time_us" */
  readonly metricName?: string;
}

/** The props of one Triton release that may differ between colors. */
export interface TritonColorProps {
  /**
   * The release's version, the `version` label of its pods: a model or rollout version such as
   * "2024-06-01" or "v7". A changed version is what makes a color a new candidate.
   */
  readonly version: string;
  /** Where Triton loads models from. */
  readonly modelRepository: ModelRepository;
  /**
   * Triton image with an explicit tag or digest.
   * @default DEFAULT_TRITON_IMAGE
   */
  readonly image?: string;
  /**
   * Pods when this color serves traffic. A TritonRelease on its own takes a token here (e.g. a
   * Terraform variable); in a TritonBlueGreen it must be a number known at synth.
   * @default 1
   */
  readonly replicas?: number;
  /** @default ModelControl.none() */
  readonly modelControl?: ModelControl;
  /**
   * Triton's `--strict-readiness`: ready only when every model is ready. A release whose model
   * versions a TritonModelCanary pins runs without it (a version loading beside the serving one
   * would make every pod unready at once); true is then refused.
   * @default true
   */
  readonly strictReadiness?: boolean;
  /** GPUs per pod (`nvidia.com/gpu`). @default 0 */
  readonly gpus?: number;
  /** @default - cpu request 1, memory request and limit 4Gi */
  readonly resources?: ResourceOptions;
  /** @default {} */
  readonly nodeSelector?: Record<string, string>;
  /**
   * @default - when gpus > 0, one toleration for `nvidia.com/gpu` (Exists, NoSchedule); else none
   */
  readonly tolerations?: readonly Toleration[];
  /** @default - startup budget 900 s, period 10 s, timeout 5 s, failure threshold 3 */
  readonly probes?: ProbeOptions;
  /** @default - preStop 10 s, exit timeout 30 s */
  readonly drain?: DrainOptions;
  /**
   * The PodDisruptionBudget's `maxUnavailable`.
   * @default 1
   */
  readonly maxUnavailable?: number;
  /** Size of the in-memory /dev/shm (python backend, shared-memory I/O). @default "1Gi" */
  readonly shmSize?: string;
  /** Annotations on the ServiceAccount, e.g. for IRSA or Workload Identity. @default {} */
  readonly serviceAccountAnnotations?: Record<string, string>;
  /** @default {} */
  readonly podAnnotations?: Record<string, string>;
  /**
   * Your labels on every object the release creates and on its pods (cost-center, team). The
   * chart's own keys (app, color, version, app.kubernetes.io/*, helm.sh/chart) are refused.
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /** Your annotations on every object the release creates (its pods take `podAnnotations`). @default {} */
  readonly annotations?: Record<string, string>;
  /** Labels on the pods only, e.g. `azure.workload.identity/use: "true"`. The chart's own keys are refused. @default {} */
  readonly podLabels?: Record<string, string>;
  /** Secrets to pull the image with. @default [] */
  readonly imagePullSecrets?: readonly string[];
  /**
   * The pods' affinity, as in a pod spec (camelCase fields).
   * @default - preferred pod anti-affinity from the other color of the same app, per node, so the
   *   two colors' pods land apart where the cluster allows
   */
  readonly affinity?: Record<string, unknown>;
  /** The pods' `topologySpreadConstraints`, as in a pod spec. @default [] */
  readonly topologySpreadConstraints?: readonly Record<string, unknown>[];
  /** The pods' PriorityClass. @default - none */
  readonly priorityClassName?: string;
  /** @default - no ServiceMonitor, no PrometheusRule */
  readonly monitoring?: MonitoringOptions;
  /** @default - no HorizontalPodAutoscaler: `replicas` pods */
  readonly autoscaling?: AutoscalingOptions;
  /**
   * Locks Triton's administrative APIs (`--http-restricted-api` and `--grpc-restricted-protocol`):
   * a request to them must carry a header whose value is kept in a Secret. Whoever reaches port 8000
   * could otherwise load, unload or swap models through `POST /v2/repository/models/{m}/load`.
   * `false` leaves them open.
   * @default - on with {@link RestrictedApiOptions}' defaults when `modelControl` is
   *   `ModelControl.explicit(...)` (the mode in which the repository API loads models), off otherwise
   */
  readonly restrictedApi?: RestrictedApiOptions | false;
  /**
   * Extra `tritonserver` flags, each `--name=value`. Flags the chart manages (ports, repository,
   * model control, readiness, exit timeout) are refused. On an image whose Triton version has a
   * flags table (NGC 24.10: Triton 2.51.0, from its `tritonserver --help`), a flag that version does
   * not have is refused (it would crash-loop the pods); on any other image, extraArgs get a synth
   * warning that they were not checked.
   * @default []
   */
  readonly extraArgs?: readonly string[];
  /**
   * How long the helm_release may take (install or upgrade, waiting for pods to be ready).
   * @default - startupBudgetSeconds + 300
   */
  readonly helmTimeoutSeconds?: number;
}

/** Triton's API groups that {@link TritonColorProps.restrictedApi} can restrict. */
export const RESTRICTABLE_APIS = [
  "health",
  "metadata",
  "inference",
  "shared-memory",
  "model-config",
  "model-repository",
  "statistics",
  "trace",
  "logging",
] as const;
export type RestrictedApiName = (typeof RESTRICTABLE_APIS)[number];

/** Which of Triton's APIs need a key, and where the key comes from. */
export interface RestrictedApiOptions {
  /** @default ["model-repository", "trace", "logging"] */
  readonly apis?: readonly RestrictedApiName[];
  /** The request header that carries the key (lower case: gRPC metadata keys are). @default "triton-admin-key" */
  readonly header?: string;
  /**
   * An existing Secret in the release's namespace that holds the key. Its value never enters the
   * synthesized Terraform: the pod reads it.
   * @default - the chart creates `<releaseName>-restricted-api` with a random key (kept across upgrades)
   */
  readonly secretName?: string;
  /** The Secret's key that holds the value. @default "token" */
  readonly secretKey?: string;
}

/** Props of a {@link TritonRelease}. */
export interface TritonReleaseProps extends TritonColorProps {
  /** The application's name, the `app` label shared by both colors. RFC 1123 label. */
  readonly appName: string;
  /** This release's color. */
  readonly color: Color;
  /**
   * Kubernetes namespace, which must exist.
   * @default "default"
   */
  readonly namespace?: string;
  /**
   * The Helm release name, also the name of its Deployment, Service and ServiceAccount.
   * @default `${appName}-${color}`
   */
  readonly releaseName?: string;
}
