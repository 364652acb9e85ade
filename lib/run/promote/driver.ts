// `cdktf-triton promote`: the staged promotion of a blue/green pair's candidate, driven from where
// plan/apply runs (a workstation, a CI job), with no controller in the cluster. For each step: apply
// the stack with the canary weight, have every pod of the data plane serve it, bake under analysis,
// go on or abort (the candidate back to 0 %: served first, then applied). The last step switches
// `active` with the canary at 0. Every transition is recorded in the pair's history first, so a
// re-run after an interruption knows where traffic was left. Runtime code: no cdktf here.
//
// The run's parts, each in its file:
//   options.ts            what a run is given, how it fails, where it finds its stack and spec
//   prepare.ts            what it checks and reads before it takes the lease: the state, the queries,
//                         what the steps move, the data plane
//   driver.ts             the run from start to end: an earlier run left unfinished, the steps, the
//                         abort and the switch, the signals
//   step-loop.ts          one step: its move, its bake under analysis, its verdict
//   traffic.ts            a move in the safe order (engine and data plane); the DataPlane interface,
//                         with envoy-plane.ts, gateway-plane.ts and model-plane.ts
//   operator-requests.ts  the pair's lease (lease.ts, lease-keeper.ts) and the requests operators send
//                         through it (ask-driver.ts is the sending side)
//   recorder.ts           the history, the webhook and Events, the report's files
//   context.ts            what the parts share, and the run's voice
import { randomBytes } from "crypto";
import { Color } from "../../core/colors";
import { PROMOTE_EXIT } from "../../core/exit-codes";
import { ColorState, PromoteReport } from "../records";
import { lastUnfinished } from "../records/history";
import { RunContext } from "./context";
import { Engine } from "./engine";
import { PairState, Preparation, Prepared } from "./prepare";
import { who } from "./lease";
import { ModelPlane } from "./model-plane";
import { ModelMoves } from "./moves";
import { OperatorRequests } from "./operator-requests";
import {
  findPromotion,
  InterruptedBeforeStart,
  NothingToAbort,
  PromoteError,
  PromoteOptions,
  STOP_WITHIN_SECONDS,
} from "./options";
import { Recorder } from "./recorder";
import { StepLoop } from "./step-loop";
import { Traffic } from "./traffic";

/** How long an abort's push waits for its decision to be in the history (an API server that does not answer). */
const HISTORY_FIRST_MS = 3_000;

/**
 * Runs a promotion; resolves to its report (the exit code in it). It calls process.exit only when
 * it owns the process's signals (no `interrupted` given) and an interruption's rollback did not end
 * within STOP_WITHIN_SECONDS, or a second signal came.
 */
export async function promote(o: PromoteOptions): Promise<PromoteReport> {
  const driver = new Driver(o);
  try {
    return await driver.run();
  } finally {
    await driver.close();
  }
}

class Driver {
  private readonly c: RunContext;
  private readonly detach: () => void;
  private readonly waitingTimer: NodeJS.Timeout;
  private engine?: Engine;
  private recorder!: Recorder;
  private requests?: OperatorRequests;
  private traffic!: Traffic;

  constructor(o: PromoteOptions) {
    const c = (this.c = new RunContext(o));
    let detach = () => undefined as void;
    let stopTimer: NodeJS.Timeout | undefined;
    const interrupted =
      o.interrupted ??
      new Promise<string>((resolve) => {
        const on = (signal: string) => () => {
          // A second signal: stop now. The first: the rollback, within STOP_WITHIN_SECONDS.
          if (c.interruptedBy) return this.stopNow(`a second ${signal}`);
          stopTimer ??= setTimeout(
            () => this.stopNow(`the rollback did not finish within ${STOP_WITHIN_SECONDS} s`),
            STOP_WITHIN_SECONDS * 1000,
          );
          resolve(signal);
        };
        const int = on("SIGINT");
        const term = on("SIGTERM");
        process.on("SIGINT", int);
        process.on("SIGTERM", term);
        detach = () => {
          process.off("SIGINT", int);
          process.off("SIGTERM", term);
          if (stopTimer) clearTimeout(stopTimer);
        };
      });
    this.detach = () => detach();
    void interrupted.then((s) => {
      c.interruptedBy = s;
      c.timings.decisionAt ??= new Date().toISOString();
      c.say(
        `interrupted (${s}): rolling back to the last good weights (candidate 0 %); it exits within ${STOP_WITHIN_SECONDS} s`,
      );
      c.wake();
    });
    this.waitingTimer = setInterval(() => c.sayWaiting(), 1000);
    this.waitingTimer.unref();
  }

