// The report: one self-contained HTML file (inline CSS and SVG charts, no script, nothing fetched
// when viewed) per run. Per pair: the version overview (a table and charts of p50/p95/p99,
// throughput, error rate and a stated health score per version), the last verification's latency
// distribution, each promotion's timeline (weights, measurements against thresholds, the outcome),
// and the failover events. What is missing is said at the top; everything readable is drawn.
import * as fs from "fs";
import * as path from "path";
import type { TopLevelSpec } from "vega-lite";
import type { PromoteReport, PromotionRecord } from "../records";
import type { Report as VerifyReport } from "../verify/types";
import {
  distributionSpec,
  eventsSpec,
  latencySpec,
  measurementsSpec,
  perVersionSpec,
  renderSvg,
  VersionFigures,
  weightsSpec,
} from "./charts";
import { addHistoryText, emptyData, ObservedData } from "./sources";

export const HEALTH_SCORE_DEFINITION =
  "health = 100 × (checks passed ÷ checks run; skipped checks not counted) × (1 − the probe's error rate), from the version's last verification; 0 when it could not be verified";

/** One version of a pair, as the overview shows it. */
export interface VersionRow {
  readonly version: string;
  readonly colors: string[];
  readonly fingerprint?: string;
  readonly lastVerdict?: string;
  readonly verifiedAt?: string;
  readonly figures?: VersionFigures;
  readonly health?: number;
  readonly promotions: number;
}

const UNATTRIBUTED = "(reports without a pair)";

/** The health score of a verification (see HEALTH_SCORE_DEFINITION). */
export function healthScore(r: VerifyReport): number {
  if (r.verdict === "error") return 0;
  const run = r.checks.filter((c) => c.status !== "skipped");
  const passed = run.filter((c) => c.status === "pass").length;
  const ratio = run.length ? passed / run.length : 0;
  return Math.round(100 * ratio * (1 - (r.probe?.errorRate ?? 0)));
}

/** The pairs in the data, each with its versions, promotions and verifications. */
export function pairsOf(data: ObservedData): {
  app: string;
  versions: VersionRow[];
  promotions: PromotionRecord[];
  verifications: { file: string; report: VerifyReport; version: string }[];
}[] {
  const byFingerprint = new Map<string, { app: string; version?: string; color: string }>();
  for (const h of data.history) {
    if (h.kind === "promotion") {
      for (const c of [h.from, h.to])
        if (c.fingerprint) byFingerprint.set(c.fingerprint, { app: h.app, version: c.version, color: c.color });
    }
  }
  for (const h of data.history) {
    if (h.kind === "verification" && h.fingerprint && !byFingerprint.has(h.fingerprint))
      byFingerprint.set(h.fingerprint, { app: h.app, color: h.color });
  }
  const apps = [...new Set(data.history.map((h) => h.app))];
  const verifications = data.verifications.map((v) => {
    const known = v.report.fingerprint ? byFingerprint.get(v.report.fingerprint) : undefined;
    const version =
      known?.version ??
      (known
        ? `${known.color} ${v.report.fingerprint!.slice(0, 8)}`
        : v.report.fingerprint
          ? v.report.fingerprint.slice(0, 8)
          : v.report.target);
    return { ...v, app: known?.app ?? UNATTRIBUTED, version, color: known?.color };
  });
  if (verifications.some((v) => v.app === UNATTRIBUTED)) apps.push(UNATTRIBUTED);
  return apps.map((app) => {
    const promotions = data.history
      .filter((h): h is PromotionRecord => h.kind === "promotion" && h.app === app)
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const mine = verifications
      .filter((v) => v.app === app)
      .sort((a, b) => a.report.startedAt.localeCompare(b.report.startedAt));
    const rows = new Map<string, { -readonly [K in keyof VersionRow]: VersionRow[K] }>();
    const row = (version: string, fingerprint?: string) => {
      if (!rows.has(version)) rows.set(version, { version, colors: [], fingerprint, promotions: 0 });
      return rows.get(version)!;
    };
    for (const p of promotions) {
      for (const c of [p.from, p.to]) {
        const r = row(c.version, c.fingerprint);
        if (!r.colors.includes(c.color)) r.colors.push(c.color);
      }
      row(p.to.version).promotions++;
    }
    for (const h of data.history) {
      if (h.kind !== "verification" || h.app !== app) continue;
      const known = h.fingerprint ? byFingerprint.get(h.fingerprint) : undefined;
      const r = row(known?.version ?? `${h.color} ${(h.fingerprint ?? "").slice(0, 8)}`.trim(), h.fingerprint);
      if (!r.colors.includes(h.color)) r.colors.push(h.color);
      if (!r.verifiedAt || h.at >= r.verifiedAt) Object.assign(r, { lastVerdict: h.verdict, verifiedAt: h.at });
    }
    for (const v of mine) {
      const r = row(v.version, v.report.fingerprint);
      if (v.color && !r.colors.includes(v.color)) r.colors.push(v.color);
      if (r.verifiedAt && v.report.startedAt < r.verifiedAt && r.figures) continue;
      const p = v.report.probe;
      Object.assign(r, {
        lastVerdict: v.report.verdict,
        verifiedAt: v.report.startedAt,
        health: healthScore(v.report),
        figures: p
          ? {
              version: v.version,
              p50Ms: round(p.p50Ms),
              p95Ms: round(p.p95Ms),
              p99Ms: round(p.p99Ms),
              requestsPerSecond: round(p.requestsPerSecond),
              errorRatePercent: round(100 * p.errorRate),
            }
          : undefined,
      });
    }
    return { app, versions: [...rows.values()], promotions, verifications: mine };
  });
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : x);

