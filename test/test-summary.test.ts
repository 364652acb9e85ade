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
      testResults: [
        {
          name: path.join(process.cwd(), "test", "x.test.ts"),
          assertionResults: statuses.map((status, i) => ({
            status,
            fullName: `case ${i}`,
            failureMessages:
              status === "failed"
                ? [
                    "\u001b[31mError: expected 1\u001b[39m\n\n    at Object.<anonymous> (test/x.test.ts:1:1)\n    received 2",
                  ]
                : [],
          })),
        },
      ],
    }),
  );
  return file;
}

const run = (full: string, ...files: string[]) =>
  spawnSync(process.execPath, [script, full, ...files], { encoding: "utf8" });

test("sums passed, failed and skipped over the result files", () => {
  const r = run("0", results(["passed", "passed", "failed"]), results(["passed", "pending", "todo"]));
  expect(r.stdout.trim()).toBe(
    "3 passed, 1 failed, 2 skipped\nfailed:\n  test/x.test.ts: case 2\n      Error: expected 1\n          received 2",
  );
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

describe("scripts/jest-run.js: a jest run that cannot hang and leaves nothing behind", () => {
  const jestRun = path.resolve(__dirname, "..", "scripts", "jest-run.js");
  const jestConfig = (dir: string) =>
    JSON.stringify({ rootDir: dir, testEnvironment: "node", testMatch: ["**/*.spec.js"] });

  /** A project of one test file, run by jest-run.js; its results file, its summary and its exit code. */
  function runFixture(source: string, env: NodeJS.ProcessEnv = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jest-run-"));
    fs.writeFileSync(path.join(dir, "case.spec.js"), source);
    const resultsFile = path.join(dir, "results.json");
    const r = spawnSync(process.execPath, [jestRun, resultsFile, "--config", jestConfig(dir), "--watchman=false"], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    const summary = run("0", resultsFile);
    return { code: r.status, stderr: r.stderr, summary: summary.stdout, summaryCode: summary.status, dir };
  }

  test("a process a test left that outlived jest (its own session) is ended and named, and the run fails", () => {
    // setsid: a group of its own that jest's environment does not know of; its marked environment gives it away.
    const r = runFixture(
      `test("leaves a sleeper", () => { require("child_process").spawn("setsid", ["sleep", "417"], { stdio: "ignore", detached: true }).unref(); });`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/jest-run: 1 process of this run outlived jest: ending them: sleep 417 \(pid \d+\)/);
    expect([r.summaryCode, r.summary]).toEqual([
      1,
      expect.stringMatching(
        /1 passed, 0 failed, 0 skipped\nthe run did not end cleanly:\n {2}left running after jest, ended: sleep 417 \(pid \d+, group \d+\)/,
      ),
    ]);
    expect(spawnSync("pgrep", ["-f", "sleep 417"]).status).toBe(1); // none left
  }, 60_000);

  test("jest that does not exit after its results (a handle left open) is ended, and the run fails saying so", () => {
    const r = runFixture(`test("leaves a timer", () => { setInterval(() => undefined, 1000); });`, {
      JEST_RUN_EXIT_AFTER_RESULTS_SECONDS: "3",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "jest-run: jest did not exit within 3 s of its last result (a handle a test left open): ending it",
    );
    expect([r.summaryCode, r.summary]).toEqual([
      1,
      expect.stringContaining(
        "1 passed, 0 failed, 0 skipped\nthe run did not end cleanly:\n  jest did not exit within 3 s of its last result (a handle a test left open): it was ended",
      ),
    ]);
  }, 60_000);

  test("a clean run exits with jest's code and its summary says nothing more", () => {
    const r = runFixture(`test("passes", () => expect(1).toBe(1));`);
    expect([r.code, r.summaryCode, r.summary]).toEqual([0, 0, "1 passed, 0 failed, 0 skipped\n"]);
  }, 60_000);
});
