// Shared by the benchmarks: the median of runs, and writing a table into docs/benchmarks.md between
// `<!-- bench:<name> begin -->` and `<!-- bench:<name> end -->` (a new section when it is not there).
import * as fs from "fs";
import * as path from "path";

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function writeBenchmarkBlock(name: string, heading: string, lines: readonly string[]): void {
  const doc = path.resolve(__dirname, "..", "..", "docs", "benchmarks.md");
  const text = fs.readFileSync(doc, "utf8");
  const begin = `<!-- bench:${name} begin -->`;
  const end = `<!-- bench:${name} end -->`;
  const block = `${begin}\n${lines.join("\n")}\n${end}`;
  fs.writeFileSync(
    doc,
    text.includes(begin)
      ? text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), block)
      : `${text.trimEnd()}\n\n## ${heading}\n\n${block}\n`,
  );
  console.log(`\nwritten to ${path.relative(process.cwd(), doc)}`);
}
