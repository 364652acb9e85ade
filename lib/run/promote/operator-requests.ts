// The pair's lease, held for the whole run, and the requests operators send through it from any
// shell (`cdktf-triton abort | pause | resume | skip`, `promote --full`): each answered at once, and
// acted on by the step loop within a second. The driver's progress is published with the lease for
// `status --watch`. Runtime code: no cdktf here.
import { promotionLease } from "../../core/names";
import { RequestOutcome } from "../../core/closed-sets";
import { KubeAccess } from "../kube/kubectl";
import { RunContext } from "./context";
import { DriverRequest, LEASE_DURATION_SECONDS, PairLease, who } from "./lease";
import { LeaseKeeper } from "./lease-keeper";
import { Recorder } from "./recorder";
import { Traffic } from "./traffic";

export class OperatorRequests {
  private keeper?: LeaseKeeper;
  /** The run's traffic once connected: an abort during an apply is served at once. */
  traffic?: Traffic;

  constructor(
    private readonly c: RunContext,
    private readonly kube: KubeAccess,
    private readonly recorder: Recorder,
  ) {}

  /** Whether the run holds the lease (it is left to expire when the run stops unfinished). */
  get holding(): string {
    return this.keeper ? ` The pair's lease is left to expire (${LEASE_DURATION_SECONDS} s).` : "";
  }

  /**
   * Takes the pair's lease before anything is read for a decision or applied: a second run refuses
   * (LeaseHeld, exit 2, naming the holder); an expired lease (its driver died) is taken over and
   * its holder named.
   */
  async takeLease(namespace: string): Promise<void> {
    const { c } = this;
    const lease = new PairLease(this.kube, namespace, c.spec.app);
    const keeper = new LeaseKeeper(
      lease,
      (r) => this.onRequest(r),
      (why) => {
        c.leaseLost = why;
        c.o.err.write(`promote: ${why}: this run stops at its next step and touches nothing more\n`);
        c.wake();
      },
      (line) => c.o.err.write(`promote: ${line}\n`),
    );
    const { takenFrom } = await c.during(`taking the pair's lease ${namespace}/${promotionLease(c.spec.app)}`, () =>
      keeper.acquire({}),
    );
    this.keeper = keeper;
    this.recorder.eventTarget = {
      access: this.kube,
      namespace,
      service: c.spec.app,
      component: "cdktf-triton-promote",
    };
    if (takenFrom) {
      c.say(`took over the pair's lease from ${takenFrom}`);
      await this.recorder.announce(
        "lease-taken-over",
        `${c.spec.app}: ${who()} took over the promotion lease from ${takenFrom}`,
        {},
      );
    }
  }

  /** Before any move: this run still holds the pair's lease; a run that lost it stops and touches nothing. */
  async holdsLease(rollback = false): Promise<void> {
    if (!this.keeper) return;
    try {
      await this.keeper.check(rollback);
    } catch (e) {
      this.c.leaseLost ??= (e as Error).message;
      throw this.c.lostLease();
    }
  }

  /** A request from another shell (through the lease): answered at once, acted on by the loop within a second. */
  private onRequest(r: DriverRequest): void {
    const { c } = this;
    // The step traffic is on, or the one being applied (-1 before the first).
    const index = c.phase === "applying" ? c.stepIndex : (c.record?.currentStep ?? -1);
    const reply = (outcome: RequestOutcome, detail: string) => {
      this.keeper!.reply({ id: r.id, action: r.action, outcome, detail });
      if (c.record)
        c.record.requests = [
          ...(c.record.requests ?? []),
          { action: r.action, by: r.by, at: r.at, step: index + 1, outcome, detail },
        ];
      c.say(`${r.action} requested by ${r.by}: ${outcome === "done" ? detail : `refused: ${detail}`}`);
    };
    if (c.phase === "switching" || c.phase === "aborting" || c.phase === "settling" || c.phase === "ended") {
      return reply("refused", `the promotion is ${c.phase === "settling" ? "ending" : c.phase}`);
    }
    // Before the run has a promotion (it is reading the history, or rolling back an earlier one),
    // only an abort is taken: it stops the run before its first step.
    if (!c.record && r.action !== "abort")
      return reply("refused", "the driver is starting (it has no promotion yet): ask again in a few seconds");
    const step = index >= 0 ? `step ${index + 1} (${c.spec.steps[index].weightPercent} %)` : "the first step";
    const refused = this.act(r, step, (detail) => reply("done", detail));
    if (refused) return reply("refused", refused);
    this.publish();
    c.wake();
  }

