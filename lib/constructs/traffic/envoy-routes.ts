// A route's Envoy configuration: its match, its weighted clusters (each color's share, moved at once
// through the admin's runtime), retries and mirroring, and the routes of its pinned models' versions.
import { modelRouteStat, nextVersionKey, weightKeyPrefix } from "../../core/envoy";
import { RouteModel } from "./envoy-model";
import { duration, T } from "./envoy-types";

/**
 * A route, after the routes of its pinned models' versions (same action, same retries): a request
 * that names a version passes unchanged; one that names none (the model's metadata, ready, infer,
 * generate) is rewritten to the next version for `nextPercent` of requests (a runtime fraction,
 * moved at once through the admin's runtime like the weights), else to the pinned version.
 */
export function renderRoutes(r: RouteModel): object[] {
  const route = renderRoute(r);
  const action = (route as { route: Record<string, unknown> }).route;
  const pinnedRoutes = (r.versions ?? []).flatMap((v) => {
    const base = `/v2/models/${v.model}`;
    const unversioned = { safe_regex: { regex: `^${escapeRe(base)}(/ready|/infer|/generate|/generate_stream)?$` } };
    const rewrite = (version: number | string) => ({
      ...action,
      regex_rewrite: { pattern: { regex: `^${escapeRe(base)}` }, substitution: `${base}/versions/${version}` },
    });
    // No next version (0): the next route goes to the pinned one, so a share the runtime still holds sends nothing astray.
    const next =
      typeof v.next === "number"
        ? v.next > 0
          ? v.next
          : v.pinned
        : `\${${stripInterpolation(v.next)} > 0 ? ${stripInterpolation(v.next)} : ${typeof v.pinned === "number" ? v.pinned : stripInterpolation(v.pinned)}}`;
    return [
      { name: `${r.name}-${v.model}-versioned`, match: { prefix: `${base}/versions/` }, route: action },
      // Each with its own statistics (vhost.<listener>.route.<stat_prefix>.*): both versions are behind the same clusters.
      {
        name: `${r.name}-${v.model}-next`,
        stat_prefix: modelRouteStat(v.model, "next"),
        match: {
          ...unversioned,
          runtime_fraction: {
            default_value: { numerator: v.nextPercent, denominator: "HUNDRED" },
            runtime_key: nextVersionKey(v.model),
          },
        },
        route: rewrite(next),
      },
      {
        name: `${r.name}-${v.model}-pinned`,
        stat_prefix: modelRouteStat(v.model, "pinned"),
        match: unversioned,
        route: rewrite(v.pinned),
      },
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
    ...Object.entries(r.match?.headers ?? {}).map(([name, exact]) => ({
      name: name.toLowerCase(),
      string_match: { exact },
    })),
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
      : {
          weighted_clusters: {
            runtime_key_prefix: weightKeyPrefix(r.name),
            clusters: live.map((c) => ({ name: c.cluster, weight: c.weight })),
          },
        }),
  };
  if (r.mirror) {
    route.request_mirror_policies = [
      {
        cluster: r.mirror.cluster,
        runtime_fraction: { default_value: { numerator: r.mirror.percent, denominator: "HUNDRED" } },
      },
    ];
  }
  if (r.retry) {
    route.retry_policy = {
      retry_on: r.retry.retryOn ?? "5xx,reset,connect-failure,refused-stream",
      num_retries: r.retry.numRetries ?? 2,
      per_try_timeout: duration(r.retry.perTryTimeoutSeconds ?? 2),
      // Retry on another host, and on the next priority (tier) once this one's hosts have failed.
      retry_host_predicate: [
        { name: "envoy.retry_host_predicates.previous_hosts", typed_config: { "@type": T.previousHosts } },
      ],
      host_selection_retry_max_attempts: 5,
      retry_priority: {
        name: "envoy.retry_priorities.previous_priorities",
        typed_config: { "@type": T.previousPriorities, update_frequency: 1 },
      },
    };
  }
  return { name: r.name, match: { prefix: r.match?.pathPrefix ?? "/", ...(headers.length ? { headers } : {}) }, route };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
