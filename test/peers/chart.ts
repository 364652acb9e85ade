// Renders the bundled Triton chart with the real helm CLI (built by scripts/setup-tools.sh), with
// exactly the values a TritonRelease hands to helm_release.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { TritonRelease, TritonReleaseProps } from "../../lib";
import { newStack, s3Models } from "../helpers";
import { BundledChart, chartDir } from "../../lib/constructs/chart";

export const helm = process.env.HELM_BIN ?? path.resolve(__dirname, "..", "..", ".tools", "bin", "helm");

/** The rendered objects by kind (the last of each kind). */
export function render(props: Partial<TritonReleaseProps> = {}): Record<string, any> {
  const { stack } = newStack();
  const release = new TritonRelease(stack, "r", {
    appName: "classifier",
    color: "green",
    version: "v7",
    modelRepository: s3Models,
    ...props,
  });
  return renderChart("triton", release.values, release.props.releaseName, [
    "--set",
    `replicas=${release.props.replicas}`,
  ]);
}

/** `helm template` of a bundled chart with these values: the objects by kind (the last of each kind). */
export function renderChart(
  chart: BundledChart,
  values: object,
  name = "x",
  extra: readonly string[] = [],
): Record<string, any> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chart-values-"));
  const valuesFile = path.join(dir, "values.json");
  fs.writeFileSync(valuesFile, JSON.stringify(values));
  try {
    const out = execFileSync(
      helm,
      ["template", name, chartDir(chart), "--namespace", "serving", "-f", valuesFile, ...extra],
      { encoding: "utf8" },
    );
    const byKind: Record<string, any> = {};
    for (const doc of parseAllDocuments(out)) {
      const obj = doc.toJSON();
      if (obj) byKind[obj.kind] = obj;
    }
    return byKind;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
