// A promotion's steps, one at a time: the step's weights moved (applied, and served by every pod),
// then its bake under analysis: each metric measured at its interval, a failure past its limit
// aborting at once, the bake clock stopped while an operator pauses, a skip or --full ending it
// early. Runtime code: no cdktf here.
import { Color } from "../../core/colors";
import { modelRouteStat } from "../../core/envoy";
import { MetricSpec } from "../../core/promotion-spec";
import { Measurement, MetricSummary, StepRecord } from "../records";
import {
  EnvoyCounterSource,
  EnvoySnapshot,
  envoySnapshot,
  judge,
  judgeEnvoy,
  judgeGatewayEnvoy,
  promqlOf,
  QueryContext,
  queryPrometheus,
} from "./analysis";
import { RunContext } from "./context";
import { GatewayRoute } from "./gateway-plane";
import { gatewayEnvoyQueries } from "../gateway";
import { OperatorRequests } from "./operator-requests";
import { Recorder } from "./recorder";
import { notTaken, Traffic } from "./traffic";

/** How a step ended: passed its analysis, skipped (by an operator or --full), or stopped with the reason the promotion aborts. */
export type StepOutcome =
  { readonly kind: "passed" } | { readonly kind: "skipped" } | { readonly kind: "stopped"; readonly reason: string };

const PASSED: StepOutcome = { kind: "passed" };
const SKIPPED: StepOutcome = { kind: "skipped" };
const stopped = (reason: string): StepOutcome => ({ kind: "stopped", reason });

/** A metric's count of measurements in one step. */
interface Tally {
  passed: number;
  failed: number;
  inconclusive: number;
  last?: number;
}

/** A step's bake: its record, its metrics' tallies and the window each metric's Envoy counters start from. */
interface Bake {
  readonly i: number;
  readonly weightPercent: number;
  readonly record: StepRecord;
  readonly summary: Map<string, Tally>;
  readonly clusters: EnvoyCounterSource;
  readonly snapshots: Map<string, EnvoySnapshot>;
  readonly last: Map<string, number>;
}

export class StepLoop {
  constructor(
    private readonly c: RunContext,
    private readonly traffic: Traffic,
    private readonly requests: OperatorRequests,
    private readonly recorder: Recorder,
    /** The queries' labels: the pair, the candidate, the model's next version. */
    private readonly ctx: QueryContext,
    private readonly prometheusUrl: string | undefined,
    private readonly gateway: GatewayRoute | undefined,
  ) {}

  /**
   * One step: apply, serve by every pod, bake under analysis. The bake clock stops while the
   * promotion is paused (analysis goes on: a failed measurement still aborts); a skip ends the bake
   * now; an abort request or an interruption ends it at once.
   */
  async step(i: number): Promise<StepOutcome> {
    const { c } = this;
    const spec = c.spec;
    const { weightPercent, bakeSeconds } = spec.steps[i];
    const stop = c.stopReason();
    if (stop) return stopped(stop);
    if (c.fullRequest) {
      c.say(`step ${i + 1}/${spec.steps.length} (${weightPercent} %) skipped (promote --full by ${c.fullRequest.by})`);
      return SKIPPED;
    }
    const applied = await this.applyStep(i);
    if (applied.kind !== "passed") return applied;
    const record: StepRecord = { weightPercent, startedAt: new Date().toISOString(), metrics: [] };
    c.record.steps = [...c.record.steps.filter((s) => s.weightPercent !== weightPercent), record];
    c.record.currentStep = i;
    c.phase = "baking";
    c.bakeLeftMs = bakeSeconds * 1000;
    c.lastMeasured.clear();
    await this.recorder.save(
      "step",
      `${spec.app}: step ${i + 1}/${spec.steps.length}: ${weightPercent} % to ${c.candidate} (${c.record.to.version}), baking ${bakeSeconds} s`,
      { step: i + 1, weightPercent },
    );
    return this.bake(await this.startBake(i, weightPercent, record), bakeSeconds);
  }

  /** A step's weights applied and served by every pod; "passed" when the candidate serves its share everywhere. */
  private async applyStep(i: number): Promise<StepOutcome> {
    const { c } = this;
    const { weightPercent } = c.spec.steps[i];
    c.say(`step ${i + 1}/${c.spec.steps.length}: ${weightPercent} % to ${c.candidate} — applying with ${c.o.engine}`);
    c.phase = "applying";
    c.stepIndex = i;
    c.bakeLeftMs = undefined;
    this.requests.publish();
    const applied = await this.traffic.move(this.traffic.moves.step(weightPercent));
    const stop = c.stopReason();
    if (stop) return stopped(stop);
    if (!applied.ok) return stopped(`step ${i + 1}: ${applied.why}`);
    if (applied.unreached.length)
      return stopped(`step ${i + 1}: ${notTaken(this.traffic.target, applied.unreached, this.traffic.moves.route)}`);
    return PASSED;
  }

