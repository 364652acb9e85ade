#!/usr/bin/env node
// The closing line of `npm test`: passed, failed and skipped, summed over jest's JSON result files.
// `node scripts/test-summary.js <full-ci-run: 1|0> <results.json...>`. In a full CI run a skipped
// test fails the run, listed by name: it is a check that did not happen (a tool missing, a
// describe.skip left behind). A run given a filter skips by design and is exempt. Failed tests are
// named after the closing line with the first lines of their message: a CI log that keeps only its
// tail still says what failed. What scripts/jest-run.js saw (`cdktfTritonRun`: jest wrote no
// results, did not exit within 60 s of them, or left processes running) fails the run, named.
const path = require("path");
const [full, ...files] = process.argv.slice(2);
const results = files.map((f) => JSON.parse(require("fs").readFileSync(path.resolve(f), "utf8")));
const sum = (key) => results.reduce((n, r) => n + r[key], 0);
const skipped = sum("numPendingTests") + sum("numTodoTests");
console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${skipped} skipped`);
const failed = results.flatMap((r) =>
  r.testResults.flatMap((t) =>
    t.assertionResults
      .filter((a) => a.status === "failed")
      .map((a) => {
        const message = (a.failureMessages ?? [])
          .join("\n")
          .replace(/\u001b\[[0-9;]*m/g, "")
          .split("\n")
          .filter((l) => l.trim() !== "" && !/^\s+at /.test(l))
          .slice(0, 12);
        return [
          `  ${path.relative(process.cwd(), t.name)}: ${a.fullName}`,
          ...message.map((l) => `      ${l.trimEnd()}`),
        ].join("\n");
      }),
  ),
);
if (failed.length > 0) console.log(`failed:\n${failed.join("\n")}`);
const run = results.map((r) => r.cdktfTritonRun).filter(Boolean);
const broken = [
  ...run.filter((x) => x.noResults).map((x) => `jest wrote no results (it exited with ${x.jestExitCode})`),
  ...run
    .filter((x) => x.hung)
    .map(
      (x) =>
        `jest did not exit within ${x.exitAfterResultsSeconds} s of its last result (a handle a test left open): it was ended`,
    ),
  ...run.flatMap((x) =>
    x.leftovers.map((p) => `left running after jest, ended: ${p.command} (pid ${p.pid}, group ${p.pgid})`),
  ),
];
if (broken.length > 0) {
  console.log(`the run did not end cleanly:\n${broken.map((b) => `  ${b}`).join("\n")}`);
  process.exitCode = 1;
}
if (full === "1" && skipped > 0) {
  const names = results.flatMap((r) =>
    r.testResults.flatMap((t) =>
      t.assertionResults
        .filter((a) => a.status === "pending" || a.status === "todo")
        .map((a) => `  ${path.relative(process.cwd(), t.name)}: ${a.fullName}`),
    ),
  );
  console.log(`CI=true: a full run must skip nothing; skipped:\n${names.join("\n")}`);
  process.exit(1);
}
