import * as fs from "fs";
import * as path from "path";

/** The interpreter of a venv that scripts/setup-tools.sh builds (`mlserver` or `kserve`). */
export function python(venv: "mlserver" | "kserve"): string {
  const bin = path.resolve(__dirname, "..", "..", ".tools", `venv-${venv}`, "bin", "python");
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/setup-tools.sh (npm test does)`);
  return bin;
}
