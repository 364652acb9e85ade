// What the report and the status command read: the pair's history (promotions and gate verdicts),
// the gate's JSON reports, the promotion driver's JSON reports, and Envoy's stdout (the failover
// event log and sampled requests). Every source may be missing or damaged: each problem is kept,
// in words, and everything readable is still used. Runtime code: no cdktf here.
import * as fs from "fs";
import * as path from "path";
import { parseHistory } from "../records/history";
import type { HistoryRecord, PromoteReport } from "../records";
import type { Report as VerifyReport } from "../verify/types";
import { AccessLine, EnvoyLog, FailoverEvent, parseEnvoyLog } from "./envoy-log";

/** Everything the report draws, from wherever it came. */
export interface ObservedData {
  readonly history: HistoryRecord[];
  /** The gate's reports, each with the file it came from. */
  readonly verifications: { readonly file: string; readonly report: VerifyReport }[];
  /** The promotion driver's reports (promotion-<id>.json). */
  readonly promotions: { readonly file: string; readonly report: PromoteReport }[];
  readonly events: FailoverEvent[];
  readonly requests: AccessLine[];
  /** What was read, one line each (e.g. "history: ConfigMap ml/classifier-promotions, 6 records"). */
  readonly sources: string[];
  /** What is missing or could not be read, and what the report does without it. */
  readonly problems: string[];
}

export function emptyData(): ObservedData {
  return { history: [], verifications: [], promotions: [], events: [], requests: [], sources: [], problems: [] };
}

/** Reads a promotions.jsonl (or history.jsonl) file; a missing file or bad lines become problems. */
export function addHistoryFile(data: ObservedData, file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    data.problems.push(
      `history ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the promotion timeline and the verdicts shown come only from the JSON reports`,
    );
    return;
  }
  addHistoryText(data, text, `history ${file}`);
}

export function addHistoryText(data: ObservedData, text: string, source: string): void {
  const parsed = parseHistory(text);
  addHistoryRecords(data, parsed.records, parsed.problems, source);
}

/** Adds records (and the problems of their source); the same record from two sources keeps its later state. */
export function addHistoryRecords(
  data: ObservedData,
  records: readonly HistoryRecord[],
  problems: readonly string[],
  source: string,
): void {
  for (const p of problems) data.problems.push(`${source}: ${p}, skipped`);
  mergeRecords(data, records);
  data.sources.push(`${source}: ${records.length} record${records.length === 1 ? "" : "s"}`);
}

function mergeRecords(data: ObservedData, records: readonly HistoryRecord[]): void {
  for (const r of records) {
    const i = data.history.findIndex((h) => h.id === r.id);
    if (i >= 0) data.history[i] = laterOf(data.history[i], r);
    else data.history.push(r);
  }
}

function laterOf(a: HistoryRecord, b: HistoryRecord): HistoryRecord {
  if (a.kind === "promotion" && b.kind === "promotion")
    return (b.finishedAt ?? "") >= (a.finishedAt ?? "") && b.steps.length >= a.steps.length ? b : a;
  return b;
}

/**
 * Reads JSON reports: files, or folders of them (the gate's reportDir, the driver's --report-dir).
 * A verification report has `verdict` and `checks`, a promotion report `record` and `measurements`;
 * promotions.jsonl in a folder is read as history. Anything else is reported and skipped.
 */
export function addReports(data: ObservedData, target: string): void {
  let files: string[];
  try {
    files = fs.statSync(target).isDirectory()
      ? fs
          .readdirSync(target)
          .sort()
          .map((f) => path.join(target, f))
      : [target];
  } catch (e) {
    data.problems.push(
      `reports ${target}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); no verification or promotion report from there`,
    );
    return;
  }
  let read = 0;
  for (const file of files) {
    if (path.basename(file) === "promotions.jsonl") {
      addHistoryFile(data, file);
      continue;
    }
    if (!file.endsWith(".json")) continue;
    let o: any;
    try {
      o = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      data.problems.push(`report ${file}: not JSON (${(e as Error).message}), skipped`);
      continue;
    }
    if (o && typeof o.verdict === "string" && Array.isArray(o.checks)) {
      data.verifications.push({ file, report: o });
      read++;
    } else if (o && o.record?.kind === "promotion" && Array.isArray(o.measurements)) {
      data.promotions.push({ file, report: o });
      mergeRecords(data, [o.record]);
      read++;
    } else data.problems.push(`report ${file}: neither a verification nor a promotion report, skipped`);
  }
  data.sources.push(`reports ${target}: ${read} report${read === 1 ? "" : "s"}`);
}

/** Reads Envoy's stdout (a file, or `kubectl logs` text). */
export function addEnvoyLog(data: ObservedData, text: string, source: string, envoy?: string): EnvoyLog {
  const log = parseEnvoyLog(text, envoy);
  data.events.push(...log.events);
  data.requests.push(...log.requests);
  data.sources.push(
    `${source}: ${log.events.length} health event${log.events.length === 1 ? "" : "s"}, ${log.requests.length} logged request${log.requests.length === 1 ? "" : "s"}`,
  );
  return log;
}

export function addEnvoyLogFile(data: ObservedData, file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    data.problems.push(
      `Envoy log ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); no failover events from it`,
    );
    return;
  }
  addEnvoyLog(data, text, `Envoy log ${file}`, path.basename(file));
}