  /** Acts on a request (`done` with what it did), or says why it is refused. */
  private act(r: DriverRequest, step: string, done: (detail: string) => void): string | undefined {
    const { c } = this;
    const bakeLeft = c.bakeLeftMs !== undefined ? Math.ceil(c.bakeLeftMs / 1000) : undefined;
    switch (r.action) {
      case "abort":
        c.abortRequest = r;
        c.timings.decisionAt ??= new Date().toISOString();
        done(`aborting at ${step}: the candidate goes back to 0 %`);
        // During an apply the Envoys take 0 % now; the apply's end is not waited for.
        if (c.phase === "applying") this.traffic?.serveRollbackNow();
        return undefined;
      case "pause":
        if (c.pausedBy) return `already paused by ${c.pausedBy.by} at ${c.pausedBy.at}`;
        c.pausedBy = { by: r.by, at: r.at };
        done(
          `paused at ${step}: the weights hold and the bake clock stopped${bakeLeft !== undefined ? ` with ${bakeLeft} s left` : ""}; analysis goes on, a failed measurement still aborts`,
        );
        void this.recorder
          .save("paused", `${c.spec.app}: paused by ${r.by} at ${step}`, { by: r.by })
          .catch((e: Error) => c.o.err.write(`promote: ${e.message}\n`));
        return undefined;
      case "resume":
        if (!c.pausedBy) return "the promotion is not paused";
        c.pausedBy = undefined;
        done(`resumed at ${step}${bakeLeft !== undefined ? `: ${bakeLeft} s of bake left` : ""}`);
        void this.recorder
          .save("unpaused", `${c.spec.app}: resumed by ${r.by} at ${step}`, { by: r.by })
          .catch((e: Error) => c.o.err.write(`promote: ${e.message}\n`));
        return undefined;
      case "skip":
        c.skipRequest = r;
        done(
          `${step} ends ${c.phase === "applying" ? "as soon as its apply is done" : "now"}; the next step (or the switch) follows`,
        );
        return undefined;
      case "full":
        c.fullRequest = { by: r.by, at: r.at };
        done(`${step} and the steps after it are skipped: switching to ${c.candidate}`);
        return undefined;
    }
  }

  /** The driver's progress, for `status --watch` (written with the lease within a second). */
  publish(): void {
    const { c } = this;
    if (!this.keeper || !c.record) return;
    const i = c.phase === "applying" ? c.stepIndex : c.record.currentStep;
    const weightPercent = i >= 0 ? c.spec.steps[i].weightPercent : 0;
    this.keeper.publish(
      {
        promotion: c.record.id,
        from: { color: c.record.from.color, version: c.record.from.version },
        to: { color: c.record.to.color, version: c.record.to.version },
        step: i + 1,
        steps: c.spec.steps.length,
        weightPercent,
        status: c.record.status,
        phase: c.pausedBy && c.phase === "baking" ? "paused" : c.phase,
        ...(c.bakeLeftMs !== undefined && c.phase === "baking"
          ? { bakeLeftSeconds: Math.ceil(c.bakeLeftMs / 1000) }
          : {}),
        ...(c.pausedBy ? { pausedBy: c.pausedBy.by, pausedAt: c.pausedBy.at } : {}),
        measurements: [...c.lastMeasured.values()].map((m) => ({
          metric: m.metric,
          ...(m.value !== undefined ? { value: m.value } : {}),
          verdict: m.verdict,
          ...(m.min !== undefined ? { min: m.min } : {}),
          ...(m.max !== undefined ? { max: m.max } : {}),
          at: m.at,
        })),
      },
      i >= 0 ? `step ${i + 1} of ${c.spec.steps.length} (${weightPercent} %)` : "before the first step",
    );
  }

  /** Out of time: the lease left to expire. */
  abandon(): void {
    this.keeper?.abandon();
  }

  async release(): Promise<void> {
    await this.keeper?.release();
  }
}
