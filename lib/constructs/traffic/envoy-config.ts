// Envoy's configuration, rendered from a small model: listeners with routes, and clusters with
// prioritized endpoints. Names follow Envoy's fields so an operator who knows Envoy can read both.
// Output: a bootstrap that reads listeners and clusters from files in a watched directory (a
// ConfigMap mount), so a changed ConfigMap applies without restarting Envoy.
import { isIP } from "net";
import { stringify } from "yaml";
import { ADMIN_CLUSTER, ENVOY_ADMIN_PORT, ENVOY_OPS_PORT, modelRouteStat, ModelVersionsRoute, nextVersionKey, readyCluster, weightKeyPrefix, weightsVersion as versionOfRoutes } from "../../core/envoy";
import { LoadBalancing, Protocol } from "../../core/closed-sets";

export { ENVOY_OPS_PORT };

export type { Protocol };

export interface HealthCheckProps {
  /** @default "/v2/health/ready" (Triton's readiness; a model's is /v2/models/{m}/ready) */
  readonly path?: string;
  /** @default 1 */
  readonly intervalSeconds?: number;
  /** @default 0.5 */
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
  readonly successRate?: { readonly minimumHosts?: number; readonly requestVolume?: number; readonly stdevFactor?: number };
}

export interface RetryProps {
  /** @default 2 */
  readonly numRetries?: number;
  /** @default 2 */
  readonly perTryTimeoutSeconds?: number;
  /** @default "5xx,reset,connect-failure,refused-stream" */
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
  return ["RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload", "TraceSetting", "LogSettings"].map((m) => ({ path: `/inference.GRPCInferenceService/${m}` }));
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

/** The route table file of listener i. */
export const routesFile = (i: number): `rds-${number}.yaml` => `rds-${i}.yaml`;

const T = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  routeConfiguration: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  hcm: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  localRateLimit: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  healthCheck: "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
  previousHosts: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
  previousPriorities: "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
  http2: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  upstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  fileAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
  healthEventFileSink: "type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink",
  downstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  tlsInspector: "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
};

/** Seconds as Envoy's JSON duration ("0.25s"). */
const duration = (seconds: number) => `${Math.round(seconds * 1000) / 1000}s`;

export function renderEnvoy(model: EnvoyModel, options: RenderOptions = {}): EnvoyFiles {
  const dir = options.configDir ?? "/etc/envoy";
  const address = options.listenAddress ?? "0.0.0.0";
  const watched = (file: string) => ({ resource_api_version: "V3", path_config_source: { path: `${dir}/${file}`, watched_directory: { path: dir } } });
  const adminPort = options.adminPort ?? ENVOY_ADMIN_PORT;
  const ports = model.listeners.map((l) => options.portOverrides?.[l.name] ?? l.port);
  const bootstrap = {
    node: { id: model.name, cluster: model.name },
    admin: { address: { socket_address: { address: options.opsPort ? "127.0.0.1" : address, port_value: adminPort } } },
    ...(options.opsPort ? { static_resources: opsResources(address, options.opsPort, adminPort, ports, options.tls !== undefined) } : {}),
    dynamic_resources: { lds_config: watched("lds.yaml"), cds_config: watched("cds.yaml") },
    // One runtime layer, the admin's (empty at start): a split route's weights can be moved at once
    // through the admin's /runtime_modify, ahead of the mounted file (see weightKeyPrefix).
    layered_runtime: { layers: [{ name: "admin", admin_layer: {} }] },
  };
  const clusters = model.clusters.map((c) => c.name);
  const tls = options.tls ? listenerTls(options.tls, watched) : undefined;
  const rendered = model.listeners.map((l, i) =>
    renderListener(l, address, ports[i], watched(routesFile(i)), options.opsPort ? readyHop(i, ports.length, clusters) : undefined, options.accessLogPath ?? "/dev/stdout", tls),
  );
  const version = weightsVersion(model);
  const lds = { resources: rendered.map((r) => r.listener) };
  const cds = { resources: model.clusters.map((c) => renderCluster(c, options.healthEventLogPath ?? "/dev/stdout")) };
  // Route tables carry Terraform expressions (weights, versions) that the engine replaces in the
  // text before Envoy parses it: no line is folded (a long double-quoted string would be split
  // inside an expression) and no anchor stands in for a repeated route action.
  const rds = Object.fromEntries(rendered.map((r, i) => [routesFile(i), stringify({ ...(version ? { version_info: version } : {}), resources: [r.routes] }, { lineWidth: 0, aliasDuplicateObjects: false })]));
  return { "envoy.yaml": stringify(bootstrap), "lds.yaml": stringify(lds), ...rds, "cds.yaml": stringify(cds), ...(tls?.files ?? {}) };
}

