// Files shipped at the package root (charts/, schemas/, protos/), found from this module: two levels
// up from lib/core/ when run from source, three from the compiled dist/lib/core/. Imports nothing from cdktf, so
// the verifier's runtime half may use it.
import * as fs from "fs";
import * as path from "path";

/** The path of `segments` under the package root; `exists` decides which candidate is the root. */
export function packageFile(segments: readonly string[], exists: (p: string) => boolean = fs.existsSync): string {
  const candidates = [
    path.resolve(__dirname, "..", "..", ...segments),
    path.resolve(__dirname, "..", "..", "..", ...segments),
  ];
  return candidates.find(exists) ?? candidates[0];
}
