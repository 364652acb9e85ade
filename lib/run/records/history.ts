// The promotion history: one JSON record per promotion (and per gate verdict), kept in a ConfigMap
// per pair (bounded, newest last, written through the Kubernetes API with kubectl and the user's
// kubeconfig, with optimistic concurrency) and appended to the report folder as JSON lines.
// Runtime code: no cdktf here.
import * as fs from "fs";
import * as path from "path";
import { historyConfigMap } from "../../core/names";
import { KubeAccess, kubectlFailure, runKubectl } from "../kube/kubectl";
import { HistoryRecord, PromotionRecord } from "./index";

export type { KubeAccess };

const DATA_KEY = "history.jsonl";

/** Parses history lines; lines that are not records are reported, not fatal. */
export function parseHistory(text: string): { records: HistoryRecord[]; problems: string[] } {
  const records: HistoryRecord[] = [];
  const problems: string[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const r = JSON.parse(line);
      if (r && (r.kind === "promotion" || r.kind === "verification") && typeof r.id === "string") {
        // Written before 0.2: the wait before the switch was "paused".
        if (r.kind === "promotion" && r.status === "paused") r.status = "awaiting-confirmation";
        records.push(r);
      } else problems.push(`line ${i + 1}: not a history record`);
    } catch (e) {
      problems.push(`line ${i + 1}: not JSON (${(e as Error).message})`);
    }
  });
  return { records, problems };
}

/** The history ConfigMap of one pair. */
export class ClusterHistory {
  constructor(
    private readonly access: KubeAccess,
    public readonly namespace: string,
    public readonly name: string,
    private readonly limit: number,
  ) {}

  /** Every record, oldest first ([] when the ConfigMap does not exist yet). */
  async read(): Promise<HistoryRecord[]> {
    return (await this.load()).records;
  }

  /** Whether the ConfigMap exists, its records (oldest first), and the lines that were not records. */
  async load(): Promise<{ exists: boolean; records: HistoryRecord[]; problems: string[] }> {
    const { object } = await this.get();
    return { exists: object !== undefined, ...parseHistory(object?.data?.[DATA_KEY] ?? "") };
  }

  /** Inserts or replaces (by id) a record, keeping the newest `limit`; retries on a concurrent write. */
  async put(record: HistoryRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { object } = await this.get();
      const records = object ? parseHistory(object.data?.[DATA_KEY] ?? "").records : [];
      const i = records.findIndex((r) => r.id === record.id);
      if (i >= 0) records[i] = record;
      else records.push(record);
      const kept = records.slice(-this.limit);
      const data = { [DATA_KEY]: kept.map((r) => JSON.stringify(r)).join("\n") + "\n" };
      const body = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: this.name,
          namespace: this.namespace,
          labels: { "app.kubernetes.io/managed-by": "cdktf-triton", "cdktf-triton/role": "promotion-history" },
          ...(object ? { resourceVersion: object.metadata.resourceVersion } : {}),
        },
        data,
      };
      const r = await runKubectl(
        this.access,
        [object ? "replace" : "create", "-f", "-", "-o", "name"],
        JSON.stringify(body),
      );
      if (r.code === 0) return;
      const conflict = /Conflict|AlreadyExists|the object has been modified|already exists/i.test(r.stderr);
      if (!conflict || attempt >= 5)
        throw new Error(`could not write ConfigMap ${this.namespace}/${this.name}: ${kubectlFailure(r, this.access)}`);
    }
  }

  private async get(): Promise<{ object?: { metadata: { resourceVersion: string }; data?: Record<string, string> } }> {
    const r = await runKubectl(this.access, [
      "get",
      "configmap",
      this.name,
      "-n",
      this.namespace,
      "-o",
      "json",
      "--ignore-not-found",
    ]);
    if (r.code !== 0)
      throw new Error(`could not read ConfigMap ${this.namespace}/${this.name}: ${kubectlFailure(r, this.access)}`);
    return r.stdout.trim() ? { object: JSON.parse(r.stdout) } : {};
  }
}

/** Appends a record to `<dir>/promotions.jsonl`. */
/** A pair's history ConfigMap (the one `promote` and the gate write), read whole (up to 1 000 records). */
export function pairHistory(access: KubeAccess, namespace: string, app: string): ClusterHistory {
  return new ClusterHistory(access, namespace, historyConfigMap(app), 1000);
}

/** The last promotion a later run would take up: running, awaiting confirmation, or aborted on a step. */
export function lastUnfinished(records: readonly HistoryRecord[]): PromotionRecord | undefined {
  return records
    .filter((r): r is PromotionRecord => r.kind === "promotion")
    .reverse()
    .find(
      (r) =>
        r.status === "running" ||
        r.status === "awaiting-confirmation" ||
        (r.currentStep >= 0 && r.status !== "promoted" && r.status !== "rolled-back"),
    );
}

export function appendHistoryFile(dir: string, record: HistoryRecord): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "promotions.jsonl");
  fs.appendFileSync(file, JSON.stringify(record) + "\n");
  return file;
}

/** The records as a table, oldest first. */
export function historyTable(records: readonly HistoryRecord[]): string {
  const rows = records.map((r) =>
    r.kind === "promotion"
      ? [
          r.startedAt,
          r.app,
          "promotion",
          `${r.from.color} ${r.from.version} -> ${r.to.color} ${r.to.version}`,
          r.steps
            .map((s) => `${s.weightPercent}%${s.verdict && s.verdict !== "pass" ? `(${s.verdict})` : ""}`)
            .join(" "),
          r.status + (r.reason ? `: ${r.reason}` : ""),
          r.by,
        ]
      : [
          r.at,
          r.app,
          "verification",
          `${r.color} ${r.fingerprint ?? ""}`.trim(),
          "",
          r.verdict + (r.message ? `: ${r.message}` : ""),
          "",
        ],
  );
  const header = ["WHEN", "APP", "KIND", "CHANGE", "STEPS", "OUTCOME", "BY"];
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => row[i].length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i] ? `${c.slice(0, widths[i] - 1)}…` : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
