// Our Envoy pods as the run side reaches them: one `kubectl port-forward` per pod to its admin port
// (bound to the pod's loopback), listed again as pods come and go; and the weights of a split route
// that each one serves. A weight moves in two ways: the mounted ConfigMap (the route table's
// weights, what Terraform applied; a kubelet writes it into each pod on its own sync loop, a minute
// or more), and the admin's runtime (`POST /runtime_modify`, served at the next request). What a pod
// serves is the runtime's value where one is set, else its file's. Runtime code: no cdktf here.
import { request } from "undici";
import {
  clusterBackend,
  modelVersionsName,
  nextVersionKey,
  parseWeightsVersion,
  weightKey,
  weightsVersion,
} from "../core/envoy";
import { KubeAccess, runningPods } from "./kube/kubectl";
import { PortForward, startPortForward } from "./kube/port-forward";

/** Percent per backend, e.g. { blue: 90, green: 10 }. */
export type Weights = Readonly<Record<string, number>>;

/** A split route and the clusters of each backend (one per protocol). */
export interface SplitRouteClusters {
  readonly route: string;
  /** The clusters of the route, e.g. ["blue-http", "blue-grpc", "green-http", "green-grpc"]. */
  readonly clusters: readonly string[];
}

/** What one Envoy serves on the route. */
export interface ServedWeights {
  /** The mounted file's weights (its route tables' version); undefined when its tables disagree or carry none. */
  readonly file?: Weights;
  /** The runtime's values for the route's clusters (cluster -> weight); empty when none is set. */
  readonly overrides: Readonly<Record<string, number>>;
  /** What it serves: per backend the runtime's value where set, else the file's; undefined when its clusters disagree. */
  readonly served?: Weights;
}

const ADMIN_TIMEOUT_MS = 2_000;

async function admin(url: string, method: "GET" | "POST"): Promise<string> {
  const res = await request(url, { method, headersTimeout: ADMIN_TIMEOUT_MS, bodyTimeout: ADMIN_TIMEOUT_MS });
  const text = await res.body.text();
  if (res.statusCode !== 200)
    throw new Error(
      `${method} ${url.replace(/\?.*/, "")} answered ${res.statusCode}${res.statusCode === 404 ? " (is it Envoy's admin interface, the pod's port 9901? the ops port 9902 serves no runtime)" : `: ${text.slice(0, 200)}`}`,
    );
  return text;
}

/** `weights canary: blue=90, green=10`: the text the route tables' version uses. */
export function weightsText(route: string, weights: Weights | undefined): string {
  if (!weights) return "mixed weights";
  return (
    weightsVersion([
      { name: route, clusters: Object.entries(weights).map(([backend, weight]) => ({ cluster: backend, weight })) },
    ]) ?? "no weights"
  );
}

