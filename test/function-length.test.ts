import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

// Long functions read as a few named steps: none in lib/ runs past this many lines. A function that
// grows past it is split into named steps, not given an exception here.
const LIMIT = 100;

function functionsOf(dir: string): { where: string; lines: number }[] {
  const out: { where: string; lines: number }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...functionsOf(file));
    else if (file.endsWith(".ts")) {
      const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && "body" in node && node.body) {
          const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
          const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
          const name = node.name?.getText(sf) ?? (ts.isConstructorDeclaration(node) ? "constructor" : "(anonymous)");
          out.push({
            where: `${path.relative(path.join(__dirname, ".."), file)}:${first + 1} ${name}`,
            lines: last - first + 1,
          });
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
  }
  return out;
}

test(`no function in lib/ is longer than ${LIMIT} lines`, () => {
  const all = functionsOf(path.join(__dirname, "..", "lib"));
  expect(all.length).toBeGreaterThan(300); // the walk found the code
  expect(all.filter((f) => f.lines > LIMIT).map((f) => `${f.where}: ${f.lines} lines`)).toEqual([]);
});

// A file is one concept a newcomer can hold in mind: none in lib/ runs past this many lines.
const FILE_LIMIT = 500;

test(`no file in lib/ is longer than ${FILE_LIMIT} lines`, () => {
  const files = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
    });
  const all = files(path.join(__dirname, "..", "lib"));
  expect(all.length).toBeGreaterThan(100);
  const long = all
    .map((f) => ({
      f: path.relative(path.join(__dirname, ".."), f),
      lines: fs.readFileSync(f, "utf8").split("\n").length,
    }))
    .filter((x) => x.lines > FILE_LIMIT)
    .map((x) => `${x.f}: ${x.lines} lines`);
  expect(long).toEqual([]);
});
