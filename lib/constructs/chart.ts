import * as fs from "fs";
import * as path from "path";
import { AssetType, TerraformAsset, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { packageFile } from "../core/package-file";

/** The charts bundled with this package. */
export type BundledChart = "triton" | "gateway-route" | "rules";

/**
 * A bundled chart's folder: `charts/<name>` at the package root, one level up from `lib/` when run
 * from source, two from the compiled `dist/lib/`.
 */
export function chartDir(name: BundledChart): string {
  return packageFile(["charts", name], (dir) => fs.existsSync(path.join(dir, "Chart.yaml")));
}

export const TRITON_CHART_DIR = chartDir("triton");

/**
 * A bundled chart as a TerraformAsset, one per stack however many releases use it. Synth copies
 * it into the stack's output and references it by a relative `assets/...` path, so the output is
 * self-contained and holds no path of the machine that ran synth.
 */
export function chartAsset(scope: Construct, name: BundledChart): TerraformAsset {
  const stack = TerraformStack.of(scope);
  const id = name === "triton" ? "cdktf-triton-chart" : `cdktf-triton-${name}-chart`;
  const existing = stack.node.tryFindChild(id);
  if (existing) return existing as TerraformAsset;
  return new TerraformAsset(stack, id, { path: chartDir(name), type: AssetType.DIRECTORY });
}

/** The Triton chart's asset. */
export function tritonChartAsset(scope: Construct): TerraformAsset {
  return chartAsset(scope, "triton");
}
