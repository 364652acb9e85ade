// Envoy's type URLs and its JSON duration format, shared by the renderers of listeners, routes and
// clusters.

/** The type URLs of the Envoy messages the configuration holds. */
export const T = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  routeConfiguration: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  hcm: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
  localRateLimit: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
  healthCheck: "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck",
  previousHosts: "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
  previousPriorities:
    "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
  http2: "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  upstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  fileAccessLog: "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
  healthEventFileSink: "type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink",
  downstreamTls: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  tlsInspector: "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
};

/** Seconds as Envoy's JSON duration ("0.25s"). */
export const duration = (seconds: number) => `${Math.round(seconds * 1000) / 1000}s`;
