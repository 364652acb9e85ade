// Files shipped at the package root (charts/, schemas/, protos/), found from this module: one level
// up from lib/ when run from source, two from the compiled dist/lib/. Imports nothing from cdktf, so
// the verifier's runtime half may use it.
import * as fs from "fs";
import * as path from "path";

/** The path of `segments` under the package root; `exists` decides which candidate is the root. */
export function packageFile(segments: readonly string[], exists: (p: string) => boolean = fs.existsSync): string {
  const candidates = [path.resolve(__dirname, "..", ...segments), path.resolve(__dirname, "..", "..", ...segments)];
  return candidates.find(exists) ?? candidates[0];
}
