// The small model Envoy's configuration is rendered from (envoy-config.ts): listeners with routes,
// clusters with prioritized endpoints, and the options of a rendering. Names follow Envoy's fields so
// an operator who knows Envoy can read both.
import { ENVOY_OPS_PORT, ModelVersionsRoute } from "../../core/envoy";
import { LoadBalancing, Protocol } from "../../core/closed-sets";

export { ENVOY_OPS_PORT };

export type { Protocol };

export interface HealthCheckProps {
  /** @default "/v2/health/ready" (Triton's readiness; a model's is /v2/models/{m}/ready) */
  readonly path?: string;
  /** @default 1 */
  readonly intervalSeconds?: number;
  /**
   * May exceed the interval: Envoy starts the next check an interval after the last one ended
   * (nothing overlaps), so a host that hangs is taken out after unhealthyThreshold x (timeout +
   * interval) seconds. @default 0.5
   */
  readonly timeoutSeconds?: number;
  /** Consecutive failures before a host is taken out. @default 2 */
  readonly unhealthyThreshold?: number;
  /** Consecutive successes before it is taken back. @default 2 */
  readonly healthyThreshold?: number;
}

export interface OutlierDetectionProps {
  /** Consecutive 5xx (connect failures and resets included) before ejection. @default 3 */
  readonly consecutive5xx?: number;
  /** @default 1 */
  readonly intervalSeconds?: number;
  /** How long an ejected host stays out; Envoy multiplies it by the number of times the host was ejected, up to its max_ejection_time (300 s). @default 30 */
  readonly baseEjectionTimeSeconds?: number;
  /** @default 100 */
  readonly maxEjectionPercent?: number;
  /** Success-rate ejection: hosts whose success rate is this many stdevs below the mean. @default - off */
  readonly successRate?: {
    readonly minimumHosts?: number;
    readonly requestVolume?: number;
    readonly stdevFactor?: number;
  };
}

export interface RetryProps {
  /** @default 2 */
  readonly numRetries?: number;
  /** @default 2 */
  readonly perTryTimeoutSeconds?: number;
  /**
   * Envoy's retry conditions, comma-separated, each one Envoy has (`RETRY_ON`: 5xx, gateway-error,
   * reset, connect-failure, retriable-4xx, refused-stream, ...): Envoy itself ignores a word it does
   * not know.
   * @default "5xx,reset,connect-failure,refused-stream"
   */
  readonly retryOn?: string;
}

export interface CircuitBreakerProps {
  /** @default 1024 */
  readonly maxConnections?: number;
  /** @default 1024 */
  readonly maxPendingRequests?: number;
  /** @default 1024 */
  readonly maxRequests?: number;
  /**
   * Concurrent retries. Envoy's own default (3) is below the in-flight requests that a dying host
   * leaves behind, and the surplus would fail with 503 instead of moving to another host.
   * @default 64
   */
  readonly maxRetries?: number;
}

/** Envoy's local rate limit: a token bucket; requests beyond it get a fast 429. */
export interface RateLimitProps {
  /** Burst size. */
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalSeconds: number;
}

export interface MatchProps {
  /** Exact header values. @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /** Exact cookie values. @default {} */
  readonly cookies?: Readonly<Record<string, string>>;
  /** @default "/" */
  readonly pathPrefix?: string;
}

export interface RouteModel {
  readonly name: string;
  readonly match?: MatchProps;
  /** Clusters and weights (percent): literals, or Terraform expressions embedded in the file (known at plan). */
  readonly clusters: readonly { readonly cluster: string; readonly weight: number | string }[];
  readonly mirror?: { readonly cluster: string; readonly percent: number };
  readonly timeoutSeconds: number;
  readonly retry?: RetryProps;
  /** Models whose unversioned requests are pinned to a version, with a share to the next (HTTP only). @default [] */
  readonly versions?: readonly ModelVersionsRoute[];
}

/** A path prefix, or an exact path. */
export type PathMatch = { readonly prefix: string } | { readonly path: string };

/**
 * Triton's administrative APIs, which a data plane in front of it does not serve unless asked:
 * the model repository (load, unload, index), trace and logging settings. On HTTP, the paths of the
 * Open Inference Protocol's extensions; on gRPC, the methods of `inference.GRPCInferenceService`.
 */
export function adminApiPaths(protocol: Protocol): PathMatch[] {
  if (protocol === "http") return [{ prefix: "/v2/repository" }, { prefix: "/v2/trace" }, { prefix: "/v2/logging" }];
  return ["RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload", "TraceSetting", "LogSettings"].map(
    (m) => ({ path: `/inference.GRPCInferenceService/${m}` }),
  );
}

/** Envoy's access log: one JSON line per sampled request, so a failover can be traced to requests. */
export interface AccessLogProps {
  /** The share of requests logged, 1 to 100 (each request drawn independently). */
  readonly sampledPercent: number;
}

