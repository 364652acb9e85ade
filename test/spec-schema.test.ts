import * as fs from "fs";
import Ajv from "ajv";
import { SPEC_SCHEMA_FILE, SpecError, VerifySpec } from "../lib/run";
import { validateSpec } from "../lib/core/verify-spec";
import { setosaSpec } from "./peers/iris";
import { classifierSpec } from "./peers/triton-models";

// The verification spec's JSON Schema (published in the package for editors) refuses unknown
// fields: a misspelled field must never switch a check off while the verdict stays PASS.

const good = (): any => ({
  ...classifierSpec({ version: "1", binary: true }),
  baseline: { p99RegressionPercent: 20, agreement: true },
  metrics: { maxFailures: 0 },
});

function problemsOf(doc: unknown): { field: string; expected: string }[] {
  try {
    validateSpec(doc, "spec.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).problems.map((p) => ({ field: p.field, expected: p.expected }));
  }
  return [];
}

describe("the verification spec's JSON Schema", () => {
  test("accepts the specs the tests use, and is a valid draft-07 schema (ajv strict mode)", () => {
    const ajv = new Ajv({ strict: true, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(SPEC_SCHEMA_FILE, "utf8")));
    for (const spec of [good(), setosaSpec(0), classifierSpec()] as VerifySpec[]) {
      expect(validate(JSON.parse(JSON.stringify(spec)))).toBe(true);
      expect(problemsOf(JSON.parse(JSON.stringify(spec)))).toEqual([]);
    }
  });

  test.each<[string, (s: any) => void, string, string]>([
    ["goldens", (s) => (s.models[0].goldens = s.models[0].golden), "models[0].goldens", 'did you mean "golden"?'],
    ["metdata", (s) => (s.models[0].metdata = s.models[0].metadata), "models[0].metdata", 'did you mean "metadata"?'],
    [
      "atoll",
      (s) => (s.models[0].golden[0].outputs[0].atoll = 0.1),
      "models[0].golden[0].outputs[0].atoll",
      'did you mean "atol"?',
    ],
    [
      "budgets.p99seconds",
      (s) => (s.probe.budgets.p99seconds = 0.05),
      "probe.budgets.p99seconds",
      'did you mean "p99Seconds"?',
    ],
    [
      "budgets.p99Ms (0.1's name)",
      (s) => (s.probe.budgets.p99Ms = 50),
      "probe.budgets.p99Ms",
      'no such field since 0.2.0: "p99Seconds", in seconds',
    ],
    ["deadlineSecond", (s) => (s.deadlineSecond = 60), "deadlineSecond", 'did you mean "deadlineSeconds"?'],
    ["Binary", (s) => (s.models[0].golden[0].Binary = true), "models[0].golden[0].Binary", 'did you mean "binary"?'],
    [
      "something unrelated",
      (s) => (s.colour = "blue"),
      "colour",
      "no such field (known: deadlineSeconds, waitForReadySeconds, fastRollback, models, probe, baseline, metrics)",
    ],
  ])("a misspelled %s is refused with its path and the nearest known name", (_name, spoil, field, expected) => {
    const spec = good();
    spoil(spec);
    expect(problemsOf(spec)).toEqual([{ field, expected: expect.stringContaining(expected) }]);
  });
});
