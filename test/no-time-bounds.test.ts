import * as fs from "fs";
import * as path from "path";
import { expectInOrder, hangBoundMs, hangCheck } from "./hang-check";

// No duration is a test's verdict: a comparison (toBeLessThan, toBeGreaterThan and their OrEqual)
// whose either side reads a clock, an instant or a duration is refused in every test file. Speed
// goes to scripts/bench/ and docs/benchmarks.md; a promise of the product stays as a named hang
// check (test/hang-check.ts: hangCheck), an order of instants as expectInOrder.
const testDir = __dirname;

/** A clock, an instant or a duration: Date.now / Date.parse, a `...Ms` or `...Seconds` name, `...At`, `.at`, elapsed, latencies, "answered in". */
const TIME =
  /Date\.(now|parse)\b|performance\.now|hrtime|\b\w*(Ms|MS|_MS|Millis|Seconds|SECONDS|Elapsed|Duration|Latency|Latencies|Time|At)\b|\.at\b|\b(ms|t0|elapsed|duration|latency|latencies|seconds)\b|answered in/;
const COMPARISON = /^\.(toBeLessThan|toBeLessThanOrEqual|toBeGreaterThan|toBeGreaterThanOrEqual)\(/;

/** The text inside the parentheses that open at `open` (balanced; strings are not special: good enough for our tests). */
function balanced(text: string, open: number): string | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return text.slice(open + 1, i);
  }
  return undefined;
}

/** Every `expect(a).toBe{Less,Greater}Than[OrEqual](b)` of a source whose a or b reads time, as "file:line: text". */
export function timeComparisons(source: string, file: string): string[] {
  const found: string[] = [];
  const re = /\bexpect\(/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const open = m.index + "expect".length;
    const subject = balanced(source, open);
    if (subject === undefined) continue;
    const after = source.slice(open + subject.length + 2);
    const matcher = COMPARISON.exec(after);
    if (!matcher) continue;
    const bound = balanced(after, matcher[0].length - 1) ?? "";
    if (TIME.test(subject) || TIME.test(bound)) {
      const line = source.slice(0, m.index).split("\n").length;
      found.push(`${file}:${line}: expect(${subject})${matcher[0]}${bound})`);
    }
  }
  return found;
}

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === ".tmp" || e.name === "node_modules" ? [] : testFiles(p);
    return /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

test("no test compares a duration or an instant with a bound: speed is a benchmark's, a hang a named hang check's", () => {
  const self = path.basename(__filename);
  const offenders = testFiles(testDir)
    .filter((f) => path.basename(f) !== self)
    .flatMap((f) => timeComparisons(fs.readFileSync(f, "utf8"), path.relative(testDir, f)));
  expect(offenders).toEqual([]);
});

test("the rule finds what it must: a clock, a duration's name, an instant; and leaves counts alone", () => {
  const found = (src: string) => timeComparisons(src, "x.ts").length;
  expect(found("expect(Date.now() - t0).toBeLessThan(30_000);")).toBe(1);
  expect(found("expect(r.ms).toBeLessThan(RETURNS_WITHIN_MS);")).toBe(1);
  expect(found("expect(report.durationMs).toBeLessThan(4000);")).toBe(1);
  expect(found("expect(Number(/answered in (\\d+\\.\\d) s/.exec(out)![1])).toBeLessThanOrEqual(2);")).toBe(1);
  expect(found("expect(markedAt - killedAt).toBeLessThanOrEqual(1000);")).toBe(1);
  expect(found("expect(Math.max(...latencies)).toBeLessThan(100);")).toBe(1);
  expect(found("expect(\n  zeroMs,\n).toBeLessThan(10_000);")).toBe(1);
  expect(found("expect(samples.length).toBeGreaterThan(100);")).toBe(0);
  expect(found("expect(mirrored).toBeLessThan(600);")).toBe(0);
  expect(found("expect(Date.now() - t0).toBe(3);")).toBe(0);
});

test("a hang check's bound: 5 x the normal time, and at least 10 s over the deadline", () => {
  expect(hangBoundMs({ normalMs: 300 })).toBe(10_000);
  expect(hangBoundMs({ normalMs: 4_000 })).toBe(20_000);
  expect(hangBoundMs({ normalMs: 2_500, deadlineMs: 8_000 })).toBe(18_000);
  expect(hangBoundMs({ normalMs: 10_000, deadlineMs: 8_000 })).toBe(50_000);
  expect(() => hangCheck("a command", 20_001, { normalMs: 4_000 })).toThrow(
    "hang check: a command took 20001 ms, past its hang bound of 20000 ms (normal 4000 ms)",
  );
  expect(() => hangCheck("a command", 20_000, { normalMs: 4_000 })).not.toThrow();
  expect(() => expectInOrder(["served", "2026-12-07T10:00:01Z"], ["applied", "2026-12-07T10:00:00Z"])).toThrow(
    "expected served (2026-12-07T10:00:01Z) no later than applied (2026-12-07T10:00:00Z)",
  );
  expect(() => expectInOrder(["p50", 3], ["p99", 3])).not.toThrow();
});
