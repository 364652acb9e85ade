import * as fs from "fs";
import { TritonRelease } from "../lib";
import { FLAGS_FILE, generateFlags, helpFlags } from "../scripts/triton-flags";
import { newStack, s3Models, thrownBy } from "./helpers";

// A release's extraArgs against the flags of its image's Triton: the table is what the real
// tritonserver 2.51.0 (nvidia-pytriton's, run here) prints in its --help.

test("the flags table is what the real tritonserver 2.51.0 prints in --help", () => {
  const flags = helpFlags();
  expect(flags).toEqual(expect.arrayContaining(["--exit-on-error", "--log-verbose", "--model-control-mode"]));
  expect(fs.readFileSync(FLAGS_FILE, "utf8")).toBe(generateFlags(flags));
});

const release = (image: string, extraArgs: string[]) => {
  const { stack } = newStack();
  const r = new TritonRelease(stack, "r", {
    appName: "r",
    color: "blue",
    version: "v1",
    modelRepository: s3Models,
    image,
    extraArgs,
  });
  return { stack, r };
};

test("on an image of a version in the table, a flag that version lacks is refused, with the nearest it has", () => {
  const m = String(
    (thrownBy(() => release("nvcr.io/nvidia/tritonserver:24.10-py3", ["--log-verbos=1"])) as Error).message,
  );
  expect(m).toContain(
    'extraArgs[0] = "--log-verbos=1" is invalid: expected a flag Triton 2.51.0 (nvcr.io/nvidia/tritonserver:24.10-py3) has: did you mean --log-verbose?',
  );
  expect(m).toContain("tritonserver --help of Triton 2.51.0");
  expect(() => release("nvcr.io/nvidia/tritonserver:24.10-py3", ["--log-verbose=1"])).not.toThrow();
});

test("on an image whose version is not in the table, extraArgs are a synth warning, not a refusal", () => {
  const { r } = release("nvcr.io/nvidia/tritonserver:25.10-py3", ["--log-verbos=1"]);
  const warnings = r.node.metadata.filter((m) => m.type === "@cdktf/warn");
  expect(warnings.map((w) => w.data)).toEqual([
    expect.stringContaining(
      "extraArgs not checked against the image's Triton: no flags table for nvcr.io/nvidia/tritonserver:25.10-py3 (tables: Triton 2.51.0 (NGC 24.10))",
    ),
  ]);
  // Without extraArgs there is nothing to check, and nothing to say.
  const { r: plain } = release("nvcr.io/nvidia/tritonserver:25.10-py3", []);
  expect(plain.node.metadata.filter((m) => m.type === "@cdktf/warn")).toEqual([]);
});
