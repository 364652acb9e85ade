import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Color, StandbyMode, TritonBlueGreen, TritonCanary } from "../lib";
import { colorProps, newStack, releaseByName, resourcesOf, serviceByName, synthJson } from "./helpers";

// The replica rule and the preview selector have two forms: numbers when `active`/`standby` are
// literals, Terraform expressions when they are variables. A real engine (OpenTofu or Terraform,
// whichever is on PATH) evaluates the expressions for every choice, and they must equal the literal
// form. Skipped, saying so in the name, where neither binary exists.
// Every engine on PATH (OpenTofu from scripts/setup-tools.sh; Terraform where the machine has it).
const engines = ["tofu", "terraform"].filter((bin) => spawnSync(bin, ["version"], { stdio: "ignore" }).status === 0);
const cases = engines.length
  ? engines.map((e) => [`with ${e}`, e])
  : [["(skipped: neither tofu nor terraform on PATH)", undefined]];
const describeEngine = engines.length ? describe.each(cases) : describe.skip.each(cases);

function pair(active: Color | "var", standby: StandbyMode | "var") {
  const { stack } = newStack();
  new TritonBlueGreen(stack, "m", {
    blue: colorProps({ replicas: 4 }),
    green: colorProps({ replicas: 2 }),
    // Given only where it can matter: a literal "warm" or "scaled-down" standby refuses it.
    ...(standby === "preview" || standby === "var" ? { previewReplicas: 3 } : {}),
    active: active === "var" ? TritonBlueGreen.activeVariable(stack) : active,
    standby: standby === "var" ? TritonBlueGreen.standbyVariable(stack) : standby,
  });
  const json = synthJson(stack);
  return {
    variable: json.variable,
    locals: json.locals as Record<string, string>,
    observed: {
      blue: releaseByName(json, "m-blue").set[0].value,
      green: releaseByName(json, "m-green").set[0].value,
      active: serviceByName(json, "m").spec.selector.color,
      preview: serviceByName(json, "m-preview").spec.selector.color,
    },
  };
}

/**
 * The pair's locals, with the ones that read the cluster or the releases (known only to a plan)
 * replaced by given values: which color serves now, and each color's fingerprint.
 */
function stubbedLocals(locals: Record<string, string>, serving: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(locals)) {
    const stub = /_serving-color_/.test(name)
      ? serving
      : /_serving-fingerprint_/.test(name)
        ? ""
        : /_fingerprint-(blue|green)_/.exec(name)?.[1];
    if (stub === undefined) throw new Error(`no stub for local ${name}`);
    out[name] = name.includes("_fingerprint-") ? `fp-${stub}` : stub;
  }
  return out;
}

describeEngine("Terraform expressions of the blue/green rule %s", (_title, engine) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "triton-expr-"));
  const env = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    TF_CLI_CONFIG_FILE: path.join(dir, "none.tfrc"),
    TF_IN_AUTOMATION: "1",
  };
  fs.writeFileSync(env.TF_CLI_CONFIG_FILE, "");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The rule of a pair, evaluated by the engine with these variables and this color serving now. */
  const evaluate = (form: ReturnType<typeof pair>, serving: string, args: string[] = []) => {
    fs.writeFileSync(
      path.join(dir, "main.tf.json"),
      JSON.stringify({
        variable: form.variable,
        locals: { ...stubbedLocals(form.locals, serving), rule: form.observed },
      }),
    );
    const rule = JSON.parse(
      JSON.parse(
        execFileSync(engine!, ["console", ...args], {
          cwd: dir,
          env,
          input: "jsonencode(local.rule)\n",
          encoding: "utf8",
        }).trim(),
      ),
    );
    return { ...rule, blue: Number(rule.blue), green: Number(rule.green) };
  };

  const combos: [Color, StandbyMode, string][] = [];
  for (const a of ["blue", "green"] as const)
    for (const s of ["preview", "warm", "scaled-down"] as const)
      for (const serving of ["", "blue", "green"]) combos.push([a, s, serving]);

  test.each(combos)(
    "-var active=%s -var standby=%s, serving now %p: gives what the literal props give",
    (active, standby, serving) => {
      const literal = evaluate(pair(active, standby), serving);
      const evaluated = evaluate(pair("var", "var"), serving, [
        "-var",
        `active=${active}`,
        "-var",
        `standby=${standby}`,
      ]);
      expect(evaluated).toEqual(literal);
      // the rule itself: full replicas (blue 4, green 2) while active or still serving, else the standby's size
      const standbySize = {
        blue: { preview: 3, warm: 4, "scaled-down": 0 },
        green: { preview: 2, warm: 2, "scaled-down": 0 },
      };
      for (const [color, full] of [
        ["blue", 4],
        ["green", 2],
      ] as const) {
        expect(evaluated[color]).toBe(color === active || color === serving ? full : standbySize[color][standby]);
      }
      expect(evaluated.active).toBe(active);
    },
  );

  test("the variable's validation refuses a color that would select no pods, at plan", () => {
    // (plan, as a pipeline runs it: `console` reports the error but OpenTofu's exits 0.)
    evaluate(pair("var", "var"), "");
    expect(spawnSync(engine!, ["init", "-input=false"], { cwd: dir, env, encoding: "utf8" }).status).toBe(0);
    const run = spawnSync(engine!, ["plan", "-input=false", "-var", "active=gren"], {
      cwd: dir,
      env,
      encoding: "utf8",
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("Invalid value for variable");
    expect(run.stderr).toContain('The active variable must be one of "blue", "green".');
  });
});