/** What a TLS listener's filter chains carry: the routes' transport socket, the readiness chain's, and the SDS files they read. */
interface RenderedTls {
  readonly routes: object;
  readonly readiness: object;
  readonly files: Pick<EnvoyFiles, "sds-certificate.yaml" | "sds-client-ca.yaml">;
}

function listenerTls(tls: ListenerTls, watched: (file: string) => object): RenderedTls {
  const secret = (name: string, body: object) => stringify({ resources: [{ "@type": T.secret, name, ...body }] });
  const certificate = { name: "certificate", sds_config: watched("sds-certificate.yaml") };
  const files: Record<string, string> = {
    "sds-certificate.yaml": secret("certificate", {
      tls_certificate: {
        certificate_chain: { filename: `${tls.certificateDir}/tls.crt` },
        private_key: { filename: `${tls.certificateDir}/tls.key` },
        // The Secret's mount: the kubelet swaps `..data`, and Envoy re-reads both files together.
        watched_directory: { path: tls.certificateDir },
      },
    }),
  };
  if (tls.clientCaDir) {
    files["sds-client-ca.yaml"] = secret("client-ca", {
      validation_context: { trusted_ca: { filename: `${tls.clientCaDir}/ca.crt` }, watched_directory: { path: tls.clientCaDir } },
    });
  }
  const socket = (context: object) => ({ name: "envoy.transport_sockets.tls", typed_config: { "@type": T.downstreamTls, ...context } });
  const common = { alpn_protocols: ["h2", "http/1.1"], tls_certificate_sds_secret_configs: [certificate] };
  return {
    routes: socket(
      tls.clientCaDir
        ? { require_client_certificate: true, common_tls_context: { ...common, validation_context_sds_secret_config: { name: "client-ca", sds_config: watched("sds-client-ca.yaml") } } }
        : { common_tls_context: common },
    ),
    readiness: socket({ common_tls_context: common }),
    files,
  };
}

/** The route tables' version (core/envoy): the weights of each split route of the first listener (every listener has the same routes). */
export function weightsVersion(model: EnvoyModel): string | undefined {
  return versionOfRoutes(model.listeners[0]?.routes ?? []);
}

/**
 * The path on each data listener that carries the readiness chain (see {@link opsResources}). A
 * client that asks for it gets the same answer as the ops port's `/ready`.
 */
export const READY_CHAIN_PATH = "/.cdktf-triton/ready";

/** Listener i's part of the readiness chain: pass on to the next data listener, or (the last) answer. */
type ReadyHop = { readonly next: string } | { readonly clusters: readonly string[] };

function readyHop(i: number, count: number, clusters: readonly string[]): ReadyHop {
  return i + 1 < count ? { next: readyCluster(i + 1) } : { clusters };
}

const staticCluster = (name: string, port: number, tls = false) => ({
  name,
  type: "STATIC",
  connect_timeout: "1s",
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] }] },
  // A hop to a TLS listener: its readiness chain (READY_SNI); the certificate is the pod's own, not checked.
  ...(tls ? { transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": T.upstreamTls, sni: READY_SNI } } } : {}),
});

/**
 * A listener that exposes readiness, liveness and Prometheus stats, and nothing else.
 *
 * Envoy's own `/ready` answers 200 once the server is up, even when it refused the listeners or
 * clusters it read from the files (a CA file missing from the pod, a value Envoy rejects): a pod
 * that is "ready" and serves nothing. So `/ready` here walks a chain through every data listener,
 * ops -> listener 0's {@link READY_CHAIN_PATH} -> listener 1's -> ... -> the last, where Envoy's
 * health-check filter answers 200 only if every cluster of the model is loaded and warm
 * (`cluster_min_healthy_percentages` at 0 %: present, whatever its hosts' health; the pool's health
 * is the health checks' business, and a pool with every host down answers fast 503s). A missing
 * listener breaks the chain. `/live` is the admin's `/ready` alone: the process is up; a bad
 * configuration makes the pod unready, not restarted in a loop.
 */
