// A model's versions inside the serving color (TritonModelCanary) as a promotion's data plane: our
// Envoy pods carry the versions' shares (envoy-plane.ts), and every Triton pod of the pair is made
// to serve the versions a move names, through Triton's repository API. Before any request reaches
// the next version it is loaded beside the pinned one, routed by every Envoy pod's file, and checked
// on its own endpoints. Runtime code: no cdktf here.
import { Color, COLORS } from "../../core/colors";
import { VerifySpec } from "../../core/verify-spec";
import { EnvoyFleet, readModelServed, Weights } from "../envoys";
import { kubectlFailure, runKubectl } from "../kube/kubectl";
import { pinVersions } from "../model-versions";
import { verify } from "../verify/verifier";
import { DONE, failed, Outcome, RunContext } from "./context";
import { EnvoyPlane } from "./envoy-plane";
import { ModelMoves, Move, Moves } from "./moves";
import { PromoteError } from "./options";
import { MoveResult } from "./traffic";

export class ModelPlane extends EnvoyPlane {
  /** The pair's Triton pods per color (port-forwards to their HTTP port), and the restricted API's key where there is one. */
  private readonly tritons = {} as Record<
    Color,
    { readonly fleet: EnvoyFleet; restricted?: { readonly header: string; readonly key: string } }
  >;
  /** The versions of the model every Triton pod was last made to serve. */
  private loadedVersions?: readonly number[];
  /** The Envoy pods whose file does not route to the next version yet, each with why. */
  private behind: string[] = [];

  constructor(
    c: RunContext,
    moves: Moves,
    envoys: EnvoyPlane["access"],
    private readonly pairNamespace: string,
  ) {
    super(c, moves, envoys);
  }

  async connect(target: Weights): Promise<void> {
    await super.connect(target);
    await this.connectTritons();
  }

  /**
   * The model's Triton pods, per color (a port-forward to each pod's HTTP port), and the restricted
   * API's key, read from its Secret where the chart restricts the repository API.
   */
  private async connectTritons(): Promise<void> {
    const model = this.c.spec.model!;
    const { kube } = this.access;
    const namespace = this.pairNamespace;
    for (const color of COLORS) {
      const t = model.triton[color];
      let restricted: { header: string; key: string } | undefined;
      if (t.restricted) {
        const r = await runKubectl(kube, [
          "get",
          "secret",
          t.restricted.secretName,
          "-n",
          namespace,
          "-o",
          `jsonpath={.data.${t.restricted.secretKey}}`,
        ]);
        if (r.code !== 0)
          throw new PromoteError(
            `the ${color} release restricts Triton's repository API; its key (Secret ${namespace}/${t.restricted.secretName}) cannot be read: ${kubectlFailure(r, kube)}`,
          );
        restricted = { header: t.restricted.header, key: Buffer.from(r.stdout.trim(), "base64").toString("utf8") };
      }
      this.tritons[color] = {
        fleet: new EnvoyFleet({ kube, namespace, name: t.podLabels, adminPort: model.httpPort }),
        restricted,
      };
    }
  }

  /** A move that names versions: every Triton pod made to serve them. */
  async afterApply(move: Move): Promise<Outcome> {
    return move.versions ? this.loadVersions(move.versions) : DONE;
  }

  /**
   * Has every Triton pod of the pair (both colors: a standby that serves later must hold the same
   * versions) serve `versions` of the model; pods that start meanwhile read them from the ConfigMap
   * the apply wrote. Why not, for each pod that does not.
   */
  private async loadVersions(versions: readonly number[]): Promise<Outcome> {
    const model = this.c.spec.model!.name;
    // A step keeps the versions: a pod that restarted meanwhile read them from the ConfigMap.
    if (JSON.stringify(versions) === JSON.stringify(this.loadedVersions)) return DONE;
    const failures = (
      await Promise.all(
        COLORS.map(async (color) => {
          const { fleet, restricted } = this.tritons[color];
          const pods = await fleet.refresh();
          return Promise.all(
            pods.map(async (pod) => {
              if (!pod.url) return `${pod.name}: ${pod.problem ?? "not reached"}`;
              try {
                await pinVersions({ url: pod.url, restricted }, model, versions);
                return undefined;
              } catch (e) {
                return `${pod.name}: ${(e as Error).message}`;
              }
            }),
          );
        }),
      )
    )
      .flat()
      .filter((f): f is string => f !== undefined);
    if (failures.length && versions.length > 1)
      return failed(`Triton pods do not serve ${model} ${versions.join(" and ")}: ${failures.join("; ")}`);
    this.loadedVersions = versions;
    // An unload that did not happen leaves a version no request reaches (the routes and the
    // ConfigMap name only the others): said, not fatal; the pod drops it at its next start.
    if (failures.length)
      this.c.o.err.write(
        `promote: ${model} ${versions[0]} is the only version now, but not every Triton pod unloaded the other (it takes memory, no requests): ${failures.join("; ")}\n`,
      );
    else this.c.say(`every Triton pod of ${this.c.spec.app} serves ${model} ${versions.join(" and ")}`);
    return DONE;
  }

