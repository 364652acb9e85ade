// The cluster's Gateway (TritonGatewayCanary) as a promotion's data plane: a rise is applied (the
// HTTPRoute's weights) and waited for until every Gateway Envoy pod serves it (its implementation
// pushes it over xDS); a fall is patched into the route first, then applied. The Gateway's Envoy
// follows its route by itself: no runtime values to clear. Runtime code: no cdktf here.
import { Color, COLORS } from "../../core/colors";
import { KubeAccess } from "../kube/kubectl";
import { EnvoyFleet, sameWeights, Weights, weightsText } from "../envoys";
import { ColorService, patchRouteWeights, readGatewayServed, readRouteStatus, routeProblem } from "../gateway";
import { DONE, Outcome } from "./context";
import { PromoteError } from "./options";
import { DataPlane, Unreached } from "./traffic";

/** How long, after an apply, the Gateway may take to accept the route and its Envoy to serve the weights. */
const GATEWAY_SERVE_TIMEOUT_MS = 30_000;

/** A TritonGatewayCanary's route, and each color's Service and its cluster's stat name. */
export interface GatewayRoute {
  readonly namespace: string;
  readonly route: string;
  readonly services: Readonly<Record<Color, ColorService>>;
  readonly stats: Readonly<Record<Color, string>>;
}

export class GatewayPlane implements DataPlane {
  readonly fleet: EnvoyFleet;
  readonly holdsRuntime = false;
  readonly words = {
    pods: "Gateway Envoy pods",
    serving: "waiting for the Gateway's Envoy to serve",
    pushed: "the route patched",
    later: "the apply writes the route again",
  };
  /** Each color's backend as the weights name it, and its cluster's stat name. */
  private readonly backends: Record<string, string>;

  constructor(
    private readonly kube: KubeAccess,
    private readonly gateway: GatewayRoute,
    private readonly pods: {
      readonly namespace: string;
      readonly labels: Readonly<Record<string, string>>;
      readonly adminPort: number;
      readonly urls?: readonly string[];
    },
    private readonly err: NodeJS.WritableStream,
  ) {
    this.fleet = new EnvoyFleet({
      kube,
      namespace: pods.namespace,
      name: pods.labels,
      adminPort: pods.adminPort,
      urls: pods.urls,
    });
    this.backends = Object.fromEntries(COLORS.map((c) => [gateway.services[c].name, gateway.stats[c]]));
  }

  /** Every Gateway Envoy pod reached, its admin listener answering. */
  async connect(): Promise<void> {
    const { namespace, labels, adminPort } = this.pods;
    const pods = await this.fleet.refresh().catch((e: Error) => {
      throw new PromoteError(e.message.replace("the pods of", "the Envoy pods of"));
    });
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    if (!pods.length)
      throw new PromoteError(
        `no running Envoy pod of the Gateway in ${namespace} (labels ${selector}): check the TritonGatewayCanary's dataPlane`,
      );
    for (const pod of pods) {
      if (!pod.url) throw new PromoteError(`Gateway Envoy pod ${pod.name} cannot be reached: ${pod.problem}`);
      await readGatewayServed(pod.url, this.backends).catch((e: Error) => {
        throw new PromoteError(
          `Gateway Envoy pod ${pod.name}: its admin listener (port ${adminPort}) does not answer: ${e.message}`,
        );
      });
    }
  }

  /**
   * After an apply (or a patch of the route's weights, `patch`: a fall, before its apply): waits
   * until every parent Gateway accepted the route's new generation and every Gateway Envoy pod
   * serves the weights, up to 30 s. Resolves to the pods that do not, each with why; a route the
   * Gateway refused is every pod's why at once.
   */
  async serve(weights: Weights, patch: boolean): Promise<Unreached[]> {
    const { namespace, route } = this.gateway;
    if (patch) {
      try {
        await patchRouteWeights(this.kube, namespace, route, weights);
      } catch (e) {
        return this.fleet.pods().map((p) => ({ pod: p.name, why: (e as Error).message }));
      }
    }
    const deadline = Date.now() + GATEWAY_SERVE_TIMEOUT_MS;
    let listed = 0;
    for (;;) {
      // The Gateway's Envoy pods listed again every 5 s (a pod that came or went).
      if (Date.now() - listed > 5_000) {
        listed = Date.now();
        await this.fleet
          .refresh()
          .catch((e: Error) =>
            this.err.write(`promote: ${e.message} (the Gateway Envoy pods listed before are kept)\n`),
          );
      }
      const routeWhy = await this.routeWhy();
      if (routeWhy?.refused) return this.fleet.pods().map((p) => ({ pod: p.name, why: routeWhy.why }));
      const open = routeWhy
        ? this.fleet.pods().map((p) => ({ pod: p.name, why: routeWhy.why }))
        : await this.notServing(weights);
      // No pod listed is no pod serving it (never a vacuous "served").
      if (!this.fleet.pods().length)
        open.push({ pod: "(the Gateway's Envoy)", why: "no running pod matches the dataPlane's labels" });
      if (!open.length) return [];
      if (Date.now() > deadline)
        return open.map((u) => ({ ...u, why: `${u.why} (after ${GATEWAY_SERVE_TIMEOUT_MS / 1000} s)` }));
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Why the route is not served yet as the Gateway tells it (refused: it never will be), or undefined. */
  private async routeWhy(): Promise<{ why: string; refused: boolean } | undefined> {
    const { namespace, route } = this.gateway;
    try {
      const problem = routeProblem(await readRouteStatus(this.kube, namespace, route));
      return problem && { why: `HTTPRoute ${namespace}/${route}: ${problem.why}`, refused: problem.refused };
    } catch (e) {
      return { why: (e as Error).message, refused: false };
    }
  }

  /** The Gateway Envoy pods that do not serve `weights`, each with why. */
  private async notServing(weights: Weights): Promise<Unreached[]> {
    const open = await Promise.all(
      this.fleet.pods().map(async (pod): Promise<Unreached | undefined> => {
        if (!pod.url) return { pod: pod.name, why: pod.problem ?? "not reached" };
        try {
          const s = await readGatewayServed(pod.url, this.backends);
          return sameWeights(s.served, weights)
            ? undefined
            : { pod: pod.name, why: s.served ? `it serves ${weightsText(this.gateway.route, s.served)}` : s.detail };
        } catch (e) {
          return { pod: pod.name, why: (e as Error).message };
        }
      }),
    );
    return open.filter((u): u is Unreached => u !== undefined);
  }

  /** A route the patch did not reach: the apply wrote it; waits for the Gateway to serve it. */
  servedAfterApply(weights: Weights): Promise<Unreached[]> {
    return this.serve(weights, false);
  }

  async afterApply(): Promise<Outcome> {
    return DONE;
  }

  /** The Gateway's Envoy follows the route by itself: nothing to push or clear. */
  async converge(): Promise<string[]> {
    return [];
  }

  close(): void {
    this.fleet.close();
  }
}
