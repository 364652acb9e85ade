// The promotion spec: what `cdktf-triton promote` does, written by TritonPromotion into the synth
// output as a file asset (promotion.json) and read back by the driver. Runtime code: no cdktf here.
import * as fs from "fs";
import { Color } from "./colors";
import { Problem, ProblemsError } from "./problems";
import { VerifySpec } from "./verify-spec";

/** One step: the candidate's share of requests, and how long it bakes there under analysis. */
export interface PromotionStep {
  /** Percent of requests to the candidate, 1 to 100; the steps increase. */
  readonly weightPercent: number;
  /** Time at this weight under analysis before the next step. */
  readonly bakeSeconds: number;
}

/** What a metric reads. */
export type MetricKind =
  /** Percent of the candidate's requests that did not answer 5xx, from Envoy's per-cluster counters. */
  | "envoy-success-rate"
  /** A latency percentile of the candidate's requests (seconds), from Envoy's per-cluster histogram. */
  | "envoy-latency"
  /** Percent of the candidate's Triton inferences that failed (nv_inference_request_failure), from Prometheus. */
  | "triton-failure-rate"
  /** The candidate's mean Triton queue time per request (seconds; core/queue-time), from Prometheus. */
  | "triton-queue-time"
  /** Your PromQL, from Prometheus. */
  | "promql";

/** One metric of the analysis, with its threshold. */
export interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  /** The value must be at least this. @default - no lower bound */
  readonly min?: number;
  /** The value must be at most this. @default - no upper bound */
  readonly max?: number;
  /** For envoy-latency: the percentile, e.g. 99. @default 99 */
  readonly percentile?: number;
  /** For promql: the query; {{app}}, {{namespace}}, {{color}} (the candidate), {{stable}} and {{interval}} are replaced (and, for a TritonModelCanary, {{model}} and {{version}}: the candidate version). @default - none (required for promql) */
  readonly query?: string;
  /** Seconds between measurements (and the window each covers). @default - the analysis's intervalSeconds */
  readonly intervalSeconds?: number;
  /** Failed measurements tolerated in a step; one more aborts. @default 0 */
  readonly failureLimit?: number;
  /**
   * Conclusive passing measurements each step needs; a measurement without data is inconclusive,
   * never a pass. @default 1
   */
  readonly count?: number;
  /** For the Envoy metrics: fewer candidate requests than this in a window is "no data". @default 10 */
  readonly minRequests?: number;
}

export interface GatewayPlaneSpec {
  readonly implementation: "contour";
  readonly route: string;
  readonly envoy: {
    readonly namespace: string;
    readonly podLabels: Readonly<Record<string, string>>;
    readonly adminPort: number;
  };
}

/**
 * A TritonModelCanary's promotion: one model's next version inside the serving color. The share of
 * the model's unversioned requests moves on our Envoy (its `envoy`); the Triton pods (both colors')
 * load the versions through their repository API, reached by a port-forward to each pod.
 */
export interface ModelPlaneSpec {
  readonly name: string;
  /** The Terraform variables: the pinned version, the next one (0: none), the share. */
  readonly variables: { readonly version: string; readonly next: string; readonly percent: string };
  /** Checked on the next version's own endpoints (`/versions/<n>`) of one serving pod before it takes a request. */
  readonly verify: VerifySpec;
  /** Each color's Triton pods (their labels), the HTTP port, and the restricted API's header and Secret where there is one. */
  readonly triton: Readonly<
    Record<
      Color,
      {
        readonly podLabels: Readonly<Record<string, string>>;
        readonly restricted?: { readonly header: string; readonly secretName: string; readonly secretKey: string };
      }
    >
  >;
  readonly httpPort: number;
}