function opsResources(address: string, port: number, adminPort: number, listenerPorts: readonly number[], tls: boolean): object {
  const toAdmin = (path: string, rewrite?: string) => ({ match: { path }, route: { cluster: ADMIN_CLUSTER, ...(rewrite ? { prefix_rewrite: rewrite } : {}) } });
  const ready = listenerPorts.length
    ? { match: { path: "/ready" }, route: { cluster: readyCluster(0), prefix_rewrite: READY_CHAIN_PATH, timeout: "1.5s" } }
    : toAdmin("/ready");
  return {
    listeners: [
      httpListener("ops", address, port, { route_config: routeConfiguration("ops", [ready, toAdmin("/live", "/ready"), toAdmin("/stats/prometheus"), { match: { prefix: "/" }, direct_response: { status: 404 } }]) }, []),
    ],
    clusters: [staticCluster(ADMIN_CLUSTER, adminPort), ...listenerPorts.map((p, i) => staticCluster(readyCluster(i), p, tls))],
  };
}

function renderListener(l: ListenerModel, address: string, port: number, rds: object, readiness: ReadyHop | undefined, accessLogPath: string, tls?: RenderedTls): { listener: object; routes: object } {
  const filters: object[] = [];
  const healthCheck =
    readiness && "clusters" in readiness
      ? {
          name: "envoy.filters.http.health_check",
          typed_config: {
            "@type": T.healthCheck,
            pass_through_mode: false,
            headers: [{ name: ":path", string_match: { exact: READY_CHAIN_PATH } }],
            cluster_min_healthy_percentages: Object.fromEntries(readiness.clusters.map((c) => [c, { value: 0 }])),
          },
        }
      : undefined;
  // First, so that neither the rate limit nor a route ever sees the readiness request.
  if (healthCheck) filters.push(healthCheck);
  if (l.rateLimit) {
    const on = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: `${l.name}_rate_limit` };
    filters.push({
      name: "envoy.filters.http.local_ratelimit",
      typed_config: {
        "@type": T.localRateLimit,
        stat_prefix: `${l.name}_rate_limit`,
        token_bucket: { max_tokens: l.rateLimit.maxTokens, tokens_per_fill: l.rateLimit.tokensPerFill, fill_interval: duration(l.rateLimit.fillIntervalSeconds) },
        filter_enabled: on,
        filter_enforced: on,
      },
    });
  }
  const refused = (l.refused ?? []).map((match) => ({
    match,
    direct_response: { status: 403, body: { inline_string: "refused: Triton's administrative API is not served through this data plane\n" } },
  }));
  // A hop of the readiness chain is never rate limited: a probe refused under overload would take the pod out.
  const hop =
    readiness && "next" in readiness
      ? [{ match: { path: READY_CHAIN_PATH }, route: { cluster: readiness.next }, ...(l.rateLimit ? { typed_per_filter_config: { "envoy.filters.http.local_ratelimit": noRateLimit(l.name) } } : {}) }]
      : [];
  // validate_clusters off: Envoy reloads the listeners', route tables' and clusters' files in no
  // fixed order (envoyproxy/envoy#31678), and a route table checked against clusters not yet loaded
  // would be refused for good. A route to a cluster still loading answers 503 for that moment; readiness
  // (above) waits for every cluster.
  const routes = { "@type": T.routeConfiguration, ...routeConfiguration(l.name, [...hop, ...refused, ...l.routes.flatMap(renderRoutes)], false) };
  const accessLog = l.accessLog
    ? [
        {
          name: "envoy.access_loggers.file",
          // Sampled per request (independent draws), and never the readiness chain's requests.
          filter: {
            and_filter: {
              filters: [
                { runtime_filter: { runtime_key: `${l.name}_access_log_percent`, percent_sampled: { numerator: l.accessLog.sampledPercent, denominator: "HUNDRED" }, use_independent_randomness: true } },
                { header_filter: { header: { name: ":path", string_match: { exact: READY_CHAIN_PATH }, invert_match: true } } },
              ],
            },
          },
          typed_config: { "@type": T.fileAccessLog, path: accessLogPath, log_format: { json_format: { ...ACCESS_LOG_FORMAT, listener: l.name } } },
        },
      ]
    : [];
  const listener = httpListener(l.name, address, port, { rds: { route_config_name: l.name, config_source: rds } }, filters, accessLog, tls?.routes);
  if (tls && readiness) {
    // The readiness chain's own filter chain (see READY_SNI): the hop or the health check, nothing else.
    const onlyReady = [...("next" in readiness ? [{ match: { path: READY_CHAIN_PATH }, route: { cluster: readiness.next } }] : []), { match: { prefix: "/" }, direct_response: { status: 404 } }];
    const chain = httpListener(l.name, address, port, { route_config: routeConfiguration(`${l.name}-ready`, onlyReady) }, healthCheck ? [healthCheck] : [], [], tls.readiness) as { filter_chains: object[] };
    listener.filter_chains = [{ filter_chain_match: { server_names: [READY_SNI] }, ...chain.filter_chains[0] }, ...(listener.filter_chains as object[])];
  }
  if (tls) listener.listener_filters = [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": T.tlsInspector } }];
  return { listener: { "@type": T.listener, ...listener }, routes };
}

