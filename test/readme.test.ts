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

const root = path.resolve(__dirname, "..");
const docs = fs
  .readdirSync(path.join(root, "docs"))
  .filter((f) => f.endsWith(".md"))
  .map((f) => path.join("docs", f));
const pages = ["README.md", ...docs];

/** GitHub's anchor of a heading. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");

/** A page's headings' anchors (outside code blocks). */
function anchorsOf(page: string): Set<string> {
  const text = fs.readFileSync(path.join(root, page), "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1])));
}

test("the README is a front door: at most 400 lines, and it links every page under docs/", () => {
  const lines = readme.split("\n").length;
  expect(lines).toBeLessThanOrEqual(400);
  expect(docs.length).toBeGreaterThan(6);
  expect(docs.filter((d) => !readme.includes(`](${d})`))).toEqual([]);
});

test("every link of the README and of docs/ reaches a file that exists, and a heading where it names one", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    const text = fs.readFileSync(path.join(root, page), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      checked++;
      const [file, fragment] = target.split("#");
      const to = file ? path.normalize(path.join(path.dirname(page), file)) : page;
      if (!fs.existsSync(path.join(root, to))) broken.push(`${page}: ${target} (no file ${to})`);
      else if (fragment && to.endsWith(".md") && !anchorsOf(to).has(fragment))
        broken.push(`${page}: ${target} (no heading #${fragment} in ${to})`);
    }
  }
  expect(checked).toBeGreaterThan(20);
  expect(broken).toEqual([]);
});

test("docs/operating.md's table of Events names every reason an Event of ours carries", () => {
  const { EVENT_REASONS } = require("../lib/run/kube/events") as typeof import("../lib/run/kube/events");
  const text = fs.readFileSync(path.join(root, "docs", "operating.md"), "utf8");
  const rows = [...text.matchAll(/^\| `(\w+)` \| .+ \|$/gm)].map((m) => m[1]);
  expect(rows.sort()).toEqual(Object.keys(EVENT_REASONS).sort());
});
