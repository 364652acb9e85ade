import * as fs from "fs";
import * as path from "path";
import { Testing } from "cdktf";
import { releaseByName, serviceByName } from "./helpers";

// The README's "compose it in your own stack" block is real code: written out, compiled by ts-jest
// (type errors fail the test) and synthesized.
const readme = fs.readFileSync(path.resolve(__dirname, "..", "README.md"), "utf8");
const match = /<!-- readme-example:[^>]*-->\s*```ts\n([\s\S]*?)```/.exec(readme);

describe("the README example", () => {
  test("is present", () => {
    expect(match).not.toBeNull();
  });

  test("compiles and synthesizes the stack it describes", () => {
    const file = path.resolve(__dirname, ".tmp", "readme-example.ts");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, match![1]);
    let InferenceStack: any;
    try {
      ({ InferenceStack } = require(file));
    } catch (e) {
      throw new Error(`README example failed to compile or load: ${String((e as Error)?.message ?? e)}`, { cause: e });
    }

    const app = Testing.app();
    const stack = new InferenceStack(app, "inference");
    const json = JSON.parse(Testing.synth(stack));
    expect(serviceByName(json, "fraud").spec.selector.color).toBe("${var.active}");
    expect(releaseByName(json, "fraud-green").namespace).toBe("ml");
    expect(json.terraform.backend.local.path).toBe("../../../terraform.inference.tfstate");
  });
});

test("the table of contents links to headings that exist, and lists every section", () => {
  const anchor = (heading: string) =>
    heading
      .trim()
      .toLowerCase()
      .replace(/`/g, "")
      .replace(/[^a-z0-9 _-]/g, "")
      .replace(/ /g, "-");
  const headings = [...readme.matchAll(/^(#{2,4}) (.+)$/gm)].map((m) => ({ level: m[1].length, anchor: anchor(m[2]) }));
  const toc = readme.slice(readme.indexOf("## Contents"), readme.indexOf("## The two commands"));
  const links = [...toc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  expect(links.length).toBeGreaterThan(8);
  expect(links.filter((l) => !headings.some((h) => h.anchor === l))).toEqual([]);
  expect(
    headings.filter((h) => h.level === 2 && h.anchor !== "contents" && !links.includes(h.anchor)).map((h) => h.anchor),
  ).toEqual([]);
});