export interface PromotionSpec {
  readonly version: typeof PROMOTION_SPEC_VERSION;
  /** The TritonPromotion's construct path. */
  readonly path: string;
  readonly app: string;
  /** The Terraform variables the driver sets: the pair's active color, and the canary percent. */
  readonly variables: { readonly active: string; readonly canary: string };
  /** The stack output that holds the pair's state (active color, versions, fingerprints). */
  readonly output: string;
  /**
   * Our Envoy in front of the pair: its name, its ops and admin ports (the admin on the pod's
   * loopback: the driver reaches it by a port-forward to push and read back weights), the split
   * route whose weights move, and each color's clusters (namespaces are in the output: they may be
   * variables).
   * @default - none: the canary is on a Gateway (`gateway`)
   */
  readonly envoy?: {
    readonly name: string;
    readonly opsPort: number;
    readonly adminPort: number;
    readonly route: string;
    readonly clusters: Readonly<Record<Color, readonly string[]>>;
  };
  /**
   * Or the platform's Gateway (TritonGatewayCanary): the HTTPRoute's name (its namespace and each
   * color's Service are in the output), and the Gateway's Envoy pods (namespace, labels, the admin
   * port on their loopback) whose served weights the driver reads back. The Envoy metrics then come
   * from Prometheus (the Gateway's Envoy's per-cluster stats).
   * @default - none: the canary is our Envoy (`envoy`)
   */
  readonly gateway?: GatewayPlaneSpec;
  /**
   * What moves is one model's next version inside the serving color (TritonModelCanary), on `envoy`.
   * @default - none: the steps move the colors' weights
   */
  readonly model?: ModelPlaneSpec;
  readonly steps: readonly PromotionStep[];
  readonly analysis: {
    readonly intervalSeconds: number;
    readonly metrics: readonly MetricSpec[];
    readonly prometheusUrl?: string;
  };
  /** Ask before the switch (a TTY prompt; in CI the run pauses and a re-run with --confirm goes on). */
  readonly confirmBeforeSwitch: boolean;
  /** The history ConfigMap (in the pair's namespace) and how many records it keeps. */
  readonly history: { readonly configMap: string; readonly limit: number };
  /** The environment variable holding the webhook URL (the URL itself is never in the plan). */
  readonly webhookUrlEnv: string;
}

export const METRIC_KINDS: readonly MetricKind[] = [
  "envoy-success-rate",
  "envoy-latency",
  "triton-failure-rate",
  "triton-queue-time",
  "promql",
];
const PROMETHEUS_KINDS: readonly MetricKind[] = ["triton-failure-rate", "triton-queue-time", "promql"];

export function needsPrometheus(m: MetricSpec): boolean {
  return PROMETHEUS_KINDS.includes(m.kind);
}

export type SpecProblem = Problem;

const int = (x: unknown, min: number, max: number) =>
  typeof x === "number" && Number.isInteger(x) && x >= min && x <= max;