/** A pair whose standby's capacity follows a canary's weight (blue serves 8 pods; green is the candidate). */
function followingPair(standby: StandbyMode | "var", surge: number) {
  const { stack } = newStack();
  const canaryPercent = TritonCanary.percentVariable(stack, "fraud_canary");
  const pair = new TritonBlueGreen(stack, "m", {
    blue: colorProps({ replicas: 8 }),
    green: colorProps({ replicas: 8 }),
    ...(standby === "preview" || standby === "var" ? { previewReplicas: 2 } : {}),
    active: TritonBlueGreen.activeVariable(stack),
    standby: standby === "var" ? TritonBlueGreen.standbyVariable(stack) : standby,
    followCanary: { canaryPercent, surge },
  });
  new TritonCanary(stack, "canary", { pair, canaryPercent });
  const json = synthJson(stack);
  return {
    variable: json.variable,
    locals: json.locals as Record<string, string>,
    observed: { blue: releaseByName(json, "m-blue").set[0].value, green: releaseByName(json, "m-green").set[0].value },
  };
}

describeEngine("capacity that follows the canary's weight, evaluated %s", (_title, engine) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "triton-follow-expr-"));
  const env = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    TF_CLI_CONFIG_FILE: path.join(dir, "none.tfrc"),
    TF_IN_AUTOMATION: "1",
  };
  fs.writeFileSync(env.TF_CLI_CONFIG_FILE, "");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const replicas = (form: ReturnType<typeof followingPair>, vars: Record<string, string>) => {
    const locals = Object.fromEntries(
      Object.entries(
        stubbedLocals(Object.fromEntries(Object.entries(form.locals).filter(([k]) => !k.includes("weight-"))), "blue"),
      ),
    );
    fs.writeFileSync(
      path.join(dir, "main.tf.json"),
      JSON.stringify({ variable: form.variable, locals: { ...locals, rule: form.observed } }),
    );
    const args = Object.entries(vars).flatMap(([k, v]) => ["-var", `${k}=${v}`]);
    const rule = JSON.parse(
      JSON.parse(
        execFileSync(engine!, ["console", ...args], {
          cwd: dir,
          env,
          input: "jsonencode(local.rule)\n",
          encoding: "utf8",
        }).trim(),
      ),
    );
    return { blue: Number(rule.blue), green: Number(rule.green) };
  };

  test.each([
    // weight: ceil(w x 8 / 100) + surge 1, at least the preview's 2, at most 8
    [0, 2],
    [5, 2],
    [25, 3],
    [50, 5],
    [90, 8],
    [100, 8],
  ])(
    "the candidate at %p %% runs %p pods (preview standby, surge 1); the color that serves keeps its 8",
    (weight, pods) => {
      expect(replicas(followingPair("preview", 1), { active: "blue", fraud_canary: String(weight) })).toEqual({
        blue: 8,
        green: pods,
      });
    },
  );

  test("with a standby variable: warm stays full, scaled-down follows the weight from 0", () => {
    const form = followingPair("var", 0);
    expect(replicas(form, { active: "blue", standby: "warm", fraud_canary: "5" })).toEqual({ blue: 8, green: 8 });
    expect(replicas(form, { active: "blue", standby: "scaled-down", fraud_canary: "0" })).toEqual({
      blue: 8,
      green: 0,
    });
    expect(replicas(form, { active: "blue", standby: "scaled-down", fraud_canary: "25" })).toEqual({
      blue: 8,
      green: 2,
    });
    // the switch: green active at canary 0 runs its 8; blue still serves at plan, so it keeps its 8
    expect(replicas(form, { active: "green", standby: "scaled-down", fraud_canary: "0" })).toEqual({
      blue: 8,
      green: 8,
    });
  });
});

