// `cdktf-triton promote`: the staged promotion of a blue/green pair's candidate, driven from where
// plan/apply runs (a workstation, a CI job), with no controller in the cluster. For each step: apply
// the stack with the canary weight, push the weights into every Envoy pod's runtime (a mounted
// ConfigMap reaches a pod only at its kubelet's next sync, a minute or more) and read them back,
// bake under analysis, go on or abort (push the candidate back to 0 %, then apply it). The last step
// switches `active` with the canary at 0. Each pod's runtime values are cleared once its file
// carries the same weights. Every transition is recorded in the pair's history ConfigMap first, so
// a re-run after an interruption knows where traffic was left. Runtime code: no cdktf here.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { EnvoyCounterSource, EnvoySnapshot, envoySnapshot, judge, judgeEnvoy, judgeGatewayEnvoy, promqlOf, PrometheusError, QueryContext, queryPrometheus } from "./analysis";
import { ColorService, contourStatName, gatewayEnvoyQueries, patchRouteWeights, readGatewayServed, readRouteStatus, routeProblem } from "../gateway";
import { Engine } from "./engine";
import { KubeAccess, kubectlFailure, runKubectl } from "../kubectl";
import { EnvoyFleet, modelWeights, readModelServed, sameWeights, SplitRouteClusters, Weights, weightsText } from "../envoys";
import { ColorMoves, ModelMoves, Move, Moves } from "./moves";
import { pinVersions } from "../model-versions";
import { verify } from "../verify/verifier";
import { VerifySpec } from "../../core/verify-spec";
import { appendHistoryFile, ClusterHistory } from "./history";
import { ColorState, Measurement, MetricSummary, PromoteReport, PromotionRecord, StepRecord, WeightMove } from "../records";
import { notify, Notification, PromotionEvent } from "./notify";
import { DriverRequest, LEASE_DURATION_SECONDS, LeaseKeeper, PairLease, Progress, who } from "./lease";
import { EventReason, EventTarget, recordEvent } from "../events";
import { Color, COLORS, isColor, otherColor } from "../../core/colors";
import { clusterBackend, modelRouteStat } from "../../core/envoy";
import { loadPromotionSpec, MetricSpec, needsPrometheus, PromotionSpec } from "../../core/promotion-spec";
import { EngineKind, OnUnfinished, RequestOutcome } from "../../core/closed-sets";

export const PROMOTE_EXIT = { promoted: 0, aborted: 1, error: 2, awaitingConfirmation: 3, stoppedUnfinished: 4, interrupted: 130 } as const;

/**
 * How long a driver has, from SIGINT or SIGTERM, to roll back and exit. Past it (or at a second
 * signal) it says in one line where traffic was left and exits PROMOTE_EXIT.stoppedUnfinished,
 * leaving the pair's lease to expire: a re-run, or `cdktf-triton abort --engine`, rolls back.
 */
export const STOP_WITHIN_SECONDS = 60;

/** How often, at least, a driver that waits says what it waits for. */
export const WAITING_SAID_EVERY_SECONDS = 10;

export interface PromoteOptions {
  /** A stack folder (holding cdk.tf.json) or a stack name under ./cdktf.out/stacks. @default - the current folder, or the only stack of ./cdktf.out */
  readonly stack?: string;
  /** The TritonPromotion's construct path (or its last part), when the stack has several. @default - the stack's only one */
  readonly promotion?: string;
  readonly engine: EngineKind;
  /** `name=value` for every apply. @default [] */
  readonly vars?: readonly string[];
  /** @default [] */
  readonly varFiles?: readonly string[];
  /** @default - kubectl's defaults */
  readonly kube?: KubeAccess;
  /** Envoy admin URLs (each pod's port 9901). @default - a port-forward to each Envoy pod's admin port */
  readonly envoyUrls?: readonly string[];
  /** @default - the spec's analysis.prometheusUrl */
  readonly prometheusUrl?: string;
  /** Append the record to <dir>/promotions.jsonl and write <dir>/promotion-<id>.json. @default - no files */
  readonly reportDir?: string;
  /** Write the report (the record and every measurement) here as JSON. @default - not written */
  readonly json?: string;
  /** Ask before the switch even when the spec does not. @default false */
  readonly confirmBeforeSwitch?: boolean;
  /** The switch is confirmed (a re-run after a pause, or a pipeline's manual approval). @default false */
  readonly confirm?: boolean;
  /** What to do with a promotion an earlier run left unfinished. @default "resume" */
  readonly onUnfinished?: OnUnfinished;
  /**
   * A TritonModelCanary's promotion: the model version to promote over the pinned one (loaded
   * beside it). A re-run of an unfinished one takes it from the state.
   * @default - the state's next version; none there is an error
   */
  readonly nextVersion?: number;
  /** Skip the steps (those left, when resuming) and switch: `promote --full` with no driver running. @default false */
  readonly full?: boolean;
  /**
   * Only roll back the promotion an earlier run left unfinished, then stop (`cdktf-triton abort`
   * when no driver holds the lease); nothing unfinished is a NothingToAbort error.
   * @default false
   */
  readonly rollbackOnly?: boolean;
  /** The pair the run must be for (`abort --app`): a stack whose promotion is another pair's is refused. @default - the stack's */
  readonly app?: string;
  /**
   * How long, at the end, every Envoy pod's mounted file may take to carry the final weights (its
   * kubelet's sync: about a minute) before the driver leaves their runtime values in place and
   * says so.
   * @default 300
   */
  readonly rolloutTimeoutSeconds?: number;
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly err: NodeJS.WritableStream;
  /** Answers the TTY question before the switch. @default - reads a line from stdin */
  readonly ask?: (question: string) => Promise<boolean>;
  /**
   * Resolves when the user interrupts. With the default the driver owns the process's SIGINT and
   * SIGTERM: it rolls back and exits within STOP_WITHIN_SECONDS, or says where traffic was left and
   * exits PROMOTE_EXIT.stoppedUnfinished. A caller that gives its own owns that deadline too.
   * @default - the process's signals
   */
  readonly interrupted?: Promise<string>;
  /**
   * Writes this run's HTML report into reportDir and resolves to its path (the CLI renders it: the
   * driver never imports the reports). A failure is reported, never fatal.
   * @default - no HTML report
   */
  readonly writeHtml?: (report: PromoteReport, dir: string) => Promise<string>;
}

export class PromoteError extends Error {}

/** `abort` found no promotion to roll back. */
export class NothingToAbort extends PromoteError {}

/** Interrupted before the first step: nothing was applied (exit PROMOTE_EXIT.interrupted). */
export class InterruptedBeforeStart extends PromoteError {}

/** The Kubernetes Event's reason for each transition (the README lists them). */
const EVENT_REASON: Readonly<Record<PromotionEvent, EventReason>> = {
  started: "PromotionStarted",
  resumed: "PromotionResumed",
  "lease-taken-over": "LeaseTakenOver",
  step: "StepStarted",
  "step-passed": "StepPassed",
  "step-skipped": "StepSkipped",
  paused: "Paused",
  unpaused: "Unpaused",
  "awaiting-confirmation": "AwaitingConfirmation",
  aborted: "PromotionAborted",
  promoted: "Promoted",
  interrupted: "PromotionInterrupted",
  "rolled-back": "RolledBack",
};

/** The promotion's step verdict when a request ended it early. */
const SKIPPED = "skipped";

/** The pair's state as the stack output gives it. */
interface PairState {
  readonly active: Color;
  readonly canary: number;
  readonly namespace: string;
  readonly envoyNamespace: string;
  /** A TritonGatewayCanary's: the HTTPRoute's namespace and each color's Service. */
  readonly gateway?: { readonly routeNamespace: string; readonly services: Readonly<Record<Color, ColorService>> };
  readonly blue: { version: string; fingerprint: string };
  readonly green: { version: string; fingerprint: string };
  /** A TritonModelCanary's: the pinned version, the next one (0: none) and its share. */
  readonly model?: { readonly version: number; readonly next: number; readonly percent: number };
}

/** Finds the stack folder and the promotion spec in it. */
export function findPromotion(stack: string | undefined, promotion: string | undefined): { stackDir: string; specFile: string } {
  const cwd = process.cwd();
  let stackDir: string;
  if (stack && fs.existsSync(path.join(stack, "cdk.tf.json"))) stackDir = path.resolve(stack);
  else if (stack) stackDir = path.resolve(cwd, "cdktf.out", "stacks", stack);
  else if (fs.existsSync(path.join(cwd, "cdk.tf.json"))) stackDir = cwd;
  else {
    const stacks = fs.existsSync(path.join(cwd, "cdktf.out", "stacks")) ? fs.readdirSync(path.join(cwd, "cdktf.out", "stacks")) : [];
    if (stacks.length !== 1) throw new PromoteError(stacks.length ? `several stacks in cdktf.out/stacks (${stacks.join(", ")}): choose one with --stack` : "no synthesized stack here: run cdktf synth, or give --stack <folder or name>");
    stackDir = path.join(cwd, "cdktf.out", "stacks", stacks[0]);
  }
  if (!fs.existsSync(path.join(stackDir, "cdk.tf.json"))) throw new PromoteError(`${stackDir} holds no synthesized stack (cdk.tf.json): run cdktf synth`);
  const assets = path.join(stackDir, "assets");
  const specs = (fs.existsSync(assets) ? fs.readdirSync(assets) : []).flatMap((a) =>
    fs.readdirSync(path.join(assets, a)).map((h) => path.join(assets, a, h, "promotion.json")).filter((f) => fs.existsSync(f)),
  );
  const named = specs.map((f) => ({ f, p: (JSON.parse(fs.readFileSync(f, "utf8")) as PromotionSpec).path }));
  const chosen = promotion ? named.filter((n) => n.p === promotion || n.p.endsWith(`/${promotion}`)) : named;
  if (chosen.length === 1) return { stackDir, specFile: chosen[0].f };
  if (!named.length) throw new PromoteError(`${stackDir} declares no TritonPromotion`);
  throw new PromoteError(`${promotion ? `no single promotion ${JSON.stringify(promotion)}` : "several promotions"} in ${stackDir}: choose with --promotion (${named.map((n) => n.p).join(", ")})`);
}