/** Every problem of the steps and the analysis (the parts a user writes), by field. */
export function promotionProblems(spec: { steps?: unknown; analysis?: unknown }): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const bad = (field: string, value: unknown, expected: string) => problems.push({ field, value, expected });
  const steps = spec.steps as PromotionStep[] | undefined;
  if (!Array.isArray(steps) || steps.length === 0)
    bad("steps", steps, "at least one step, e.g. [{ weightPercent: 5, bakeSeconds: 60 }, ...]");
  const list = Array.isArray(steps) ? steps : [];
  list.forEach((s, i) => {
    if (!int(s?.weightPercent, 1, 100))
      bad(
        `steps[${i}].weightPercent`,
        s?.weightPercent,
        "a whole number from 1 to 100 (percent of requests to the candidate)",
      );
    else if (i > 0 && int(list[i - 1]?.weightPercent, 1, 100) && s.weightPercent <= list[i - 1].weightPercent) {
      bad(
        `steps[${i}].weightPercent`,
        s.weightPercent,
        `a weight above the previous step's ${list[i - 1].weightPercent}: steps increase`,
      );
    }
    if (!int(s?.bakeSeconds, 1, 86_400))
      bad(`steps[${i}].bakeSeconds`, s?.bakeSeconds, "a whole number of seconds from 1 to 86400");
  });
  const analysis = spec.analysis as PromotionSpec["analysis"] | undefined;
  if (typeof analysis !== "object" || analysis === null) {
    bad("analysis", analysis, "an analysis: metrics and an interval");
    return problems;
  }
  if (!int(analysis.intervalSeconds, 1, 3600))
    bad("analysis.intervalSeconds", analysis.intervalSeconds, "a whole number of seconds from 1 to 3600");
  const metrics = analysis.metrics;
  if (!Array.isArray(metrics) || metrics.length === 0)
    bad("analysis.metrics", metrics, "at least one metric (a promotion without analysis would promote anything)");
  const names = new Set<string>();
  (Array.isArray(metrics) ? metrics : []).forEach((m, i) => {
    const at = `analysis.metrics[${i}]`;
    if (typeof m?.name !== "string" || !/^[A-Za-z0-9_.-]{1,63}$/.test(m.name))
      bad(`${at}.name`, m?.name, "a name of letters, digits, '_', '.', '-' (at most 63)");
    else if (names.has(m.name)) bad(`${at}.name`, m.name, "a name no other metric of this analysis has");
    else names.add(m.name);
    if (!METRIC_KINDS.includes(m?.kind)) bad(`${at}.kind`, m?.kind, `one of ${METRIC_KINDS.join(", ")}`);
    if (m?.min === undefined && m?.max === undefined) bad(`${at}`, "(no threshold)", "a threshold: min, max or both");
    for (const k of ["min", "max"] as const)
      if (m?.[k] !== undefined && !(typeof m[k] === "number" && Number.isFinite(m[k])))
        bad(`${at}.${k}`, m[k], "a finite number");
    if (m?.kind === "envoy-latency" && !(typeof m.percentile === "number" && m.percentile > 0 && m.percentile < 100))
      bad(`${at}.percentile`, m.percentile, "a percentile above 0 and below 100, e.g. 99");
    if (m?.kind === "promql" && (typeof m.query !== "string" || m.query.trim() === ""))
      bad(`${at}.query`, m.query, "a PromQL query");
    if (m?.intervalSeconds !== undefined && !int(m.intervalSeconds, 1, 3600))
      bad(`${at}.intervalSeconds`, m.intervalSeconds, "a whole number of seconds from 1 to 3600");
    if (m?.failureLimit !== undefined && !int(m.failureLimit, 0, 1000))
      bad(`${at}.failureLimit`, m.failureLimit, "a whole number from 0 to 1000");
    if (m?.count !== undefined && !int(m.count, 1, 1000)) bad(`${at}.count`, m.count, "a whole number from 1 to 1000");
    if (m?.minRequests !== undefined && !int(m.minRequests, 1, 1_000_000))
      bad(`${at}.minRequests`, m.minRequests, "a whole number from 1 to 1000000");
  });
  // Each step must have time for every metric's passing measurements, or no run can pass it.
  if (int(analysis.intervalSeconds, 1, 3600) && Array.isArray(metrics)) {
    const needs = metrics
      .filter(
        (m) =>
          typeof m?.name === "string" &&
          (m.intervalSeconds === undefined || int(m.intervalSeconds, 1, 3600)) &&
          (m.count === undefined || int(m.count, 1, 1000)),
      )
      .map((m) => ({ name: m.name, count: m.count ?? 1, interval: m.intervalSeconds ?? analysis.intervalSeconds }))
      .sort((a, b) => b.count * b.interval - a.count * a.interval);
    const longest = needs[0];
    if (longest) {
      list.forEach((s, i) => {
        if (int(s?.bakeSeconds, 1, 86_400) && s.bakeSeconds < longest.count * longest.interval) {
          bad(
            `steps[${i}].bakeSeconds`,
            s.bakeSeconds,
            `at least ${longest.count * longest.interval} s: metric "${longest.name}" needs ${longest.count} passing measurement(s) of ${longest.interval} s in each step; a shorter bake measures nothing and every run aborts`,
          );
        }
      });
    }
  }
  if (analysis.prometheusUrl !== undefined) {
    let ok: boolean;
    try {
      const u = new URL(analysis.prometheusUrl);
      ok = ["http:", "https:"].includes(u.protocol) && !u.username && !u.password;
    } catch {
      ok = false;
    }
    if (!ok) bad("analysis.prometheusUrl", analysis.prometheusUrl, "an http(s) URL without credentials");
  }
  return problems;
}

export class PromotionSpecError extends ProblemsError {
  constructor(
    public readonly file: string,
    problems: readonly Problem[],
  ) {
    super(`${file}: invalid promotion spec`, problems);
  }
}

/** Reads and checks a promotion.json. */
/** 2: the Envoy's admin port and split route (weights pushed through the admin's runtime). */
export const PROMOTION_SPEC_VERSION = 2 as const;

export function loadPromotionSpec(file: string): PromotionSpec {
  let spec: PromotionSpec;
  try {
    spec = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new PromotionSpecError(file, [
      { field: "(file)", value: file, expected: `a readable JSON promotion spec (${(e as Error).message})` },
    ]);
  }
  const problems = promotionProblems(spec);
  if ((spec.envoy === undefined) === (spec.gateway === undefined))
    problems.push({
      field: "envoy",
      value: spec.gateway ? "(both envoy and gateway)" : undefined,
      expected: "one data plane: envoy (TritonCanary) or gateway (TritonGatewayCanary)",
    });
  if (spec.version !== PROMOTION_SPEC_VERSION)
    problems.unshift({
      field: "version",
      value: spec.version,
      expected: `${PROMOTION_SPEC_VERSION} (written by this version of TritonPromotion: synthesize the stack again)`,
    });
  if (problems.length) throw new PromotionSpecError(file, problems);
  return spec;
}