  /** The bake's start: every metric's tally at zero, and our Envoys' counters read as its baseline. */
  private async startBake(i: number, weightPercent: number, record: StepRecord): Promise<Bake> {
    const spec = this.c.spec;
    const metrics = spec.analysis.metrics;
    // The candidate's counters: its color's clusters, or a model's next-version route (both versions share the clusters).
    const clusters: EnvoyCounterSource = spec.model
      ? { routes: [modelRouteStat(spec.model.name, "next")] }
      : (spec.envoy?.clusters[this.c.candidate] ?? []);
    const unreadable: string[] = [];
    // Through a Gateway, Envoy's counters come from Prometheus: no baseline here.
    const baseline = this.gateway
      ? { completed: 0, errors5xx: 0, buckets: new Map() }
      : await envoySnapshot(this.traffic.plane.fleet.urls(), clusters, unreadable);
    if (unreadable.length)
      this.c.say(
        `step ${i + 1}: the counters of ${unreadable.join("; ")} could not be read as the step started: its first window counts from its start`,
      );
    return {
      i,
      weightPercent,
      record,
      clusters,
      summary: new Map(metrics.map((m) => [m.name, { passed: 0, failed: 0, inconclusive: 0 }])),
      snapshots: new Map(metrics.map((m) => [m.name, baseline])),
      last: new Map(metrics.map((m) => [m.name, Date.now()])),
    };
  }

  /** How often a metric is measured, in ms. */
  private every(m: MetricSpec): number {
    return (m.intervalSeconds ?? this.c.spec.analysis.intervalSeconds) * 1000;
  }

  /** The bake: metrics measured as they fall due until the bake clock runs out, or a request, a failure or an interruption ends it. */
  private async bake(b: Bake, bakeSeconds: number): Promise<StepOutcome> {
    const { c } = this;
    const metrics = c.spec.analysis.metrics;
    // The bake clock: it runs while the promotion is not paused.
    let baked = 0;
    let tickAt = Date.now();
    const left = () => {
      const now = Date.now();
      if (!c.pausedBy) baked += now - tickAt;
      tickAt = now;
      c.bakeLeftMs = Math.max(0, bakeSeconds * 1000 - baked);
      return c.bakeLeftMs;
    };
    for (;;) {
      const bakeLeft = left();
      const why = c.stopReason();
      if (why) {
        this.finish(b, c.abortRequest ? "aborted" : "interrupted");
        return stopped(`${why} during step ${b.i + 1}`);
      }
      if (c.skipRequest || c.fullRequest) {
        this.finish(b, "skipped");
        return this.skipped(b.i, b.weightPercent);
      }
      const measured = await this.measureDue(b);
      if (measured.kind === "failed") return stopped(measured.reason);
      if (bakeLeft <= 0 && !c.pausedBy) break;
      if (measured.count) this.progress(b);
      this.requests.publish();
      const nextDue = Math.min(...metrics.map((m) => b.last.get(m.name)! + this.every(m)));
      await c.nap(Math.min(1000, nextDue - Date.now(), c.pausedBy ? 1000 : bakeLeft));
      if (!c.stopReason()) await this.traffic.converge();
    }
    return this.judgeBake(b);
  }

  /** Measures every metric that is due: how many were, or why the step fails (one failed past its limit). */
  private async measureDue(b: Bake): Promise<{ kind: "measured"; count: number } | { kind: "failed"; reason: string }> {
    const now = Date.now();
    let snapshot: EnvoySnapshot | undefined;
    const due = this.c.spec.analysis.metrics.filter((x) => b.last.get(x.name)! + this.every(x) <= now + 5);
    for (const m of due) {
      const at = new Date().toISOString();
      let result: Measurement;
      try {
        if (isEnvoyMetric(m) && !this.gateway) {
          // Our Envoys' own counters, over the window since this metric's last snapshot (one read of every pod per round).
          snapshot ??= await envoySnapshot(this.traffic.plane.fleet.urls(), b.clusters);
          result = judgeEnvoy(m, b.snapshots.get(m.name)!, snapshot, at);
          b.snapshots.set(m.name, snapshot);
        } else result = await this.measureInPrometheus(m, this.every(m) / 1000, at);
      } catch (e) {
        result = { metric: m.name, at, verdict: "inconclusive", detail: `could not measure: ${(e as Error).message}` };
      }
      b.last.set(m.name, now);
      const s = b.summary.get(m.name)!;
      this.tally(s, result, b.i, b.weightPercent);
      if (s.failed > (m.failureLimit ?? 0)) {
        this.finish(b, "fail");
        this.c.timings.decisionAt = new Date().toISOString();
        return {
          kind: "failed",
          reason: `${m.name} = ${result.value} at ${b.weightPercent} % (${result.detail}; ${s.failed} failed measurement${s.failed > 1 ? "s" : ""}, failureLimit ${m.failureLimit ?? 0})`,
        };
      }
    }
    return { kind: "measured", count: due.length };
  }