  /**
   * Out of time after an interruption: one line on where traffic is, the engine asked to stop (it
   * stops gracefully and writes its state), the lease left to expire, and exit.
   */
  private stopNow(why: string): never {
    const { c } = this;
    const waiting = c.waitingNow();
    const doing = waiting ? `; it was ${waiting}` : "";
    c.o.err.write(
      `\ncdktf-triton promote: interrupted (${c.interruptedBy}), stopped: ${why}${doing}. ${c.whereTrafficIs()}${this.requests?.holding ?? ""} A re-run rolls it back (--on-unfinished rollback), as does \`cdktf-triton abort --engine ${c.o.engine}\`.\n`,
    );
    this.engine?.cancel();
    this.requests?.abandon();
    this.traffic?.close();
    process.exit(PROMOTE_EXIT.stoppedUnfinished);
  }

  async close(): Promise<void> {
    clearInterval(this.waitingTimer);
    this.detach();
    this.traffic?.close();
    await this.requests?.release();
  }

  async run(): Promise<PromoteReport> {
    const { c } = this;
    const preparation = new Preparation(c, (engine) => (this.engine = engine));
    const prepared = await preparation.prepare();
    this.recorder = prepared.recorder;
    const { state, ctx } = prepared;
    const stable = ctx.stable as Color;
    this.requests = new OperatorRequests(c, c.o.kube ?? {}, this.recorder);
    await this.requests.takeLease(state.namespace);
    const plane = preparation.dataPlane(prepared);
    this.traffic = new Traffic(c, prepared.engine, prepared.moves, plane, prepared.start, (rollback) =>
      this.requests!.holdsLease(rollback),
    );
    this.requests.traffic = this.traffic;
    await plane.connect(prepared.start);
    const model =
      prepared.moves instanceof ModelMoves ? { name: c.spec.model!.name, moves: prepared.moves } : undefined;
    const from: ColorState = model
      ? { color: stable, fingerprint: state[stable].fingerprint, version: `${model.name} ${model.moves.pinned}` }
      : { color: stable, ...state[stable] };
    const to: ColorState = model
      ? { color: stable, fingerprint: state[stable].fingerprint, version: `${model.name} ${model.moves.next}` }
      : { color: c.candidate, ...state[c.candidate] };
    const unfinished = await this.settleUnfinished(stable, to);
    if (unfinished === "rolled-back") return this.finish(PROMOTE_EXIT.rolledBack);
    if (c.o.rollbackOnly)
      throw new NothingToAbort(
        `no promotion of ${c.spec.app} is running or left unfinished (history ConfigMap ${state.namespace}/${c.spec.history.configMap}): nothing to abort`,
      );
    if (c.o.full) c.fullRequest = { by: who(), at: new Date().toISOString() };
    if (!c.record && c.interruptedBy)
      throw new InterruptedBeforeStart(`interrupted (${c.interruptedBy}) before the first step: nothing was applied`);
    if (!c.record) {
      await this.start(state, from, to);
      // A model's next version: loaded beside the pinned one and checked before any request reaches it.
      if (model) {
        const ready = await (plane as ModelPlane).readyNext(model.moves, stable, (m) => this.traffic.move(m));
        if (!ready.ok) return this.abort(stable, ready.why);
      }
    }
    return this.steps(unfinished, stable, prepared);
  }

