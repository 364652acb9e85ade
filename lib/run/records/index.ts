// The records the run side writes and reads back: a promotion's record and measurements (the driver
// writes them into the pair's history and its report files), a gate's verdict record, and the
// report of a promotion run. The driver, the history and the reports import these; none of them
// imports another for its types.
import { RequestOutcome } from "../../core/closed-sets";

/**
 * "running": a driver holds the pair (a pause requested with `cdktf-triton pause` is still
 * running: the driver holds the weights, see `requests`); "awaiting-confirmation": every step
 * passed and the driver exited (3) before the switch, for `promote --confirm` (records written
 * before 0.2 call it "paused": read as this).
 */
export type PromotionStatus =
  "running" | "awaiting-confirmation" | "promoted" | "aborted" | "interrupted" | "rolled-back";

/** A request another shell sent the driver (`cdktf-triton abort | pause | resume | skip`, `promote --full`), and the driver's answer. */
export interface RequestRecord {
  readonly action: "abort" | "pause" | "resume" | "skip" | "full";
  readonly by: string;
  readonly at: string;
  /** The step traffic was on (1-based; 0 before the first). */
  readonly step: number;
  readonly outcome: RequestOutcome;
  readonly detail: string;
}

/** Per metric, what a step measured. */
export interface MetricSummary {
  readonly metric: string;
  readonly passed: number;
  readonly failed: number;
  readonly inconclusive: number;
  /** The last conclusive value. */
  readonly last?: number;
}

export interface StepRecord {
  readonly weightPercent: number;
  readonly startedAt: string;
  finishedAt?: string;
  /** "skipped": ended early on request; "aborted": an abort request ended it. */
  verdict?: "pass" | "fail" | "inconclusive" | "interrupted" | "skipped" | "aborted";
  metrics: MetricSummary[];
}

export interface ColorState {
  readonly color: string;
  readonly version: string;
  readonly fingerprint: string;
}

export interface PromotionRecord {
  readonly kind: "promotion";
  readonly id: string;
  readonly app: string;
  readonly namespace: string;
  /** Who ran it: $USER (or the CI's actor) on which host. */
  readonly by: string;
  readonly engine: string;
  readonly startedAt: string;
  finishedAt?: string;
  readonly from: ColorState;
  readonly to: ColorState;
  status: PromotionStatus;
  /** Why it stopped, when it did not promote. */
  reason?: string;
  /** The step index traffic is on (-1 before the first). */
  currentStep: number;
  steps: StepRecord[];
  /** Requests from other shells, in order. @default - none */
  requests?: RequestRecord[];
}

export interface VerificationRecord {
  readonly kind: "verification";
  readonly id: string;
  readonly app: string;
  readonly namespace: string;
  readonly at: string;
  readonly color: string;
  readonly fingerprint?: string;
  readonly verdict: string;
  readonly message?: string;
}

export type HistoryRecord = PromotionRecord | VerificationRecord;

export type MeasurementVerdict = "pass" | "fail" | "inconclusive";

export interface Measurement {
  readonly metric: string;
  readonly at: string;
  /** undefined when there was no data. */
  readonly value?: number;
  readonly verdict: MeasurementVerdict;
  /** Why it is inconclusive, or what the threshold was. */
  readonly detail: string;
  /** The threshold it was judged against. */
  readonly min?: number;
  readonly max?: number;
}

/**
 * One move of the weights: when the driver decided it, when the apply ended, when every Envoy pod
 * served it (read back from each one), and when every pod's mounted file carried it (the kubelet's
 * pace: what the move would take without the push).
 */
export interface WeightMove {
  /** e.g. `weights canary: blue=90, green=10` */
  readonly weights: string;
  /** "push-first" (a decrease of the candidate: the Envoys, then the apply), or "apply-first". */
  readonly order: "push-first" | "apply-first";
  /** The driver started the move (an abort's: after its decision was written to the history). */
  readonly startedAt: string;
  /** The clock "applied": the engine's apply returned (docs/benchmarks.md, the clocks). */
  appliedAt?: string;
  /** The clock "served": every Envoy pod (or the Gateway's Envoy) read back serving the weights. */
  servedAt?: string;
  /** Every Envoy pod's mounted file carried the weights (its kubelet's sync). */
  filesAt?: string;
  /** Envoy pods the push did not reach (they take the weights from their file). */
  unreached?: string[];
}

export interface PromoteReport {
  readonly record: PromotionRecord;
  readonly measurements: readonly (Measurement & { step: number; weightPercent: number })[];
  readonly notificationProblems: readonly string[];
  /**
   * The clocks of docs/benchmarks.md: `decisionAt` is "decision" (the analysis returned a failed
   * verdict, or the driver read an operator's request or received a signal; before any write);
   * from the first failed measurement to it, and from it to the candidate at 0 % in every Envoy
   * ("served"); and each move of the weights (every step, the abort, the switch).
   */
  readonly timings: {
    firstFailureAt?: string;
    decisionAt?: string;
    zeroTrafficAt?: string;
    decisionMs?: number;
    rollbackMs?: number;
    moves?: WeightMove[];
  };
  readonly exitCode: number;
}
