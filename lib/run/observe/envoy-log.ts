// Envoy's stdout as our Envoys write it: the health checkers' events (the failover event log) and
// sampled access log lines, both JSON lines. Read from `kubectl logs` of an Envoy pod, or a file.
// Lines that are neither (or not JSON) are counted, never fatal. Runtime code: no cdktf here.

export type FailoverEventKind = "ejected" | "healthy" | "failed" | "degraded" | "not-degraded";

/** One health-checker event: a host taken out of (or put back into) rotation. */
export interface FailoverEvent {
  readonly at: string;
  readonly cluster: string;
  /** host:port */
  readonly host: string;
  readonly kind: FailoverEventKind;
  /** Why: the failure type, or "first check" for a host found healthy at its first check. */
  readonly detail: string;
  /** The Envoy (pod) that logged it, when known. */
  readonly envoy?: string;
}

/** One sampled request (the fields of ACCESS_LOG_FORMAT). */
export interface AccessLine {
  readonly at: string;
  readonly listener: string;
  readonly status: number;
  readonly flags: string;
  readonly durationMs: number;
  readonly upstreamCluster: string;
  readonly upstreamHost: string;
  readonly path: string;
  readonly envoy?: string;
}

export interface EnvoyLog {
  readonly events: FailoverEvent[];
  readonly requests: AccessLine[];
  /** Lines that were not JSON events or access lines (Envoy's own messages, truncated lines). */
  readonly otherLines: number;
}

const KINDS: Record<string, FailoverEventKind> = {
  eject_unhealthy_event: "ejected",
  add_healthy_event: "healthy",
  health_check_failure_event: "failed",
  degraded_healthy_host: "degraded",
  no_longer_degraded_host: "not-degraded",
  successful_health_check_event: "healthy",
};

/** Parses Envoy's stdout; `envoy` names the pod (or file) the lines came from. */
export function parseEnvoyLog(text: string, envoy?: string): EnvoyLog {
  const events: FailoverEvent[] = [];
  const requests: AccessLine[] = [];
  let otherLines = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let o: any;
    try {
      o = JSON.parse(line);
    } catch {
      otherLines++;
      continue;
    }
    const kindKey = o && typeof o === "object" ? Object.keys(KINDS).find((k) => k in o) : undefined;
    if (kindKey && typeof o.cluster_name === "string") {
      const a = o.host?.socket_address ?? {};
      const body = o[kindKey] ?? {};
      const detail =
        body.failure_type ??
        (body.first_check ? "first check" : kindKey === "add_healthy_event" ? "healthy threshold reached" : "");
      events.push({
        at: String(o.timestamp ?? ""),
        cluster: o.cluster_name,
        host: `${a.address ?? "?"}:${a.port_value ?? "?"}`,
        kind: KINDS[kindKey],
        detail: String(detail),
        ...(envoy ? { envoy } : {}),
      });
    } else if (o && o.kind === "access") {
      requests.push({
        at: String(o.start_time ?? ""),
        listener: String(o.listener ?? ""),
        status: Number(o.status ?? 0),
        flags: String(o.flags ?? "-"),
        durationMs: Number(o.duration_ms ?? NaN),
        upstreamCluster: String(o.upstream_cluster ?? ""),
        upstreamHost: String(o.upstream_host ?? ""),
        path: String(o.path ?? ""),
        ...(envoy ? { envoy } : {}),
      });
    } else otherLines++;
  }
  return { events, requests, otherLines };
}
