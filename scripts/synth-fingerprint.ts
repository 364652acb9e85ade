// Synthesizes the example stack and every e2e stack into a fixed folder and prints one sha256 per
// synthesized file (cdk.tf.json and its assets), sorted by path. A refactor that should not change
// what we emit keeps this output byte-identical: run it before and after and diff the two.
//   npx ts-node --transpile-only scripts/synth-fingerprint.ts > before.txt
// Nothing here needs a cluster, an engine or a running server: the stacks only synthesize. The e2e
// stacks hold this checkout's paths (the test kubeconfig, the CLI): compare runs of one checkout.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { ExampleStack } from "../stacks/example-stack";
import { BlueGreenE2eStack } from "../test/e2e/bluegreen-stack";
import { pinMirroredProviders } from "../test/e2e/engine";
import { GatewayRig } from "../test/e2e/gateway-fixture";
import { modelStack } from "../test/e2e/model-fixture";
import { Colors, promoteStack, TEST_ANALYSIS, TEST_STEPS } from "../test/e2e/promote-fixture";
import { weightsStack } from "../test/e2e/weights-stack";
import { RunningTriton } from "../test/peers/triton";

process.env.CHECKPOINT_DISABLE = "1";
const out = path.join(process.env.FINGERPRINT_DIR ?? "/tmp/cdktf-triton-fingerprint");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

/** A Triton that only names its ports: the promote stack reaches each color on loopback. */
const triton = (http: number, grpc: number) =>
  ({ ports: { http, grpc, metrics: http + 2 } }) as unknown as RunningTriton;
const colors: Colors = {
  blue: { version: "v1", triton: triton(18000, 18001) },
  green: { version: "v2", triton: triton(28000, 28001) },
};

const stacks: Record<string, (app: App, id: string) => TerraformStack> = {
  // `npm start`
  "triton-example": (app, id) => new ExampleStack(app, id),
  // test/e2e/example-app.ts: the same stack, providers pinned to the mirror
  "triton-example-pinned": (app, id) => {
    const s = new ExampleStack(app, id);
    pinMirroredProviders(s);
    return s;
  },
  bluegreen: (app, id) => new BlueGreenE2eStack(app, id, path.join(out, "work-bluegreen"), "e2e-bluegreen-opentofu"),
  promote: (app, id) =>
    promoteStack(app, id, path.join(out, "work-promote"), "e2e-promote", { http: 19000, grpc: 19001 }, colors, {
      steps: TEST_STEPS,
      analysis: TEST_ANALYSIS,
    }),
  weights: weightsStack,
  model: (app, id) =>
    modelStack(
      app,
      id,
      path.join(out, "work-model"),
      "e2e-model",
      { steps: TEST_STEPS },
      { http: 19100, grpc: 19101 },
      { blue: { http: 18100, grpc: 18101 }, green: { http: 28100, grpc: 28101 } },
    ),
  gateway: (app, id) => {
    const rig = new GatewayRig(path.join(out, "work-gateway"), "e2e-gateway");
    // The colors the rig's start() would record; build() reads only their versions.
    Object.assign((rig as unknown as { colors: Colors }).colors, colors);
    return rig.build(app, id);
  },
};

for (const [id, build] of Object.entries(stacks)) {
  const app = new App({ outdir: path.join(out, id) });
  const stack = build(app, id);
  if (id !== "triton-example" && id !== "triton-example-pinned") pinMirroredProviders(stack);
  app.synth();
}

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
for (const f of files(out).sort()) {
  const hash = crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
  console.log(`${hash}  ${path.relative(out, f)}`);
}
console.error(`synth-fingerprint: ${Object.keys(stacks).length} stacks synthesized into ${out}`);
