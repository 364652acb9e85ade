import * as fs from "fs";
import * as path from "path";
import { AssetType, TerraformAsset, TerraformStack } from "cdktf";
import { Construct } from "constructs";

/**
 * The bundled Triton chart's folder inside this package: `charts/triton` at the package root, one
 * level up from `lib/` when run from source, two from the compiled `dist/lib/`.
 */
export const TRITON_CHART_DIR =
  [path.resolve(__dirname, "..", "charts", "triton"), path.resolve(__dirname, "..", "..", "charts", "triton")].find((dir) =>
    fs.existsSync(path.join(dir, "Chart.yaml")),
  ) ?? path.resolve(__dirname, "..", "charts", "triton");

const ASSET_ID = "cdktf-triton-chart";

/**
 * The bundled chart as a TerraformAsset, one per stack however many releases use it. Synth copies
 * it into the stack's output and references it by a relative `assets/...` path, so the output is
 * self-contained and holds no path of the machine that ran synth.
 */
export function tritonChartAsset(scope: Construct): TerraformAsset {
  const stack = TerraformStack.of(scope);
  const existing = stack.node.tryFindChild(ASSET_ID);
  if (existing) return existing as TerraformAsset;
  return new TerraformAsset(stack, ASSET_ID, { path: TRITON_CHART_DIR, type: AssetType.DIRECTORY });
}