export function sameWeights(a: Weights | undefined, b: Weights | undefined): boolean {
  if (!a || !b) return false;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

/** The route tables' versions alone (`http.<listener>.rds.<table>.version_text`): a few hundred bytes, where the whole stats are 100 kB or more. */
const ROUTE_VERSIONS = `/stats?format=json&filter=${encodeURIComponent("^http\\..*\\.rds\\..*\\.version_text$")}`;

/**
 * One Envoy's route tables' version, parsed (undefined when its tables disagree or carry none),
 * and a reader of its runtime's values (undefined where a key is not set).
 */
async function readTablesAndRuntime(
  adminUrl: string,
): Promise<{ tables?: Map<string, Map<string, number>>; runtime: (key: string) => number | undefined }> {
  const base = adminUrl.replace(/\/$/, "");
  // Both at once; a failure reported in this order, whichever answered first.
  const [statsAnswer, runtimeAnswer] = await Promise.allSettled([
    admin(`${base}${ROUTE_VERSIONS}`, "GET"),
    admin(`${base}/runtime`, "GET"),
  ]);
  if (statsAnswer.status === "rejected") throw statsAnswer.reason;
  if (runtimeAnswer.status === "rejected") throw runtimeAnswer.reason;
  const versions = new Set(
    ((JSON.parse(statsAnswer.value).stats ?? []) as { value?: unknown }[]).map((s) => String(s.value ?? "")),
  );
  const entries = (JSON.parse(runtimeAnswer.value).entries ?? {}) as Record<string, { final_value?: string }>;
  return {
    tables: versions.size === 1 ? parseWeightsVersion([...versions][0]) : undefined,
    runtime: (key) => {
      const v = entries[key]?.final_value;
      return v !== undefined && v !== "" ? Number(v) : undefined;
    },
  };
}

/** Sets (or, with "", removes) values in one Envoy's runtime. */
async function modifyRuntime(adminUrl: string, values: Readonly<Record<string, string | number>>): Promise<void> {
  const query = Object.entries(values)
    .map(([k, v]) => `${encodeURIComponent(k)}=${v}`)
    .join("&");
  await admin(`${adminUrl.replace(/\/$/, "")}/runtime_modify?${query}`, "POST");
}

/** Reads what one Envoy serves on the route: its route tables' version and its runtime. */
export async function readServed(adminUrl: string, split: SplitRouteClusters): Promise<ServedWeights> {
  const { tables, runtime } = await readTablesAndRuntime(adminUrl);
  const fileRoute = tables?.get(split.route);
  const file = fileRoute ? Object.fromEntries(fileRoute) : undefined;
  const overrides: Record<string, number> = {};
  for (const cluster of split.clusters) {
    const v = runtime(weightKey(split.route, cluster));
    if (v !== undefined) overrides[cluster] = v;
  }
  // Per backend, every protocol's cluster must serve the same weight.
  const served: Record<string, number> = {};
  for (const cluster of split.clusters) {
    const backend = clusterBackend(cluster);
    const w = overrides[cluster] ?? file?.[backend];
    if (w === undefined || (backend in served && served[backend] !== w)) return { file, overrides };
    served[backend] = w;
  }
  return { file, overrides, served };
}

/** Sets the route's weights in one Envoy's runtime: every cluster of each backend. */
export async function pushWeights(adminUrl: string, split: SplitRouteClusters, weights: Weights): Promise<void> {
  await modifyRuntime(
    adminUrl,
    Object.fromEntries(split.clusters.map((c) => [weightKey(split.route, c), weights[clusterBackend(c)] ?? 0])),
  );
}

/** Removes the route's runtime values from one Envoy: its file's weights serve again. */
export async function clearOverrides(adminUrl: string, split: SplitRouteClusters): Promise<void> {
  await modifyRuntime(adminUrl, Object.fromEntries(split.clusters.map((c) => [weightKey(split.route, c), ""])));
}

/**
 * A model's versions behind our Envoy (TritonModelCanary) as weights: `<model>@<version>` -> the
 * percent of its unversioned requests (versions with none left out).
 */
export function modelWeights(model: string, pinned: number, next: number, share: number): Weights {
  const w: Record<string, number> =
    next > 0 ? { [`${model}@${pinned}`]: 100 - share, [`${model}@${next}`]: share } : { [`${model}@${pinned}`]: 100 };
  return Object.fromEntries(Object.entries(w).filter(([, v]) => v > 0));
}

/** What one Envoy serves of a model's versions: its file's pinned/next/share, and the runtime's share. */
export async function readModelServed(adminUrl: string, model: string): Promise<ServedWeights & { next?: number }> {
  const { tables, runtime } = await readTablesAndRuntime(adminUrl);
  const entry = tables?.get(modelVersionsName(model));
  const share = runtime(nextVersionKey(model));
  const overrides: Record<string, number> = share !== undefined ? { [nextVersionKey(model)]: share } : {};
  if (!entry || !entry.has("pinned") || !entry.has("next") || !entry.has("share")) return { overrides };
  const [pinned, next, fileShare] = [entry.get("pinned")!, entry.get("next")!, entry.get("share")!];
  const file = modelWeights(model, pinned, next, fileShare);
  // With no next version the route goes to the pinned one whatever the runtime holds.
  const served = modelWeights(model, pinned, next, share ?? fileShare);
  return { file, overrides, served, next };
}

/** Sets the share of a model's unversioned requests to its next version in one Envoy's runtime. */
export async function pushModelShare(adminUrl: string, model: string, percent: number): Promise<void> {
  await modifyRuntime(adminUrl, { [nextVersionKey(model)]: percent });
}

/** Removes the share from one Envoy's runtime: its file's serves again. */
export async function clearModelShare(adminUrl: string, model: string): Promise<void> {
  await modifyRuntime(adminUrl, { [nextVersionKey(model)]: "" });
}

export interface EnvoyPod {
  /** The pod's name (or, for a URL given by hand, the URL). */
  readonly name: string;
  /** Its admin interface; undefined when its port-forward could not start (`problem` says why). */
  readonly url?: string;
  readonly problem?: string;
}

/**
 * The Envoy pods of a Deployment (label `app=<name>`, or other labels), each reached by a port-forward to its admin
 * port; or a fixed list of admin URLs. `refresh()` lists the pods again: a new pod gets its
 * port-forward, a gone one is dropped.
 */
export class EnvoyFleet {
  private readonly forwards = new Map<string, PortForward>();
  /** Listed pods whose port-forward did not start, and why. */
  private readonly unreached = new Map<string, string>();
  private fixed?: EnvoyPod[];

  /** `name`: the Deployment (its pods labelled `app=<name>`), or the labels that select the pods. */
  constructor(
    private readonly o: {
      readonly kube: KubeAccess;
      readonly namespace: string;
      readonly name: string | Readonly<Record<string, string>>;
      readonly adminPort: number;
      readonly urls?: readonly string[];
    },
  ) {
    if (o.urls?.length) this.fixed = o.urls.map((url) => ({ name: url, url }));
  }

  /** The pods as last listed. */
  pods(): EnvoyPod[] {
    return (
      this.fixed ??
      [
        ...[...this.forwards.entries()].map(([name, pf]) => ({ name, url: pf.url })),
        ...[...this.unreached].map(([name, problem]) => ({ name, problem })),
      ].sort((a, b) => a.name.localeCompare(b.name))
    );
  }

  /** The admin URLs of the pods reached. */
  urls(): string[] {
    return this.pods().flatMap((p) => (p.url ? [p.url] : []));
  }

  /** Lists the running pods again and connects the new ones; throws when the pods cannot be listed. */
  async refresh(): Promise<EnvoyPod[]> {
    if (this.fixed) return this.fixed;
    const { kube, namespace, name, adminPort } = this.o;
    const names = await runningPods(kube, namespace, name);
    for (const [pod, pf] of this.forwards) {
      if (!names.includes(pod) || !pf.alive()) {
        pf.stop();
        this.forwards.delete(pod);
      }
    }
    this.unreached.clear();
    for (const pod of names.filter((n) => !this.forwards.has(n))) {
      try {
        this.forwards.set(
          pod,
          await startPortForward({
            target: `pod/${pod}:${adminPort}`,
            namespace,
            kubeconfig: kube.kubeconfig,
            context: kube.context,
            kubectl: kube.kubectl,
            timeoutMs: 10_000,
          }),
        );
      } catch (e) {
        // Tried again at the next refresh.
        this.unreached.set(pod, (e as Error).message);
      }
    }
    return this.pods();
  }

  close(): void {
    this.forwards.forEach((pf) => pf.stop());
    this.forwards.clear();
  }
}
