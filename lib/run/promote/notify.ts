// Notifications: a JSON message to a webhook (Slack-compatible `text` plus structured fields) on
// start, each step, abort and promotion. The URL comes from an environment variable, never from the
// plan; a webhook that fails or hangs never fails or blocks a promotion: it is reported.
// Runtime code: no cdktf here.
import { request } from "undici";

export type PromotionEvent =
  | "started"
  | "resumed"
  | "lease-taken-over"
  | "step"
  | "step-passed"
  | "step-skipped"
  | "paused"
  | "unpaused"
  | "awaiting-confirmation"
  | "aborted"
  | "promoted"
  | "interrupted"
  | "rolled-back";

export interface Notification {
  readonly text: string;
  readonly event: PromotionEvent;
  readonly app: string;
  readonly promotion: string;
  readonly [field: string]: unknown;
}

/** Sends `message`; resolves to undefined when delivered, or to the problem (never rejects). */
export async function notify(
  url: string | undefined,
  message: Notification,
  timeoutMs = 5_000,
): Promise<string | undefined> {
  if (!url) return undefined;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(message),
      signal: controller.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300
      ? undefined
      : `the webhook answered ${res.statusCode} to "${message.event}"`;
  } catch (e) {
    return `the webhook failed on "${message.event}": ${controller.signal.aborted ? `no answer in ${timeoutMs} ms` : (e as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
