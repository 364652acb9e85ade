// What our rendered Envoy configuration and the run side that reads Envoy back agree on: the ops
// port, the canary's route, how a backend's clusters are named per protocol, the ops listener's own
// clusters, and the route tables' version (the weights a pod serves).
import { Protocol } from "./closed-sets";

/** The port of the ops listener: readiness, liveness and `/stats/prometheus` (never the admin API). */
export const ENVOY_OPS_PORT = 9902;

/** Envoy's admin interface, on the pod's loopback only (it can change the runtime and quit Envoy). */
export const ENVOY_ADMIN_PORT = 9901;

/** The name of a TritonCanary's route, the one whose weights a promotion moves. */
export const CANARY_ROUTE = "canary";

/** A backend's cluster for one protocol. */
export function protocolCluster(backend: string, protocol: Protocol): string {
  return `${backend}-${protocol}`;
}

/** The backend a cluster belongs to (its protocol suffix dropped). */
export function clusterBackend(cluster: string): string {
  return cluster.replace(/-(http|grpc)$/, "");
}

/** The ops listener's route to Envoy's admin interface (its local socket). */
export const ADMIN_CLUSTER = "envoy-admin";

/** Listener i's hop of the readiness chain. */
export function readyCluster(i: number): string {
  return `ready-listener-${i}`;
}

/** Whether a cluster is one of the ops listener's own (the admin, the readiness hops), not the model's. */
export function isOpsCluster(name: string): boolean {
  return name === ADMIN_CLUSTER || /^ready-listener-\d+$/.test(name);
}

/**
 * The versions of one model behind a route (TritonModelCanary): requests that name no version are
 * rewritten to `/v2/models/<m>/versions/<pinned>`, but `nextPercent` of them to `<next>`; requests
 * that name a version pass unchanged. Numbers, or Terraform expressions embedded in the file.
 */
export interface ModelVersionsRoute {
  readonly model: string;
  readonly pinned: number | string;
  /** 0: none (the next route then rewrites to the pinned version, so a share left in the runtime cannot send requests to a version that is gone). */
  readonly next: number | string;
  readonly nextPercent: number | string;
}

/** A route that splits traffic, as the version names it. */
export interface SplitRoute {
  readonly name: string;
  readonly clusters: readonly { readonly cluster: string; readonly weight: number | string }[];
  /** @default - no model's versions pinned */
  readonly versions?: readonly ModelVersionsRoute[];
}

/** The runtime key of the share of a model's unversioned requests that goes to its next version (percent). */
export function nextVersionKey(model: string): string {
  return `versions.${model}.next_percent`;
}

/** The statistics prefix of a model's next-version or pinned-version route (`vhost.<listener>.route.<prefix>.*`). */
export function modelRouteStat(model: string, which: "next" | "pinned"): string {
  return `${model.replace(/[^A-Za-z0-9_]/g, "_")}_${which}`;
}

/** The route table version's name of a model's versions: `model <m>`. */
export function modelVersionsName(model: string): string {
  return `model ${model}`;
}

/**
 * The route tables' version: the weights of each split route, e.g. `weights canary: fraud-blue=75,
 * fraud-green=25`. Envoy reports it per listener (text readout `http.<listener>.rds.<listener>.version_text`,
 * on the ops port's `/stats/prometheus?text_readouts`), so whoever changed the weights sees when a
 * pod serves them. Undefined without a split route.
 */
export function weightsVersion(routes: readonly SplitRoute[]): string | undefined {
  const parts = [
    ...routes
      .filter((r) => r.clusters.length > 1)
      .map((r) => `${r.name}: ${r.clusters.map((c) => `${clusterBackend(c.cluster)}=${c.weight}`).join(", ")}`),
    ...routes
      .flatMap((r) => r.versions ?? [])
      .map((v) => `${modelVersionsName(v.model)}: pinned=${v.pinned}, next=${v.next}, share=${v.nextPercent}`),
  ];
  return parts.length ? `weights ${parts.join("; ")}` : undefined;
}

/**
 * The runtime keys of a split route's weights: Envoy looks up `<prefix>.<cluster>` in its runtime
 * before the weight the route table gives (`weighted_clusters.runtime_key_prefix`). Our Envoys'
 * runtime has one layer, the admin's: a POST to `/runtime_modify` moves a weight at the next
 * request, and clearing the key hands the weight back to the route table (the mounted file).
 */
export function weightKeyPrefix(route: string): string {
  return `weights.${route}`;
}

/** The runtime key of one cluster's weight in a split route. */
export function weightKey(route: string, cluster: string): string {
  return `${weightKeyPrefix(route)}.${cluster}`;
}

/**
 * A route tables' version read back: route name -> backend -> weight. The inverse of
 * {@link weightsVersion}; undefined for text it did not write.
 */
export function parseWeightsVersion(text: string): Map<string, Map<string, number>> | undefined {
  const m = /^weights (.+)$/s.exec(text.replace(/\s*\n\s*/g, " "));
  if (!m) return undefined;
  const routes = new Map<string, Map<string, number>>();
  for (const part of m[1].split("; ")) {
    const r = /^([^:]+): (.+)$/.exec(part);
    if (!r) return undefined;
    const weights = new Map<string, number>();
    for (const pair of r[2].split(", ")) {
      const kv = /^(.+)=(\d+)$/.exec(pair);
      if (!kv) return undefined;
      weights.set(kv[1], Number(kv[2]));
    }
    routes.set(r[1], weights);
  }
  return routes;
}
