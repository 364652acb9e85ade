// Health-checked failover pools: endpoints in priority tiers (primary, secondary, backup, ...),
// active health checks, outlier ejection, retries on another host and the next tier, circuit
// breakers, and a fast 503 when every tier is down. Pure: props -> Envoy model, validated.
//
// The seed's failover rules map onto Envoy's fields:
// - consecutive failures before a host is out  -> healthCheck.unhealthyThreshold
// - successes before it is back (recovery)     -> healthCheck.healthyThreshold
// - response time limit of a check             -> healthCheck.timeoutSeconds (and retries.perTryTimeoutSeconds for requests)
// - check interval                              -> healthCheck.intervalSeconds
// - success rate                                -> outlierDetection.successRate
// - cooldown after a failure                    -> outlierDetection.baseEjectionTimeSeconds
import { PropValidator } from "../validation";
import { Backend } from "../traffic/backend";
import {
  AccessLogProps,
  adminApiPaths,
  CircuitBreakerProps,
  EndpointModel,
  EnvoyModel,
  HealthCheckProps,
  ListenerModel,
  OutlierDetectionProps,
  RateLimitProps,
  RetryProps,
} from "../traffic/envoy-model";
import { validateHealthAndLimits, validateListenerPorts } from "../traffic/weighted-routes";
import { LOAD_BALANCING, LoadBalancing, RETRY_ON } from "../../core/closed-sets";

export interface PoolEndpoint {
  readonly backend: Backend;
  /** Share within its tier (Envoy load_balancing_weight). @default 1 */
  readonly weight?: number;
  /** @default - none */
  readonly region?: string;
  /** @default - none */
  readonly zone?: string;
}

export interface Tier {
  /**
   * e.g. "primary", "secondary", "backup": a Kubernetes label value, unique in the pool (it names
   * the tier in the pool's alerts).
   */
  readonly name: string;
  readonly endpoints: readonly PoolEndpoint[];
}

export interface FailoverPoolProps {
  /** In order of preference: tier 0 takes all traffic while it is healthy, then tier 1, ... */
  readonly tiers: readonly Tier[];
  /** @default - /v2/health/ready every 1 s, 2 failures out, 2 successes back */
  readonly healthCheck?: HealthCheckProps;
  /** @default - 3 consecutive 5xx eject a host for 30 s */
  readonly outlierDetection?: OutlierDetectionProps;
  /** @default - 2 retries, 2 s per try, on 5xx, resets and connect failures, on another host */
  readonly retries?: RetryProps;
  /** @default - 1024 connections, 1024 pending requests, 1024 requests, 64 retries */
  readonly circuitBreakers?: CircuitBreakerProps;
  /** @default "round-robin" */
  readonly loadBalancing?: LoadBalancing;
  /** Weight by locality (region/zone) within a tier. @default false */
  readonly localityWeighted?: boolean;
  /** How long a request may take, in seconds. @default 30 */
  readonly timeoutSeconds?: number;
  /** @default - no rate limit */
  readonly rateLimit?: RateLimitProps;
  /**
   * Log sampled requests as JSON lines on Envoy's stdout (`kubectl logs`): time, listener, method,
   * path, status, Envoy's response flags, duration, upstream cluster and host, attempts, request id.
   * With the health checkers' events on the same stream, a failover can be traced to requests.
   * @default - no access log
   */
  readonly accessLog?: AccessLogProps;
  /** @default 8000 */
  readonly httpPort?: number;
  /** @default 8001 (when every endpoint serves gRPC) */
  readonly grpcPort?: number;
  /**
   * Serve Triton's administrative APIs (model repository load/unload/index, trace, logging) through
   * the pool. Off, they answer 403 here whatever Triton's own restriction.
   * @default false
   */
  readonly allowAdminApis?: boolean;
}