  /** The steps from `first` on, then the switch; the first step that does not pass aborts. */
  private async steps(first: number, stable: Color, prepared: Prepared): Promise<PromoteReport> {
    const { c } = this;
    const loop = new StepLoop(
      c,
      this.traffic,
      this.requests!,
      this.recorder,
      prepared.ctx,
      prepared.prometheusUrl,
      prepared.gateway,
    );
    for (let i = first; i < c.spec.steps.length; i++) {
      let reason: string | undefined;
      try {
        const outcome = await loop.step(i);
        if (outcome.kind === "stopped") reason = outcome.reason;
      } catch (e) {
        // Traffic is on a step: an unexpected failure rolls it back rather than leave it unwatched
        // (a run that lost the lease touches nothing).
        if (c.leaseLost) throw e;
        reason = `step ${i + 1}: the driver failed: ${(e as Error).message}`;
      }
      if (reason !== undefined) return this.abort(stable, reason);
    }
    return this.switchOver(stable, c.candidate);
  }

  /**
   * An earlier run that did not finish (running or awaiting confirmation, or aborted with traffic
   * still on a step: its rollback failed): resumed when it promotes the same candidate (the step
   * to start from), else rolled back; "rolled-back" when that was all this run was asked to do.
   */
  private async settleUnfinished(stable: Color, to: ColorState): Promise<number | "rolled-back"> {
    const spec = this.c.spec;
    const unfinished = lastUnfinished(
      await this.c.during("reading the pair's history", () => this.recorder.history.read()),
    );
    if (!unfinished) return 0;
    const resumable = unfinished.status === "running" || unfinished.status === "awaiting-confirmation";
    const same =
      resumable &&
      unfinished.from.color === stable &&
      unfinished.to.fingerprint === to.fingerprint &&
      unfinished.to.version === to.version;
    const at =
      unfinished.currentStep >= 0
        ? `step ${unfinished.currentStep + 1} (${spec.steps[unfinished.currentStep]?.weightPercent ?? "?"} %)`
        : "before its first step";
    if (same && (this.c.o.onUnfinished ?? "resume") === "resume" && !this.c.o.rollbackOnly) {
      // Awaiting confirmation: every step passed, the switch is next.
      const startStep = Math.max(
        0,
        unfinished.status === "awaiting-confirmation" ? spec.steps.length : unfinished.currentStep,
      );
      this.c.record = unfinished;
      this.c.say(
        `resuming promotion ${unfinished.id} (${unfinished.by}, ${unfinished.startedAt}), left ${unfinished.status} at ${at}`,
      );
      this.c.record.status = "running";
      await this.recorder.save("resumed", `resumed by ${who()} at ${at}`);
      return startStep;
    }
    this.c.say(`promotion ${unfinished.id} was left ${unfinished.status} at ${at}: rolling it back (candidate 0 %)`);
    // The candidate back to 0 %, the color that serves now unchanged.
    const back = await this.traffic.move(this.traffic.moves.rollback());
    if (!back.ok) throw new PromoteError(`could not roll back promotion ${unfinished.id}: ${back.why}`);
    unfinished.reason = `left ${unfinished.status} at ${at}; rolled back by a later run (${who()})`;
    unfinished.status = "rolled-back";
    unfinished.currentStep = -1;
    unfinished.finishedAt = new Date().toISOString();
    await this.recorder.history.put(unfinished);
    await this.recorder.announce(
      "rolled-back",
      `${spec.app}: promotion ${unfinished.id} (left at ${at}) rolled back by ${who()}: ${unfinished.from.color} takes all traffic again`,
      {},
    );
    if (!this.c.o.rollbackOnly) return 0;
    this.c.record = unfinished;
    this.c.say(`rolled back: ${unfinished.from.color} serves all traffic`);
    return "rolled-back";
  }

