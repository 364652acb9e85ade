// A key nobody declared, the one way: in props (a JavaScript stack, props built from JSON or YAML)
// and in a verification spec. The answer names the nearest known key, or the key's new name when it
// is one renamed in 0.2.0 (every duration in seconds).

/** Keys renamed in 0.2.0, when every duration became seconds (the CHANGELOG's table). */
export const RENAMED_IN_0_2: Readonly<Record<string, string>> = {
  intervalMs: "intervalSeconds",
  timeoutMs: "timeoutSeconds",
  baseEjectionTimeMs: "baseEjectionTimeSeconds",
  perTryTimeoutMs: "perTryTimeoutSeconds",
  fillIntervalMs: "fillIntervalSeconds",
  maxMs: "maxSeconds",
  p50Ms: "p50Seconds",
  p95Ms: "p95Seconds",
  p99Ms: "p99Seconds",
  p99LatencyMs: "p99LatencySeconds",
  targetQueueTimeUs: "targetQueueTimeSeconds",
  connectTimeoutMs: "connectTimeoutSeconds",
  headersTimeoutMs: "headersTimeoutSeconds",
  bodyTimeoutMs: "bodyTimeoutSeconds",
  pollIntervalMs: "pollIntervalSeconds",
};

/** What is expected instead of the unknown key `name`, where `known` are the keys of its object. */
export function unknownKeyExpected(name: string, known: readonly string[]): string {
  const renamed = RENAMED_IN_0_2[name];
  if (renamed && known.includes(renamed))
    return `no such field since 0.2.0: "${renamed}", in seconds (every duration is seconds: 250 ms is 0.25)`;
  const near = nearest(name, known);
  return near ? `no such field: did you mean "${near}"?` : `no such field (known: ${known.join(", ")})`;
}

/** The known name closest to `name` (case-insensitive edit distance), if close enough to be a typo. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  const scored = known
    .map((k) => [k, distance(name.toLowerCase(), k.toLowerCase())] as const)
    .sort((a, b) => a[1] - b[1]);
  return scored.length && scored[0][1] <= Math.max(2, Math.floor(name.length / 3)) ? scored[0][0] : undefined;
}
