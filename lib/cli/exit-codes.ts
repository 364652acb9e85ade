// What each command's exit codes mean (the codes themselves are named in core/exit-codes.ts): each
// command's --help prints its list, and the docs' table is checked against this one
// (test/cli-errors.test.ts).
import { HISTORY_EXIT, OPERATE_EXIT, PROMOTE_EXIT, REPORT_EXIT, STATUS_EXIT, VERIFY_EXIT } from "../core/exit-codes";

const OPERATE: readonly (readonly [number, string])[] = [
  [
    OPERATE_EXIT.done,
    "done: the driver acted on the request (abort: the candidate is back at 0 %; with no driver, rolled back here)",
  ],
  [
    OPERATE_EXIT.refused,
    "refused, or nothing to act on: no promotion runs, or the driver refused (e.g. resume when not paused)",
  ],
  [
    OPERATE_EXIT.error,
    "bad arguments, a cluster that cannot be read, a driver that did not answer, or abort with no driver and no --engine",
  ],
];

export const EXIT_CODES: Readonly<
  Record<
    "verify" | "promote" | "abort" | "pause" | "resume" | "skip" | "history" | "status" | "report",
    readonly (readonly [number, string])[]
  >
> = {
  verify: [
    [VERIFY_EXIT.pass, "pass: the candidate may take traffic"],
    [VERIFY_EXIT.fail, "verification failed: the candidate must not take traffic"],
    [
      VERIFY_EXIT.error,
      "could not verify: bad spec or arguments, unreachable server or no inference server there, or a report that cannot be written",
    ],
  ],
  promote: [
    [PROMOTE_EXIT.promoted, "promoted: the candidate serves all traffic"],
    [
      PROMOTE_EXIT.aborted,
      "aborted: a metric failed (or stayed without data), or `cdktf-triton abort` was run; the candidate is back at 0 %",
    ],
    [
      PROMOTE_EXIT.error,
      "could not start: bad arguments or spec, a missing engine, a query Prometheus refuses, another driver holds the pair's lease (nothing applied), this run lost the lease, or --full refused by the running driver",
    ],
    [
      PROMOTE_EXIT.awaitingConfirmation,
      "awaiting confirmation before the switch: re-run with --confirm to switch, or --on-unfinished rollback",
    ],
    [
      PROMOTE_EXIT.stoppedUnfinished,
      "interrupted, and the rollback did not finish within 60 s (or a second signal came): one line says where traffic was left; the lease is left to expire; a re-run or `abort --engine` rolls back",
    ],
    [
      PROMOTE_EXIT.interrupted,
      "interrupted: rolled back to the last good weights (or before the first step: nothing was applied)",
    ],
  ],
  abort: OPERATE,
  pause: OPERATE,
  resume: OPERATE,
  skip: OPERATE,
  history: [
    [HISTORY_EXIT.printed, "the records printed (an empty history in the cluster too)"],
    [HISTORY_EXIT.error, "bad arguments, a file that holds no record, or a cluster that cannot be read"],
  ],
  status: [
    [STATUS_EXIT.printed, "the pairs printed"],
    [STATUS_EXIT.noPair, "no blue/green pair in the namespace"],
    [STATUS_EXIT.error, "bad arguments, or a cluster that cannot be read"],
  ],
  report: [
    [REPORT_EXIT.written, "the report written (sources it could not read are named on stderr)"],
    [REPORT_EXIT.error, "bad arguments, nothing readable to report, or a file that cannot be written"],
  ],
};

/** The "Exit codes:" block of a command's --help. */
export function exitCodesHelp(command: keyof typeof EXIT_CODES): string {
  return `\nExit codes:\n${EXIT_CODES[command].map(([code, what]) => `  ${String(code).padEnd(2)} ${what}`).join("\n")}\n`;
}
