// Traffic moves: the weights a step, an abort or the switch asks for, applied through the stack's
// engine and served by the data plane's pods, in the order that is safe. One small interface, the
// DataPlane, with one implementation per data plane: our Envoy pods (envoy-plane.ts), the cluster's
// Gateway (gateway-plane.ts), and a model's versions inside the serving color (model-plane.ts).
// Runtime code: no cdktf here.
import { EnvoyFleet, sameWeights, Weights, weightsText } from "../envoys";
import { WeightMove } from "../records";
import { Outcome, RunContext } from "./context";
import { Engine } from "./engine";
import { Move, Moves } from "./moves";

/** A data-plane pod a move did not reach, and why. */
export interface Unreached {
  readonly pod: string;
  readonly why: string;
}

export const describeUnreached = (u: Unreached) => `${u.pod} (${u.why})`;

/** "Envoy pod X did not take weights ...: X (why)", one line for every pod not reached. */
export function notTaken(weights: Weights, unreached: readonly Unreached[], route: string): string {
  return `Envoy pod${unreached.length > 1 ? "s" : ""} did not take ${weightsText(route, weights)}: ${unreached.map(describeUnreached).join("; ")}`;
}

/** What a move did: applied (and served, but by the pods named), or why not. */
export type MoveResult =
  { readonly ok: true; readonly unreached: Unreached[] } | { readonly ok: false; readonly why: string };

/** Where the weights are served, and how they get there. */
export interface DataPlane {
  /** The pods that serve the weights. */
  readonly fleet: EnvoyFleet;
  /** Whether a pod serves pushed weights from its runtime until its mounted file carries them (our Envoys; a Gateway's follow its route). */
  readonly holdsRuntime: boolean;
  /** Words for messages: the pods, what serving a move is, and when a pod not reached takes it. */
  readonly words: { readonly pods: string; readonly serving: string; readonly pushed: string; readonly later: string };
  /** Every pod reached and answering before anything moves; `target` the state's weights. */
  connect(target: Weights): Promise<void>;
  /** Has every pod serve `weights` (`beforeApply`: a fall, served before its apply); the pods that do not, each with why. */
  serve(weights: Weights, beforeApply: boolean): Promise<Unreached[]>;
  /** After the apply of a move served first: the pods `unreached` then that still do not serve it. */
  servedAfterApply(weights: Weights, unreached: Unreached[]): Promise<Unreached[]>;
  /** What an applied move needs beyond the weights (a model's versions loaded). */
  afterApply(move: Move): Promise<Outcome>;
  /** One look at every pod: pushed again where it lost the target, runtime values cleared where its file carries it; the pods whose file does not yet. */
  converge(target: Weights, lastMove: WeightMove | undefined): Promise<string[]>;
  close(): void;
}

/** The weights as the driver moves them: through the engine (the record) and the data plane (what serves). */
export class Traffic {
  /** The weights the driver last decided: the state's at the start. */
  target: Weights;
  /** The last apply failed: the pods' files will not carry the target. */
  private applyFailed = false;

  constructor(
    private readonly c: RunContext,
    readonly engine: Engine,
    readonly moves: Moves,
    readonly plane: DataPlane,
    start: Weights,
    /** Before any move: this run still holds the pair's lease (a rollback goes ahead unless it was seen taken). */
    private readonly holdsLease: (rollback: boolean) => Promise<void>,
  ) {
    this.target = start;
  }

  /**
   * Moves the weights to `to`, in the order that is safe: a fall of the candidate's share (an
   * abort, a rollback) is served by every pod first and then applied (Terraform stays the record);
   * a rise is applied first (the candidate's capacity and the ConfigMap), then served. A pod the
   * move does not reach takes the weights from its file (or the route) later: the caller decides
   * (a step aborts, naming it: its analysis would measure another share; an abort or the switch
   * goes on).
   */
  async move(to: Move): Promise<MoveResult> {
    if (this.c.o.out.isTTY) this.c.o.out.write("\r\x1b[2K");
    const next = to.weights;
    const move: WeightMove = {
      weights: weightsText(this.moves.route, next),
      order: this.moves.pushFirst(to, this.target) ? "push-first" : "apply-first",
      startedAt: new Date().toISOString(),
    };
    this.c.timings.moves.push(move);
    // A rollback goes ahead unless the lease was seen taken: it never waits on an API server that does not answer.
    const rollback = sameWeights(next, this.moves.rollback().weights);
    await this.holdsLease(rollback);
    if (move.order === "push-first") return this.served(to, move, rollback);
    const applied = await this.apply(to, move, rollback);
    if (!applied.ok) return { ok: false, why: `${applied.why} (nothing moved)` };
    // An abort asked during the apply: the pods already serve 0 % (pushed then); this rise is not served.
    if (this.c.abortRequest) return { ok: true, unreached: [] };
    const unreached = await this.serve(next, move);
    if (unreached.length) this.c.o.err.write(`promote: ${notTaken(next, unreached, this.moves.route)}\n`);
    return { ok: true, unreached };
  }