/** How long an abort's push waits for its decision to be in the history (an API server that does not answer). */
const HISTORY_FIRST_MS = 3_000;

/** How long a push retries a pod that does not answer or does not serve the weights. */
const PUSH_RETRY_MS = 5_000;

/** How long, after an apply, the Gateway may take to accept the route and its Envoy to serve the weights. */
const GATEWAY_SERVE_TIMEOUT_MS = 30_000;

/** An Envoy pod a push did not reach, and why. */
interface Unreached {
  readonly pod: string;
  readonly why: string;
}

const describe = (u: Unreached) => `${u.pod} (${u.why})`;

/** "Envoy pod X did not take weights ...: X (why)", one line for every pod not reached. */
function notTaken(weights: Weights, unreached: readonly Unreached[], route: string): string {
  return `Envoy pod${unreached.length > 1 ? "s" : ""} did not take ${weightsText(route, weights)}: ${unreached.map(describe).join("; ")}`;
}

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
  private readonly measurements: (Measurement & { step: number; weightPercent: number })[] = [];
  private readonly notificationProblems: string[] = [];
  private readonly timings: PromoteReport["timings"] & { moves: WeightMove[] } = { moves: [] };
  private interruptedBy?: string;
  private readonly interrupted: Promise<string>;
  private readonly detach: () => void;
  private spec!: PromotionSpec;
  private engine!: Engine;
  private history!: ClusterHistory;
  private fleet?: EnvoyFleet;
  private split!: SplitRouteClusters;
  /** What the steps move: the colors' weights, or a model's versions. */
  private moves!: Moves;
  /** A TritonModelCanary's Triton pods per color (port-forwards to their HTTP port), and the restricted API's key where there is one. */
  private tritons?: Record<Color, { readonly fleet: EnvoyFleet; restricted?: { readonly header: string; readonly key: string } }>;
  /** The versions of the model every Triton pod was last made to serve. */
  private loadedVersions?: readonly number[];
  /** A TritonGatewayCanary's route, and each color's Service and its cluster's stat name. */
  private gateway?: { readonly namespace: string; readonly services: Readonly<Record<Color, ColorService>>; readonly stats: Readonly<Record<Color, string>> };
  /** The weights the driver last decided: the state's at the start. */
  private target!: Weights;
  /** The color being promoted: its share rising is applied first, falling is pushed first. */
  private candidate!: Color;
  /** The last apply failed: the Envoys' files will not carry the target. */
  private applyFailed = false;
  private lastRefresh = 0;
  private prometheusUrl?: string;
  private record!: PromotionRecord;
  private webhook?: string;
  /** The pair's lease, held for the whole run. */
  private keeper?: LeaseKeeper;
  private leaseLost?: string;
  /** What the driver does now (published with the lease), and the step it is on or applying (-1 before the first). */
  private phase: Progress["phase"] = "starting";
  private stepIndex = -1;
  /** Requests from other shells (or --full): set by onRequest, acted on by the loop. */
  private abortRequest?: DriverRequest;
  private skipRequest?: DriverRequest;
  private fullRequest?: { by: string; at: string };
  private pausedBy?: { by: string; at: string };
  /** The current step's bake left, for the lease's progress. */
  private bakeLeftMs?: number;
  private lastMeasured = new Map<string, Measurement>();
  private readonly napping = new Set<() => void>();
  /** What the driver waits for now (said again every WAITING_SAID_EVERY_SECONDS), and since when. */
  private waiting?: { readonly what: string | (() => string); readonly since: number };
  /** The Envoy pods whose file does not route to a model's next version yet, each with why. */
  private behind: string[] = [];
  private lastSaid = Date.now();
  private waitingTimer?: NodeJS.Timeout;
  private readonly eventProblems = new Set<string>();
  private eventTarget?: EventTarget;

  constructor(private readonly o: PromoteOptions) {
    let detach = () => undefined as void;
    let stopTimer: NodeJS.Timeout | undefined;
    this.interrupted =
      o.interrupted ??
      new Promise<string>((resolve) => {
        const on = (signal: string) => () => {
          // A second signal: stop now. The first: the rollback, within STOP_WITHIN_SECONDS.
          if (this.interruptedBy) return this.stopNow(`a second ${signal}`);
          stopTimer ??= setTimeout(() => this.stopNow(`the rollback did not finish within ${STOP_WITHIN_SECONDS} s`), STOP_WITHIN_SECONDS * 1000);
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
    void this.interrupted.then((s) => {
      this.interruptedBy = s;
      this.timings.decisionAt ??= new Date().toISOString();
      this.say(`interrupted (${s}): rolling back to the last good weights (candidate 0 %); it exits within ${STOP_WITHIN_SECONDS} s`);
      this.wake();
    });
    this.waitingTimer = setInterval(() => this.sayWaiting(), 1000);
    this.waitingTimer.unref();
  }

  /**
   * Out of time after an interruption: one line on where traffic is, the engine asked to stop (it
   * stops gracefully and writes its state), the lease left to expire, and exit.
   */
  private stopNow(why: string): never {
    const doing = this.waiting ? `; it was ${waitingText(this.waiting.what)} for ${Math.round((Date.now() - this.waiting.since) / 1000)} s` : "";
    const lease = this.keeper ? ` The pair's lease is left to expire (${LEASE_DURATION_SECONDS} s).` : "";
    this.o.err.write(
      `\ncdktf-triton promote: interrupted (${this.interruptedBy}), stopped: ${why}${doing}. ${this.whereTrafficIs()}${lease} A re-run rolls it back (--on-unfinished rollback), as does \`cdktf-triton abort --engine ${this.o.engine}\`.\n`,
    );
    this.engine?.cancel();
    this.keeper?.abandon();
    this.fleet?.close();
    for (const t of Object.values(this.tritons ?? {})) t.fleet.close();
    process.exit(PROMOTE_EXIT.stoppedUnfinished);
  }

  /**
   * Runs `work`, said to be what the driver waits for: a wait longer than
   * WAITING_SAID_EVERY_SECONDS is said again at that pace, with how long it has lasted.
   */
  private async during<T>(what: string | (() => string), work: () => Promise<T>): Promise<T> {
    const outer = this.waiting;
    this.waiting = { what, since: Date.now() };
    try {
      return await work();
    } finally {
      this.waiting = outer;
    }
  }

  private sayWaiting(): void {
    if (!this.waiting || Date.now() - this.lastSaid < WAITING_SAID_EVERY_SECONDS * 1000) return;
    if (this.o.out.isTTY) this.o.out.write("\r\x1b[2K");
    this.say(`still ${waitingText(this.waiting.what)} (${Math.round((Date.now() - this.waiting.since) / 1000)} s)`);
  }

  async close(): Promise<void> {
    clearInterval(this.waitingTimer);
    this.detach();
    this.fleet?.close();
    for (const t of Object.values(this.tritons ?? {})) t.fleet.close();
    await this.keeper?.release();
  }

  /** Waits `ms`, or less when a request or an interruption arrives. */
  private nap(ms: number): Promise<void> {
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

  private wake(): void {
    for (const done of [...this.napping]) done();
  }

  /** Why the run must stop now: an interruption, or an abort requested from another shell. */
  private stopReason(): string | undefined {
    if (this.leaseLost) throw this.lostLease();
    if (this.interruptedBy) return `interrupted (${this.interruptedBy})`;
    if (this.abortRequest) return `aborted by ${this.abortRequest.by} (cdktf-triton abort)`;
    return undefined;
  }

  private say(line: string): void {
    this.lastSaid = Date.now();
    this.o.out.write(`promote: ${line}\n`);
  }

  /** Where traffic is as far as this run knows: its last move (pushed, applied, or neither), and the state's step. */
  private whereTrafficIs(): string {
    const r = this.record;
    const last = this.timings.moves[this.timings.moves.length - 1];
    const step = r && r.currentStep >= 0 ? `step ${r.currentStep + 1} of ${this.spec.steps.length} (${this.spec.steps[r.currentStep].weightPercent} % to ${r.to.color}, ${r.to.version})` : undefined;
    if (last?.appliedAt) return `The state and the Envoy pods' files have ${last.weights}${last.servedAt ? ", served" : ""}.`;
    if (last?.servedAt) return `Every Envoy pod serves ${last.weights} from its runtime (pushed), but the apply did not finish: the state still has ${step ?? "the weights before it"}, which a restarted Envoy pod would serve.`;
    if (!step) return "Traffic was not moved.";
    return `Traffic is left on ${step}, unwatched.`;
  }

  async run(): Promise<PromoteReport> {
    const { state, ctx } = await this.prepare();
    const stable = ctx.stable as Color;
    const candidate = this.candidate;
    await this.takeLease(state.namespace);
    await this.connectEnvoys(state.envoyNamespace);
    if (this.spec.model) await this.connectTritons(state.namespace);
    const model = this.moves instanceof ModelMoves ? { name: this.spec.model!.name, moves: this.moves } : undefined;
    const from: ColorState = model ? { color: stable, fingerprint: state[stable].fingerprint, version: `${model.name} ${model.moves.pinned}` } : { color: stable, ...state[stable] };
    const to: ColorState = model ? { color: stable, fingerprint: state[stable].fingerprint, version: `${model.name} ${model.moves.next}` } : { color: candidate, ...state[candidate] };
    const unfinished = await this.settleUnfinished(stable, to);
    if (unfinished === "rolled-back") return this.finish(0);
    const startStep = unfinished;
    if (this.o.rollbackOnly) throw new NothingToAbort(`no promotion of ${this.spec.app} is running or left unfinished (history ConfigMap ${state.namespace}/${this.spec.history.configMap}): nothing to abort`);
    if (this.o.full) this.fullRequest = { by: who(), at: new Date().toISOString() };
    if (!this.record && this.interruptedBy) throw new InterruptedBeforeStart(`interrupted (${this.interruptedBy}) before the first step: nothing was applied`);
    if (!this.record) {
      await this.start(state, from, to);
      // A model's next version: loaded beside the pinned one and checked before any request reaches it.
      if (model) {
        const notReady = await this.readyNext(model.moves, stable);
        if (notReady) return this.abort(stable, notReady);
      }
    }

    for (let i = startStep; i < this.spec.steps.length; i++) {
      let verdict: string;
      try {
        verdict = await this.step(i, candidate, ctx);
      } catch (e) {
        // Traffic is on a step: an unexpected failure rolls it back rather than leave it unwatched
        // (a run that lost the lease touches nothing).
        if (this.leaseLost) throw e;
        verdict = `step ${i + 1}: the driver failed: ${(e as Error).message}`;
      }
      if (verdict !== "pass" && verdict !== SKIPPED) return this.abort(stable, verdict);
    }
    return this.switchOver(stable, candidate);
  }

  /**
   * Everything checked before the lease is taken and anything applied: the spec, the engine and
   * the pair's state, Prometheus for the metrics that need it (one dry query each, so a bad query
   * is refused now), the data plane the weights travel through. The candidate is the color that
   * does not serve.
   */
  private async prepare(): Promise<{ state: PairState; ctx: QueryContext }> {
    const { stackDir, specFile } = findPromotion(this.o.stack, this.o.promotion);
    this.spec = loadPromotionSpec(specFile);
    const spec = this.spec;
    if (this.o.app !== undefined && spec.app !== this.o.app) throw new PromoteError(`the stack's promotion ${spec.path} is for ${spec.app}, not ${this.o.app}: give the stack of ${this.o.app} (--stack, --promotion)`);
    this.engine = new Engine({ kind: this.o.engine, stackDir, vars: this.o.vars, varFiles: this.o.varFiles });
    this.engine.check();
    const state = (await this.during(`reading the stack's state with ${this.o.engine}`, () => this.engine.output(spec.output))) as PairState | undefined;
    if (!state || !isColor(state.active)) {
      throw new PromoteError(`the stack's state has no output ${spec.output}: apply the stack once (with ${this.o.engine}) before promoting`);
    }
    this.history = new ClusterHistory(this.o.kube ?? {}, state.namespace, spec.history.configMap, spec.history.limit);
    this.webhook = process.env[spec.webhookUrlEnv] || undefined;
    if (spec.gateway && !state.gateway) throw new PromoteError(`the stack's output ${spec.output} has no gateway: apply the stack once (with ${this.o.engine}) before promoting`);
    // A rollback analyses nothing. Through a Gateway every metric is Prometheus' (the Gateway's Envoy's stats).
    const promQueries = this.o.rollbackOnly ? [] : spec.analysis.metrics.filter((m) => spec.gateway || needsPrometheus(m));
    this.prometheusUrl = this.o.prometheusUrl ?? spec.analysis.prometheusUrl;
    if (promQueries.length && !this.prometheusUrl) {
      throw new PromoteError(`metrics ${promQueries.map((m) => m.name).join(", ")} query Prometheus${spec.gateway ? " (through a Gateway, the Envoy metrics are its Envoy's stats as Prometheus scrapes them)" : ""}: give --prometheus-url (or analysis.prometheusUrl)`);
    }
    const stable = state.active;
    this.candidate = otherColor(stable);
    if (spec.gateway) {
      const services = state.gateway!.services;
      this.gateway = { namespace: state.gateway!.routeNamespace, services, stats: Object.fromEntries(COLORS.map((c) => [c, contourStatName(services[c])])) as Record<Color, string> };
      this.split = { route: spec.gateway.route, clusters: [] };
    } else this.split = { route: spec.envoy!.route, clusters: COLORS.flatMap((c) => spec.envoy!.clusters[c]) };
    if (!spec.model && this.o.nextVersion !== undefined) throw new PromoteError(`--next-version is for a TritonModelCanary's promotion; ${spec.path} promotes ${spec.app}'s colors`);
    const model = spec.model ? this.modelMoves(state) : undefined;
    if (!model) {
      const colors = new ColorMoves(this.split, spec.variables, stable, (c) => this.backendOf(c));
      this.moves = colors;
      this.target = colors.weightsOf(stable, state.canary);
    }
    const ctx: QueryContext = { app: spec.app, namespace: state.namespace, color: this.candidate, stable, ...(model ? { model: { name: spec.model!.name, version: String(model.next) } } : {}) };
    for (const m of promQueries) {
      try {
        await queryPrometheus(this.prometheusUrl!, this.dryQuery(m, ctx, m.intervalSeconds ?? spec.analysis.intervalSeconds));
      } catch (e) {
        throw new PromoteError(`analysis metric ${m.name}: ${(e as Error).message}`);
      }
    }
    return { state, ctx };
  }

  /**
   * A TritonModelCanary's moves: the state's pinned version, and the next one (--next-version, or
   * the state's when a promotion was left unfinished). The candidate "color" is the serving one.
   */
  private modelMoves(state: PairState): ModelMoves {
    const spec = this.spec;
    const name = spec.model!.name;
    const m = state.model;
    if (!m) throw new PromoteError(`the stack's output ${spec.output} has no model versions: apply the stack once (with ${this.o.engine}) before promoting`);
    const next = this.o.nextVersion ?? (m.next > 0 ? m.next : undefined);
    if (next === undefined) throw new PromoteError(`give --next-version: the version of ${name} to promote over ${m.version}, the one its requests go to now`);
    if (next === m.version) throw new PromoteError(`${name} ${next} is the version its requests go to now: nothing to promote`);
    const moves = new ModelMoves(name, spec.model!.variables, m.version, next);
    this.moves = moves;
    this.target = modelWeights(name, m.version, m.next, m.percent);
    this.candidate = state.active;
    return moves;
  }

  /**
   * An earlier run that did not finish (running or awaiting confirmation, or aborted with traffic
   * still on a step: its rollback failed): resumed when it promotes the same candidate (the step
   * to start from), else rolled back; "rolled-back" when that was all this run was asked to do.
   */
  private async settleUnfinished(stable: Color, to: ColorState): Promise<number | "rolled-back"> {
    const spec = this.spec;
    const unfinished = (await this.during("reading the pair's history", () => this.history.read()))
      .filter((r): r is PromotionRecord => r.kind === "promotion")
      .reverse()
      .find((r) => r.status === "running" || r.status === "awaiting-confirmation" || (r.currentStep >= 0 && r.status !== "promoted" && r.status !== "rolled-back"));
    if (!unfinished) return 0;
    const resumable = unfinished.status === "running" || unfinished.status === "awaiting-confirmation";
    const same = resumable && unfinished.from.color === stable && unfinished.to.fingerprint === to.fingerprint && unfinished.to.version === to.version;
    const at = unfinished.currentStep >= 0 ? `step ${unfinished.currentStep + 1} (${spec.steps[unfinished.currentStep]?.weightPercent ?? "?"} %)` : "before its first step";
    if (same && (this.o.onUnfinished ?? "resume") === "resume" && !this.o.rollbackOnly) {
      // Awaiting confirmation: every step passed, the switch is next.
      const startStep = Math.max(0, unfinished.status === "awaiting-confirmation" ? spec.steps.length : unfinished.currentStep);
      this.record = unfinished;
      this.say(`resuming promotion ${unfinished.id} (${unfinished.by}, ${unfinished.startedAt}), left ${unfinished.status} at ${at}`);
      this.record.status = "running";
      await this.save("resumed", `resumed by ${who()} at ${at}`);
      return startStep;
    }
    this.say(`promotion ${unfinished.id} was left ${unfinished.status} at ${at}: rolling it back (candidate 0 %)`);
    // The candidate back to 0 %, the color that serves now unchanged.
    const back = await this.setWeights(this.moves.rollback());
    if (!back.ok) throw new PromoteError(`could not roll back promotion ${unfinished.id}: ${back.why}`);
    unfinished.reason = `left ${unfinished.status} at ${at}; rolled back by a later run (${who()})`;
    unfinished.status = "rolled-back";
    unfinished.currentStep = -1;
    unfinished.finishedAt = new Date().toISOString();
    await this.history.put(unfinished);
    await this.announce("rolled-back", `${spec.app}: promotion ${unfinished.id} (left at ${at}) rolled back by ${who()}: ${unfinished.from.color} takes all traffic again`, {});
    if (!this.o.rollbackOnly) return 0;
    this.record = unfinished;
    this.say(`rolled back: ${unfinished.from.color} serves all traffic`);
    return "rolled-back";
  }

  /** A new promotion's record, saved (and announced) before its first step. */
  private async start(state: PairState, from: ColorState, to: ColorState): Promise<void> {
    const spec = this.spec;
    if (!spec.model && to.fingerprint === from.fingerprint) throw new PromoteError(`${to.color} runs the same release as ${from.color} (fingerprint ${to.fingerprint}): nothing to promote`);
    if (state.canary !== 0) this.say(`note: the state has the canary at ${state.canary} %; the first step sets it to ${spec.steps[0].weightPercent} %`);
    this.record = {
      kind: "promotion",
      id: `${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${randomBytes(3).toString("hex")}`,
      app: spec.app,
      namespace: state.namespace,
      by: who(),
      engine: this.o.engine,
      startedAt: new Date().toISOString(),
      from,
      to,
      status: "running",
      currentStep: -1,
      steps: [],
    };
    await this.save("started", `${spec.app}: promoting ${to.color} (${to.version}) over ${from.color} (${from.version}) in ${spec.steps.length} steps: ${spec.steps.map((s) => `${s.weightPercent} %`).join(" → ")}`);
  }

  /**
   * Takes the pair's lease before anything is read for a decision or applied: a second run refuses
   * (LeaseHeld, exit 2, naming the holder); an expired lease (its driver died) is taken over and
   * its holder named.
   */
  private async takeLease(namespace: string): Promise<void> {
    const lease = new PairLease(this.o.kube ?? {}, namespace, this.spec.app);
    const keeper = new LeaseKeeper(
      lease,
      (r) => this.onRequest(r),
      (why) => {
        this.leaseLost = why;
        this.o.err.write(`promote: ${why}: this run stops at its next step and touches nothing more\n`);
        this.wake();
      },
      (line) => this.o.err.write(`promote: ${line}\n`),
    );
    const { takenFrom } = await this.during(`taking the pair's lease ${namespace}/${this.spec.app}-promotion`, () => keeper.acquire({}));
    this.keeper = keeper;
    this.eventTarget = { access: this.o.kube ?? {}, namespace, service: this.spec.app, component: "cdktf-triton-promote" };
    if (takenFrom) {
      this.say(`took over the pair's lease from ${takenFrom}`);
      await this.announce("lease-taken-over", `${this.spec.app}: ${who()} took over the promotion lease from ${takenFrom}`, {});
    }
  }

  /** A request from another shell (through the lease): answered at once, acted on by the loop within a second. */
  private onRequest(r: DriverRequest): void {
    // The step traffic is on, or the one being applied (-1 before the first).
    const index = this.phase === "applying" ? this.stepIndex : (this.record?.currentStep ?? -1);
    const reply = (outcome: RequestOutcome, detail: string) => {
      this.keeper!.reply({ id: r.id, action: r.action, outcome, detail });
      if (this.record) {
        this.record.requests = [...(this.record.requests ?? []), { action: r.action, by: r.by, at: r.at, step: index + 1, outcome, detail }];
      }
      this.say(`${r.action} requested by ${r.by}: ${outcome === "done" ? detail : `refused: ${detail}`}`);
    };
    if (this.phase === "switching" || this.phase === "aborting" || this.phase === "settling" || this.phase === "ended") {
      return reply("refused", `the promotion is ${this.phase === "settling" ? "ending" : this.phase}`);
    }
    // Before the run has a promotion (it is reading the history, or rolling back an earlier one),
    // only an abort is taken: it stops the run before its first step.
    if (!this.record && r.action !== "abort") return reply("refused", "the driver is starting (it has no promotion yet): ask again in a few seconds");
    const step = index >= 0 ? `step ${index + 1} (${this.spec.steps[index].weightPercent} %)` : "the first step";
    switch (r.action) {
      case "abort":
        this.abortRequest = r;
        this.timings.decisionAt ??= new Date().toISOString();
        reply("done", `aborting at ${step}: the candidate goes back to 0 %`);
        // During an apply the Envoys take 0 % now; the apply's end is not waited for.
        if (this.phase === "applying" && this.fleet && !this.gateway) void this.pushAll(this.moves.rollback().weights);
        break;
      case "pause":
        if (this.pausedBy) return reply("refused", `already paused by ${this.pausedBy.by} at ${this.pausedBy.at}`);
        this.pausedBy = { by: r.by, at: r.at };
        reply("done", `paused at ${step}: the weights hold and the bake clock stopped${this.bakeLeftMs !== undefined ? ` with ${Math.ceil(this.bakeLeftMs / 1000)} s left` : ""}; analysis goes on, a failed measurement still aborts`);
        void this.save("paused", `${this.spec.app}: paused by ${r.by} at ${step}`, { by: r.by }).catch((e: Error) => this.o.err.write(`promote: ${e.message}\n`));
        break;
      case "resume":
        if (!this.pausedBy) return reply("refused", "the promotion is not paused");
        this.pausedBy = undefined;
        reply("done", `resumed at ${step}${this.bakeLeftMs !== undefined ? `: ${Math.ceil(this.bakeLeftMs / 1000)} s of bake left` : ""}`);
        void this.save("unpaused", `${this.spec.app}: resumed by ${r.by} at ${step}`, { by: r.by }).catch((e: Error) => this.o.err.write(`promote: ${e.message}\n`));
        break;
      case "skip":
        this.skipRequest = r;
        reply("done", `${step} ends ${this.phase === "applying" ? "as soon as its apply is done" : "now"}; the next step (or the switch) follows`);
        break;
      case "full":
        this.fullRequest = { by: r.by, at: r.at };
        reply("done", `${step} and the steps after it are skipped: switching to ${this.candidate}`);
        break;
    }
    this.publish();
    this.wake();
  }

  /** The driver's progress, for \`status --watch\` (written with the lease within a second). */
  private publish(): void {
    if (!this.keeper || !this.record) return;
    const i = this.phase === "applying" ? this.stepIndex : this.record.currentStep;
    const weightPercent = i >= 0 ? this.spec.steps[i].weightPercent : 0;
    this.keeper.publish(
      {
        promotion: this.record.id,
        from: { color: this.record.from.color, version: this.record.from.version },
        to: { color: this.record.to.color, version: this.record.to.version },
        step: i + 1,
        steps: this.spec.steps.length,
        weightPercent,
        status: this.record.status,
        phase: this.pausedBy && this.phase === "baking" ? "paused" : this.phase,
        ...(this.bakeLeftMs !== undefined && this.phase === "baking" ? { bakeLeftSeconds: Math.ceil(this.bakeLeftMs / 1000) } : {}),
        ...(this.pausedBy ? { pausedBy: this.pausedBy.by, pausedAt: this.pausedBy.at } : {}),
        measurements: [...this.lastMeasured.values()].map((m) => ({ metric: m.metric, ...(m.value !== undefined ? { value: m.value } : {}), verdict: m.verdict, ...(m.min !== undefined ? { min: m.min } : {}), ...(m.max !== undefined ? { max: m.max } : {}), at: m.at })),
      },
      i >= 0 ? `step ${i + 1} of ${this.spec.steps.length} (${weightPercent} %)` : "before the first step",
    );
  }

  /**
   * One step: apply, push to every Envoy pod, bake under analysis. The bake clock stops while the
   * promotion is paused (analysis goes on: a failed measurement still aborts); a skip ends the bake
   * now; an abort request or an interruption ends it at once.
   */
  private async step(i: number, candidate: Color, ctx: QueryContext): Promise<"pass" | typeof SKIPPED | string> {
    const spec = this.spec;
    const { weightPercent, bakeSeconds } = spec.steps[i];
    const stop = this.stopReason();
    if (stop) return stop;
    if (this.fullRequest) {
      this.say(`step ${i + 1}/${spec.steps.length} (${weightPercent} %) skipped (promote --full by ${this.fullRequest.by})`);
      return SKIPPED;
    }
    const notApplied = await this.applyStep(i, candidate);
    if (notApplied) return notApplied;
    const step: StepRecord = { weightPercent, startedAt: new Date().toISOString(), metrics: [] };
    this.record.steps = [...this.record.steps.filter((s) => s.weightPercent !== weightPercent), step];
    this.record.currentStep = i;
    this.phase = "baking";
    this.bakeLeftMs = bakeSeconds * 1000;
    this.lastMeasured.clear();
    await this.save("step", `${spec.app}: step ${i + 1}/${spec.steps.length}: ${weightPercent} % to ${candidate} (${this.record.to.version}), baking ${bakeSeconds} s`, { step: i + 1, weightPercent });

    const metrics = spec.analysis.metrics;
    const every = (m: MetricSpec) => (m.intervalSeconds ?? spec.analysis.intervalSeconds) * 1000;
    const summary = new Map<string, { passed: number; failed: number; inconclusive: number; last?: number }>(metrics.map((m) => [m.name, { passed: 0, failed: 0, inconclusive: 0 }]));
    // The candidate's counters: its color's clusters, or a model's next-version route (both versions share the clusters).
    const clusters: EnvoyCounterSource = spec.model ? { routes: [modelRouteStat(spec.model.name, "next")] } : (spec.envoy?.clusters[candidate] ?? []);
    const unreadable: string[] = [];
    // Through a Gateway, Envoy's counters come from Prometheus: no baseline here.
    const baseline = this.gateway ? { completed: 0, errors5xx: 0, buckets: new Map() } : await envoySnapshot(this.fleet!.urls(), clusters, unreadable);
    if (unreadable.length) this.say(`step ${i + 1}: the counters of ${unreadable.join("; ")} could not be read as the step started: its first window counts from its start`);
    const snapshots = new Map<string, EnvoySnapshot>(metrics.map((m) => [m.name, baseline]));
    const last = new Map<string, number>(metrics.map((m) => [m.name, Date.now()]));
    // The bake clock: it runs while the promotion is not paused.
    let baked = 0;
    let tickAt = Date.now();
    const left = () => {
      const now = Date.now();
      if (!this.pausedBy) baked += now - tickAt;
      tickAt = now;
      this.bakeLeftMs = Math.max(0, bakeSeconds * 1000 - baked);
      return this.bakeLeftMs;
    };
    const finish = (verdict: StepRecord["verdict"]) => {
      step.finishedAt = new Date().toISOString();
      step.verdict = verdict;
      step.metrics = metrics.map((m): MetricSummary => ({ metric: m.name, ...summary.get(m.name)! }));
      this.bakeLeftMs = undefined;
    };
    for (;;) {
      const bakeLeft = left();
      const why = this.stopReason();
      if (why) {
        finish(this.abortRequest ? "aborted" : "interrupted");
        return `${why} during step ${i + 1}`;
      }
      if (this.skipRequest || this.fullRequest) {
        finish(SKIPPED);
        return this.skipped(i, weightPercent);
      }
      const now = Date.now();
      let snapshot: EnvoySnapshot | undefined;
      const due = metrics.filter((x) => last.get(x.name)! + every(x) <= now + 5);
      for (const m of due) {
        const at = new Date().toISOString();
        let result: Measurement;
        try {
          if (isEnvoyMetric(m) && !this.gateway) {
            // Our Envoys' own counters, over the window since this metric's last snapshot (one read of every pod per round).
            snapshot ??= await envoySnapshot(this.fleet!.urls(), clusters);
            result = judgeEnvoy(m, snapshots.get(m.name)!, snapshot, at);
            snapshots.set(m.name, snapshot);
          } else result = await this.measureInPrometheus(m, candidate, ctx, every(m) / 1000, at);
        } catch (e) {
          result = { metric: m.name, at, verdict: "inconclusive", detail: `could not measure: ${(e as Error).message}` };
        }
        last.set(m.name, now);
        const s = summary.get(m.name)!;
        this.tally(s, result, i, weightPercent);
        if (s.failed > (m.failureLimit ?? 0)) {
          finish("fail");
          this.timings.decisionAt = new Date().toISOString();
          return `${m.name} = ${result.value} at ${weightPercent} % (${result.detail}; ${s.failed} failed measurement${s.failed > 1 ? "s" : ""}, failureLimit ${m.failureLimit ?? 0})`;
        }
      }
      if (bakeLeft <= 0 && !this.pausedBy) break;
      if (due.length) this.progress(i, weightPercent, bakeLeft, summary);
      this.publish();
      const nextDue = Math.min(...metrics.map((m) => last.get(m.name)! + every(m)));
      await this.nap(Math.min(1000, nextDue - Date.now(), this.pausedBy ? 1000 : bakeLeft));
      const after = this.stopReason();
      if (!after) await this.converge();
    }
    const short = metrics.filter((m) => summary.get(m.name)!.passed < (m.count ?? 1));
    if (short.length) {
      finish("inconclusive");
      this.timings.decisionAt = new Date().toISOString();
      return `inconclusive at ${weightPercent} %: ${short.map((m) => `${m.name} passed ${summary.get(m.name)!.passed} of the ${m.count ?? 1} measurement(s) it needs (${summary.get(m.name)!.inconclusive} without data)`).join("; ")}`;
    }
    finish("pass");
    await this.save("step-passed", `${spec.app}: step ${i + 1}/${spec.steps.length} passed at ${weightPercent} % (${step.metrics.map((m) => `${m.metric} ${m.last ?? "-"}`).join(", ")})`, { step: i + 1, weightPercent });
    return "pass";
  }

  /**
   * A step's weights applied and pushed to every Envoy pod (or the Gateway); why the step cannot
   * go on, or undefined when the candidate serves its share everywhere.
   */
  private async applyStep(i: number, candidate: Color): Promise<string | undefined> {
    const spec = this.spec;
    const { weightPercent } = spec.steps[i];
    this.say(`step ${i + 1}/${spec.steps.length}: ${weightPercent} % to ${candidate} — applying with ${this.o.engine}`);
    this.phase = "applying";
    this.stepIndex = i;
    this.bakeLeftMs = undefined;
    this.publish();
    const applied = await this.setWeights(this.moves.step(weightPercent));
    const stopped = this.stopReason();
    if (stopped) return stopped;
    if (!applied.ok) return `step ${i + 1}: ${applied.why}`;
    if (applied.unreached.length) return `step ${i + 1}: ${notTaken(this.target, applied.unreached, this.moves.route)}`;
    return undefined;
  }

  /** A metric Prometheus answers: Triton's or PromQL, or (through a Gateway) the Gateway's Envoy's stats. */
  private async measureInPrometheus(m: MetricSpec, candidate: Color, ctx: QueryContext, windowSeconds: number, at: string): Promise<Measurement> {
    if (isEnvoyMetric(m)) return judgeGatewayEnvoy(m, this.prometheusUrl!, this.gateway!.stats[candidate], windowSeconds, at);
    return judge(m, await queryPrometheus(this.prometheusUrl!, promqlOf(m, ctx, windowSeconds)), at);
  }

  /** A measurement recorded: in the report, in what status shows, and in its metric's count for the step. */
  private tally(s: { passed: number; failed: number; inconclusive: number; last?: number }, result: Measurement, i: number, weightPercent: number): void {
    this.measurements.push({ ...result, step: i + 1, weightPercent });
    this.lastMeasured.set(result.metric, result);
    if (result.verdict === "pass") s.passed++;
    else if (result.verdict === "fail") s.failed++;
    else s.inconclusive++;
    if (result.value !== undefined) s.last = result.value;
    if (result.verdict === "fail" && !this.timings.firstFailureAt) this.timings.firstFailureAt = result.at;
  }

  /** A step ended early by `cdktf-triton skip` or `promote --full`: recorded, with who asked. */
  private async skipped(i: number, weightPercent: number): Promise<typeof SKIPPED> {
    const by = this.requestedBy();
    this.skipRequest = undefined;
    await this.save("step-skipped", `${this.spec.app}: step ${i + 1}/${this.spec.steps.length} at ${weightPercent} % skipped by ${by}`, { step: i + 1, weightPercent });
    return SKIPPED;
  }

  /** Who asked to end the step early. */
  private requestedBy(): string {
    if (this.skipRequest) return `${this.skipRequest.by} (cdktf-triton skip)`;
    return `${this.fullRequest?.by ?? "?"} (promote --full)`;
  }

  private progress(i: number, weight: number, leftMs: number, summary: Map<string, { passed: number; failed: number; inconclusive: number; last?: number }>): void {
    const values = [...summary].map(([name, s]) => `${name}=${s.last ?? "-"}${s.failed ? ` (${s.failed} failed)` : ""}`).join(" ");
    const clock = this.pausedBy ? `paused by ${this.pausedBy.by}, ${Math.ceil(leftMs / 1000)} s of bake left` : `${Math.ceil(leftMs / 1000)} s left`;
    const line = `step ${i + 1}/${this.spec.steps.length} ${weight} % · ${clock} · ${values}`;
    if (this.o.out.isTTY) this.o.out.write(`\r\x1b[2K${line}`);
    else this.say(line);
  }

  /** A color's backend, as the weights name it: its Envoy clusters' base name, or its Service's name through a Gateway. */
  private backendOf(color: Color): string {
    return this.gateway ? this.gateway.services[color].name : clusterBackend(this.spec.envoy!.clusters[color][0]);
  }

  /** The query a Prometheus metric runs first, before anything is applied: a bad one stops the run. */
  private dryQuery(m: MetricSpec, ctx: QueryContext, intervalSeconds: number): string {
    if (this.gateway && (m.kind === "envoy-success-rate" || m.kind === "envoy-latency")) return gatewayEnvoyQueries(m.kind, this.gateway.stats[ctx.color as Color], intervalSeconds).requests;
    return promqlOf(m, ctx, intervalSeconds);
  }

  /**
   * Moves the weights to `active` with the canary at `canary`, in the order that is safe: a fall of
   * the candidate's share (an abort, a rollback) is pushed into every Envoy pod first and then
   * applied (Terraform stays the record); a rise is applied first (the candidate's capacity and the
   * ConfigMap), then pushed. A pod the push does not reach takes the weights from its file at its
   * kubelet's next sync: the caller decides (a step aborts, naming it: its analysis would measure
   * another share; an abort or the switch goes on).
   */
  private async setWeights(to: Move): Promise<{ ok: true; unreached: Unreached[] } | { ok: false; why: string }> {
    if (this.o.out.isTTY) this.o.out.write("\r\x1b[2K");
    const next = to.weights;
    // Through a Gateway, the "push" of a fall is a patch of the route's weights (its Envoy takes
    // them over xDS); a rise is applied, then waited for.
    const move: WeightMove = { weights: weightsText(this.moves.route, next), order: this.moves.pushFirst(to, this.target) ? "push-first" : "apply-first", startedAt: new Date().toISOString() };
    this.timings.moves.push(move);
    // A rollback goes ahead unless the lease was seen taken: it never waits on an API server that does not answer.
    const rollback = sameWeights(next, this.moves.rollback().weights);
    await this.holdsLease(rollback);
    const apply = async (): Promise<string | undefined> => {
      await this.holdsLease(rollback);
      const r = await this.during(`applying ${move.weights} with ${this.o.engine}`, () => this.engine.apply(to.vars));
      this.applyFailed = r.code !== 0;
      if (r.code === 0) {
        move.appliedAt = new Date().toISOString();
        return to.versions ? this.loadVersions(to.versions) : undefined;
      }
      const tail = r.output.trim().split("\n").slice(-15).join("\n");
      this.o.err.write(`${this.engine.binary} apply exited ${r.code}:\n${tail}\n`);
      return `${this.engine.binary} apply exited ${r.code}`;
    };
    const push = async (): Promise<Unreached[]> => {
      this.target = next;
      const unreached = await this.during(`${this.gateway ? "waiting for the Gateway's Envoy to serve" : "pushing into every Envoy pod"} ${move.weights}`, () => (this.gateway ? this.gatewayServes(next, move.order === "push-first") : this.pushAll(next)));
      if (unreached.length) move.unreached = unreached.map((u) => u.pod);
      else move.servedAt = new Date().toISOString();
      return unreached;
    };
    if (move.order === "push-first") {
      const unreached = await push();
      const later = this.gateway ? "the apply writes the route again" : "they take it from their file at their kubelet's next sync";
      this.say(`${move.weights}: served by ${this.fleet!.pods().length - unreached.length} of ${this.fleet!.pods().length} ${this.gateway ? "Gateway " : ""}Envoy pods${unreached.length ? ` (not reached: ${unreached.map(describe).join("; ")}; ${later})` : ""}; applying with ${this.o.engine}`);
      const failed = await apply();
      if (failed) return { ok: false, why: `the Envoys serve ${move.weights} (${this.gateway ? "the route patched" : "pushed"}), but ${failed}: the state still has the earlier weights` };
      // A route the patch did not reach: the apply wrote it; wait for the Gateway to serve it.
      if (this.gateway && unreached.length) {
        const still = await this.gatewayServes(next, false);
        if (!still.length) move.servedAt = new Date().toISOString();
        return { ok: true, unreached: still };
      }
      return { ok: true, unreached };
    }
    const failed = await apply();
    if (failed) return { ok: false, why: `${failed} (nothing moved)` };
    // An abort asked during the apply: the Envoys already serve 0 % (pushed then); this rise is not pushed.
    if (this.abortRequest) return { ok: true, unreached: [] };
    const unreached = await push();
    if (unreached.length) this.o.err.write(`promote: ${notTaken(next, unreached, this.moves.route)}\n`);
    return { ok: true, unreached };
  }

  private lostLease(): PromoteError {
    return new PromoteError(`this run lost the pair's lease (${this.leaseLost}): it stops and touches nothing more; the run holding the lease owns the promotion`);
  }

  /** Before any move: this run still holds the pair's lease; a run that lost it stops and touches nothing. */
  private async holdsLease(rollback = false): Promise<void> {
    if (!this.keeper) return;
    try {
      await this.keeper.check(rollback);
    } catch (e) {
      this.leaseLost ??= (e as Error).message;
      throw this.lostLease();
    }
  }

  /**
   * Pushes the weights into every Envoy pod and reads them back, each pod retried for up to 5 s.
   * Resolves to the pods that do not serve them, each with why.
   */
  private async pushAll(weights: Weights): Promise<Unreached[]> {
    const deadline = Date.now() + PUSH_RETRY_MS;
    const failed = await Promise.all(
      this.fleet!.pods().map(async (pod): Promise<Unreached | undefined> => {
        if (!pod.url) return { pod: pod.name, why: pod.problem ?? "not reached" };
        for (;;) {
          let why: string;
          try {
            await this.moves.push(pod.url, weights);
            const back = await this.moves.read(pod.url);
            if (sameWeights(back.served, weights)) return undefined;
            why = `it serves ${weightsText(this.moves.route, back.served)} after the push`;
          } catch (e) {
            why = (e as Error).message;
          }
          if (Date.now() > deadline) return { pod: pod.name, why };
          await new Promise((r) => setTimeout(r, 250));
        }
      }),
    );
    return failed.filter((f): f is Unreached => f !== undefined);
  }

  /**
   * Through a Gateway, after an apply (or a patch of the route's weights, `patch`: a fall, before
   * its apply): waits until every parent Gateway accepted the route's new
   * generation and every Gateway Envoy pod serves the weights (its implementation pushes them over
   * xDS), up to 30 s. Resolves to the pods that do not, each with why; a route the Gateway refused
   * is every pod's why at once.
   */
  private async gatewayServes(weights: Weights, patch: boolean): Promise<Unreached[]> {
    const { namespace } = this.gateway!;
    if (patch) {
      try {
        await patchRouteWeights(this.o.kube ?? {}, namespace, this.split.route, weights);
      } catch (e) {
        return this.fleet!.pods().map((p) => ({ pod: p.name, why: (e as Error).message }));
      }
    }
    const deadline = Date.now() + GATEWAY_SERVE_TIMEOUT_MS;
    const backends = Object.fromEntries(COLORS.map((c) => [this.backendOf(c), this.gateway!.stats[c]]));
    let routeWhy: string | undefined;
    let listed = 0;
    for (;;) {
      // The Gateway's Envoy pods listed again every 5 s (a pod that came or went).
      if (Date.now() - listed > 5_000) {
        listed = Date.now();
        await this.fleet!.refresh().catch((e: Error) => this.o.err.write(`promote: ${e.message} (the Gateway Envoy pods listed before are kept)\n`));
      }
      try {
        const problem = routeProblem(await readRouteStatus(this.o.kube ?? {}, namespace, this.split.route));
        routeWhy = problem && `HTTPRoute ${namespace}/${this.split.route}: ${problem.why}`;
        if (problem?.refused) return this.fleet!.pods().map((p) => ({ pod: p.name, why: routeWhy! }));
      } catch (e) {
        routeWhy = (e as Error).message;
      }
      const open = routeWhy
        ? this.fleet!.pods().map((p) => ({ pod: p.name, why: routeWhy! }))
        : (
            await Promise.all(
              this.fleet!.pods().map(async (pod): Promise<Unreached | undefined> => {
                if (!pod.url) return { pod: pod.name, why: pod.problem ?? "not reached" };
                try {
                  const s = await readGatewayServed(pod.url, backends);
                  return sameWeights(s.served, weights) ? undefined : { pod: pod.name, why: s.served ? `it serves ${weightsText(this.split.route, s.served)}` : s.detail };
                } catch (e) {
                  return { pod: pod.name, why: (e as Error).message };
                }
              }),
            )
          ).filter((u): u is Unreached => u !== undefined);
      // No pod listed is no pod serving it (never a vacuous "served").
      if (!this.fleet!.pods().length) open.push({ pod: "(the Gateway's Envoy)", why: "no running pod matches the dataPlane's labels" });
      if (!open.length) return [];
      if (Date.now() > deadline) return open.map((u) => ({ ...u, why: `${u.why} (after ${GATEWAY_SERVE_TIMEOUT_MS / 1000} s)` }));
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * One look at every Envoy pod (the pods listed again every 5 s): a pod that does not serve the
   * target (a restarted Envoy, a new pod whose file is behind) gets it pushed again; a pod whose
   * file carries the target has its runtime values cleared. Resolves to the pods whose file does
   * not carry the target yet, or that could not be read, each with why; the last move's `filesAt`
   * is set when none is left.
   */
  private async converge(): Promise<string[]> {
    // A Gateway's Envoy follows the route by itself: nothing to push or clear.
    if (this.gateway) return [];
    const fleet = this.fleet!;
    if (Date.now() - this.lastRefresh > 5_000) {
      this.lastRefresh = Date.now();
      await fleet.refresh().catch((e: Error) => this.o.err.write(`promote: ${e.message} (the Envoy pods listed before are kept)\n`));
    }
    const target = this.target;
    const text = (w: Weights | undefined) => weightsText(this.moves.route, w);
    const open = await Promise.all(
      fleet.pods().map(async (pod): Promise<string | undefined> => {
        if (!pod.url) return `${pod.name} (${pod.problem})`;
        try {
          const s = await this.moves.read(pod.url);
          const fileCarries = sameWeights(s.file, target);
          if (fileCarries && Object.keys(s.overrides).length) await this.moves.clear(pod.url);
          else if (!sameWeights(s.served, target)) {
            this.say(`Envoy pod ${pod.name} served ${text(s.served)}, not ${text(target)} (a restarted Envoy reads its file, which its kubelet may not have refreshed): pushed again`);
            await this.moves.push(pod.url, target);
          }
          return fileCarries ? undefined : `${pod.name} (its file carries ${text(s.file)})`;
        } catch (e) {
          return `${pod.name} (${(e as Error).message})`;
        }
      }),
    );
    const left = open.filter((o): o is string => o !== undefined);
    const last = this.timings.moves[this.timings.moves.length - 1];
    if (!left.length && last && !last.filesAt && last.weights === text(target)) last.filesAt = new Date().toISOString();
    return left;
  }

  /**
   * Before the run ends: waits until every Envoy pod's file carries the final weights (the
   * kubelet's sync), clearing each pod's runtime values as it does. A runtime value left behind
   * would hide a later plain apply's weights, so this waits up to rolloutTimeoutSeconds and then
   * says which pods keep one.
   */
  private async settle(): Promise<void> {
    // A Gateway's Envoy has no runtime values to clear.
    if (!this.fleet || this.applyFailed || this.gateway) return;
    const limit = this.o.rolloutTimeoutSeconds ?? 300;
    const deadline = Date.now() + limit * 1000;
    let left = await this.converge();
    if (left.length) this.say(`waiting for every Envoy pod's mounted file to carry ${weightsText(this.moves.route, this.target)} (each kubelet's sync, about a minute) to clear the runtime values: ${left.join("; ")}`);
    await this.during(`waiting for every Envoy pod's mounted file to carry ${weightsText(this.moves.route, this.target)} (up to ${limit} s)`, async () => {
      while (left.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        left = await this.converge();
      }
    });
    if (left.length) {
      this.o.err.write(
        `promote: after ${limit} s, not every Envoy pod's file carries ${weightsText(this.moves.route, this.target)}: ${left.join("; ")}. ` +
          "They serve it from their runtime, which hides a later plain apply's weights until a promote run (or a pod restart) clears it; `cdktf-triton status` shows them.\n",
      );
    }
  }

  private async abort(stable: Color, reason: string): Promise<PromoteReport> {
    const interrupted = reason.startsWith("interrupted");
    this.phase = "aborting";
    this.publish();
    this.timings.decisionAt ??= new Date().toISOString();
    this.say(`${interrupted ? "interrupted" : "aborting"}: ${reason}`);
    // The decision first, in the history: a run that dies between the push and the apply leaves
    // the record aborted on its step, and the next run finishes the rollback. An API server that
    // does not answer holds the push back HISTORY_FIRST_MS at most (the write goes on meanwhile).
    this.record.status = interrupted ? "interrupted" : "aborted";
    this.record.reason = reason;
    const written = this.history.put(this.record).catch((e: Error) => this.o.err.write(`promote: the history was not updated (the rollback goes on): ${e.message}\n`));
    await Promise.race([written, new Promise((r) => setTimeout(r, HISTORY_FIRST_MS).unref())]);
    const rolledBack = await this.setWeights(this.moves.rollback());
    const move = this.timings.moves[this.timings.moves.length - 1];
    this.timings.zeroTrafficAt = move?.servedAt ?? move?.appliedAt ?? new Date().toISOString();
    this.timings.decisionMs = this.timings.firstFailureAt ? Date.parse(this.timings.decisionAt) - Date.parse(this.timings.firstFailureAt) : undefined;
    this.timings.rollbackMs = Date.parse(this.timings.zeroTrafficAt) - Date.parse(this.timings.decisionAt);
    this.record.reason = rolledBack.ok ? reason : `${reason}; the rollback failed too: ${rolledBack.why}`;
    if (rolledBack.ok) this.record.currentStep = -1;
    this.record.finishedAt = new Date().toISOString();
    const text = rolledBack.ok
      ? `${this.spec.app}: promotion of ${this.record.to.color} (${this.record.to.version}) ${interrupted ? "interrupted" : "aborted"}: ${reason}. ${stable} takes all traffic again.`
      : `${this.spec.app}: promotion of ${this.record.to.color} ${interrupted ? "interrupted" : "aborted"}: ${reason}; THE ROLLBACK FAILED (${rolledBack.why}). ${this.whereTrafficIs()}`;
    await this.save(interrupted ? "interrupted" : "aborted", text);
    this.say(text);
    return this.finish(!interrupted ? PROMOTE_EXIT.aborted : rolledBack.ok ? PROMOTE_EXIT.interrupted : PROMOTE_EXIT.stoppedUnfinished);
  }

  private async switchOver(stable: Color, candidate: Color): Promise<PromoteReport> {
    const last = this.spec.steps[this.spec.steps.length - 1].weightPercent;
    this.phase = "switching";
    this.publish();
    // --full (asked on a terminal by the CLI) is the confirmation.
    if ((this.spec.confirmBeforeSwitch || this.o.confirmBeforeSwitch) && !this.o.confirm && !this.fullRequest) {
      const question = this.spec.model ? `make ${this.record.to.version} the only version ${this.spec.app} serves? [y/N] ` : `switch ${this.spec.app} to ${candidate} (${this.record.to.version})? [y/N] `;
      const yes = this.o.out.isTTY ? await (this.o.ask ?? askLine)(question) : false;
      if (!yes) {
        this.record.status = "awaiting-confirmation";
        this.record.reason = `awaiting confirmation before the switch; ${last} % of traffic stays on ${candidate} until a re-run with --confirm (switch) or --on-unfinished rollback`;
        await this.save("awaiting-confirmation", `${this.spec.app}: awaiting confirmation before the switch to ${candidate}: ${last} % of traffic is on it. Re-run promote with --confirm to switch, or --on-unfinished rollback.`);
        this.say(this.record.reason);
        return this.finish(PROMOTE_EXIT.awaitingConfirmation);
      }
    }
    this.say(
      this.spec.model
        ? `finishing: ${this.record.to.version} takes all of ${this.spec.model.name}'s requests${last === 100 ? "" : ` (the remaining ${100 - last} % move now)`}, then ${this.record.from.version} unloads`
        : `switching ${this.spec.app}: active = ${candidate}, canary 0 (nothing moves that the last step did not already send to ${candidate}${last === 100 ? "" : `; the remaining ${100 - last} % moves now`})`,
    );
    const switched = await this.setWeights(this.moves.finish());
    if (!switched.ok) return this.abort(stable, `the switch failed: ${switched.why}`);
    this.record.status = "promoted";
    delete this.record.reason; // a pause before the switch left its reason: it no longer holds
    this.record.currentStep = -1;
    this.record.finishedAt = new Date().toISOString();
    const done = this.spec.model ? `${this.record.to.version} is the only version of ${this.spec.model.name} ${candidate} serves` : `${candidate} (${this.record.to.version}) serves all traffic`;
    await this.save("promoted", `${this.spec.app}: ${this.spec.model ? this.record.to.version : `${candidate} (${this.record.to.version})`} promoted; ${done}`);
    this.say(`promoted: ${done}`);
    return this.finish(PROMOTE_EXIT.promoted);
  }

  /**
   * Records the promotion in the cluster (first: the truth a re-run reads) and notifies. Before any
   * traffic moves ("started", "resumed") a history that cannot be written stops the run; later, it
   * is reported and the run goes on (stopping would leave traffic on a step unwatched).
   */
  private async save(event: PromotionEvent, text: string, fields: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.during(`recording "${event}" in the pair's history`, () => this.history.put(this.record));
    } catch (e) {
      if (event === "started" || event === "resumed") throw new PromoteError(`cannot record the promotion, so nothing was applied: ${(e as Error).message}`);
      this.o.err.write(`promote: the history was not updated ("${event}"; the promotion goes on): ${(e as Error).message}\n`);
    }
    await this.announce(event, text, { status: this.record.status, from: this.record.from, to: this.record.to, ...fields });
  }

  /**
   * Tells of a transition: the webhook's message, and a Kubernetes Event on the pair's active
   * Service. Neither failing blocks anything: a webhook problem is in the report, an Event that
   * cannot be written is said once per kind of problem.
   */
  private async announce(event: PromotionEvent, text: string, fields: Record<string, unknown>): Promise<void> {
    const message: Notification = { text, event, app: this.spec.app, promotion: this.record?.id ?? "", ...fields };
    const [problem, eventProblem] = await this.during(`announcing "${event}" (webhook, Event)`, () =>
      Promise.all([notify(this.webhook, message), this.eventTarget ? recordEvent(this.eventTarget, EVENT_REASON[event], text) : Promise.resolve(undefined)]),
    );
    if (problem) {
      this.notificationProblems.push(problem);
      this.o.err.write(`promote: notification not delivered (the promotion goes on): ${problem}\n`);
    }
    const kind = eventProblem?.replace(/^the Event \w+ /, "the Events ");
    if (kind && !this.eventProblems.has(kind)) {
      this.eventProblems.add(kind);
      this.o.err.write(`promote: ${eventProblem} (the promotion goes on; said once)\n`);
    }
  }

  private async finish(exitCode: number): Promise<PromoteReport> {
    this.phase = "settling";
    this.publish();
    // Interrupted: no wait for the kubelets' syncs (a minute or more); the runtime values equal the state's weights.
    if (this.interruptedBy && this.fleet && !this.gateway) this.say("the Envoy pods keep these weights in their runtime until a promote run clears them (their files carry them at their kubelet's next sync; `cdktf-triton status` shows them)");
    else await this.settle();
    this.phase = "ended";
    this.publish();
    const report: PromoteReport = { record: this.record, measurements: this.measurements, notificationProblems: this.notificationProblems, timings: this.timings, exitCode };
    if (this.o.reportDir) {
      appendHistoryFile(this.o.reportDir, this.record);
      fs.writeFileSync(path.join(this.o.reportDir, `promotion-${this.record.id}.json`), JSON.stringify(report, null, 2));
      await this.writeHtml(report);
    }
    if (this.o.json) {
      fs.mkdirSync(path.dirname(path.resolve(this.o.json)), { recursive: true });
      fs.writeFileSync(this.o.json, JSON.stringify(report, null, 2));
    }
    return report;
  }

  /** This run's HTML report, `promotion-<id>-<time>.html` (each run its own file); a failure is reported, never fatal. */
  private async writeHtml(report: PromoteReport): Promise<void> {
    if (!this.o.writeHtml) return;
    try {
      this.say(`HTML report: ${await this.o.writeHtml(report, this.o.reportDir!)}`);
    } catch (e) {
      this.o.err.write(`promote: the HTML report was not written (${(e as Error).message})\n`);
    }
  }

  /**
   * A TritonModelCanary's Triton pods, per color (a port-forward to each pod's HTTP port), and the
   * restricted API's key, read from its Secret where the chart restricts the repository API.
   */
  private async connectTritons(namespace: string): Promise<void> {
    const model = this.spec.model!;
    const kube = this.o.kube ?? {};
    this.tritons = {} as NonNullable<typeof this.tritons>;
    for (const color of COLORS) {
      const t = model.triton[color];
      let restricted: { header: string; key: string } | undefined;
      if (t.restricted) {
        const r = await runKubectl(kube, ["get", "secret", t.restricted.secretName, "-n", namespace, "-o", `jsonpath={.data.${t.restricted.secretKey}}`]);
        if (r.code !== 0) throw new PromoteError(`the ${color} release restricts Triton's repository API; its key (Secret ${namespace}/${t.restricted.secretName}) cannot be read: ${kubectlFailure(r, kube)}`);
        restricted = { header: t.restricted.header, key: Buffer.from(r.stdout.trim(), "base64").toString("utf8") };
      }
      this.tritons[color] = { fleet: new EnvoyFleet({ kube, namespace, name: t.podLabels, adminPort: model.httpPort }), restricted };
    }
  }

  /**
   * Has every Triton pod of the pair (both colors: a standby that serves later must hold the same
   * versions) serve `versions` of the model; pods that start meanwhile read them from the ConfigMap
   * the apply wrote. Why not, for each pod that does not.
   */
  private async loadVersions(versions: readonly number[]): Promise<string | undefined> {
    const model = this.spec.model!.name;
    // A step keeps the versions: a pod that restarted meanwhile read them from the ConfigMap.
    if (JSON.stringify(versions) === JSON.stringify(this.loadedVersions)) return undefined;
    const failures = (
      await Promise.all(
        COLORS.map(async (color) => {
          const { fleet, restricted } = this.tritons![color];
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
    if (failures.length && versions.length > 1) return `Triton pods do not serve ${model} ${versions.join(" and ")}: ${failures.join("; ")}`;
    this.loadedVersions = versions;
    // An unload that did not happen leaves a version no request reaches (the routes and the
    // ConfigMap name only the others): said, not fatal; the pod drops it at its next start.
    if (failures.length) this.o.err.write(`promote: ${model} ${versions[0]} is the only version now, but not every Triton pod unloaded the other (it takes memory, no requests): ${failures.join("; ")}\n`);
    else this.say(`every Triton pod of ${this.spec.app} serves ${model} ${versions.join(" and ")}`);
    return undefined;
  }

  /**
   * A model's next version made ready to take requests: applied with a share of 0 (the ConfigMap
   * the pods load from, Envoy's next route) and loaded on every pod; every Envoy pod's file routing
   * to it (its kubelet's sync: a runtime share acts only on a route the file has); and the spec
   * passed on its own endpoints of a serving pod. Why not, or undefined.
   */
  private async readyNext(moves: ModelMoves, serving: Color): Promise<string | undefined> {
    const name = this.spec.model!.name;
    this.phase = "applying";
    this.say(`loading ${name} ${moves.next} beside ${moves.pinned} (no request goes to it yet): applying with ${this.o.engine}`);
    const applied = await this.setWeights(moves.step(0));
    if (!applied.ok) return `loading ${name} ${moves.next}: ${applied.why}`;
    const limit = this.o.rolloutTimeoutSeconds ?? 300;
    const notReady = await this.during(() => `waiting for every Envoy pod's mounted file to route to ${name} ${moves.next} (up to ${limit} s): ${this.behind.join("; ") || "reading them"}`, () => this.untilNextRouted(moves, limit));
    if (notReady) return notReady;
    const pod = this.tritons![serving].fleet.pods().find((p) => p.url);
    if (!pod) return `no ${serving} Triton pod could be reached to check ${name} ${moves.next}`;
    this.say(`checking ${name} ${moves.next} on its own endpoints of pod ${pod.name}`);
    const report = await this.during(`checking ${name} ${moves.next} on pod ${pod.name}`, () => verify(bindVersion(this.spec.model!.verify, name, moves.next), { url: pod.url! }));
    const failed = report.checks.filter((c) => c.status === "fail" || c.status === "error");
    if (report.verdict !== "pass") return `${name} ${moves.next} failed its check on pod ${pod.name} (${report.verdict}): ${failed.map((c) => `${c.name}: ${c.message}`).join("; ") || "see the report"}`;
    this.say(`${name} ${moves.next} passed its check (${report.checks.length} checks)`);
    return undefined;
  }

  /** Until every Envoy pod's file routes to the next version (its kubelet's sync); why not, after `limit` s. */
  private async untilNextRouted(moves: ModelMoves, limit: number): Promise<string | undefined> {
    const name = this.spec.model!.name;
    const deadline = Date.now() + limit * 1000;
    let said = false;
    for (;;) {
      const stop = this.stopReason();
      if (stop) return stop;
      await this.fleet!.refresh().catch(() => undefined);
      this.behind = (
        await Promise.all(
          this.fleet!.pods().map(async (pod) => {
            if (!pod.url) return `${pod.name} (${pod.problem})`;
            const served = await readModelServed(pod.url, name).catch((e: Error) => ({ next: undefined, why: e.message }));
            return served.next === moves.next ? undefined : `${pod.name} (${"why" in served ? served.why : `its file routes to ${served.next ? `${name} ${served.next}` : "no next version"}`})`;
          }),
        )
      ).filter((b): b is string => b !== undefined);
      if (!this.behind.length) return undefined;
      if (Date.now() > deadline) return `after ${limit} s, not every Envoy pod's file has the route to ${name} ${moves.next}: ${this.behind.join("; ")}`;
      if (!said) this.say(`waiting for every Envoy pod's mounted file to route to ${name} ${moves.next} (each kubelet's sync, about a minute): ${this.behind.join("; ")}`);
      said = true;
      await this.nap(1000);
    }
  }

  /**
   * The Envoy pods, each reached at its admin port (as given, or one port-forward per pod); each
   * must answer. A pod holding runtime weights that differ from the state was left so by a run that
   * stopped between a push and its apply: said here, and set right by this run's first move.
   */
  private async connectEnvoys(namespace: string): Promise<void> {
    const gw = this.spec.gateway?.envoy;
    const name = gw ? gw.podLabels : this.spec.envoy!.name;
    const adminPort = gw ? gw.adminPort : this.spec.envoy!.adminPort;
    this.fleet = new EnvoyFleet({ kube: this.o.kube ?? {}, namespace, name, adminPort, urls: this.o.envoyUrls });
    const pods = await this.fleet.refresh().catch((e: Error) => {
      throw new PromoteError(e.message.replace("the pods of", "the Envoy pods of"));
    });
    this.lastRefresh = Date.now();
    if (gw) {
      const selector = Object.entries(gw.podLabels).map(([k, v]) => `${k}=${v}`).join(",");
      if (!pods.length) throw new PromoteError(`no running Envoy pod of the Gateway in ${namespace} (labels ${selector}): check the TritonGatewayCanary's dataPlane`);
      const backends = Object.fromEntries(COLORS.map((c) => [this.backendOf(c), this.gateway!.stats[c]]));
      for (const pod of pods) {
        if (!pod.url) throw new PromoteError(`Gateway Envoy pod ${pod.name} cannot be reached: ${pod.problem}`);
        await readGatewayServed(pod.url, backends).catch((e: Error) => {
          throw new PromoteError(`Gateway Envoy pod ${pod.name}: its admin listener (port ${adminPort}) does not answer: ${e.message}`);
        });
      }
      return;
    }
    if (!pods.length) throw new PromoteError(`no running Envoy pod of ${namespace}/${name} (label app=${name}): apply the stack first`);
    for (const pod of pods) {
      if (!pod.url) throw new PromoteError(`Envoy pod ${pod.name} cannot be reached: ${pod.problem}`);
      let served;
      try {
        served = await this.moves.read(pod.url);
      } catch (e) {
        throw new PromoteError(`Envoy pod ${pod.name}: its admin interface does not answer: ${(e as Error).message}`);
      }
      if (Object.keys(served.overrides).length && !sameWeights(served.served, this.target)) {
        this.say(`Envoy pod ${pod.name} serves ${weightsText(this.moves.route, served.served)} from its runtime while the state has ${weightsText(this.moves.route, this.target)}: an earlier run stopped between a push and its apply; this run sets it right`);
      }
    }
  }
}

/** A spec whose entries for `model` are bound to `version`: the next version checked on its own endpoints. */
export function bindVersion(spec: VerifySpec, model: string, version: number): VerifySpec {
  return {
    ...spec,
    models: spec.models.map((m) => (m.name === model ? { ...m, version: String(version) } : m)),
    ...(spec.probe ? { probe: spec.probe.model === model ? { ...spec.probe, version: String(version) } : spec.probe } : {}),
  };
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

export { PrometheusError };

const waitingText = (what: string | (() => string)) => (typeof what === "string" ? what : what());

/** A metric read from Envoy's per-cluster counters (ours, or the Gateway's through Prometheus). */
function isEnvoyMetric(m: MetricSpec): boolean {
  return m.kind === "envoy-success-rate" || m.kind === "envoy-latency";
}
