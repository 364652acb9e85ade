// Operating a promotion from any shell: `cdktf-triton abort | pause | resume | skip` and
// `promote --full` write a request into the pair's lease, where its driver looks each second, and
// print the driver's answer. `abort` with no live driver (its runner died: the lease expired) rolls
// the pair back itself through the stack's engine, as `promote --on-unfinished rollback` would.
// Runtime code: no cdktf here.
import { OPERATE_EXIT } from "../../core/exit-codes";
import { KubeAccess } from "../kube/kubectl";
import { lastUnfinished, pairHistory } from "../records/history";
import { holderText, LeaseError, NoDriver, PairLease, RequestAction } from "./lease";
import { PromotionRecord } from "../records";

export class OperateError extends Error {}

export interface OperateTarget {
  readonly app: string;
  readonly namespace: string;
  readonly kube: KubeAccess;
  readonly out: NodeJS.WritableStream;
}

/** The promotion of the pair a later run would take up: running, awaiting confirmation, or aborted on a step. */
export async function unfinishedPromotion(t: OperateTarget): Promise<PromotionRecord | undefined> {
  return lastUnfinished(await pairHistory(t.kube, t.namespace, t.app).read());
}

/**
 * Sends a request to the pair's live driver and prints its answer. For abort and full, waits (up
 * to `endMs`) until the driver has moved the weights (the promotion ended), and says how it ended.
 * Throws NoDriver when no live driver holds the lease.
 */
export async function sendRequest(action: RequestAction, t: OperateTarget, endMs = 600_000): Promise<number> {
  const lease = new PairLease(t.kube, t.namespace, t.app);
  const started = Date.now();
  const { answer, holder } = await lease.request(action);
  const by = holderText(holder);
  if (answer.outcome === "refused") {
    t.out.write(`the driver (${by}) refused: ${answer.detail}\n`);
    return OPERATE_EXIT.refused;
  }
  t.out.write(`the driver (${by}) answered in ${((Date.now() - started) / 1000).toFixed(1)} s: ${answer.detail}\n`);
  if (action !== "abort" && action !== "full") return OPERATE_EXIT.done;
  // Until the weights moved: the driver's phase is "settling" (the move applied) or it let go.
  const deadline = Date.now() + endMs;
  let view = await lease.read();
  while (
    view.live &&
    view.holderIdentity &&
    !["settling", "ended"].includes(view.progress?.phase ?? "") &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 500));
    view = await lease.read();
  }
  const record = view.progress
    ? (await pairHistory(t.kube, t.namespace, t.app).read()).find((r) => r.id === view.progress!.promotion)
    : undefined;
  const status = record?.kind === "promotion" ? record.status : undefined;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (action === "abort" && status === "aborted" && record?.kind === "promotion" && record.currentStep < 0) {
    t.out.write(
      `aborted in ${seconds} s: ${record.from.color} serves all traffic again, the candidate is at 0 % in every Envoy pod and in the state\n`,
    );
    return OPERATE_EXIT.done;
  }
  if (action === "full" && status === "promoted" && record?.kind === "promotion") {
    t.out.write(`promoted in ${seconds} s: ${record.to.color} (${record.to.version}) serves all traffic\n`);
    return OPERATE_EXIT.done;
  }
  throw new OperateError(
    `the driver took the ${action} request, but the promotion ${status ? `is ${status}${record?.kind === "promotion" && record.reason ? ` (${record.reason})` : ""}` : "was not seen to end"} after ${seconds} s: see cdktf-triton status --app ${t.app}`,
  );
}

/** What to say when no driver runs: the lease's last holder, and what the history holds. */
export async function noDriverText(
  e: NoDriver,
  t: OperateTarget,
): Promise<{ text: string; unfinished?: PromotionRecord }> {
  const unfinished = await unfinishedPromotion(t);
  if (!unfinished) return { text: `no promotion of ${t.app} is running (${e.message})` };
  const at =
    unfinished.currentStep >= 0
      ? `at step ${unfinished.currentStep + 1} (${unfinished.steps[unfinished.steps.length - 1]?.weightPercent ?? "?"} %)`
      : "before its first step";
  const state =
    unfinished.status === "awaiting-confirmation"
      ? "awaits confirmation before the switch (promote --confirm switches)"
      : `was left ${unfinished.status} ${at}`;
  return { text: `no driver runs ${t.app}'s promotion ${unfinished.id}: ${e.message}; it ${state}`, unfinished };
}

export { LeaseError, NoDriver };
