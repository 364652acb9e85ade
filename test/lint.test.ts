import { spawnSync } from "child_process";
import * as path from "path";

// The linter and the formatter are tests: `npm test` fails on code ESLint refuses or Prettier would
// change. `npm run format` fixes the formatting; eslint.config.mjs says which rules hold and why.
const root = path.resolve(__dirname, "..");
const FILES = "{lib,test,scripts,stacks,bin}/**/*.{ts,js,mjs}";
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);

function run(command: string, args: string[]): { code: number | null; output: string } {
  const r = spawnSync(command, args, { cwd: root, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

// Generous deadlines that say "it hung": both take seconds.
test("ESLint finds nothing in lib/, test/, scripts/, stacks/ and bin/", () => {
  const r = run(bin("eslint"), ["--max-warnings", "0", "lib", "test", "scripts", "stacks", "bin"]);
  expect(r.output.trim()).toBe("");
  expect(r.code).toBe(0);
}, 300_000);

test("Prettier would change nothing (npm run format)", () => {
  const r = run(bin("prettier"), ["--check", "--log-level", "warn", FILES, "eslint.config.mjs"]);
  expect(r.output.trim()).toBe("");
  expect(r.code).toBe(0);
}, 300_000);