/** A route table: one virtual host with these routes. */
function routeConfiguration(name: string, routes: object[], validateClusters = true): Record<string, unknown> {
  return { name, ...(validateClusters ? {} : { validate_clusters: false }), virtual_hosts: [{ name, domains: ["*"], routes }] };
}

/** A listener with one HTTP connection manager: its routes (inline, or from RDS), these filters, then the router. */
function httpListener(name: string, address: string, port: number, routing: { route_config: object } | { rds: object }, filters: object[], accessLog: object[] = [], transportSocket?: object): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    filter_chains: [
      {
        ...(transportSocket ? { transport_socket: transportSocket } : {}),
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": T.hcm,
              stat_prefix: name,
              // AUTO: HTTP/1.1, and HTTP/2 with prior knowledge (gRPC clients) on the same port.
              codec_type: "AUTO",
              ...routing,
              ...(accessLog.length ? { access_log: accessLog } : {}),
              http_filters: [...filters, { name: "envoy.filters.http.router", typed_config: { "@type": T.router } }],
            },
          },
        ],
      },
    ],
  };
}

/** The local rate limit, switched off for one route. */
function noRateLimit(listener: string): object {
  // Envoy wants a bucket in a per-route config even when the filter is off there.
  const off = { default_value: { numerator: 0, denominator: "HUNDRED" } };
  return {
    "@type": T.localRateLimit,
    stat_prefix: `${listener}_rate_limit_ready`,
    token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: "1s" },
    filter_enabled: off,
    filter_enforced: off,
  };
}

/**
 * A route, after the routes of its pinned models' versions (same action, same retries): a request
 * that names a version passes unchanged; one that names none (the model's metadata, ready, infer,
 * generate) is rewritten to the next version for `nextPercent` of requests (a runtime fraction,
 * moved at once through the admin's runtime like the weights), else to the pinned version.
 */
function renderRoutes(r: RouteModel): object[] {
  const route = renderRoute(r);
  const action = (route as { route: Record<string, unknown> }).route;
  const pinnedRoutes = (r.versions ?? []).flatMap((v) => {
    const base = `/v2/models/${v.model}`;
    const unversioned = { safe_regex: { regex: `^${escapeRe(base)}(/ready|/infer|/generate|/generate_stream)?$` } };
    const rewrite = (version: number | string) => ({ ...action, regex_rewrite: { pattern: { regex: `^${escapeRe(base)}` }, substitution: `${base}/versions/${version}` } });
    // No next version (0): the next route goes to the pinned one, so a share the runtime still holds sends nothing astray.
    const next = typeof v.next === "number" ? (v.next > 0 ? v.next : v.pinned) : `\${${stripInterpolation(v.next)} > 0 ? ${stripInterpolation(v.next)} : ${typeof v.pinned === "number" ? v.pinned : stripInterpolation(v.pinned)}}`;
    return [
      { name: `${r.name}-${v.model}-versioned`, match: { prefix: `${base}/versions/` }, route: action },
      // Each with its own statistics (vhost.<listener>.route.<stat_prefix>.*): both versions are behind the same clusters.
      { name: `${r.name}-${v.model}-next`, stat_prefix: modelRouteStat(v.model, "next"), match: { ...unversioned, runtime_fraction: { default_value: { numerator: v.nextPercent, denominator: "HUNDRED" }, runtime_key: nextVersionKey(v.model) } }, route: rewrite(next) },
      { name: `${r.name}-${v.model}-pinned`, stat_prefix: modelRouteStat(v.model, "pinned"), match: unversioned, route: rewrite(v.pinned) },
    ];
  });
  return [...pinnedRoutes, route];
}

/** A Terraform interpolation's expression (`${x}` -> `x`); any other text as it is. */
function stripInterpolation(value: string): string {
  const m = /^\$\{([\s\S]*)\}$/.exec(value);
  return m ? m[1] : value;
}