  /**
   * A model's next version made ready to take requests: applied with a share of 0 (`move`: the
   * ConfigMap the pods load from, Envoy's next route) and loaded on every pod; every Envoy pod's
   * file routing to it (its kubelet's sync: a runtime share acts only on a route the file has); and
   * the spec passed on its own endpoints of a serving pod.
   */
  async readyNext(moves: ModelMoves, serving: Color, move: (to: Move) => Promise<MoveResult>): Promise<Outcome> {
    const name = this.c.spec.model!.name;
    this.c.phase = "applying";
    this.c.say(
      `loading ${name} ${moves.next} beside ${moves.pinned} (no request goes to it yet): applying with ${this.c.o.engine}`,
    );
    const applied = await move(moves.step(0));
    if (!applied.ok) return failed(`loading ${name} ${moves.next}: ${applied.why}`);
    const limit = this.c.o.rolloutTimeoutSeconds ?? 300;
    const routed = await this.c.during(
      () =>
        `waiting for every Envoy pod's mounted file to route to ${name} ${moves.next} (up to ${limit} s): ${this.behind.join("; ") || "reading them"}`,
      () => this.untilNextRouted(moves, limit),
    );
    if (!routed.ok) return routed;
    const pod = this.tritons[serving].fleet.pods().find((p) => p.url);
    if (!pod) return failed(`no ${serving} Triton pod could be reached to check ${name} ${moves.next}`);
    this.c.say(`checking ${name} ${moves.next} on its own endpoints of pod ${pod.name}`);
    const report = await this.c.during(`checking ${name} ${moves.next} on pod ${pod.name}`, () =>
      verify(bindVersion(this.c.spec.model!.verify, name, moves.next), { url: pod.url! }),
    );
    const bad = report.checks.filter((c) => c.status === "fail" || c.status === "error");
    if (report.verdict !== "pass")
      return failed(
        `${name} ${moves.next} failed its check on pod ${pod.name} (${report.verdict}): ${bad.map((c) => `${c.name}: ${c.message}`).join("; ") || "see the report"}`,
      );
    this.c.say(`${name} ${moves.next} passed its check (${report.checks.length} checks)`);
    return DONE;
  }

  /** Until every Envoy pod's file routes to the next version (its kubelet's sync); why not, after `limit` s. */
  private async untilNextRouted(moves: ModelMoves, limit: number): Promise<Outcome> {
    const name = this.c.spec.model!.name;
    const deadline = Date.now() + limit * 1000;
    let said = false;
    for (;;) {
      const stop = this.c.stopReason();
      if (stop) return failed(stop);
      await this.fleet.refresh().catch(() => undefined);
      this.behind = (
        await Promise.all(
          this.fleet.pods().map(async (pod) => {
            if (!pod.url) return `${pod.name} (${pod.problem})`;
            const served = await readModelServed(pod.url, name).catch((e: Error) => ({
              next: undefined,
              why: e.message,
            }));
            return served.next === moves.next
              ? undefined
              : `${pod.name} (${"why" in served ? served.why : `its file routes to ${served.next ? `${name} ${served.next}` : "no next version"}`})`;
          }),
        )
      ).filter((b): b is string => b !== undefined);
      if (!this.behind.length) return DONE;
      if (Date.now() > deadline)
        return failed(
          `after ${limit} s, not every Envoy pod's file has the route to ${name} ${moves.next}: ${this.behind.join("; ")}`,
        );
      if (!said)
        this.c.say(
          `waiting for every Envoy pod's mounted file to route to ${name} ${moves.next} (each kubelet's sync, about a minute): ${this.behind.join("; ")}`,
        );
      said = true;
      await this.c.nap(1000);
    }
  }

  close(): void {
    super.close();
    for (const t of Object.values(this.tritons)) t.fleet.close();
  }
}

/** A spec whose entries for `model` are bound to `version`: the next version checked on its own endpoints. */
export function bindVersion(spec: VerifySpec, model: string, version: number): VerifySpec {
  return {
    ...spec,
    models: spec.models.map((m) => (m.name === model ? { ...m, version: String(version) } : m)),
    ...(spec.probe
      ? { probe: spec.probe.model === model ? { ...spec.probe, version: String(version) } : spec.probe }
      : {}),
  };
}