/** The gate's command for a pair whose `active` is a literal or a variable, with port-forward or URL access. */
function gateCommand(
  active: Color | "var",
  access: "port-forward" | "urls",
): { variable: unknown; locals: Record<string, string>; command: string } {
  const { stack } = newStack();
  new TritonBlueGreen(stack, "m", {
    blue: colorProps(),
    green: colorProps(),
    active: active === "var" ? TritonBlueGreen.activeVariable(stack) : active,
    verify: {
      spec: { models: [{ name: "classifier" }] },
      access: access === "urls" ? { blue: "http://blue.example:8000", green: "http://green.example:8000" } : undefined,
      compareWithBaseline: true,
    },
  });
  const json = synthJson(stack);
  return {
    variable: json.variable,
    locals: json.locals,
    command: resourcesOf(json, "terraform_data")[0].provisioner[0]["local-exec"].command,
  };
}

/** The candidate and the baseline a gate command names, as the shell passes them (quotes removed). */
function targetsOf(command: string): { candidate: string; baseline: string } {
  const arg = (flag: string) =>
    new RegExp(`(?:^| )--${flag} ('[^']*'|\\S+)`).exec(command)?.[1].replace(/^'(.*)'$/, "$1");
  const pf = arg("port-forward");
  if (pf)
    return {
      candidate: /^svc\/(.+):8000$/.exec(pf)![1],
      baseline: /^svc\/(.+):8000$/.exec(arg("baseline-port-forward")!)![1],
    };
  return { candidate: arg("url")!, baseline: arg("baseline-url")! };
}

describeEngine("the gate's candidate and baseline, evaluated %s", (_title, engine) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "triton-gate-expr-"));
  const env = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    TF_CLI_CONFIG_FILE: path.join(dir, "none.tfrc"),
    TF_IN_AUTOMATION: "1",
  };
  fs.writeFileSync(env.TF_CLI_CONFIG_FILE, "");
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const combos: [Color, "port-forward" | "urls"][] = [];
  for (const a of ["blue", "green"] as const)
    for (const access of ["port-forward", "urls"] as const) combos.push([a, access]);

  test.each(combos)(
    "-var active=%s with %s access: the candidate is that color, the baseline the other, as with a literal",
    (active, access) => {
      const { variable, locals, command } = gateCommand("var", access);
      fs.writeFileSync(
        path.join(dir, "main.tf.json"),
        JSON.stringify({ variable, locals: { ...stubbedLocals(locals, "blue"), command } }),
      );
      const evaluated = JSON.parse(
        execFileSync(engine!, ["console", "-var", `active=${active}`], {
          cwd: dir,
          env,
          input: "local.command\n",
          encoding: "utf8",
        }).trim(),
      );
      const other = active === "blue" ? "green" : "blue";
      const expected =
        access === "urls"
          ? { candidate: `http://${active}.example:8000`, baseline: `http://${other}.example:8000` }
          : { candidate: `m-${active}`, baseline: `m-${other}` };
      expect(targetsOf(evaluated)).toEqual(expected);
      expect(targetsOf(gateCommand(active, access).command)).toEqual(expected);
      // the candidate's fingerprint is that color's
      expect(evaluated).toContain(` --fingerprint 'fp-${active}' `);
    },
  );
});
