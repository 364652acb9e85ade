// What one promotion run's parts share (the step loop, the traffic moves, the lease and operator
// requests, the records): the spec and the record, the operators' requests, the bake clock, and the
// run's voice: what it says, and what it waits for, said again while it waits. Runtime code.
import { Color } from "../../core/colors";
import { PromotionSpec } from "../../core/promotion-spec";
import { Measurement, PromoteReport, PromotionRecord, WeightMove } from "../records";
import { DriverRequest, Progress } from "./lease";
import { PromoteError, PromoteOptions, WAITING_SAID_EVERY_SECONDS } from "./options";

/** Who asked for something, and when. */
export interface Asked {
  readonly by: string;
  readonly at: string;
}

export class RunContext {
  spec!: PromotionSpec;
  /** The promotion this run drives: none before it starts or resumes one. */
  record!: PromotionRecord;
  readonly measurements: (Measurement & { step: number; weightPercent: number })[] = [];
  readonly timings: PromoteReport["timings"] & { moves: WeightMove[] } = { moves: [] };
  /** The color being promoted (a model's promotion: the serving one). */
  candidate!: Color;
  /** What the driver does now (published with the lease), and the step it is on or applying (-1 before the first). */
  phase: Progress["phase"] = "starting";
  stepIndex = -1;
  interruptedBy?: string;
  leaseLost?: string;
  /** Requests from other shells (or --full): set by the operator requests, acted on by the loop. */
  abortRequest?: DriverRequest;
  skipRequest?: DriverRequest;
  fullRequest?: Asked;
  pausedBy?: Asked;
  /** The current step's bake left, for the lease's progress. */
  bakeLeftMs?: number;
  readonly lastMeasured = new Map<string, Measurement>();
  private readonly napping = new Set<() => void>();
  /** What the driver waits for now (said again every WAITING_SAID_EVERY_SECONDS), and since when. */
  private waiting?: { readonly what: string | (() => string); readonly since: number };
  private lastSaid = Date.now();

  constructor(readonly o: PromoteOptions) {}

  /**
   * Runs `work`, said to be what the driver waits for: a wait longer than
   * WAITING_SAID_EVERY_SECONDS is said again at that pace, with how long it has lasted.
   */
  async during<T>(what: string | (() => string), work: () => Promise<T>): Promise<T> {
    const outer = this.waiting;
    this.waiting = { what, since: Date.now() };
    try {
      return await work();
    } finally {
      this.waiting = outer;
    }
  }

  sayWaiting(): void {
    if (!this.waiting || Date.now() - this.lastSaid < WAITING_SAID_EVERY_SECONDS * 1000) return;
    if (this.o.out.isTTY) this.o.out.write("\r\x1b[2K");
    this.say(`still ${waitingText(this.waiting.what)} (${Math.round((Date.now() - this.waiting.since) / 1000)} s)`);
  }

  /** What the driver was waiting for, and for how long, or undefined. */
  waitingNow(): string | undefined {
    return this.waiting
      ? `${waitingText(this.waiting.what)} for ${Math.round((Date.now() - this.waiting.since) / 1000)} s`
      : undefined;
  }

  /** Waits `ms`, or less when a request or an interruption arrives. */
  nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.napping.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.napping.add(done);
    });
  }

  wake(): void {
    for (const done of [...this.napping]) done();
  }

  /** Why the run must stop now: an interruption, or an abort requested from another shell. */
  stopReason(): string | undefined {
    if (this.leaseLost) throw this.lostLease();
    if (this.interruptedBy) return `interrupted (${this.interruptedBy})`;
    if (this.abortRequest) return `aborted by ${this.abortRequest.by} (cdktf-triton abort)`;
    return undefined;
  }

  lostLease(): PromoteError {
    return new PromoteError(
      `this run lost the pair's lease (${this.leaseLost}): it stops and touches nothing more; the run holding the lease owns the promotion`,
    );
  }

  say(line: string): void {
    this.lastSaid = Date.now();
    this.o.out.write(`promote: ${line}\n`);
  }

  /** Where traffic is as far as this run knows: its last move (pushed, applied, or neither), and the state's step. */
  whereTrafficIs(): string {
    const r = this.record;
    const last = this.timings.moves[this.timings.moves.length - 1];
    const step =
      r && r.currentStep >= 0
        ? `step ${r.currentStep + 1} of ${this.spec.steps.length} (${this.spec.steps[r.currentStep].weightPercent} % to ${r.to.color}, ${r.to.version})`
        : undefined;
    if (last?.appliedAt)
      return `The state and the Envoy pods' files have ${last.weights}${last.servedAt ? ", served" : ""}.`;
    if (last?.servedAt)
      return `Every Envoy pod serves ${last.weights} from its runtime (pushed), but the apply did not finish: the state still has ${step ?? "the weights before it"}, which a restarted Envoy pod would serve.`;
    if (!step) return "Traffic was not moved.";
    return `Traffic is left on ${step}, unwatched.`;
  }
}

const waitingText = (what: string | (() => string)) => (typeof what === "string" ? what : what());

/** What a part of the run did: done, or why not. */
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly why: string };
export const DONE: Outcome = { ok: true };
export const failed = (why: string): Outcome => ({ ok: false, why });
