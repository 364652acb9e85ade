// Bad input, the one way: which field (a prop path, a spec field, a flag), the value given, and
// what would have been valid. Props at synth, verification and promotion specs all report these.

/** One rejected field: where, the value given, and what would have been accepted. */
export interface Problem {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
}

/** A value as an error message shows it: JSON where it can be, at most 80 characters. */
export function showValue(value: unknown): string {
  if (value === undefined) return "undefined";
  let s: string | undefined;
  try {
    s = typeof value === "string" && value.endsWith(" elements") ? value : JSON.stringify(value);
  } catch {
    s = undefined;
  }
  if (s === undefined) return String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Bad input of one source (a construct's props, a spec file): every problem, one per line. */
export class ProblemsError extends Error {
  /** The message on one line when there is one problem (a CLI's error line), else the message. */
  public readonly brief: string;

  constructor(
    headline: string,
    public readonly problems: readonly Problem[],
    line: (p: Problem) => string = (p) => `${p.field} = ${showValue(p.value)}: expected ${p.expected}`,
  ) {
    super(`${headline}:\n${problems.map((p) => `  - ${line(p)}`).join("\n")}`);
    this.brief = problems.length === 1 ? `${headline}: ${line(problems[0])}` : this.message;
  }
}
