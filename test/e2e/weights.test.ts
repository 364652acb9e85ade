import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EnvoyFiles } from "../../lib/constructs/traffic/envoy-model";
import { validateEnvoy } from "../peers/envoy";
import { engines, EngineStack, synthesize, unavailable } from "./engine";
import { weightsStack } from "./weights-stack";

// Weights from Terraform variables: a pipeline runs `plan -var canary=25`. The weights are known
// only at plan, so the sum rule is the ConfigMap's precondition, evaluated by the real engine; the
// planned ConfigMap, with the values Terraform put in, is checked by the real Envoy.
const why = unavailable();
const cases = why ? [{ name: `(skipped: ${why})`, bin: "" }] : engines();
const describeE2e = why ? describe.skip.each(cases) : describe.each(cases);

describeE2e("weights as Terraform variables, planned by $name", ({ bin }) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-weights-"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  let stack: EngineStack;

  beforeAll(async () => {
    stack = synthesize(work, "weights", weightsStack, bin);
    await stack.ok("init", "-input=false");
  }, 300_000);

  /** The planned ConfigMap's files of one WeightedService, as the engine interpolated them. */
  const plannedFiles = (json: any, name: string): EnvoyFiles =>
    json.resource_changes.find(
      (rc: any) => rc.type === "kubernetes_config_map_v1" && rc.change.after.metadata[0].name === name,
    ).change.after.data;
  const weights = (files: EnvoyFiles) =>
    [...files["rds-0.yaml"].matchAll(/name: (\w+)-http\n\s+weight: (\d+)/g)].map((m) => [m[1], Number(m[2])]);

  const refused = async (stable: number, canary: number) => {
    const r = await stack.tofu(
      "plan",
      "-input=false",
      "-no-color",
      "-var",
      `stable=${stable}`,
      "-var",
      `canary=${canary}`,
    );
    expect(r.code).toBe(1);
    return r.out.slice(r.out.indexOf("Error:")).replace(/[│╵╷\s]+/g, " ");
  };

  test("weights that do not sum to 100, or one outside 0 to 100, are refused at plan, naming the construct path, the field and the values", async () => {
    const error = await refused(80, 30);
    expect(error).toContain("Resource precondition failed");
    const message = (path: string, values: string) =>
      `${path}: routes[0].backends: the weightPercent values are ${values}: each must be a whole number from 0 to 100 and they must sum to 100.`;
    expect(error).toContain(message("weights/split", "80, 30 (sum 110)"));
    expect(error).toContain(message("weights/route", "80, 30 (sum 110)")); // the GatewayRoute
    expect(error).not.toContain("weights/complement"); // 100 - canary and canary: the sum cannot be wrong
    // A sum of 100 with a negative weight, or a fraction (Envoy would refuse the file): refused too, the complement's included.
    const negative = await refused(-20, 120);
    expect(negative).toContain(message("weights/split", "-20, 120 (sum 100)"));
    expect(negative).toContain(message("weights/complement", "-20, 120 (sum 100)"));
    expect(await refused(97.5, 2.5)).toContain(message("weights/complement", "97.5, 2.5 (sum 100)"));
  }, 300_000);

  test("weights that sum to 100 plan, land in the ConfigMap as given, and Envoy accepts the file, a weight of 0 included", async () => {
    for (const [stable, canary] of [
      [75, 25],
      [100, 0],
    ]) {
      const { json, code, out } = await stack.plan({ stable: String(stable), canary: String(canary) });
      expect([code, out.slice(-2000)]).toEqual([2, expect.anything()]);
      for (const name of ["split", "complement"]) {
        const files = plannedFiles(json, name);
        expect(weights(files)).toEqual([
          ["blue", stable],
          ["green", canary],
        ]);
        const checked = validateEnvoy(files);
        expect([name, stable, canary, checked.ok, checked.ok ? "" : checked.log]).toEqual([
          name,
          stable,
          canary,
          true,
          "",
        ]);
      }
      // The HTTPRoute's weights are numbers in the Helm values, as the CRD wants them.
      const release = json.resource_changes.find((rc: any) => rc.type === "helm_release").change.after;
      expect(JSON.parse(release.values[0]).spec.rules[0].backendRefs.map((b: any) => [b.name, b.weight])).toEqual([
        ["blue", stable],
        ["green", canary],
      ]);
    }
  }, 300_000);
});
