// The only ways a test of ours may compare a duration or an instant (test/no-time-bounds.test.ts
// refuses any other): speed is never a test's verdict, it is measured in scripts/bench/ and
// recorded in docs/benchmarks.md. What a test may keep is a promise of the product ("never hangs
// past its deadline", "exits at once on a bad argument") as a hang check, whose bound is derived
// here, never picked per test: at least 5 times the normal time and at least 10 s over the
// configured deadline. On a loaded 2-core machine a normal run is far inside it; a hang is not.

/** How far over its normal time a hang check allows. */
export const HANG_FACTOR = 5;
/** How far over the configured deadline a hang check allows. */
export const HANG_MARGIN_MS = 10_000;

export interface HangBound {
  /** What a normal run takes on this machine (measured once, said in the test). */
  readonly normalMs: number;
  /** The deadline the product was given (a spec's deadlineSeconds, a readiness window). @default 0 - none: "at once" */
  readonly deadlineMs?: number;
}

/** The bound of a hang check: the larger of 5 x the normal time and the deadline plus 10 s. */
export function hangBoundMs(bound: HangBound): number {
  return Math.max(HANG_FACTOR * bound.normalMs, (bound.deadlineMs ?? 0) + HANG_MARGIN_MS);
}

/** Fails when `elapsedMs` is past the hang bound: `what` did not end, it hung. */
export function hangCheck(what: string, elapsedMs: number, bound: HangBound): void {
  const limit = hangBoundMs(bound);
  if (!(elapsedMs <= limit)) {
    throw new Error(
      `hang check: ${what} took ${elapsedMs} ms, past its hang bound of ${limit} ms (normal ${bound.normalMs} ms${bound.deadlineMs !== undefined ? `, deadline ${bound.deadlineMs} ms` : ""})`,
    );
  }
}

/** Fails unless the instants (ISO strings or epoch ms) are in this order: an order, never a bound. */
export function expectInOrder(...instants: readonly (readonly [string, string | number])[]): void {
  const at = instants.map(([name, t]) => [name, typeof t === "number" ? t : Date.parse(t)] as const);
  for (let i = 1; i < at.length; i++) {
    const [before, a] = at[i - 1];
    const [after, b] = at[i];
    if (!(Number.isFinite(a) && Number.isFinite(b) && a <= b))
      throw new Error(`expected ${before} (${instants[i - 1][1]}) no later than ${after} (${instants[i][1]})`);
  }
}
