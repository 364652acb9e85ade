import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Browser } from "playwright-core";
import { Backend } from "../lib/constructs/traffic/backend";
import { main } from "../lib/cli/main";
import { verify } from "../lib/run/verify/verifier";
import { parseEnvoyLog } from "../lib/run/observe/envoy-log";
import type { PromoteReport, PromotionRecord, VerificationRecord } from "../lib/run/records";
import { loadReport, openBrowser } from "./peers/browser";
import { RunningEnvoy, startPool } from "./peers/envoy";
import { freePort } from "./peers/servers";
import { RunningTriton, startTriton } from "./peers/triton";
import { classifierSpec } from "./peers/triton-models";
import { until } from "./peers/wait";

// `cdktf-triton report` on real inputs: the gate's JSON reports from the real verifier against a
// real Triton (classifier versions 1 and 2, and 5, which fails one request in 20), a real Envoy's
// stdout (its health checkers' events), and a pair's history. The page is loaded in headless
// Chromium (Debian's package, driven by playwright-core): no console error, the expected number of
// marks in each chart, and a screenshot (the README shows one: docs/report.png).

const SCREENSHOT = process.env.REPORT_SCREENSHOT ?? path.resolve(__dirname, ".tmp", "report.png");
const fp = { "1": "1111aaaa2222bbbb", "2": "3333cccc4444dddd", "5": "5555eeee6666ffff" } as const;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = {
    out: { write: (s: string) => ((out += s), true) } as any,
    err: { write: (s: string) => ((err += s), true) } as any,
  };
  const code = await main(["node", "cdktf-triton", ...args], io);
  return { code, out, err };
}

/** A pair's history: v1 (blue) promoted to v2 (green), then v5 (blue) aborted at its first step. */
function history(at: (minutes: number) => string): {
  records: (PromotionRecord | VerificationRecord)[];
  aborted: PromoteReport;
} {
  const c = (color: string, v: "1" | "2" | "5") => ({ color, version: `v${v}`, fingerprint: fp[v] });
  const step = (w: number, from: number, to: number, verdict: "pass" | "fail") => ({
    weightPercent: w,
    startedAt: at(from),
    finishedAt: at(to),
    verdict,
    metrics: [
      {
        metric: "success-rate",
        passed: verdict === "pass" ? 2 : 0,
        failed: verdict === "pass" ? 0 : 1,
        inconclusive: 0,
        last: verdict === "pass" ? 100 : 95,
      },
    ],
  });
  const promoted: PromotionRecord = {
    kind: "promotion",
    id: "p-1",
    app: "classifier",
    namespace: "ml",
    by: "ci@runner",
    engine: "tofu",
    startedAt: at(10),
    finishedAt: at(40),
    from: c("blue", "1"),
    to: c("green", "2"),
    status: "promoted",
    currentStep: 2,
    steps: [step(10, 10, 20, "pass"), step(50, 20, 30, "pass"), step(100, 30, 40, "pass")],
  };
  const aborted: PromotionRecord = {
    kind: "promotion",
    id: "p-2",
    app: "classifier",
    namespace: "ml",
    by: "ci@runner",
    engine: "tofu",
    startedAt: at(60),
    finishedAt: at(62),
    from: c("green", "2"),
    to: c("blue", "5"),
    status: "aborted",
    reason: "success-rate 95 must be >= 99",
    currentStep: 0,
    steps: [step(10, 60, 62, "fail")],
  };
  const verdict = (
    id: string,
    color: string,
    v: "1" | "2" | "5",
    verdict: string,
    minutes: number,
  ): VerificationRecord => ({
    kind: "verification",
    id,
    app: "classifier",
    namespace: "ml",
    at: at(minutes),
    color,
    fingerprint: fp[v],
    verdict,
  });
  const measurements = [
    {
      metric: "success-rate",
      at: at(61),
      value: 95,
      verdict: "fail" as const,
      detail: "must be >= 99",
      min: 99,
      step: 0,
      weightPercent: 10,
    },
    {
      metric: "p99-latency",
      at: at(61),
      value: 12.5,
      verdict: "pass" as const,
      detail: "must be <= 500",
      max: 500,
      step: 0,
      weightPercent: 10,
    },
    {
      metric: "p99-latency",
      at: at(61.5),
      verdict: "inconclusive" as const,
      detail: "no data",
      max: 500,
      step: 0,
      weightPercent: 10,
    },
  ];
  return {
    records: [
      verdict("v-1", "blue", "1", "pass", 0),
      verdict("v-2", "green", "2", "pass", 5),
      promoted,
      verdict("v-5", "blue", "5", "fail", 55),
      aborted,
    ],
    aborted: { record: aborted, measurements, notificationProblems: [], timings: {}, exitCode: 1 },
  };
}