function renderRoute(r: RouteModel): object {
  const headers = [
    ...Object.entries(r.match?.headers ?? {}).map(([name, exact]) => ({ name: name.toLowerCase(), string_match: { exact } })),
    ...Object.entries(r.match?.cookies ?? {}).map(([name, value]) => ({
      name: "cookie",
      string_match: { safe_regex: { regex: `(.*;\\s*)?${escapeRe(name)}=${escapeRe(value)}(;.*)?` } },
    })),
  ];
  // Literal zero weights are left out; a weight known only at plan stays (Envoy takes a 0 there).
  const live = r.clusters.filter((c) => typeof c.weight !== "number" || c.weight > 0);
  const route: Record<string, unknown> = {
    timeout: duration(r.timeoutSeconds),
    ...(live.length === 1 && typeof live[0].weight === "number"
      ? { cluster: live[0].cluster }
      : { weighted_clusters: { runtime_key_prefix: weightKeyPrefix(r.name), clusters: live.map((c) => ({ name: c.cluster, weight: c.weight })) } }),
  };
  if (r.mirror) {
    route.request_mirror_policies = [{ cluster: r.mirror.cluster, runtime_fraction: { default_value: { numerator: r.mirror.percent, denominator: "HUNDRED" } } }];
  }
  if (r.retry) {
    route.retry_policy = {
      retry_on: r.retry.retryOn ?? "5xx,reset,connect-failure,refused-stream",
      num_retries: r.retry.numRetries ?? 2,
      per_try_timeout: duration(r.retry.perTryTimeoutSeconds ?? 2),
      // Retry on another host, and on the next priority (tier) once this one's hosts have failed.
      retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": T.previousHosts } }],
      host_selection_retry_max_attempts: 5,
      retry_priority: { name: "envoy.retry_priorities.previous_priorities", typed_config: { "@type": T.previousPriorities, update_frequency: 1 } },
    };
  }
  return { name: r.name, match: { prefix: r.match?.pathPrefix ?? "/", ...(headers.length ? { headers } : {}) }, route };
}

