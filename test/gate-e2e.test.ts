import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { GateTarget, VerificationGate } from "../lib";
import { TerraformData } from "../lib/constructs/terraform-data";
import { RunningServer, startMlserver } from "./peers/servers";
import { setosaSpec } from "./peers/iris";

// End to end with a real engine: a stack with the verification gate and a "switch" that depends on
// it, applied by OpenTofu or Terraform (whichever is on PATH), the verifier talking to a real
// MLServer. A failing verification leaves the switch where it was; a passing one moves it.
// Every engine on PATH (OpenTofu from scripts/setup-tools.sh; Terraform where the machine has it).
const engines = ["tofu", "terraform"].filter((bin) => spawnSync(bin, ["version"], { stdio: "ignore" }).status === 0);
const cases = engines.length
  ? engines.map((e) => [`with ${e}`, e])
  : [["(skipped: neither tofu nor terraform on PATH)", undefined]];
const describeEngine = engines.length ? describe.each(cases) : describe.skip.each(cases);
const bin = path.resolve(__dirname, "..", "bin", "cdktf-triton.js");

describeEngine("the verification gate in a real apply %s", (_title, engine) => {
  let server: RunningServer;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-gate-"));
  const outdir = path.join(work, "out");
  const stackDir = path.join(outdir, "stacks", "gate");
  const env = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
    TF_CLI_CONFIG_FILE: path.join(work, "none.tfrc"),
  };
  fs.writeFileSync(env.TF_CLI_CONFIG_FILE, "");

  beforeAll(async () => {
    server = await startMlserver();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Synthesizes the stack with a spec that passes (setosa is class 0) or fails. */
  function synth(passing: boolean): void {
    const app = new App({ outdir });
    const stack = new TerraformStack(app, "gate");
    new LocalBackend(stack, { path: path.join(work, "terraform.tfstate") });
    const color = new TerraformVariable(stack, "color", { type: "string", default: "blue" });
    const gate = new VerificationGate(stack, "gate", {
      spec: setosaSpec(passing ? 0 : 2),
      target: GateTarget.url(server.url),
      triggers: { color: color.stringValue },
      command: `${process.execPath} ${bin}`,
    });
    const serving = new TerraformData(stack, "switch", { input: color.stringValue }, { dependsOn: [gate.resource] });
    new TerraformOutput(stack, "serving", { value: serving.output });
    app.synth();
  }

  function tf(...args: string[]) {
    const r = spawnSync(engine!, args, { cwd: stackDir, env, encoding: "utf8", timeout: 180_000 });
    return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
  }
  const serving = () => JSON.parse(tf("output", "-json", "serving").out.trim().split("\n")[0]);

  test("init works offline: the stack needs no provider download", () => {
    synth(true);
    const init = tf("init", "-input=false");
    expect(init.out).toMatch(/initialized/i);
    expect(init.code).toBe(0);
  });

  test("a passing verification lets the switch take its first color", () => {
    const apply = tf("apply", "-auto-approve", "-input=false", "-var", "color=blue");
    expect(apply.out).toContain("PASS: the candidate may take traffic");
    expect(apply.code).toBe(0);
    expect(serving()).toBe("blue");
  });

  test("a failing verification fails the apply and leaves the switch on blue", () => {
    synth(false);
    const apply = tf("apply", "-auto-approve", "-input=false", "-var", "color=green");
    expect(apply.code).not.toBe(0);
    expect(apply.out).toContain("FAIL  model iris golden setosa");
    expect(serving()).toBe("blue");
    const show = tf("state", "show", "terraform_data.switch");
    expect(show.out).toMatch(/input\s+=\s+"blue"/);
  });

  test("a passing verification then moves the switch to green", () => {
    synth(true);
    const apply = tf("apply", "-auto-approve", "-input=false", "-var", "color=green");
    expect(apply.code).toBe(0);
    expect(serving()).toBe("green");
  });

  test("nothing changed: the gate does not run again and the plan is empty", () => {
    const plan = tf("plan", "-detailed-exitcode", "-input=false", "-var", "color=green");
    expect(plan.code).toBe(0);
  });
});