const esc = (s: unknown) =>
  String(s ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
const fmt = (x: number | undefined, unit = "") => (x === undefined || !Number.isFinite(x) ? "–" : `${x}${unit}`);

async function figure(id: string, spec: TopLevelSpec, caption?: string): Promise<string> {
  return `<figure class="chart" id="chart-${esc(id)}">${await renderSvg(spec)}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ""}</figure>`;
}

function table(header: string[], rows: string[][], cls = ""): string {
  return `<table${cls ? ` class="${cls}"` : ""}><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

const slug = (s: string) => s.replace(/[^a-zA-Z0-9_-]+/g, "-");

/** A pair, as the report shows it: its versions, promotions and verifications. */
type ReportPair = ReturnType<typeof pairsOf>[number];

/** The whole report as one HTML document: a section per pair, then the failover events. */
export async function renderReport(
  data: ObservedData,
  options: { title?: string; generatedAt?: Date } = {},
): Promise<string> {
  const title = options.title ?? "cdktf-triton report";
  const generatedAt = (options.generatedAt ?? new Date()).toISOString();
  const pairs = pairsOf(data);
  const parts: string[] = [];
  for (const pair of pairs) parts.push(...(await pairSection(pair, data)));
  const eventsPart = await failoverSection(data);
  const problems = data.problems.length
    ? `<section id="problems" class="problems"><h2>What is missing</h2><ul>${data.problems.map((p) => `<li>${esc(p)}</li>`).join("")}</ul></section>`
    : "";
  const nothing =
    pairs.length === 0 ? `<p class="missing">No pair in the sources: no history record and no report.</p>` : "";
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px;margin:18px 0 8px}h4{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:4px 0}figcaption{font-size:11px;color:#555}
.missing{color:#8a6d3b;background:#fcf8e3;padding:4px 8px;font-size:13px}.problems{background:#fdf2f2;padding:4px 12px;border:1px solid #f5c6cb}
.definition,.meta{font-size:12px;color:#555}.verdict.pass,.verdict.promoted,.event.healthy{color:#237a3b;font-weight:600}.verdict.fail,.verdict.error,.verdict.aborted,.event.ejected{color:#b52a22;font-weight:600}
code{font-size:11px}p{font-size:13px}
</style></head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">Generated ${esc(generatedAt)}. Sources: ${data.sources.length ? data.sources.map(esc).join("; ") : "none"}.</p>
${problems}
${nothing}
${parts.join("\n")}
${eventsPart.join("\n")}
</body></html>
`;
}

async function pairSection(pair: ReportPair, data: ObservedData): Promise<string[]> {
  const id = slug(pair.app);
  const parts = [
    `<section class="pair" id="pair-${id}"><h2>${esc(pair.app)}</h2>`,
    ...(await versionOverview(pair, id)),
    ...(await lastDistribution(pair, id)),
  ];
  parts.push(`<h3>Promotions</h3>`);
  if (pair.promotions.length === 0) parts.push(`<p class="missing">No promotion recorded for this pair.</p>`);
  for (const p of pair.promotions) parts.push(...(await promotionPart(p, id, data)));
  parts.push(`</section>`);
  return parts;
}

/** The versions' table (fingerprint, last verdict, probe figures, health) and their charts. */
async function versionOverview(pair: ReportPair, id: string): Promise<string[]> {
  const parts = [`<h3>Version overview</h3>`];
  if (pair.versions.length === 0)
    return [...parts, `<p class="missing">No version of this pair has a record or a report.</p>`];
  parts.push(
    table(
      [
        "version",
        "colors",
        "fingerprint",
        "last verdict",
        "verified at",
        "p50",
        "p95",
        "p99",
        "req/s",
        "errors",
        "health",
        "promotions to it",
      ],
      pair.versions.map((v) => [
        esc(v.version),
        esc(v.colors.join(", ")),
        `<code>${esc((v.fingerprint ?? "").slice(0, 16))}</code>`,
        v.lastVerdict ? `<span class="verdict ${esc(v.lastVerdict)}">${esc(v.lastVerdict)}</span>` : "–",
        esc(v.verifiedAt ?? "–"),
        fmt(v.figures?.p50Ms, " ms"),
        fmt(v.figures?.p95Ms, " ms"),
        fmt(v.figures?.p99Ms, " ms"),
        fmt(v.figures?.requestsPerSecond),
        fmt(v.figures?.errorRatePercent, " %"),
        fmt(v.health),
        String(v.promotions),
      ]),
      "versions",
    ),
  );
  parts.push(`<p class="definition">${esc(HEALTH_SCORE_DEFINITION)}.</p>`);
  const measured = pair.versions.flatMap((v) => (v.figures ? [{ ...v.figures, version: v.version }] : []));
  if (!measured.length)
    return [
      ...parts,
      `<p class="missing">No verification report with a latency probe for this pair: no latency, throughput or error-rate chart (give the gate's report folder with --reports).</p>`,
    ];
  return [
    ...parts,
    `<div class="charts">`,
    await figure(`${id}-latency`, latencySpec(measured)),
    await figure(
      `${id}-throughput`,
      perVersionSpec(measured, "requestsPerSecond", "Throughput per version (probe)", "requests/s", "#4292c6"),
    ),
    await figure(
      `${id}-errors`,
      perVersionSpec(measured, "errorRatePercent", "Error rate per version (probe)", "% of requests", "#de2d26"),
    ),
    `</div>`,
  ];
}

/** The last verification's latency distribution. */
async function lastDistribution(pair: ReportPair, id: string): Promise<string[]> {
  const last = [...pair.verifications].reverse().find((v) => v.report.probe?.latencyBuckets?.length);
  const heading = `<h3>Latency distribution of the last verification</h3>`;
  if (!last) return [heading, `<p class="missing">No verification report with latency buckets for this pair.</p>`];
  const p = last.report.probe!;
  return [
    heading,
    await figure(
      `${id}-distribution`,
      distributionSpec(p.latencyBuckets, `${last.version}: ${p.completed} requests, ${last.report.startedAt}`),
      `From ${path.basename(last.file)}: verdict ${last.report.verdict}, p50 ${round(p.p50Ms)} ms, p99 ${round(p.p99Ms)} ms, max ${round(p.maxMs)} ms.`,
    ),
  ];
}

/** One promotion: its weights over time, its measurements against their thresholds, its steps. */
async function promotionPart(p: PromotionRecord, id: string, data: ObservedData): Promise<string[]> {
  const parts = [
    `<div class="promotion" id="promotion-${esc(slug(p.id))}"><h4>${esc(p.from.version)} (${esc(p.from.color)}) → ${esc(p.to.version)} (${esc(p.to.color)}): <span class="verdict ${esc(p.status)}">${esc(p.status)}</span></h4>`,
    `<p>Started ${esc(p.startedAt)} by ${esc(p.by)} with ${esc(p.engine)}${p.finishedAt ? `, finished ${esc(p.finishedAt)}` : ""}${p.reason ? `. ${esc(p.reason)}` : ""}.</p>`,
  ];
  const points = p.steps.map((s) => ({
    at: s.startedAt,
    weightPercent: s.weightPercent,
    verdict: s.verdict ?? "running",
  }));
  // How it ended: all traffic on the candidate (promoted), or back to 0 % (aborted, interrupted,
  // rolled back). A running or paused promotion has no end yet.
  if (p.finishedAt && p.steps.length && p.status !== "running" && p.status !== "awaiting-confirmation") {
    points.push({
      at: p.finishedAt,
      weightPercent: p.status === "promoted" ? 100 : 0,
      verdict: p.status === "promoted" ? "pass" : p.status === "aborted" ? "fail" : "interrupted",
    });
  }
  if (points.length) parts.push(await figure(`${id}-weights-${slug(p.id)}`, weightsSpec(points, "Candidate weight")));
  const report = data.promotions.find((r) => r.report.record.id === p.id)?.report;
  if (report) {
    const measured = report.measurements
      .filter((m) => m.value !== undefined)
      .map((m) => ({ at: m.at, metric: m.metric, value: m.value!, verdict: m.verdict }));
    const thresholds = [
      ...new Map(
        report.measurements.flatMap(
          (m) =>
            [
              ...(m.min !== undefined
                ? [[`${m.metric} min`, { metric: m.metric, bound: "min" as const, value: m.min }]]
                : []),
              ...(m.max !== undefined
                ? [[`${m.metric} max`, { metric: m.metric, bound: "max" as const, value: m.max }]]
                : []),
            ] as [string, { metric: string; bound: "min" | "max"; value: number }][],
        ),
      ).values(),
    ];
    if (measured.length)
      parts.push(
        await figure(
          `${id}-measurements-${slug(p.id)}`,
          measurementsSpec(measured, thresholds, "Measurements against thresholds (dashed)"),
        ),
      );
    const inconclusive = report.measurements.filter((m) => m.value === undefined).length;
    if (inconclusive)
      parts.push(`<p>${inconclusive} analysis window${inconclusive === 1 ? "" : "s"} without data (inconclusive).</p>`);
  } else
    parts.push(`<p class="missing">No promotion-${esc(p.id)}.json among the reports: steps only, no measurements.</p>`);
  parts.push(
    table(
      ["step", "weight", "started", "finished", "verdict", "metrics (passed/failed/inconclusive, last)"],
      p.steps.map((s, i) => [
        String(i + 1),
        `${s.weightPercent} %`,
        esc(s.startedAt),
        esc(s.finishedAt ?? "–"),
        esc(s.verdict ?? "running"),
        esc(
          s.metrics
            .map(
              (m) =>
                `${m.metric}: ${m.passed}/${m.failed}/${m.inconclusive}${m.last !== undefined ? `, ${m.last}` : ""}`,
            )
            .join("; "),
        ),
      ]),
    ),
  );
  parts.push(`</div>`);
  return parts;
}

/** Envoy's failover events for the whole report, and the sampled requests' failures. */
async function failoverSection(data: ObservedData): Promise<string[]> {
  const events = [...data.events].sort((a, b) => a.at.localeCompare(b.at));
  const parts: string[] = [`<section id="failover"><h2>Failover events</h2>`];
  if (events.length) {
    parts.push(
      await figure(
        "failover-events",
        eventsSpec(events.map((e) => ({ at: e.at, host: `${e.cluster} ${e.host}`, kind: e.kind }))),
      ),
    );
    parts.push(
      table(
        ["time", "Envoy", "cluster", "host", "event", "detail"],
        events.map((e) => [
          esc(e.at),
          esc(e.envoy ?? ""),
          esc(e.cluster),
          esc(e.host),
          `<span class="event ${esc(e.kind)}">${esc(e.kind)}</span>`,
          esc(e.detail),
        ]),
        "events",
      ),
    );
  } else
    parts.push(
      `<p class="missing">No Envoy health-check events${data.sources.some((s) => s.startsWith("Envoy")) ? " in the Envoy logs read" : ": no Envoy log was given (--envoy-log, or --app with a cluster)"}.</p>`,
    );
  if (data.requests.length) {
    const failed = data.requests.filter((r) => r.status >= 500 || r.status === 0);
    parts.push(
      `<p>${data.requests.length} logged request${data.requests.length === 1 ? "" : "s"} (sampled access log), ${failed.length} failed.</p>`,
    );
  }
  parts.push(`</section>`);
  return parts;
}

/**
 * Writes the report to `file`, refusing to replace an existing one (each run its own file), or into
 * `dir` as `<prefix>-<time>.html` (a counter is added when that exists). Returns the path.
 */
export function writeReportFile(
  html: string,
  target: { file: string } | { dir: string; prefix: string; at?: Date },
): string {
  if ("file" in target) {
    fs.mkdirSync(path.dirname(path.resolve(target.file)), { recursive: true });
    fs.writeFileSync(target.file, html, { flag: "wx" });
    return target.file;
  }
  fs.mkdirSync(target.dir, { recursive: true });
  const stamp = (target.at ?? new Date()).toISOString().replace(/[:.]/g, "-");
  for (let n = 0; ; n++) {
    const file = path.join(target.dir, `${target.prefix}-${stamp}${n ? `-${n}` : ""}.html`);
    try {
      fs.writeFileSync(file, html, { flag: "wx" });
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || n > 100) throw e;
    }
  }
}

/** One promotion run's HTML report, `<dir>/promotion-<id>-<time>.html`; resolves to its path. */
export async function writePromotionHtml(report: PromoteReport, dir: string): Promise<string> {
  const data = emptyData();
  addHistoryText(data, JSON.stringify(report.record), "this run");
  data.promotions.push({ file: "this run", report });
  const html = await renderReport(data, {
    title: `Promotion ${report.record.id} of ${report.record.app}: ${report.record.status}`,
  });
  return writeReportFile(html, { dir, prefix: `promotion-${report.record.id}` });
}
