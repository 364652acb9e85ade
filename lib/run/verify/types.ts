// What a verification is given (the target, the options) and what it reports: each check's result and the verdict.
import { ClientOptions } from "./client";
import { ProbeResult } from "./probe";
import { Protocol } from "../../core/closed-sets";

export type CheckStatus = "pass" | "fail" | "error" | "skipped";
export type Verdict = "pass" | "fail" | "error";

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly durationMs: number;
}

export interface Report {
  readonly verdict: Verdict;
  /** Candidate URL without credentials. */
  readonly target: string;
  readonly baseline?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly checks: readonly CheckResult[];
  readonly probe?: ProbeResult;
  readonly baselineProbe?: ProbeResult;
  /** The candidate's release fingerprint, when the gate gave it. */
  readonly fingerprint?: string;
  /** Fast rollback: the checks were skipped because this fingerprint passed this spec before. */
  readonly skipped?: { readonly fingerprint: string; readonly passedAt: string };
  /** The serving color's release was allowed to change in this apply (break glass). */
  readonly servingChangeAllowed?: boolean;
  /** After a failed post-switch verification: the selectors pointed back at the color that served. */
  readonly switchBack?: {
    readonly to: string;
    readonly restored: boolean;
    readonly message: string;
    readonly msAfterVerdict: number;
  };
}

export interface VerifyTarget {
  /** The candidate: http(s)://host:port, for gRPC too (h2c over http, TLS over https). */
  readonly url: string;
  /** The Open Inference Protocol over HTTP/REST (port 8000) or gRPC (port 8001). @default "http" */
  readonly protocol?: Protocol;
  /** Triton's metrics endpoint, e.g. http://host:8002/metrics. @default - server counters not checked */
  readonly metricsUrl?: string;
  /** The active color, for relative budgets and output agreement. @default - no baseline */
  readonly baselineUrl?: string;
  /** Timeouts, TLS, headers, connection count. @default - ClientOptions' defaults */
  readonly client?: Omit<ClientOptions, "url">;
}

export type ProgressEvent =
  | { readonly type: "check"; readonly result: CheckResult }
  | { readonly type: "probe"; readonly label: string; readonly done: number; readonly total: number }
  /** A readiness wait that has not succeeded yet: what it waits for ("the server live"), what it saw last, how long it still waits. */
  | { readonly type: "waiting"; readonly what: string; readonly seen: string; readonly leftSeconds: number };

export interface VerifyOptions {
  /** Called for each check and as the probe advances. @default - no progress reported */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Seconds between polls while waiting for readiness. @default 1 */
  readonly pollIntervalSeconds?: number;
}

/** Verdict of a list of checks: any fail is a fail; else any error is "could not verify". */
export function verdictOf(checks: readonly CheckResult[]): Verdict {
  if (checks.some((c) => c.status === "fail")) return "fail";
  if (checks.some((c) => c.status === "error")) return "error";
  return checks.some((c) => c.status === "pass") ? "pass" : "error";
}