  /** The bake ran its time: passed when every metric passed the measurements it needs, else inconclusive. */
  private async judgeBake(b: Bake): Promise<StepOutcome> {
    const { c } = this;
    const spec = c.spec;
    const short = spec.analysis.metrics.filter((m) => b.summary.get(m.name)!.passed < (m.count ?? 1));
    if (short.length) {
      this.finish(b, "inconclusive");
      c.timings.decisionAt = new Date().toISOString();
      return stopped(
        `inconclusive at ${b.weightPercent} %: ${short.map((m) => `${m.name} passed ${b.summary.get(m.name)!.passed} of the ${m.count ?? 1} measurement(s) it needs (${b.summary.get(m.name)!.inconclusive} without data)`).join("; ")}`,
      );
    }
    this.finish(b, "pass");
    await this.recorder.save(
      "step-passed",
      `${spec.app}: step ${b.i + 1}/${spec.steps.length} passed at ${b.weightPercent} % (${b.record.metrics.map((m) => `${m.metric} ${m.last ?? "-"}`).join(", ")})`,
      { step: b.i + 1, weightPercent: b.weightPercent },
    );
    return PASSED;
  }

  /** The step's record closed with its verdict and every metric's tally. */
  private finish(b: Bake, verdict: StepRecord["verdict"]): void {
    b.record.finishedAt = new Date().toISOString();
    b.record.verdict = verdict;
    b.record.metrics = this.c.spec.analysis.metrics.map((m): MetricSummary => ({
      metric: m.name,
      ...b.summary.get(m.name)!,
    }));
    this.c.bakeLeftMs = undefined;
  }

  /** A metric Prometheus answers: Triton's or PromQL, or (through a Gateway) the Gateway's Envoy's stats. */
  private async measureInPrometheus(m: MetricSpec, windowSeconds: number, at: string): Promise<Measurement> {
    if (isEnvoyMetric(m))
      return judgeGatewayEnvoy(m, this.prometheusUrl!, this.gateway!.stats[this.c.candidate], windowSeconds, at);
    return judge(m, await queryPrometheus(this.prometheusUrl!, promqlOf(m, this.ctx, windowSeconds)), at);
  }

  /** A measurement recorded: in the report, in what status shows, and in its metric's count for the step. */
  private tally(s: Tally, result: Measurement, i: number, weightPercent: number): void {
    const { c } = this;
    c.measurements.push({ ...result, step: i + 1, weightPercent });
    c.lastMeasured.set(result.metric, result);
    if (result.verdict === "pass") s.passed++;
    else if (result.verdict === "fail") s.failed++;
    else s.inconclusive++;
    if (result.value !== undefined) s.last = result.value;
    if (result.verdict === "fail" && !c.timings.firstFailureAt) c.timings.firstFailureAt = result.at;
  }

  /** A step ended early by `cdktf-triton skip` or `promote --full`: recorded, with who asked. */
  private async skipped(i: number, weightPercent: number): Promise<StepOutcome> {
    const { c } = this;
    const by = c.skipRequest
      ? `${c.skipRequest.by} (cdktf-triton skip)`
      : `${c.fullRequest?.by ?? "?"} (promote --full)`;
    c.skipRequest = undefined;
    await this.recorder.save(
      "step-skipped",
      `${c.spec.app}: step ${i + 1}/${c.spec.steps.length} at ${weightPercent} % skipped by ${by}`,
      { step: i + 1, weightPercent },
    );
    return SKIPPED;
  }

  private progress(b: Bake): void {
    const { c } = this;
    const leftMs = c.bakeLeftMs ?? 0;
    const values = [...b.summary]
      .map(([name, s]) => `${name}=${s.last ?? "-"}${s.failed ? ` (${s.failed} failed)` : ""}`)
      .join(" ");
    const clock = c.pausedBy
      ? `paused by ${c.pausedBy.by}, ${Math.ceil(leftMs / 1000)} s of bake left`
      : `${Math.ceil(leftMs / 1000)} s left`;
    const line = `step ${b.i + 1}/${c.spec.steps.length} ${b.weightPercent} % · ${clock} · ${values}`;
    if (c.o.out.isTTY) c.o.out.write(`\r\x1b[2K${line}`);
    else c.say(line);
  }
}

/** The query a Prometheus metric runs first, before anything is applied: a bad one stops the run. */
export function dryQuery(
  m: MetricSpec,
  ctx: QueryContext,
  intervalSeconds: number,
  gateway: GatewayRoute | undefined,
): string {
  if (gateway && isEnvoyMetric(m))
    return gatewayEnvoyQueries(
      m.kind as "envoy-success-rate" | "envoy-latency",
      gateway.stats[ctx.color as Color],
      intervalSeconds,
    ).requests;
  return promqlOf(m, ctx, intervalSeconds);
}

/** A metric read from Envoy's per-cluster counters (ours, or the Gateway's through Prometheus). */
function isEnvoyMetric(m: MetricSpec): boolean {
  return m.kind === "envoy-success-rate" || m.kind === "envoy-latency";
}
