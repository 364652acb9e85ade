// The Prometheus text exposition format, read once for everyone: Triton's /metrics for the
// verifier's counters, Envoy's /stats/prometheus for the driver's analysis and for status.

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Text that is not the exposition format (an HTML page, a JSON answer). */
export class PrometheusTextError extends Error {}

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;

/**
 * Every sample of an exposition: name, labels, value (histograms and summaries as their
 * _bucket/_sum/_count and quantile lines). A line that is neither a comment nor a sample throws,
 * naming the line.
 */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = SAMPLE.exec(line);
    const value = m ? Number(m[3]) : NaN;
    if (!m || (Number.isNaN(value) && m[3] !== "NaN"))
      throw new PrometheusTextError(`line ${i + 1} is not a Prometheus sample: ${JSON.stringify(line.slice(0, 80))}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: m[1], labels, value });
  });
  return samples;
}
