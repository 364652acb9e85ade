// The platform's Gateway as the run side reads it (TritonGatewayCanary): the HTTPRoute's status
// (accepted by each parent Gateway for the route's current generation), and the weights the
// Gateway's Envoy pods serve, read from each one's admin `/config_dump` (Contour's read-only admin
// listener on the pod's loopback). No push: the implementation programs its Envoy from the route
// over xDS. Runtime code: no cdktf here.
import { request } from "undici";
import { KubeAccess, kubectlFailure, runKubectl } from "./kube/kubectl";
import { Weights } from "./envoys";

/** A color's Service as the route refers to it. */
export interface ColorService {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

/** Contour's stat name of a Service port's cluster (its `alt_stat_name`): `<namespace>_<service>_<port>`. */
export function contourStatName(s: ColorService): string {
  return `${s.namespace}_${s.name}_${s.port}`;
}

const ADMIN_TIMEOUT_MS = 2_000;

async function getJson(url: string): Promise<any> {
  const res = await request(url, { headersTimeout: ADMIN_TIMEOUT_MS, bodyTimeout: ADMIN_TIMEOUT_MS });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(
      `GET ${url.replace(/\?.*/, "")} answered ${res.statusCode}${res.statusCode === 404 ? " (is it the Gateway Envoy's admin listener? Contour's is the pod's 127.0.0.1:9001)" : `: ${text.slice(0, 200)}`}`,
    );
  return JSON.parse(text);
}

/** What one Gateway Envoy serves to the backends: their weights in percent, or why it cannot tell. */
export interface GatewayServed {
  readonly served?: Weights;
  readonly detail: string;
}

/**
 * The weights one Gateway Envoy serves between `backends` (backend name -> the stat name of its
 * cluster): read from its routes that split between all of them (a route to one alone, e.g. a
 * preview route, is not the canary's). Every such route must carry the same weights.
 */
export async function readGatewayServed(
  adminUrl: string,
  backends: Readonly<Record<string, string>>,
): Promise<GatewayServed> {
  const base = adminUrl.replace(/\/$/, "");
  const [clusters, routes] = await Promise.all([
    getJson(`${base}/config_dump?resource=dynamic_active_clusters`),
    getJson(`${base}/config_dump?resource=dynamic_route_configs`),
  ]);
  const backendOfStat = new Map(Object.entries(backends).map(([backend, stat]) => [stat, backend]));
  // Envoy cluster name -> our backend, through the cluster's alt_stat_name.
  const backendOf = new Map<string, string>();
  for (const c of clusters.configs ?? []) {
    const b = backendOfStat.get(c.cluster?.alt_stat_name ?? c.cluster?.name);
    if (b) backendOf.set(c.cluster.name, b);
  }
  const seen = new Set<string>();
  for (const rc of routes.configs ?? []) {
    for (const vh of rc.route_config?.virtual_hosts ?? []) {
      for (const r of vh.routes ?? []) {
        const action = r.route;
        if (!action) continue;
        const split: { name: string; weight?: number }[] =
          action.weighted_clusters?.clusters ?? (action.cluster ? [{ name: action.cluster, weight: 1 }] : []);
        const ours = split.filter((c) => backendOf.has(c.name));
        if (new Set(ours.map((c) => backendOf.get(c.name))).size !== Object.keys(backends).length) continue;
        const total = split.reduce((n, c) => n + (c.weight ?? 0), 0);
        if (!(total > 0)) continue;
        const w: Record<string, number> = Object.fromEntries(Object.keys(backends).map((b) => [b, 0]));
        for (const c of ours) w[backendOf.get(c.name)!] += Math.round((100 * (c.weight ?? 0)) / total);
        seen.add(JSON.stringify(Object.keys(backends).map((b) => [b, w[b]])));
      }
    }
  }
  if (seen.size === 0)
    return {
      detail: `no route of it splits between ${Object.values(backends).join(" and ")} (the route is not programmed yet, or its clusters have no endpoints)`,
    };
  if (seen.size > 1)
    return { detail: `its routes to ${Object.values(backends).join(" and ")} disagree: ${[...seen].join(" / ")}` };
  const served = Object.fromEntries(JSON.parse([...seen][0]) as [string, number][]);
  return { served, detail: "" };
}

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

/** The HTTPRoute's status as its parents' controllers wrote it. */
export interface RouteStatus {
  readonly generation: number;
  readonly parents: readonly {
    readonly parent: string;
    readonly controller: string;
    readonly conditions: readonly Condition[];
  }[];
}

/** Reads the HTTPRoute's generation and status; throws with kubectl's message when it cannot. */
export async function readRouteStatus(kube: KubeAccess, namespace: string, name: string): Promise<RouteStatus> {
  const r = await runKubectl(kube, [
    "get",
    "httproutes.gateway.networking.k8s.io",
    name,
    "-n",
    namespace,
    "-o",
    "json",
  ]);
  if (r.code !== 0) throw new Error(`could not read HTTPRoute ${namespace}/${name}: ${kubectlFailure(r, kube)}`);
  const route = JSON.parse(r.stdout);
  return {
    generation: route.metadata?.generation ?? 0,
    parents: (route.status?.parents ?? []).map((p: any) => ({
      parent: `${p.parentRef?.namespace ?? namespace}/${p.parentRef?.name}${p.parentRef?.sectionName ? `/${p.parentRef.sectionName}` : ""}`,
      controller: p.controllerName ?? "",
      conditions: p.conditions ?? [],
    })),
  };
}

/**
 * Why the route is not yet in force, or undefined when every parent accepted its current generation
 * with its references resolved. A parent that refused it (Accepted False, ResolvedRefs False) is
 * `refused`: waiting will not help.
 */
export function routeProblem(s: RouteStatus): { why: string; refused: boolean } | undefined {
  if (!s.parents.length) return { why: "no Gateway controller has written its status yet", refused: false };
  for (const p of s.parents) {
    for (const type of ["Accepted", "ResolvedRefs"]) {
      const c = p.conditions.find((x) => x.type === type);
      if (!c || (c.observedGeneration ?? 0) < s.generation)
        return { why: `${p.parent} has not reported ${type} for generation ${s.generation} yet`, refused: false };
      if (c.status !== "True")
        return {
          why: `${p.parent} (${p.controller}) says ${type} ${c.status}: ${c.reason ?? ""}${c.message ? `: ${c.message}` : ""}`,
          refused: true,
        };
    }
  }
  return undefined;
}

/** The PromQL of an Envoy metric of the Gateway's Envoy for one cluster, over a window. */
export function gatewayEnvoyQueries(
  kind: "envoy-success-rate" | "envoy-latency",
  statName: string,
  windowSeconds: number,
  percentile = 99,
): { requests: string; errors?: string; value?: string } {
  const sel = `{envoy_cluster_name="${statName}"}`;
  const w = `[${windowSeconds}s]`;
  const requests = `sum(increase(envoy_cluster_upstream_rq_completed${sel}${w}))`;
  if (kind === "envoy-success-rate")
    return {
      requests,
      errors: `sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name="${statName}",envoy_response_code_class="5"}${w}))`,
    };
  return {
    requests,
    value: `histogram_quantile(${percentile / 100}, sum by (le) (rate(envoy_cluster_upstream_rq_time_bucket${sel}${w}))) / 1000`,
  };
}

/**
 * Sets the weights of the route's backendRefs in the cluster (a JSON patch of the HTTPRoute, each
 * backendRef tested by name first, so a route changed meanwhile is refused, not overwritten): how
 * a fall of the candidate's share reaches the Gateway before the apply does. The apply that follows
 * writes the same weights (Helm's three-way merge leaves them), so Terraform stays the record.
 */
export async function patchRouteWeights(
  kube: KubeAccess,
  namespace: string,
  name: string,
  weights: Readonly<Record<string, number>>,
): Promise<void> {
  const route = await runKubectl(kube, [
    "get",
    "httproutes.gateway.networking.k8s.io",
    name,
    "-n",
    namespace,
    "-o",
    "json",
  ]);
  if (route.code !== 0)
    throw new Error(`could not read HTTPRoute ${namespace}/${name}: ${kubectlFailure(route, kube)}`);
  const rules = (JSON.parse(route.stdout).spec?.rules ?? []) as { backendRefs?: { name: string }[] }[];
  const ops = rules.flatMap((rule, i) =>
    (rule.backendRefs ?? []).flatMap((ref, j) =>
      ref.name in weights
        ? [
            { op: "test", path: `/spec/rules/${i}/backendRefs/${j}/name`, value: ref.name },
            { op: "replace", path: `/spec/rules/${i}/backendRefs/${j}/weight`, value: weights[ref.name] },
          ]
        : [],
    ),
  );
  if (!ops.length)
    throw new Error(`HTTPRoute ${namespace}/${name} refers to none of ${Object.keys(weights).join(", ")}`);
  const r = await runKubectl(kube, [
    "patch",
    "httproutes.gateway.networking.k8s.io",
    name,
    "-n",
    namespace,
    "--type=json",
    "-p",
    JSON.stringify(ops),
  ]);
  if (r.code !== 0) throw new Error(`could not patch HTTPRoute ${namespace}/${name}: ${kubectlFailure(r, kube)}`);
}
