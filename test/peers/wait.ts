// Waiting on observable state (an admin endpoint, a counter, a log line), never on a fixed sleep.

/**
 * Polls `ok` every `everyMs` until it holds; throws, naming `what`, after `limitMs`. Each caller
 * sizes `limitMs` for a loaded 2-core machine and says why; a poll that throws counts as "not yet".
 */
export async function until(
  what: string,
  limitMs: number,
  ok: () => boolean | Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(ok)
        .catch(() => false)
    )
      return;
    if (Date.now() > end) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