function renderCluster(c: ClusterModel, healthEventLogPath: string): object {
  return {
    "@type": T.cluster,
    name: c.name,
    // Addresses that are all IP literals need no resolver (STATIC); names are resolved and
    // re-resolved (STRICT_DNS), which also spreads a name's addresses.
    ...(c.endpoints.every((e) => isIP(e.host)) ? { type: "STATIC" } : { type: "STRICT_DNS", dns_lookup_family: "V4_PREFERRED" }),
    connect_timeout: "1s",
    lb_policy: c.loadBalancing === "least-request" ? "LEAST_REQUEST" : "ROUND_ROBIN",
    load_assignment: loadAssignment(c),
    // Never send traffic to hosts known to be unhealthy, even when few are left: fail over to the
    // next tier, or answer 503 at once when every tier is down.
    // update_merge_window 0: Envoy by default holds health-check and ejection verdicts for up to
    // 1 s before its workers' load balancers see them (a CPU saving for clusters of thousands of
    // hosts). Ours have a handful, and a host known dead must leave rotation at once (measured: a
    // host healthy in /clusters received no request for the next 600 without it).
    common_lb_config: { healthy_panic_threshold: { value: 0 }, update_merge_window: "0s", ...(c.localityWeighted ? { locality_weighted_lb_config: {} } : {}) },
    // A pool's stats per endpoint (requests, health; labelled with the endpoint's host name): which
    // tier serves is observable, and alertable (Envoy has no statistics per priority).
    ...(new Set(c.endpoints.map((e) => e.priority)).size > 1 ? { track_cluster_stats: { per_endpoint_stats: true } } : {}),
    ...(c.healthCheck ? { health_checks: [healthCheck(c.healthCheck, healthEventLogPath)] } : {}),
    ...(c.outlierDetection ? { outlier_detection: outlierDetection(c.outlierDetection) } : {}),
    circuit_breakers: { thresholds: [circuitBreakerThresholds(c.circuitBreakers)] },
    ...(c.protocol === "grpc" ? { typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": T.http2, explicit_http_config: { http2_protocol_options: {} } } } } : {}),
    // Endpoints in other clusters or regions speak TLS with their own SNI; the rest plaintext.
    ...transportSocketMatches(c),
  };
}

/** The cluster's endpoints, grouped by priority (a failover tier) and locality. */
function loadAssignment(c: ClusterModel): object {
  const byLocality = new Map<string, EndpointModel[]>();
  for (const e of c.endpoints) {
    const key = JSON.stringify([e.priority, e.region ?? "", e.zone ?? ""]);
    // (TLS is chosen per endpoint, through transport_socket_matches.)
    byLocality.set(key, [...(byLocality.get(key) ?? []), e]);
  }
  return {
    cluster_name: c.name,
    endpoints: [...byLocality.values()].map((eps) => ({
      priority: eps[0].priority,
      ...(eps[0].region || eps[0].zone ? { locality: { region: eps[0].region ?? "", zone: eps[0].zone ?? "" } } : {}),
      ...(c.localityWeighted ? { load_balancing_weight: eps.reduce((n, e) => n + e.weight, 0) } : {}),
      lb_endpoints: eps.map((e) => ({
        endpoint: {
          address: { socket_address: { address: e.host, port_value: e.port } },
          ...(e.healthCheckPort ? { health_check_config: { port_value: e.healthCheckPort } } : {}),
        },
        ...(e.tls ? { metadata: { filter_metadata: { "envoy.transport_socket_match": { tls: e.tls.sni } } } } : {}),
        load_balancing_weight: e.weight,
      })),
    })),
  };
}

function healthCheck(hc: HealthCheckProps, healthEventLogPath: string): object {
  return {
    timeout: duration(hc.timeoutSeconds ?? 0.5),
    interval: duration(hc.intervalSeconds ?? 1),
    no_traffic_interval: duration(hc.intervalSeconds ?? 1),
    unhealthy_threshold: hc.unhealthyThreshold ?? 2,
    healthy_threshold: hc.healthyThreshold ?? 2,
    // Triton's readiness over HTTP/1.1, also for gRPC clusters (on the HTTP port, see healthCheckPort).
    http_health_check: { path: hc.path ?? "/v2/health/ready", codec_client_type: "HTTP1" },
    // Ejections, recoveries and first failures as JSON lines: the failover event log.
    event_logger: [{ name: "envoy.health_check.event_sink.file", typed_config: { "@type": T.healthEventFileSink, event_log_path: healthEventLogPath } }],
  };
}

function outlierDetection(od: OutlierDetectionProps): object {
  return {
    consecutive_5xx: od.consecutive5xx ?? 3,
    consecutive_gateway_failure: od.consecutive5xx ?? 3,
    enforcing_consecutive_gateway_failure: 100,
    interval: duration(od.intervalSeconds ?? 1),
    base_ejection_time: duration(od.baseEjectionTimeSeconds ?? 30),
    // Envoy by default lets a passing active health check end an ejection at once. Triton's
    // readiness passes while a model fails its inferences, so the ejected host would be
    // back within one check interval: an ejection lasts its ejection time.
    successful_active_health_check_uneject_host: false,
    max_ejection_percent: od.maxEjectionPercent ?? 100,
    ...(od.successRate
      ? {
          enforcing_success_rate: 100,
          success_rate_minimum_hosts: od.successRate.minimumHosts ?? 3,
          success_rate_request_volume: od.successRate.requestVolume ?? 100,
          success_rate_stdev_factor: Math.round((od.successRate.stdevFactor ?? 1.9) * 1000),
        }
      : { enforcing_success_rate: 0 }),
  };
}

function circuitBreakerThresholds(cb: CircuitBreakerProps | undefined): object {
  return {
    priority: "DEFAULT",
    max_connections: cb?.maxConnections ?? 1024,
    max_pending_requests: cb?.maxPendingRequests ?? 1024,
    max_requests: cb?.maxRequests ?? 1024,
    max_retries: cb?.maxRetries ?? 64,
  };
}

/** TLS to the endpoints that name an SNI, verifying the peer: signed by the CA bundle, and named as the SNI says. */
function transportSocketMatches(c: ClusterModel): object {
  const tlsByName = new Map(c.endpoints.flatMap((e) => (e.tls ? [[e.tls.sni, e.tls] as const] : [])));
  if (!tlsByName.size) return {};
  return {
    transport_socket_matches: [...tlsByName.values()].map(({ sni, caFile }) => ({
      name: `tls-${sni}`,
      match: { tls: sni },
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": T.upstreamTls,
          sni,
          common_tls_context: {
            validation_context: {
              trusted_ca: { filename: caFile },
              match_typed_subject_alt_names: [{ san_type: /^[0-9.]+$/.test(sni) ? "IP_ADDRESS" : "DNS", matcher: { exact: sni } }],
            },
          },
        },
      },
    })),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
