// Report writers: a readable summary, JSON, and JUnit XML for CI. Reports never hold headers or
// credentials: URLs are redacted by the verifier and headers are not recorded at all.
import { Report } from "./types";

const MARK = { pass: "PASS", fail: "FAIL", error: "ERROR", skipped: "SKIP" } as const;
const VERDICT = {
  pass: "PASS: the candidate may take traffic",
  fail: "FAIL: verification failed",
  error: "ERROR: could not verify",
} as const;

/** The report as text; `checks: false` leaves out the passed and skipped checks (listed already as they ran). */
export function summaryText(report: Report, options: { checks?: boolean } = {}): string {
  const lines = [`Verifying ${report.target}${report.baseline ? ` against baseline ${report.baseline}` : ""}`];
  const shown =
    options.checks === false ? report.checks.filter((c) => c.status === "fail" || c.status === "error") : report.checks;
  for (const c of shown) lines.push(`  ${MARK[c.status].padEnd(5)} ${c.name} (${c.durationMs} ms): ${c.message}`);
  if (report.probe) {
    const p = report.probe;
    lines.push(
      `  probe: ${p.completed}/${p.requests} requests, ${p.requestsPerSecond.toFixed(0)} req/s, p50 ${p.p50Ms.toFixed(1)} ms, p95 ${p.p95Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms, errors ${p.errors}`,
    );
  }
  if (report.servingChangeAllowed)
    lines.push(
      "  break glass: allow_serving_change = true, the serving color's release was allowed to change in place",
    );
  if (report.switchBack)
    lines.push(`  ${report.switchBack.message} (${report.switchBack.msAfterVerdict} ms after the verdict)`);
  lines.push(`${VERDICT[report.verdict]} (${(report.durationMs / 1000).toFixed(1)} s)`);
  return lines.join("\n");
}

export function junitXml(report: Report): string {
  const failures = report.checks.filter((c) => c.status === "fail").length;
  const errors = report.checks.filter((c) => c.status === "error").length;
  const skipped = report.checks.filter((c) => c.status === "skipped").length;
  const cases = report.checks.map((c) => {
    const open = `    <testcase classname="cdktf-triton.verify" name="${xml(c.name)}" time="${(c.durationMs / 1000).toFixed(3)}"`;
    if (c.status === "pass") return `${open}/>`;
    const tag = c.status === "fail" ? "failure" : c.status === "error" ? "error" : "skipped";
    return `${open}>\n      <${tag} message="${xml(c.message)}"/>\n    </testcase>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="cdktf-triton verify" tests="${report.checks.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${xml(report.target)}" tests="${report.checks.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" timestamp="${report.startedAt}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}

function xml(s: string): string {
  return s
    .replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");
}
