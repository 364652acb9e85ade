import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

// What two places must agree on is written once: the names and file names in lib/core/names.ts, the
// exit codes in lib/core/exit-codes.ts (what they mean: lib/cli/exit-codes.ts). Anywhere else in
// lib/, the code (comments aside) may not spell them out again.
const lib = path.resolve(__dirname, "..", "lib");
const HOMES = new Set(["core/names.ts", "core/exit-codes.ts"]);

const RULES: readonly { readonly what: string; readonly re: RegExp }[] = [
  { what: "the history ConfigMap's name (core/names.ts historyConfigMap)", re: /-promotions\b/ },
  { what: "the promotion spec's file name (core/names.ts PROMOTION_SPEC_FILE)", re: /promotion\.json/ },
  { what: "a hash computed by hand (core/names.ts contentHash)", re: /\bcreateHash\(/ },
  {
    what: "an exit code as a number (core/exit-codes.ts)",
    re: /process\.exit\(\s*\d|process\.exitCode\s*=\s*\d|setCode\(\s*\d/,
  },
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** The file's code with its comments removed (strings kept). */
function code(file: string): string {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  return ts.createPrinter({ removeComments: true }).printFile(sf);
}

/** Each rule's offending lines, as "file: line". */
function offences(files: readonly string[], text: (f: string) => string): string[] {
  return files.flatMap((f) => {
    const rel = path.relative(lib, f).split(path.sep).join("/");
    if (HOMES.has(rel)) return [];
    return text(f)
      .split("\n")
      .flatMap((line) => RULES.filter((r) => r.re.test(line)).map((r) => `${rel}: ${r.what}: ${line.trim()}`));
  });
}

test("names, file names, hashes and exit codes are spelled out only in their home in core/", () => {
  const files = sources(lib);
  expect(files.length).toBeGreaterThan(100);
  expect(offences(files, code)).toEqual([]);
});

test("the check finds what it looks for", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "names-once-"));
  try {
    const f = path.join(dir, "bad.ts");
    fs.writeFileSync(
      f,
      'const a = `${app}-promotions`;\nconst b = "promotion.json";\nprocess.exit(2);\nprocess.exitCode = 1;\n// promotion.json in a comment is fine\n',
    );
    expect(offences([f], code).length).toBe(4);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