export function failoverPoolModel(name: string, props: FailoverPoolProps, v: PropValidator): EnvoyModel {
  validateFailoverPool(props, v);
  v.throwIfInvalid();
  const targets = props.tiers.flatMap((t, priority) =>
    t.endpoints.map((e) => ({ e, t: e.backend._target(), priority })),
  );
  const grpc = targets.every(({ t }) => t.grpcPort !== undefined);
  const protocols = grpc ? (["http", "grpc"] as const) : (["http"] as const);
  const listeners: ListenerModel[] = protocols.map((protocol) => ({
    name: `${name}-${protocol}`,
    port: protocol === "http" ? (props.httpPort ?? 8000) : (props.grpcPort ?? 8001),
    rateLimit: props.rateLimit,
    accessLog: props.accessLog,
    refused: props.allowAdminApis ? [] : adminApiPaths(protocol),
    routes: [
      {
        name: "pool",
        clusters: [{ cluster: `${name}-${protocol}`, weight: 100 }],
        timeoutSeconds: props.timeoutSeconds ?? 30,
        retry: props.retries ?? {},
      },
    ],
  }));
  const clusters = protocols.map((protocol) => ({
    name: `${name}-${protocol}`,
    protocol,
    endpoints: targets.map(({ e, t, priority }): EndpointModel => ({
      host: t.host,
      port: protocol === "http" ? t.httpPort : t.grpcPort!,
      healthCheckPort: protocol === "grpc" ? t.httpPort : undefined,
      tls: t.tls,
      priority,
      weight: e.weight ?? 1,
      region: e.region,
      zone: e.zone,
    })),
    healthCheck: props.healthCheck ?? {},
    outlierDetection: props.outlierDetection ?? {},
    circuitBreakers: props.circuitBreakers,
    loadBalancing: props.loadBalancing,
    localityWeighted: props.localityWeighted,
    tiers: props.tiers.map((t) => t.name),
  }));
  return { name, listeners, clusters };
}

export function validateFailoverPool(props: FailoverPoolProps, v: PropValidator): void {
  v.check("tiers", props.tiers, Array.isArray(props.tiers) && props.tiers.length > 0, "at least one tier");
  const seen = new Set<string>();
  (props.tiers ?? []).forEach((tier, i) => {
    // A tier's name labels its alerts and the pool's summary: two of one name cannot be told apart.
    v.labelValue(`tiers[${i}].name`, tier.name);
    const first = props.tiers.findIndex((t) => t.name === tier.name);
    v.check(
      `tiers[${i}].name`,
      tier.name,
      first === i,
      `a name no other tier has (tiers[${first}] is ${JSON.stringify(tier.name)}): their alerts could not be told apart`,
    );
    v.check(
      `tiers[${i}].endpoints`,
      tier.endpoints,
      Array.isArray(tier.endpoints) && tier.endpoints.length > 0,
      "at least one endpoint per tier",
    );
    (tier.endpoints ?? []).forEach((e, j) => {
      e.backend._validate(v, `tiers[${i}].endpoints[${j}].backend`);
      const t = e.backend._target();
      const key = `${t.host}:${t.httpPort}`;
      v.check(`tiers[${i}].endpoints[${j}]`, key, !seen.has(key), "an endpoint that appears once in the pool");
      seen.add(key);
      v.integer(`tiers[${i}].endpoints[${j}].weight`, e.weight, 1, 128);
    });
  });
  validateHealthAndLimits(props.healthCheck, props.outlierDetection, props.rateLimit, v, props.accessLog);
  v.integer("retries.numRetries", props.retries?.numRetries, 0, 10);
  v.seconds("retries.perTryTimeoutSeconds", props.retries?.perTryTimeoutSeconds, 0.001, 3600);
  const retryOn = props.retries?.retryOn;
  if (retryOn !== undefined)
    v.check(
      "retries.retryOn",
      retryOn,
      typeof retryOn === "string" &&
        retryOn.split(",").every((c) => (RETRY_ON as readonly string[]).includes(c.trim())),
      `a comma-separated list of Envoy's retry conditions (${RETRY_ON.join(", ")}); Envoy ignores any other word`,
    );
  v.seconds("timeoutSeconds", props.timeoutSeconds, 0.001, 3600);
  const endpoints = (props.tiers ?? []).flatMap((t) => t.endpoints ?? []);
  validateListenerPorts(
    props.httpPort,
    props.grpcPort,
    endpoints.length > 0 && endpoints.every((e) => e.backend._target().grpcPort !== undefined),
    v,
  );
  if (props.allowAdminApis !== undefined)
    v.check("allowAdminApis", props.allowAdminApis, typeof props.allowAdminApis === "boolean", "true or false");
  v.oneOf("loadBalancing", props.loadBalancing, LOAD_BALANCING);
  for (const k of ["maxConnections", "maxPendingRequests", "maxRequests", "maxRetries"] as const)
    v.integer(`circuitBreakers.${k}`, props.circuitBreakers?.[k], 1, 1_000_000);
}