describe("cdktf-triton report, rendered in headless Chromium", () => {
  let triton: RunningTriton;
  let envoy: RunningEnvoy | undefined;
  let browser: Browser;
  let dir: string;
  let reports: string;
  let historyFile: string;
  const t0 = Date.now() - 3_600_000;
  const at = (minutes: number) => new Date(t0 + minutes * 60_000).toISOString();

  beforeAll(async () => {
    browser = await openBrowser();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-"));
    reports = path.join(dir, "verify-reports");
    fs.mkdirSync(reports);
    triton = await startTriton({ models: { classifier: [1, 2, 5] }, env: { CLASSIFIER_FAIL_EVERY: "20" } });
    // The gate's reports, one per version, from the real verifier (the fingerprints as the gate passes them).
    for (const v of ["1", "2", "5"] as const) {
      const report = await verify(classifierSpec({ version: v }), { url: triton.url });
      fs.writeFileSync(
        path.join(reports, `verify-v${v}.json`),
        JSON.stringify({ ...report, fingerprint: fp[v] }, null, 2),
      );
    }
    const h = history(at);
    historyFile = path.join(dir, "promotions.jsonl");
    fs.writeFileSync(historyFile, h.records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    fs.writeFileSync(path.join(reports, "promotion-p-2.json"), JSON.stringify(h.aborted));
    // A real Envoy whose primary tier is a closed port: its health checker logs the primary out,
    // Triton (the backup) healthy.
    const dead = await freePort();
    envoy = await startPool(
      {
        tiers: [
          { name: "primary", endpoints: [{ backend: Backend.address("primary", "127.0.0.1", dead) }] },
          { name: "backup", endpoints: [{ backend: Backend.address("backup", "127.0.0.1", triton.ports.http) }] },
        ],
        healthCheck: { intervalSeconds: 0.1, timeoutSeconds: 0.1, unhealthyThreshold: 1, healthyThreshold: 1 },
      },
      await freePort(),
      [dead],
    );
    // Bound: Envoy flushes its stdout file every 10 s; 30 s is slack for a loaded 2-core machine.
    await until(
      "Envoy's health events on its stdout",
      30_000,
      () => parseEnvoyLog(fs.readFileSync(envoy!.stdoutFile, "utf8")).events.length >= 2,
      200,
    );
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await envoy?.stop();
    await triton?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const load = (file: string, screenshot?: string) => loadReport(browser, file, screenshot);

  test("the version overview, the last verification's distribution, the promotions and the failover events, each chart with its marks", async () => {
    const out = path.join(dir, "report.html");
    const r = await cli(
      "report",
      "--history-file",
      historyFile,
      "--reports",
      reports,
      "--envoy-log",
      envoy!.stdoutFile,
      "--out",
      out,
      "--title",
      "classifier in ml",
    );
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out.trim()).toBe(out);
    const { page, errors, requests, marks } = await load(out, SCREENSHOT);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]); // self-contained: nothing fetched
    // Three versions x p50/p95/p99; a bar per version for throughput and error rate.
    expect(await marks("classifier-latency", "rect")).toBe(9);
    expect(await marks("classifier-throughput", "rect")).toBe(3);
    expect(await marks("classifier-errors", "rect")).toBe(3);
    // The last verification (v5's, the newest report) in its latency buckets.
    const v5 = JSON.parse(fs.readFileSync(path.join(reports, "verify-v5.json"), "utf8"));
    expect(v5.probe.latencyBuckets.length).toBeGreaterThan(0);
    expect(await marks("classifier-distribution", "rect")).toBe(v5.probe.latencyBuckets.length);
    // Promotions: 3 steps + the switch as points on a step line; the aborted one: 1 step + the abort.
    expect([await marks("classifier-weights-p-1", "symbol"), await marks("classifier-weights-p-1", "line")]).toEqual([
      4, 1,
    ]);
    expect(await marks("classifier-weights-p-2", "symbol")).toBe(2);
    // The aborted promotion's measurements: 2 with a value (1 inconclusive, not drawn), 2 thresholds.
    expect(await marks("classifier-measurements-p-2", "symbol")).toBe(2);
    expect(await marks("classifier-measurements-p-2", "rule", "line")).toBe(2);
    // Failover events: one point per event in Envoy's stdout, the dead primary among them.
    const events = parseEnvoyLog(fs.readFileSync(envoy!.stdoutFile, "utf8")).events;
    expect(events.some((e) => e.kind === "ejected" || e.kind === "failed")).toBe(true);
    expect(await marks("failover-events", "symbol")).toBe(events.length);
    // The table's figures are the reports' (v5: 1 in 20 requests failed; its health below 100).
    const rows = await page.locator("table.versions tbody tr").allInnerTexts();
    expect(rows.map((row) => row.split("\t")[0])).toEqual(["v1", "v2", "v5"]);
    const v5row = rows[2].split("\t");
    expect(v5row[3]).toBe("fail");
    expect(Number(v5row[10])).toBeLessThan(100);
    expect(Number(rows[0].split("\t")[10])).toBe(100);
    expect(await page.locator("#problems").count()).toBe(0);
    expect(await page.locator("p.definition").first().innerText()).toContain("health = 100 ×");
  }, 120_000);

  test("a corrupted history, a missing one and a truncated report: the page says what is missing and draws the rest", async () => {
    const corrupted = path.join(dir, "corrupted.jsonl");
    const lines = fs.readFileSync(historyFile, "utf8").trim().split("\n");
    fs.writeFileSync(corrupted, [lines[0], "{not json", lines[2].slice(0, 40), ...lines.slice(3)].join("\n"));
    const damaged = path.join(dir, "damaged-reports");
    fs.mkdirSync(damaged);
    for (const f of ["verify-v1.json", "verify-v2.json"]) fs.copyFileSync(path.join(reports, f), path.join(damaged, f));
    fs.writeFileSync(
      path.join(damaged, "verify-v5.json"),
      fs.readFileSync(path.join(reports, "verify-v5.json"), "utf8").slice(0, 200),
    );
    const out = path.join(dir, "damaged.html");
    const r = await cli(
      "report",
      "--history-file",
      corrupted,
      "--history-file",
      path.join(dir, "missing.jsonl"),
      "--reports",
      damaged,
      "--out",
      out,
    );
    expect(r.code).toBe(0);
    const { errors, marks, page } = await load(out);
    expect(errors).toEqual([]);
    const problems = await page.locator("#problems li").allInnerTexts();
    expect(problems).toEqual([
      expect.stringMatching(/corrupted\.jsonl: line 2: not JSON .*skipped/),
      expect.stringMatching(/corrupted\.jsonl: line 3: not JSON .*skipped/),
      expect.stringMatching(/missing\.jsonl: cannot be read \(ENOENT\)/),
      expect.stringMatching(/verify-v5\.json: not JSON .*skipped/),
    ]);
    // The same problems on stderr, for a pipeline's log.
    expect(r.err.trim().split("\n")).toHaveLength(4);
    // Still drawn: v1 and v2 from their reports (v5 has no report left: no bars for it), and the
    // aborted promotion from the history lines that were intact (the promoted one's line was cut).
    expect(await marks("classifier-latency", "rect")).toBe(6);
    expect(await marks("classifier-weights-p-2", "symbol")).toBe(2);
    expect(await page.locator("#promotion-p-1").count()).toBe(0);
    expect(await page.locator("#failover .missing").innerText()).toContain("no Envoy log was given");
  }, 60_000);

  test("each run its own file: an existing --out is not replaced; --out-dir names files by time", async () => {
    const out = path.join(dir, "once.html");
    expect((await cli("report", "--history-file", historyFile, "--out", out)).code).toBe(0);
    const before = fs.readFileSync(out, "utf8");
    const again = await cli("report", "--history-file", historyFile, "--out", out);
    expect([again.code, again.err]).toEqual([
      2,
      `cdktf-triton report: ${out} exists: each report is its own file, give another --out\n`,
    ]);
    expect(fs.readFileSync(out, "utf8")).toBe(before);
    const folder = path.join(dir, "runs");
    const a = await cli("report", "--history-file", historyFile, "--out-dir", folder);
    const b = await cli("report", "--history-file", historyFile, "--out-dir", folder);
    expect(a.out).not.toBe(b.out);
    expect(fs.readdirSync(folder).filter((f) => /^report-.*\.html$/.test(f))).toHaveLength(2);
    const none = await cli("report");
    expect([none.code, none.err]).toEqual([2, expect.stringContaining("nothing to report")]);
  }, 60_000);
});
