import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// The closing line of `npm test` and its rule: a full CI run that skipped anything fails.
const script = path.resolve(__dirname, "..", "scripts", "test-summary.js");

function results(statuses: string[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "summary-")), "r.json");
  const count = (s: string) => statuses.filter((x) => x === s).length;
  fs.writeFileSync(
    file,
    JSON.stringify({
      numPassedTests: count("passed"),
      numFailedTests: count("failed"),
      numPendingTests: count("pending"),
      numTodoTests: count("todo"),
      testResults: [{ name: path.join(process.cwd(), "test", "x.test.ts"), assertionResults: statuses.map((status, i) => ({ status, fullName: `case ${i}`, failureMessages: status === "failed" ? ["\u001b[31mError: expected 1\u001b[39m\n\n    at Object.<anonymous> (test/x.test.ts:1:1)\n    received 2"] : [] })) }],
    }),
  );
  return file;
}

const run = (full: string, ...files: string[]) => spawnSync(process.execPath, [script, full, ...files], { encoding: "utf8" });

test("sums passed, failed and skipped over the result files", () => {
  const r = run("0", results(["passed", "passed", "failed"]), results(["passed", "pending", "todo"]));
  expect(r.stdout.trim()).toBe("3 passed, 1 failed, 2 skipped\nfailed:\n  test/x.test.ts: case 2\n      Error: expected 1\n          received 2");
  expect(r.status).toBe(0);
});

test("a full CI run that skipped a test fails, naming it; a filtered run may skip", () => {
  const file = results(["passed", "pending"]);
  const full = run("1", file);
  expect(full.status).toBe(1);
  expect(full.stdout).toContain("CI=true: a full run must skip nothing; skipped:\n  test/x.test.ts: case 1");
  expect(run("0", file).status).toBe(0);
  expect(run("1", results(["passed"])).status).toBe(0);
});