  /** A new promotion's record, saved (and announced) before its first step. */
  private async start(state: PairState, from: ColorState, to: ColorState): Promise<void> {
    const spec = this.c.spec;
    if (!spec.model && to.fingerprint === from.fingerprint)
      throw new PromoteError(
        `${to.color} runs the same release as ${from.color} (fingerprint ${to.fingerprint}): nothing to promote`,
      );
    if (state.canary !== 0)
      this.c.say(
        `note: the state has the canary at ${state.canary} %; the first step sets it to ${spec.steps[0].weightPercent} %`,
      );
    this.c.record = {
      kind: "promotion",
      id: `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${randomBytes(3).toString("hex")}`,
      app: spec.app,
      namespace: state.namespace,
      by: who(),
      engine: this.c.o.engine,
      startedAt: new Date().toISOString(),
      from,
      to,
      status: "running",
      currentStep: -1,
      steps: [],
    };
    await this.recorder.save(
      "started",
      `${spec.app}: promoting ${to.color} (${to.version}) over ${from.color} (${from.version}) in ${spec.steps.length} steps: ${spec.steps.map((s) => `${s.weightPercent} %`).join(" → ")}`,
    );
  }

  private async abort(stable: Color, reason: string): Promise<PromoteReport> {
    const interrupted = reason.startsWith("interrupted");
    this.c.phase = "aborting";
    this.requests!.publish();
    this.c.timings.decisionAt ??= new Date().toISOString();
    this.c.say(`${interrupted ? "interrupted" : "aborting"}: ${reason}`);
    // The decision first, in the history: a run that dies between the push and the apply leaves
    // the record aborted on its step, and the next run finishes the rollback. An API server that
    // does not answer holds the push back HISTORY_FIRST_MS at most (the write goes on meanwhile).
    this.c.record.status = interrupted ? "interrupted" : "aborted";
    this.c.record.reason = reason;
    const written = this.recorder.history
      .put(this.c.record)
      .catch((e: Error) =>
        this.c.o.err.write(`promote: the history was not updated (the rollback goes on): ${e.message}\n`),
      );
    await Promise.race([written, new Promise((r) => setTimeout(r, HISTORY_FIRST_MS).unref())]);
    const rolledBack = await this.traffic.move(this.traffic.moves.rollback());
    const move = this.c.timings.moves[this.c.timings.moves.length - 1];
    this.c.timings.zeroTrafficAt = move?.servedAt ?? move?.appliedAt ?? new Date().toISOString();
    this.c.timings.decisionMs = this.c.timings.firstFailureAt
      ? Date.parse(this.c.timings.decisionAt) - Date.parse(this.c.timings.firstFailureAt)
      : undefined;
    this.c.timings.rollbackMs = Date.parse(this.c.timings.zeroTrafficAt) - Date.parse(this.c.timings.decisionAt);
    this.c.record.reason = rolledBack.ok ? reason : `${reason}; the rollback failed too: ${rolledBack.why}`;
    if (rolledBack.ok) this.c.record.currentStep = -1;
    this.c.record.finishedAt = new Date().toISOString();
    const text = rolledBack.ok
      ? `${this.c.spec.app}: promotion of ${this.c.record.to.color} (${this.c.record.to.version}) ${interrupted ? "interrupted" : "aborted"}: ${reason}. ${stable} takes all traffic again.`
      : `${this.c.spec.app}: promotion of ${this.c.record.to.color} ${interrupted ? "interrupted" : "aborted"}: ${reason}; THE ROLLBACK FAILED (${rolledBack.why}). ${this.c.whereTrafficIs()}`;
    await this.recorder.save(interrupted ? "interrupted" : "aborted", text);
    this.c.say(text);
    return this.finish(
      !interrupted ? PROMOTE_EXIT.aborted : rolledBack.ok ? PROMOTE_EXIT.interrupted : PROMOTE_EXIT.stoppedUnfinished,
    );
  }

