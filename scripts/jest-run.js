#!/usr/bin/env node
// One jest run of `npm test`, which cannot hang and leaves nothing behind:
// `node scripts/jest-run.js <results.json> [jest arguments...]`.
// - jest runs in a process group of its own, marked: CDKTF_TRITON_TEST_RUN=<this run's id> in its
//   environment, which every process a test starts inherits (test/setup.ts keeps it in an
//   environment a test replaces).
// - Once jest has written its results, it has 60 s to exit; past that (a handle a test left open)
//   its group is ended and the run fails, saying so.
// - After jest, every process still carrying the run's mark is named, its group ended (SIGTERM, then
//   SIGKILL after 5 s), and the run fails.
// What happened is added to the results file (`cdktfTritonRun`), so that scripts/test-summary.js
// names it in the closing lines. Exits with jest's code, or 1 when any of the above happened.
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");

// JEST_RUN_EXIT_AFTER_RESULTS_SECONDS shortens it for test/test-summary.test.ts only.
const EXIT_AFTER_RESULTS_MS = Number(process.env.JEST_RUN_EXIT_AFTER_RESULTS_SECONDS ?? 60) * 1000;
const TERM_GRACE_MS = 5_000;

const [results, ...jestArgs] = process.argv.slice(2);
if (!results) {
  process.stderr.write("usage: node scripts/jest-run.js <results.json> [jest arguments...]\n");
  process.exit(2);
}
const runId = `${Date.now()}-${process.pid}`;
const jestBin = path.join(__dirname, "..", "node_modules", "jest", "bin", "jest.js");

/** Every process of this machine carrying the run's mark, but this one: pid, group and command line. */
function marked() {
  const mark = `CDKTF_TRITON_TEST_RUN=${runId}`;
  const found = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(mark)) continue;
      const pgid = pgidOf(entry);
      const command = fs
        .readFileSync(`/proc/${entry}/cmdline`, "utf8")
        .split("\0")
        .filter(Boolean)
        .join(" ")
        .slice(0, 200);
      found.push({ pid: Number(entry), pgid, command });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

function signal(target, sig) {
  try {
    process.kill(target, sig);
  } catch {
    /* already gone */
  }
}

/** The process group of a process, from /proc (Node has no getpgid). */
function pgidOf(pid) {
  const stat = safeRead(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/** Ends these processes: their groups (never this script's own: by pid there), SIGTERM then SIGKILL. */
async function end(processes) {
  const own = pgidOf("self");
  const targets = [...new Set(processes.map((p) => (p.pgid > 1 && p.pgid !== own ? -p.pgid : p.pid)))];
  targets.forEach((t) => signal(t, "SIGTERM"));
  const deadline = Date.now() + TERM_GRACE_MS;
  const alive = () =>
    processes.some((p) => fs.existsSync(`/proc/${p.pid}`) && !/\) Z /.test(safeRead(`/proc/${p.pid}/stat`)));
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  targets.forEach((t) => signal(t, "SIGKILL"));
}

function safeRead(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function main() {
  fs.rmSync(results, { force: true });
  const jest = spawn(process.execPath, [jestBin, "--json", `--outputFile=${results}`, ...jestArgs], {
    stdio: "inherit",
    detached: true,
    env: { ...process.env, CDKTF_TRITON_TEST_RUN: runId },
  });
  // Ctrl-C or a CI runner's SIGTERM on `npm test` reaches jest's group too.
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => signal(-jest.pid, sig));
  let hung = false;
  let resultsAt;
  const watch = setInterval(() => {
    if (resultsAt === undefined && fs.existsSync(results)) resultsAt = Date.now();
    if (resultsAt !== undefined && Date.now() - resultsAt > EXIT_AFTER_RESULTS_MS && !hung) {
      hung = true;
      process.stderr.write(
        `jest-run: jest did not exit within ${EXIT_AFTER_RESULTS_MS / 1000} s of its last result (a handle a test left open): ending it\n`,
      );
      void end([{ pid: jest.pid, pgid: jest.pid }]);
    }
  }, 1000);
  const code = await new Promise((resolve) => jest.on("exit", (c, s) => resolve(c ?? (s ? 1 : 0))));
  clearInterval(watch);
  const leftovers = marked();
  if (leftovers.length) {
    process.stderr.write(
      `jest-run: ${leftovers.length} process${leftovers.length > 1 ? "es" : ""} of this run outlived jest: ending them: ${leftovers.map((p) => `${p.command} (pid ${p.pid})`).join("; ")}\n`,
    );
    await end(leftovers);
  }
  const noResults = !fs.existsSync(results);
  const report = noResults
    ? { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] }
    : JSON.parse(fs.readFileSync(results, "utf8"));
  report.cdktfTritonRun = {
    jestExitCode: code,
    hung,
    exitAfterResultsSeconds: EXIT_AFTER_RESULTS_MS / 1000,
    noResults,
    leftovers,
  };
  fs.mkdirSync(path.dirname(path.resolve(results)), { recursive: true });
  fs.writeFileSync(results, JSON.stringify(report));
  process.exit(hung || leftovers.length || noResults ? 1 : code);
}

main().catch((e) => {
  process.stderr.write(`jest-run: ${e.stack || e.message}\n`);
  process.exit(1);
});