  /** A fall: served by every pod, then applied. */
  private async served(to: Move, move: WeightMove, rollback: boolean): Promise<MoveResult> {
    const { words } = this.plane;
    const unreached = await this.serve(to.weights, move);
    const pods = this.plane.fleet.pods().length;
    this.c.say(
      `${move.weights}: served by ${pods - unreached.length} of ${pods} ${words.pods}${unreached.length ? ` (not reached: ${unreached.map(describeUnreached).join("; ")}; ${words.later})` : ""}; applying with ${this.c.o.engine}`,
    );
    const applied = await this.apply(to, move, rollback);
    if (!applied.ok)
      return {
        ok: false,
        why: `the Envoys serve ${move.weights} (${words.pushed}), but ${applied.why}: the state still has the earlier weights`,
      };
    if (!unreached.length) return { ok: true, unreached };
    const still = await this.plane.servedAfterApply(to.weights, unreached);
    if (!still.length) move.servedAt = new Date().toISOString();
    return { ok: true, unreached: still };
  }

  private async apply(to: Move, move: WeightMove, rollback: boolean): Promise<Outcome> {
    await this.holdsLease(rollback);
    const r = await this.c.during(`applying ${move.weights} with ${this.c.o.engine}`, () => this.engine.apply(to.vars));
    this.applyFailed = r.code !== 0;
    if (r.code === 0) {
      move.appliedAt = new Date().toISOString();
      return this.plane.afterApply(to);
    }
    const tail = r.output.trim().split("\n").slice(-15).join("\n");
    this.c.o.err.write(`${this.engine.binary} apply exited ${r.code}:\n${tail}\n`);
    return { ok: false, why: `${this.engine.binary} apply exited ${r.code}` };
  }

  private async serve(weights: Weights, move: WeightMove): Promise<Unreached[]> {
    this.target = weights;
    const unreached = await this.c.during(`${this.plane.words.serving} ${move.weights}`, () =>
      this.plane.serve(weights, move.order === "push-first"),
    );
    if (unreached.length) move.unreached = unreached.map((u) => u.pod);
    else move.servedAt = new Date().toISOString();
    return unreached;
  }

  /** An abort asked during an apply: pods that hold runtime values take the rollback now; the apply's end is not waited for. */
  serveRollbackNow(): void {
    if (this.plane.holdsRuntime) void this.plane.serve(this.moves.rollback().weights, true);
  }

  /** One look at every pod (see DataPlane.converge). */
  converge(): Promise<string[]> {
    return this.plane.converge(this.target, this.c.timings.moves[this.c.timings.moves.length - 1]);
  }

  /**
   * Before the run ends: waits until every pod's file carries the final weights (the kubelet's
   * sync), clearing each pod's runtime values as it does. A runtime value left behind would hide a
   * later plain apply's weights, so this waits up to rolloutTimeoutSeconds and then says which pods
   * keep one.
   */
  async settle(): Promise<void> {
    if (!this.plane.holdsRuntime || this.applyFailed) return;
    const limit = this.c.o.rolloutTimeoutSeconds ?? 300;
    const deadline = Date.now() + limit * 1000;
    const final = weightsText(this.moves.route, this.target);
    let left = await this.converge();
    if (left.length)
      this.c.say(
        `waiting for every Envoy pod's mounted file to carry ${final} (each kubelet's sync, about a minute) to clear the runtime values: ${left.join("; ")}`,
      );
    await this.c.during(`waiting for every Envoy pod's mounted file to carry ${final} (up to ${limit} s)`, async () => {
      while (left.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        left = await this.converge();
      }
    });
    if (left.length) {
      this.c.o.err.write(
        `promote: after ${limit} s, not every Envoy pod's file carries ${final}: ${left.join("; ")}. ` +
          "They serve it from their runtime, which hides a later plain apply's weights until a promote run (or a pod restart) clears it; `cdktf-triton status` shows them.\n",
      );
    }
  }

  close(): void {
    this.plane.close();
  }
}
