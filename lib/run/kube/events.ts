// Kubernetes Events on a pair's active Service (`kubectl describe service <app>`, `kubectl get
// events`): one per transition of a promotion, and per gate verdict, with a fixed reason each (the
// docs/operating.md lists them). Best effort: an Event that cannot be written is reported once, never fatal.
// Runtime code: no cdktf here.
import * as os from "os";
import { randomBytes } from "crypto";
import { KubeAccess, kubectlFailure, runKubectl } from "./kubectl";

/** Every reason an Event of ours carries, and what it means (docs/operating.md's table is checked against this: test/readme.test.ts). */
export const EVENT_REASONS = {
  PromotionStarted: "a promotion started (from, to, its steps)",
  PromotionResumed: "a later run took up a promotion left running",
  LeaseTakenOver: "a run took the pair's lease after its holder stopped renewing it",
  StepStarted: "a step's weight is served by every Envoy pod; its bake begins",
  StepPassed: "a step's bake ended with every metric passed",
  StepSkipped: "a step ended early on request (`cdktf-triton skip`, `promote --full`)",
  Paused: "the bake clock stopped on request (`cdktf-triton pause`); the weights hold, analysis goes on",
  Unpaused: "the bake clock runs again (`cdktf-triton resume`)",
  AwaitingConfirmation: "all steps passed; the driver exited (3) before the switch, waiting for `promote --confirm`",
  Promoted: "the candidate serves all traffic",
  PromotionAborted:
    "a metric failed or stayed without data, or someone ran `cdktf-triton abort`: the candidate is back at 0 %",
  PromotionInterrupted: "the driver was interrupted (Ctrl-C, SIGTERM) and rolled back",
  RolledBack: "a promotion left unfinished was rolled back (by `cdktf-triton abort` or a later run)",
  GatePassed: "the gate verified the candidate (or skipped it: a fingerprint that passed before)",
  GateFailed: "the gate refused the candidate: the serving color stays",
} as const;

export type EventReason = keyof typeof EVENT_REASONS;

const WARNINGS: ReadonlySet<EventReason> = new Set([
  "PromotionAborted",
  "PromotionInterrupted",
  "RolledBack",
  "GateFailed",
  "LeaseTakenOver",
]);

export interface EventTarget {
  readonly access: KubeAccess;
  readonly namespace: string;
  /** The pair's active Service (named after the pair). */
  readonly service: string;
  /** e.g. "cdktf-triton-promote". */
  readonly component: string;
}

/** Creates an Event on the Service; resolves to the problem when it could not (never rejects). */
export async function recordEvent(
  target: EventTarget,
  reason: EventReason,
  message: string,
): Promise<string | undefined> {
  const now = new Date();
  const event = {
    apiVersion: "v1",
    kind: "Event",
    metadata: {
      name: `${target.service}.${now.getTime().toString(16)}${randomBytes(3).toString("hex")}`,
      namespace: target.namespace,
      labels: { "app.kubernetes.io/managed-by": "cdktf-triton" },
    },
    involvedObject: { apiVersion: "v1", kind: "Service", name: target.service, namespace: target.namespace },
    reason,
    // The API server refuses a message over 1 KiB for some clients' sake: kept well under it.
    message: message.length > 1000 ? `${message.slice(0, 999)}…` : message,
    type: WARNINGS.has(reason) ? "Warning" : "Normal",
    firstTimestamp: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    lastTimestamp: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    count: 1,
    source: { component: target.component, host: os.hostname() },
  };
  try {
    const r = await runKubectl(target.access, ["create", "-f", "-", "-o", "name"], JSON.stringify(event));
    return r.code === 0
      ? undefined
      : `the Event ${reason} was not recorded on Service ${target.namespace}/${target.service}: ${kubectlFailure(r, target.access)}`;
  } catch (e) {
    return `the Event ${reason} was not recorded: ${(e as Error).message}`;
  }
}
