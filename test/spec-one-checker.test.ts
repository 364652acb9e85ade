import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { GateTarget, loadSpec, VerificationGate } from "../lib";
import { newStack, thrownBy } from "./helpers";

// One checker for the verification spec: what a stack's gate refuses at synth, `loadSpec` (the
// CLI's `verify --spec`, JSON or YAML) refuses with the same problems, and the other way round.
const specs: Record<string, object> = {
  "golden data that does not fit its datatype": {
    models: [
      {
        name: "m",
        golden: [
          {
            name: "c",
            inputs: [{ name: "x", datatype: "UINT8", shape: [2], data: [1, 300] }],
            outputs: [{ name: "y", datatype: "BOOL", data: ["no"] }],
          },
        ],
      },
    ],
  },
  "a 0.1 field and a typo": { models: [{ name: "m", versoin: "1" }], probe: { budgets: { p99Ms: 20 } } },
  "an expected output that cannot fill its shape": {
    models: [
      {
        name: "m",
        golden: [
          {
            name: "c",
            inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
            outputs: [{ name: "y", shape: [1, 3], data: [0.1] }],
          },
        ],
      },
    ],
  },
};

test.each(Object.entries(specs))("%s: synth and loadSpec give the same problems", (_name, spec) => {
  const { stack } = newStack();
  const atSynth = thrownBy(
    () => new VerificationGate(stack, "g", { spec: spec as never, target: GateTarget.url("http://127.0.0.1:8000") }),
  ) as { problems: { field: string; expected: string }[] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spec-"));
  try {
    for (const [file, text] of [
      ["spec.json", JSON.stringify(spec)],
      ["spec.yaml", stringify(spec)],
    ]) {
      fs.writeFileSync(path.join(dir, file), text);
      const loaded = thrownBy(() => loadSpec(path.join(dir, file))) as {
        problems: { field: string; expected: string }[];
      };
      expect(loaded.problems.map((p) => [p.field, p.expected])).toEqual(
        atSynth.problems.map((p) => [p.field.replace(/^spec\./, ""), p.expected]),
      );
      expect(loaded.problems.length).toBeGreaterThan(0);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
