// A cluster's Envoy configuration: its endpoints grouped by priority (a failover tier), active
// health checks, outlier detection, circuit breakers, HTTP/2 for gRPC, and TLS to the endpoints that
// name an SNI.
import { isIP } from "net";
import {
  CircuitBreakerProps,
  ClusterModel,
  EndpointModel,
  HealthCheckProps,
  OutlierDetectionProps,
} from "./envoy-model";
import { duration, T } from "./envoy-types";

export function renderCluster(c: ClusterModel, healthEventLogPath: string): object {
  return {
    "@type": T.cluster,
    name: c.name,
    // Addresses that are all IP literals need no resolver (STATIC); names are resolved and
    // re-resolved (STRICT_DNS), which also spreads a name's addresses.
    ...(c.endpoints.every((e) => isIP(e.host))
      ? { type: "STATIC" }
      : { type: "STRICT_DNS", dns_lookup_family: "V4_PREFERRED" }),
    connect_timeout: "1s",
    lb_policy: c.loadBalancing === "least-request" ? "LEAST_REQUEST" : "ROUND_ROBIN",
    load_assignment: loadAssignment(c),
    // Never send traffic to hosts known to be unhealthy, even when few are left: fail over to the
    // next tier, or answer 503 at once when every tier is down.
    // update_merge_window 0: Envoy by default holds health-check and ejection verdicts for up to
    // 1 s before its workers' load balancers see them (a CPU saving for clusters of thousands of
    // hosts). Ours have a handful, and a host known dead must leave rotation at once (measured: a
    // host healthy in /clusters received no request for the next 600 without it).
    common_lb_config: {
      healthy_panic_threshold: { value: 0 },
      update_merge_window: "0s",
      ...(c.localityWeighted ? { locality_weighted_lb_config: {} } : {}),
    },
    // A pool's stats per endpoint (requests, health; labelled with the endpoint's host name): which
    // tier serves is observable, and alertable (Envoy has no statistics per priority).
    ...(new Set(c.endpoints.map((e) => e.priority)).size > 1
      ? { track_cluster_stats: { per_endpoint_stats: true } }
      : {}),
    ...(c.healthCheck ? { health_checks: [healthCheck(c.healthCheck, healthEventLogPath)] } : {}),
    ...(c.outlierDetection ? { outlier_detection: outlierDetection(c.outlierDetection) } : {}),
    circuit_breakers: { thresholds: [circuitBreakerThresholds(c.circuitBreakers)] },
    ...(c.protocol === "grpc"
      ? {
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": T.http2,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
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
    event_logger: [
      {
        name: "envoy.health_check.event_sink.file",
        typed_config: { "@type": T.healthEventFileSink, event_log_path: healthEventLogPath },
      },
    ],
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
              match_typed_subject_alt_names: [
                { san_type: /^[0-9.]+$/.test(sni) ? "IP_ADDRESS" : "DNS", matcher: { exact: sni } },
              ],
            },
          },
        },
      },
    })),
  };
}
