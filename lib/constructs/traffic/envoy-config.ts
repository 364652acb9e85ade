// Envoy's configuration, rendered from a small model: listeners with routes, and clusters with
// prioritized endpoints. Names follow Envoy's fields so an operator who knows Envoy can read both.
// Output: a bootstrap that reads listeners and clusters from files in a watched directory (a
// ConfigMap mount), so a changed ConfigMap applies without restarting Envoy.
// The parts: the model (envoy-model.ts), routes (envoy-routes.ts), clusters (envoy-clusters.ts).
import { stringify } from "yaml";
import { ADMIN_CLUSTER, ENVOY_ADMIN_PORT, readyCluster, weightsVersion } from "../../core/envoy";
import { renderCluster } from "./envoy-clusters";
import {
  EnvoyFiles,
  EnvoyModel,
  ListenerModel,
  ListenerTls,
  READY_SNI,
  RenderOptions,
  ACCESS_LOG_FORMAT,
} from "./envoy-model";
import { renderRoutes } from "./envoy-routes";
import { duration, T } from "./envoy-types";

/** The route table file of listener i. */
export const routesFile = (i: number): `rds-${number}.yaml` => `rds-${i}.yaml`;

export function renderEnvoy(model: EnvoyModel, options: RenderOptions = {}): EnvoyFiles {
  const dir = options.configDir ?? "/etc/envoy";
  const address = options.listenAddress ?? "0.0.0.0";
  const watched = (file: string) => ({
    resource_api_version: "V3",
    path_config_source: { path: `${dir}/${file}`, watched_directory: { path: dir } },
  });
  const adminPort = options.adminPort ?? ENVOY_ADMIN_PORT;
  const ports = model.listeners.map((l) => options.portOverrides?.[l.name] ?? l.port);
  const bootstrap = {
    node: { id: model.name, cluster: model.name },
    admin: { address: { socket_address: { address: options.opsPort ? "127.0.0.1" : address, port_value: adminPort } } },
    ...(options.opsPort
      ? { static_resources: opsResources(address, options.opsPort, adminPort, ports, options.tls !== undefined) }
      : {}),
    dynamic_resources: { lds_config: watched("lds.yaml"), cds_config: watched("cds.yaml") },
    // One runtime layer, the admin's (empty at start): a split route's weights can be moved at once
    // through the admin's /runtime_modify, ahead of the mounted file (see weightKeyPrefix).
    layered_runtime: { layers: [{ name: "admin", admin_layer: {} }] },
  };
  const clusters = model.clusters.map((c) => c.name);
  const tls = options.tls ? listenerTls(options.tls, watched) : undefined;
  const rendered = model.listeners.map((l, i) =>
    renderListener(
      l,
      address,
      ports[i],
      watched(routesFile(i)),
      options.opsPort ? readyHop(i, ports.length, clusters) : undefined,
      options.accessLogPath ?? "/dev/stdout",
      tls,
    ),
  );
  // The weights of each split route of the first listener (every listener has the same routes).
  const version = weightsVersion(model.listeners[0]?.routes ?? []);
  const lds = { resources: rendered.map((r) => r.listener) };
  const cds = { resources: model.clusters.map((c) => renderCluster(c, options.healthEventLogPath ?? "/dev/stdout")) };
  // Route tables carry Terraform expressions (weights, versions) that the engine replaces in the
  // text before Envoy parses it: no line is folded (a long double-quoted string would be split
  // inside an expression) and no anchor stands in for a repeated route action.
  const rds = Object.fromEntries(
    rendered.map((r, i) => [
      routesFile(i),
      stringify(
        { ...(version ? { version_info: version } : {}), resources: [r.routes] },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
    ]),
  );
  return {
    "envoy.yaml": stringify(bootstrap),
    "lds.yaml": stringify(lds),
    ...rds,
    "cds.yaml": stringify(cds),
    ...(tls?.files ?? {}),
  };
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
      validation_context: {
        trusted_ca: { filename: `${tls.clientCaDir}/ca.crt` },
        watched_directory: { path: tls.clientCaDir },
      },
    });
  }
  const socket = (context: object) => ({
    name: "envoy.transport_sockets.tls",
    typed_config: { "@type": T.downstreamTls, ...context },
  });
  const common = { alpn_protocols: ["h2", "http/1.1"], tls_certificate_sds_secret_configs: [certificate] };
  return {
    routes: socket(
      tls.clientCaDir
        ? {
            require_client_certificate: true,
            common_tls_context: {
              ...common,
              validation_context_sds_secret_config: { name: "client-ca", sds_config: watched("sds-client-ca.yaml") },
            },
          }
        : { common_tls_context: common },
    ),
    readiness: socket({ common_tls_context: common }),
    files,
  };
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
  load_assignment: {
    cluster_name: name,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } }] },
    ],
  },
  // A hop to a TLS listener: its readiness chain (READY_SNI); the certificate is the pod's own, not checked.
  ...(tls
    ? {
        transport_socket: {
          name: "envoy.transport_sockets.tls",
          typed_config: { "@type": T.upstreamTls, sni: READY_SNI },
        },
      }
    : {}),
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
function opsResources(
  address: string,
  port: number,
  adminPort: number,
  listenerPorts: readonly number[],
  tls: boolean,
): object {
  const toAdmin = (path: string, rewrite?: string) => ({
    match: { path },
    route: { cluster: ADMIN_CLUSTER, ...(rewrite ? { prefix_rewrite: rewrite } : {}) },
  });
  const ready = listenerPorts.length
    ? {
        match: { path: "/ready" },
        route: { cluster: readyCluster(0), prefix_rewrite: READY_CHAIN_PATH, timeout: "1.5s" },
      }
    : toAdmin("/ready");
  return {
    listeners: [
      httpListener(
        "ops",
        address,
        port,
        {
          route_config: routeConfiguration("ops", [
            ready,
            toAdmin("/live", "/ready"),
            toAdmin("/stats/prometheus"),
            { match: { prefix: "/" }, direct_response: { status: 404 } },
          ]),
        },
        [],
      ),
    ],
    clusters: [
      staticCluster(ADMIN_CLUSTER, adminPort),
      ...listenerPorts.map((p, i) => staticCluster(readyCluster(i), p, tls)),
    ],
  };
}

