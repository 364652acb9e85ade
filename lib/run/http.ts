// HTTP reads the run side shares (Envoy's stats, Prometheus' API, the status command's reads): a
// URL's answer as text, bounded in time.
import { request } from "undici";

const HTTP_TIMEOUT_MS = 5_000;

/** A URL's status code and body as text (each bounded by 5 s), whatever the status. */
export async function readUrl(url: string): Promise<{ readonly statusCode: number; readonly text: string }> {
  const res = await request(url, { headersTimeout: HTTP_TIMEOUT_MS, bodyTimeout: HTTP_TIMEOUT_MS });
  return { statusCode: res.statusCode, text: await res.body.text() };
}

/** A URL's body as text (bounded by 5 s); throws unless it answers 200. */
export async function getText(url: string): Promise<string> {
  const { statusCode, text } = await readUrl(url);
  if (statusCode !== 200) throw new Error(`${url} answered ${statusCode}: ${text.slice(0, 200)}`);
  return text;
}
