// Every command's exit codes by name, written once: the commands return them, the run side's
// driver exits with them, and lib/cli/exit-codes.ts says what each means (each command's --help
// and the docs' table). A number literal for an exit code anywhere else in lib/ fails
// test/names-once.test.ts.

/** Every command: its --help (or --version) printed, or its arguments refused before it ran. */
export const CLI_EXIT = { help: 0, badArguments: 2 } as const;

/** `verify`. */
export const VERIFY_EXIT = { pass: 0, fail: 1, error: 2 } as const;

/** `promote` (and the driver behind `abort` with no live driver: `rolledBack`, its rollback done). */
export const PROMOTE_EXIT = {
  promoted: 0,
  rolledBack: 0,
  aborted: 1,
  error: 2,
  awaitingConfirmation: 3,
  stoppedUnfinished: 4,
  interrupted: 130,
} as const;

/** `abort`, `pause`, `resume`, `skip`. */
export const OPERATE_EXIT = { done: 0, refused: 1, error: 2 } as const;

/** `history`. */
export const HISTORY_EXIT = { printed: 0, error: 2 } as const;

/** `status`. */
export const STATUS_EXIT = { printed: 0, noPair: 1, error: 2 } as const;

/** `report`. */
export const REPORT_EXIT = { written: 0, error: 2 } as const;