function renderListener(
  l: ListenerModel,
  address: string,
  port: number,
  rds: object,
  readiness: ReadyHop | undefined,
  accessLogPath: string,
  tls?: RenderedTls,
): { listener: object; routes: object } {
  const filters: object[] = [];
  const healthCheck = readiness && "clusters" in readiness ? readinessHealthCheck(readiness.clusters) : undefined;
  // First, so that neither the rate limit nor a route ever sees the readiness request.
  if (healthCheck) filters.push(healthCheck);
  if (l.rateLimit) filters.push(rateLimitFilter(l.name, l.rateLimit));
  const refused = (l.refused ?? []).map((match) => ({
    match,
    direct_response: {
      status: 403,
      body: { inline_string: "refused: Triton's administrative API is not served through this data plane\n" },
    },
  }));
  // A hop of the readiness chain is never rate limited: a probe refused under overload would take the pod out.
  const hop =
    readiness && "next" in readiness
      ? [
          {
            match: { path: READY_CHAIN_PATH },
            route: { cluster: readiness.next },
            ...(l.rateLimit
              ? { typed_per_filter_config: { "envoy.filters.http.local_ratelimit": noRateLimit(l.name) } }
              : {}),
          },
        ]
      : [];
  // validate_clusters off: Envoy reloads the listeners', route tables' and clusters' files in no
  // fixed order (envoyproxy/envoy#31678), and a route table checked against clusters not yet loaded
  // would be refused for good. A route to a cluster still loading answers 503 for that moment; readiness
  // (above) waits for every cluster.
  const routes = {
    "@type": T.routeConfiguration,
    ...routeConfiguration(l.name, [...hop, ...refused, ...l.routes.flatMap(renderRoutes)], false),
  };
  const accessLog = l.accessLog ? [accessLogConfig(l.name, l.accessLog.sampledPercent, accessLogPath)] : [];
  const listener = httpListener(
    l.name,
    address,
    port,
    { rds: { route_config_name: l.name, config_source: rds } },
    filters,
    accessLog,
    tls?.routes,
  );
  if (tls && readiness) {
    // The readiness chain's own filter chain (see READY_SNI): the hop or the health check, nothing else.
    const onlyReady = [
      ...("next" in readiness ? [{ match: { path: READY_CHAIN_PATH }, route: { cluster: readiness.next } }] : []),
      { match: { prefix: "/" }, direct_response: { status: 404 } },
    ];
    const chain = httpListener(
      l.name,
      address,
      port,
      { route_config: routeConfiguration(`${l.name}-ready`, onlyReady) },
      healthCheck ? [healthCheck] : [],
      [],
      tls.readiness,
    ) as { filter_chains: object[] };
    listener.filter_chains = [
      { filter_chain_match: { server_names: [READY_SNI] }, ...chain.filter_chains[0] },
      ...(listener.filter_chains as object[]),
    ];
  }
  if (tls)
    listener.listener_filters = [
      { name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": T.tlsInspector } },
    ];
  return { listener: { "@type": T.listener, ...listener }, routes };
}

/** The last listener's health check: the readiness chain answers 200 only while every cluster has a healthy endpoint. */
function readinessHealthCheck(clusters: readonly string[]): object {
  return {
    name: "envoy.filters.http.health_check",
    typed_config: {
      "@type": T.healthCheck,
      pass_through_mode: false,
      headers: [{ name: ":path", string_match: { exact: READY_CHAIN_PATH } }],
      cluster_min_healthy_percentages: Object.fromEntries(clusters.map((c) => [c, { value: 0 }])),
    },
  };
}

/** Envoy's local rate limit on a listener: a token bucket, on for every request unless a route turns it off. */
function rateLimitFilter(listener: string, r: NonNullable<ListenerModel["rateLimit"]>): object {
  const on = { default_value: { numerator: 100, denominator: "HUNDRED" }, runtime_key: `${listener}_rate_limit` };
  return {
    name: "envoy.filters.http.local_ratelimit",
    typed_config: {
      "@type": T.localRateLimit,
      stat_prefix: `${listener}_rate_limit`,
      token_bucket: {
        max_tokens: r.maxTokens,
        tokens_per_fill: r.tokensPerFill,
        fill_interval: duration(r.fillIntervalSeconds),
      },
      filter_enabled: on,
      filter_enforced: on,
    },
  };
}

/** A listener's access log: one JSON line per sampled request (independent draws), never the readiness chain's. */
function accessLogConfig(listener: string, sampledPercent: number, path: string): object {
  return {
    name: "envoy.access_loggers.file",
    filter: {
      and_filter: {
        filters: [
          {
            runtime_filter: {
              runtime_key: `${listener}_access_log_percent`,
              percent_sampled: { numerator: sampledPercent, denominator: "HUNDRED" },
              use_independent_randomness: true,
            },
          },
          {
            header_filter: {
              header: { name: ":path", string_match: { exact: READY_CHAIN_PATH }, invert_match: true },
            },
          },
        ],
      },
    },
    typed_config: {
      "@type": T.fileAccessLog,
      path,
      log_format: { json_format: { ...ACCESS_LOG_FORMAT, listener } },
    },
  };
}

/** A route table: one virtual host with these routes. */
function routeConfiguration(name: string, routes: object[], validateClusters = true): Record<string, unknown> {
  return {
    name,
    ...(validateClusters ? {} : { validate_clusters: false }),
    virtual_hosts: [{ name, domains: ["*"], routes }],
  };
}

/** A listener with one HTTP connection manager: its routes (inline, or from RDS), these filters, then the router. */
function httpListener(
  name: string,
  address: string,
  port: number,
  routing: { route_config: object } | { rds: object },
  filters: object[],
  accessLog: object[] = [],
  transportSocket?: object,
): Record<string, unknown> {
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