export interface ListenerModel {
  readonly name: string;
  readonly port: number;
  readonly accessLog?: AccessLogProps;
  /** Requests refused with 403 before any route: Triton's administrative APIs (see {@link adminApiPaths}). */
  readonly refused?: readonly PathMatch[];
  readonly routes: readonly RouteModel[];
  readonly rateLimit?: RateLimitProps;
}

export interface EndpointModel {
  readonly host: string;
  readonly port: number;
  /** Where active health checks go, when not `port`: gRPC endpoints are checked on Triton's HTTP port. */
  readonly healthCheckPort?: number;
  /** TLS to this endpoint: SNI and the CA bundle that must sign its certificate (others may be plaintext). */
  readonly tls?: { readonly sni: string; readonly caFile: string };
  readonly priority: number;
  readonly weight: number;
  readonly region?: string;
  readonly zone?: string;
}

export interface ClusterModel {
  readonly name: string;
  readonly protocol: Protocol;
  readonly endpoints: readonly EndpointModel[];
  readonly healthCheck?: HealthCheckProps;
  readonly outlierDetection?: OutlierDetectionProps;
  readonly circuitBreakers?: CircuitBreakerProps;
  /** @default "round-robin" */
  readonly loadBalancing?: LoadBalancing;
  /** Weight traffic by locality (region/zone) weights. @default false */
  readonly localityWeighted?: boolean;
  /** A pool's tier names, by priority (index 0 is priority 0). @default - not a pool */
  readonly tiers?: readonly string[];
}

export interface EnvoyModel {
  readonly name: string;
  readonly listeners: readonly ListenerModel[];
  readonly clusters: readonly ClusterModel[];
}

export interface RenderOptions {
  /** Where the files live for Envoy (the ConfigMap's mount). @default "/etc/envoy" */
  readonly configDir?: string;
  /** @default "0.0.0.0" */
  readonly listenAddress?: string;
  /** @default 9901 */
  readonly adminPort?: number;
  /** Listener ports, when they differ from the model's (tests on loopback). */
  readonly portOverrides?: Readonly<Record<string, number>>;
  /**
   * Keep the admin interface on 127.0.0.1 (it can quit Envoy and change its runtime) and serve only
   * `/ready` and `/stats/prometheus` from it on this port, for probes and Prometheus.
   * @default - admin on listenAddress, no ops listener
   */
  readonly opsPort?: number;
  /**
   * Where the health checkers write their events (host ejected, host healthy again, first failure)
   * as JSON lines. In a pod: the container's stdout, so `kubectl logs` (and the status command)
   * read them.
   * @default "/dev/stdout"
   */
  readonly healthEventLogPath?: string;
  /** Where sampled access log lines go (JSON). @default "/dev/stdout" */
  readonly accessLogPath?: string;
  /** Serve every data listener over TLS. @default - plain text */
  readonly tls?: ListenerTls;
}

/**
 * TLS on the data listeners, from files in folders laid out as a mounted Secret (`..data` swapped
 * atomically on a change). Envoy reads them through file-based SDS and watches each folder, so a
 * new certificate written into the Secret is served on the next handshake, without a restart.
 */
export interface ListenerTls {
  /** Holds `tls.crt` and `tls.key` (a `kubernetes.io/tls` Secret). */
  readonly certificateDir: string;
  /** Holds `ca.crt`: a client must present a certificate it signed (mutual TLS). @default - no client certificate asked */
  readonly clientCaDir?: string;
}

/**
 * The SNI of the readiness chain's hops under TLS. Each TLS listener has a filter chain for this
 * name that serves the readiness path alone and asks no client certificate, so the chain keeps
 * working under mutual TLS; every other name reaches the listener's routes.
 */
export const READY_SNI = "ready.cdktf-triton.internal";

/** The fields of an access log line (Envoy command operators). */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = {
  kind: "access",
  start_time: "%START_TIME%",
  listener: "%ACCESS_LOG_TYPE%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  status: "%RESPONSE_CODE%",
  flags: "%RESPONSE_FLAGS%",
  duration_ms: "%DURATION%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_host: "%UPSTREAM_HOST%",
  attempts: "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
  request_id: "%REQ(X-REQUEST-ID)%",
};

/**
 * The files Envoy reads: the bootstrap, and the watched listeners, route tables and clusters. The
 * routes (weights included) are their own file (RDS): a changed route table applies to the next
 * request on every connection, where a changed listener would leave open connections on the old
 * one, and its old weights, until they drain.
 */
export interface EnvoyFiles {
  readonly "envoy.yaml": string;
  readonly "lds.yaml": string;
  readonly "cds.yaml": string;
  /** The route table of listener i, `rds-<i>.yaml` (Envoy wants one table per file subscription). */
  readonly [routes: `rds-${number}.yaml`]: string;
  /** Under TLS: the server certificate's SDS resource (Envoy wants one secret per file subscription). */
  readonly "sds-certificate.yaml"?: string;
  /** Under mutual TLS: the client CA's SDS resource. */
  readonly "sds-client-ca.yaml"?: string;
}