  private async switchOver(stable: Color, candidate: Color): Promise<PromoteReport> {
    const last = this.c.spec.steps[this.c.spec.steps.length - 1].weightPercent;
    this.c.phase = "switching";
    this.requests!.publish();
    // --full (asked on a terminal by the CLI) is the confirmation.
    if ((this.c.spec.confirmBeforeSwitch || this.c.o.confirmBeforeSwitch) && !this.c.o.confirm && !this.c.fullRequest) {
      const question = this.c.spec.model
        ? `make ${this.c.record.to.version} the only version ${this.c.spec.app} serves? [y/N] `
        : `switch ${this.c.spec.app} to ${candidate} (${this.c.record.to.version})? [y/N] `;
      const yes = this.c.o.out.isTTY ? await (this.c.o.ask ?? askLine)(question) : false;
      if (!yes) {
        this.c.record.status = "awaiting-confirmation";
        this.c.record.reason = `awaiting confirmation before the switch; ${last} % of traffic stays on ${candidate} until a re-run with --confirm (switch) or --on-unfinished rollback`;
        await this.recorder.save(
          "awaiting-confirmation",
          `${this.c.spec.app}: awaiting confirmation before the switch to ${candidate}: ${last} % of traffic is on it. Re-run promote with --confirm to switch, or --on-unfinished rollback.`,
        );
        this.c.say(this.c.record.reason);
        return this.finish(PROMOTE_EXIT.awaitingConfirmation);
      }
    }
    this.c.say(
      this.c.spec.model
        ? `finishing: ${this.c.record.to.version} takes all of ${this.c.spec.model.name}'s requests${last === 100 ? "" : ` (the remaining ${100 - last} % move now)`}, then ${this.c.record.from.version} unloads`
        : `switching ${this.c.spec.app}: active = ${candidate}, canary 0 (nothing moves that the last step did not already send to ${candidate}${last === 100 ? "" : `; the remaining ${100 - last} % moves now`})`,
    );
    const switched = await this.traffic.move(this.traffic.moves.finish());
    if (!switched.ok) return this.abort(stable, `the switch failed: ${switched.why}`);
    this.c.record.status = "promoted";
    delete this.c.record.reason; // a pause before the switch left its reason: it no longer holds
    this.c.record.currentStep = -1;
    this.c.record.finishedAt = new Date().toISOString();
    const done = this.c.spec.model
      ? `${this.c.record.to.version} is the only version of ${this.c.spec.model.name} ${candidate} serves`
      : `${candidate} (${this.c.record.to.version}) serves all traffic`;
    await this.recorder.save(
      "promoted",
      `${this.c.spec.app}: ${this.c.spec.model ? this.c.record.to.version : `${candidate} (${this.c.record.to.version})`} promoted; ${done}`,
    );
    this.c.say(`promoted: ${done}`);
    return this.finish(PROMOTE_EXIT.promoted);
  }

  private async finish(exitCode: number): Promise<PromoteReport> {
    const { c } = this;
    c.phase = "settling";
    this.requests?.publish();
    // Interrupted: no wait for the kubelets' syncs (a minute or more); the runtime values equal the state's weights.
    if (c.interruptedBy && this.traffic.plane.holdsRuntime)
      c.say(
        "the Envoy pods keep these weights in their runtime until a promote run clears them (their files carry them at their kubelet's next sync; `cdktf-triton status` shows them)",
      );
    else await this.traffic.settle();
    c.phase = "ended";
    this.requests?.publish();
    const report: PromoteReport = {
      record: c.record,
      measurements: c.measurements,
      notificationProblems: this.recorder.notificationProblems,
      timings: c.timings,
      exitCode,
    };
    await this.recorder.writeReport(report);
    return report;
  }
}

async function askLine(question: string): Promise<boolean> {
  const readline = await import("readline");
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export { findPromotion, InterruptedBeforeStart, NothingToAbort, PromoteError, STOP_WITHIN_SECONDS };
export type { PromoteOptions };
