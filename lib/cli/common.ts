// What every command of the CLI shares: where it writes, and how a repeatable flag collects.

export type Io = { out: NodeJS.WritableStream & { isTTY?: boolean }; err: NodeJS.WritableStream };

/** commander's argument parser for a repeatable flag: each value appended. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];
