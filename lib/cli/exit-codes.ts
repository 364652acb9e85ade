// Every command's exit codes, written once: each command's --help prints its list, and the README's
// table is checked against this one (test/cli-errors.test.ts).

const OPERATE: readonly (readonly [number, string])[] = [
  [0, "done: the driver acted on the request (abort: the candidate is back at 0 %; with no driver, rolled back here)"],
  [1, "refused, or nothing to act on: no promotion runs, or the driver refused (e.g. resume when not paused)"],
  [2, "bad arguments, a cluster that cannot be read, a driver that did not answer, or abort with no driver and no --engine"],
];

export const EXIT_CODES: Readonly<Record<"verify" | "promote" | "abort" | "pause" | "resume" | "skip" | "history" | "status" | "report", readonly (readonly [number, string])[]>> = {
  verify: [
    [0, "pass: the candidate may take traffic"],
    [1, "verification failed: the candidate must not take traffic"],
    [2, "could not verify: bad spec or arguments, unreachable server or no inference server there, or a report that cannot be written"],
  ],
  promote: [
    [0, "promoted: the candidate serves all traffic"],
    [1, "aborted: a metric failed (or stayed without data), or `cdktf-triton abort` was run; the candidate is back at 0 %"],
    [2, "could not start: bad arguments or spec, a missing engine, a query Prometheus refuses, another driver holds the pair's lease (nothing applied), this run lost the lease, or --full refused by the running driver"],
    [3, "awaiting confirmation before the switch: re-run with --confirm to switch, or --on-unfinished rollback"],
    [4, "interrupted, and the rollback did not finish within 60 s (or a second signal came): one line says where traffic was left; the lease is left to expire; a re-run or `abort --engine` rolls back"],
    [130, "interrupted: rolled back to the last good weights (or before the first step: nothing was applied)"],
  ],
  abort: OPERATE,
  pause: OPERATE,
  resume: OPERATE,
  skip: OPERATE,
  history: [
    [0, "the records printed (an empty history in the cluster too)"],
    [2, "bad arguments, a file that holds no record, or a cluster that cannot be read"],
  ],
  status: [
    [0, "the pairs printed"],
    [1, "no blue/green pair in the namespace"],
    [2, "bad arguments, or a cluster that cannot be read"],
  ],
  report: [
    [0, "the report written (sources it could not read are named on stderr)"],
    [2, "bad arguments, nothing readable to report, or a file that cannot be written"],
  ],
};

/** The "Exit codes:" block of a command's --help. */
export function exitCodesHelp(command: keyof typeof EXIT_CODES): string {
  return `\nExit codes:\n${EXIT_CODES[command].map(([code, what]) => `  ${String(code).padEnd(2)} ${what}`).join("\n")}\n`;
}
