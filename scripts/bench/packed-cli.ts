// The CLI as a user's project runs it: `npm pack` (whose `prepare` builds dist/), the tarball
// unpacked into bench.out/, its dependencies resolved from this checkout's node_modules. No ts-node:
// the tarball holds no TypeScript, so bin/cdktf-triton.js runs the compiled dist/.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");

/** Packs the package once per run and returns the path of its bin/cdktf-triton.js. */
export function packedCli(): string {
  const out = path.join(ROOT, "bench.out", "packed");
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const tarball = execFileSync("npm", ["pack", "--pack-destination", out, "--silent"], { cwd: ROOT, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop()!;
  execFileSync("tar", ["xzf", path.join(out, tarball), "-C", out]);
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(out, "package", "node_modules"));
  const bin = path.join(out, "package", "bin", "cdktf-triton.js");
  if (fs.existsSync(path.join(out, "package", "lib")))
    throw new Error("the packed package holds TypeScript sources: it would run through ts-node");
  return bin;
}
