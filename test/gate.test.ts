import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { GateRunner, GateTarget, TritonBlueGreen, TritonValidationError, VerificationGate, VerifySpec } from "../lib";
import { colorProps, newStack, resourcesOf, serviceByName, synthJson } from "./helpers";

const spec: VerifySpec = {
  models: [
    {
      name: "classifier",
      golden: [
        {
          name: "g",
          inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
          outputs: [{ name: "y", data: [2] }],
        },
      ],
    },
  ],
};

describe("verification gate in the Terraform graph", () => {
  test("sits between the releases and the switch, verifying the color that is to serve", () => {
    // Given a pair whose active color comes from a variable, with verification
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: "ml",
      blue: colorProps({ version: "v1" }),
      green: colorProps({ version: "v2" }),
      active: TritonBlueGreen.activeVariable(stack),
      verify: { spec, kubeconfig: "~/.kube/config", reportDir: "reports" },
    });
    const json = synthJson(stack);
    const [gate] = resourcesOf(json, "terraform_data");

    // Then the gate waits for both releases, and the switch waits for the gate
    expect(gate.depends_on).toEqual([
      `helm_release.${bg.blue.helmRelease.friendlyUniqueId}`,
      `helm_release.${bg.green.helmRelease.friendlyUniqueId}`,
    ]);
    expect(serviceByName(json, "clf").depends_on).toContain(`terraform_data.${bg.gate!.resource.friendlyUniqueId}`);
    expect(serviceByName(json, "clf-preview").depends_on).toContain(
      `terraform_data.${bg.gate!.resource.friendlyUniqueId}`,
    );

    // And it port-forwards to the active color's own Service, the spec being a file in the synth output
    const exec = gate.provisioner[0]["local-exec"];
    const specPath = /--spec (assets\/\S+\/verify\.json) /.exec(exec.command)![1];
    const fp = bg.fingerprintExpressions;
    const activeFingerprint = `\${var.active == "blue" ? ${fp.blue} : ${fp.green}}`;
    expect(exec.command).toBe(
      `npx --no-install cdktf-triton verify --spec ${specPath} --port-forward svc/clf-\${var.active}:8000 --namespace ml --kubeconfig '~/.kube/config' --json-file reports/verify.json --junit reports/verify.xml --html-dir reports` +
        ` --fingerprint '${activeFingerprint}' --history-configmap ml/clf-promotions --history-app clf --history-color \${var.active} --passed "$CDKTF_TRITON_PASSED" --allow-serving-change "$CDKTF_TRITON_ALLOW_SERVING_CHANGE"`,
    );
    expect(bg.gate!.specAsset.path).toBe(specPath);
    // Values read at plan reach it through the environment, so they never make it run again
    const live = `data.kubernetes_service_v1.${bg.servingNow.friendlyUniqueId}.metadata[0].annotations`;
    expect(exec.environment).toEqual({
      CDKTF_TRITON_PASSED: `\${var.active == "blue" ? try(${live}["cdktf-triton.io/verified-blue"], "") : try(${live}["cdktf-triton.io/verified-green"], "")}`,
      CDKTF_TRITON_ALLOW_SERVING_CHANGE: "${var.allow_serving_change}",
    });

    // And it runs again when the color to serve, its release or the spec changes
    expect(gate.triggers_replace.color).toBe("${var.active}");
    expect(gate.triggers_replace.release).toBe(activeFingerprint);
    expect(gate.triggers_replace.spec).toMatch(/^[0-9a-f]{16}$/);
    // And its creation time (kept by ignore_changes) is when it passed
    expect(gate.input).toBe("${timestamp()}");
    expect(gate.lifecycle).toEqual({ ignore_changes: ["input"] });
  });

  test("a release's fingerprint is its chart and values as Terraform evaluates them: variables in the values count", () => {
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      blue: colorProps(),
      green: colorProps(),
      active: "green",
      verify: { spec },
    });
    const json = synthJson(stack);
    for (const color of ["blue", "green"] as const) {
      const r = `helm_release.${bg.release(color).helmRelease.friendlyUniqueId}`;
      expect(json.locals[bg.fingerprintExpressions[color].replace("local.", "")]).toBe(
        `\${substr(sha256(join("\\n", [${r}.chart, ${r}.values[0]])), 0, 16)}`,
      );
    }
    // a literal active color: the trigger is that color's fingerprint alone
    expect(resourcesOf(json, "terraform_data")[0].triggers_replace.release).toBe(
      `\${${bg.fingerprintExpressions.green}}`,
    );
  });

  test("URL access and a baseline: the other color is the baseline", () => {
    const { stack } = newStack();
    new TritonBlueGreen(stack, "clf", {
      blue: colorProps(),
      green: colorProps(),
      active: "green",
      verify: {
        spec,
        access: { blue: "https://blue.ml.example.com", green: "https://green.ml.example.com" },
        compareWithBaseline: true,
        headersFromEnv: { Authorization: "TRITON_TOKEN" },
      },
    });
    const exec = resourcesOf(synthJson(stack), "terraform_data")[0].provisioner[0]["local-exec"];
    expect(exec.command).toMatch(
      /^npx --no-install cdktf-triton verify --spec assets\/\S+\/verify\.json --url https:\/\/green\.ml\.example\.com --baseline-url https:\/\/blue\.ml\.example\.com --header Authorization=TRITON_TOKEN --fingerprint /,
    );
  });

  test("protocol grpc: the gate port-forwards to each color's gRPC port and passes --protocol grpc", () => {
    const { stack } = newStack();
    new TritonBlueGreen(stack, "clf", {
      blue: colorProps(),
      green: colorProps(),
      active: "green",
      verify: { spec, protocol: "grpc", compareWithBaseline: true },
    });
    const exec = resourcesOf(synthJson(stack), "terraform_data")[0].provisioner[0]["local-exec"];
    expect(exec.command).toMatch(
      / --port-forward svc\/clf-green:8001 --namespace default --baseline-port-forward svc\/clf-blue:8001 --protocol grpc --fingerprint /,
    );
  });

  test("a large golden set travels as a file in the synth output, not on the command line", () => {
    // Given a golden input of 150528 floats (one 3x224x224 image), far past 128 KiB as text
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "gate-spec-"));
    const app = Testing.app({ outdir });
    const stack = new TerraformStack(app, "s");
    const big: VerifySpec = {
      models: [
        {
          name: "m",
          golden: [
            {
              name: "g",
              inputs: [{ name: "x", datatype: "FP32", shape: [1, 3, 224, 224], data: new Array(150528).fill(0) }],
              outputs: [{ name: "y", argmax: true, data: [0] }],
            },
          ],
        },
      ],
    };
    const gate = new VerificationGate(stack, "g", { spec: big, target: GateTarget.url("http://127.0.0.1:8000") });
    app.synth();
    const stackDir = path.join(outdir, "stacks", "s");
    const json = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
    const exec = Object.values<any>(json.resource.terraform_data)[0].provisioner[0]["local-exec"];
    expect(exec.command.length).toBeLessThan(500);
    expect(exec.environment).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(path.join(stackDir, gate.specAsset.path), "utf8"))).toEqual(big);
    fs.rmSync(outdir, { recursive: true, force: true });
  });

  test("no secret reaches the plan: header values stay in the environment of apply", () => {
    const { stack } = newStack();
    new VerificationGate(stack, "g", {
      spec,
      target: GateTarget.url("http://127.0.0.1:8000"),
      headersFromEnv: { Authorization: "TRITON_TOKEN" },
    });
    const text = JSON.stringify(synthJson(stack));
    expect(text).toContain("TRITON_TOKEN");
    expect(text).not.toMatch(/Bearer/);
  });

  test.each([
    [
      "a bad spec",
      { spec: { models: [] } as unknown as VerifySpec, target: GateTarget.url("http://x:8000") },
      "spec.models = [] is invalid: expected a non-empty list of models",
    ],
    [
      "credentials in the URL",
      { spec, target: GateTarget.url("http://u:p@x:8000") },
      'target = "http://u:p@x:8000" is invalid: expected an http(s) URL without credentials',
    ],
    [
      "a bad Service name",
      { spec, target: GateTarget.portForward({ service: "Bad_Name" }) },
      'target.service = "Bad_Name" is invalid: expected a Service name',
    ],
    [
      "a bad port",
      { spec, target: GateTarget.portForward({ service: "svc", port: 70000 }) },
      "target.port = 70000 is invalid: expected an integer from 1 to 65535",
    ],
    [
      "an unknown protocol",
      { spec, target: GateTarget.url("http://x:8000"), protocol: "thrift" },
      'protocol = "thrift" is invalid: expected one of',
    ],
    [
      "a bad header env var",
      { spec, target: GateTarget.url("http://x:8000"), headersFromEnv: { Authorization: "not-a-var" } },
      'headersFromEnv["Authorization"] = "not-a-var" is invalid',
    ],
  ])("fails at synth on %s, naming the field", (_name, props, message) => {
    const { stack } = newStack();
    let error: unknown;
    try {
      new VerificationGate(stack, "g", props as any);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TritonValidationError);
    expect((error as Error).message).toContain("Invalid props for test/g:");
    expect((error as Error).message).toContain(message);
  });
});

describe("after the switch, the guard and the break glass, in the Terraform graph", () => {
  test("verify.afterSwitch: a second gate through the active Service, after both selectors, that switches back to what served at plan", () => {
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: "ml",
      blue: colorProps(),
      green: colorProps(),
      active: TritonBlueGreen.activeVariable(stack),
      verify: { spec, kubeconfig: "/etc/kube/config", afterSwitch: { spec } },
    });
    const json = synthJson(stack);
    const after = resourcesOf(json, "terraform_data").find((r: any) =>
      r.provisioner[0]["local-exec"].command.includes("--switch-back"),
    );
    expect(after.depends_on).toEqual([
      `kubernetes_service_v1.${bg.activeService.friendlyUniqueId}`,
      `kubernetes_service_v1.${bg.previewService.friendlyUniqueId}`,
    ]);
    const exec = after.provisioner[0]["local-exec"];
    expect(exec.command).toContain(" --port-forward svc/clf:8000 --namespace ml --kubeconfig /etc/kube/config ");
    expect(exec.command).toContain(
      ' --switch-back svc/clf,svc/clf-preview --switch-back-from ${var.active} --switch-back-to "$CDKTF_TRITON_SWITCH_BACK_TO" --switch-back-fingerprint "$CDKTF_TRITON_SWITCH_BACK_FINGERPRINT"',
    );
    // what served at plan time travels in the environment: a trigger would re-run it after every switch
    expect(exec.environment).toMatchObject({ CDKTF_TRITON_SWITCH_BACK_TO: `\${${bg.servingColorExpression}}` });
    expect(JSON.stringify(after.triggers_replace)).not.toContain("serving-color");
    expect(after.triggers_replace.color).toBe("${var.active}");
  });

  test("the guard: a precondition per color on the active Service, naming the color, the standby and the break glass", () => {
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", { blue: colorProps(), green: colorProps(), active: "blue" });
    const [blue, green] = serviceByName(synthJson(stack), "clf").lifecycle.precondition;
    const serving = bg.servingColorExpression;
    expect(blue.condition).toMatch(
      new RegExp(
        `^\\$\\{${serving.replace(/\./g, "\\.")} != "blue" \\|\\| local\\.\\S+ == "" \\|\\| local\\.\\S+ == ${bg.fingerprintExpressions.blue.replace(/\./g, "\\.")} \\|\\| var\\.allow_serving_change\\}$`,
      ),
    );
    expect(blue.error_message).toContain("The blue release of clf serves traffic now (Service clf selects color=blue)");
    expect(blue.error_message).toContain("Stage the change on green, the standby color");
    expect(blue.error_message).toContain("set -var allow_serving_change=true (break glass)");
    expect(green.error_message).toContain("Stage the change on blue, the standby color");
  });

  test("the break glass: one bool variable per stack shared by its pairs, or the user's own, or a literal", () => {
    const { stack } = newStack();
    new TritonBlueGreen(stack, "a", { blue: colorProps(), green: colorProps(), active: "blue" });
    new TritonBlueGreen(stack, "b", { blue: colorProps(), green: colorProps(), active: "blue" });
    const mine = new TerraformVariable(stack, "ranker_break_glass", { type: "bool", default: false });
    new TritonBlueGreen(stack, "c", {
      appName: "ranker",
      blue: colorProps(),
      green: colorProps(),
      active: "blue",
      allowServingChange: mine,
    });
    new TritonBlueGreen(stack, "d", {
      appName: "dev",
      blue: colorProps(),
      green: colorProps(),
      active: "blue",
      allowServingChange: true,
    });
    const json = synthJson(stack);
    expect(json.variable.allow_serving_change).toMatchObject({ type: "bool", default: false, nullable: false });
    const glass = (app: string) => serviceByName(json, app).lifecycle.precondition[0].condition.split(" || ").pop();
    expect([glass("a"), glass("b"), glass("ranker"), glass("dev")]).toEqual([
      "var.allow_serving_change}",
      "var.allow_serving_change}",
      "var.ranker_break_glass}",
      "true}",
    ]);
    expect(serviceByName(json, "ranker").lifecycle.precondition[0].error_message).toContain(
      "set -var ranker_break_glass=true (break glass)",
    );
  });

  test("bad props name the field and what is valid", () => {
    const { app, stack } = newStack();
    const other = new TerraformStack(app, "other");
    const make = (props: object) => () =>
      new TritonBlueGreen(stack, `p${Math.random().toString(36).slice(2, 8)}`, {
        blue: colorProps(),
        green: colorProps(),
        active: "blue",
        ...props,
      });
    expect(
      make({ verify: { spec, access: { blue: "http://b:8000", green: "http://g:8000" }, afterSwitch: { spec } } }),
    ).toThrow(
      /verify\.afterSwitch\.url = undefined is invalid: expected the active Service's URL \(required when verify\.access gives URLs\)/,
    );
    expect(make({ allowServingChange: "yes" })).toThrow(
      /allowServingChange = "yes" is invalid: expected true, false or a bool TerraformVariable/,
    );
    expect(make({ allowServingChange: new TerraformVariable(other, "glass", { type: "bool" }) })).toThrow(
      /allowServingChange = "var\.glass" is invalid: expected a TerraformVariable of the same stack/,
    );
    expect(() => Testing.synth(stack)).not.toThrow();
  });
});

describe("the gate in the cluster (GateRunner.cluster)", () => {
  const image = "registry.example.com/cdktf-triton-gate:0.1.0";
  const pair = (verify: object = {}) => {
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: "ml",
      blue: colorProps({ version: "v1" }),
      green: colorProps({ version: "v2" }),
      active: TritonBlueGreen.activeVariable(stack),
      verify: {
        spec,
        runIn: GateRunner.cluster({ image, secretEnv: { TRITON_TOKEN: { secretName: "triton-auth", key: "token" } } }),
        headersFromEnv: { Authorization: "TRITON_TOKEN" },
        ...verify,
      },
    });
    return { bg, json: synthJson(stack) };
  };

  test("a Job the switch waits for: the spec in a ConfigMap, the candidate by its Service's DNS name, values read at plan in its env, a new Job per trigger", () => {
    const { bg, json } = pair();
    const [job] = resourcesOf(json, "kubernetes_job_v1");
    expect(job.metadata).toMatchObject({ generate_name: "clf-verify-", namespace: "ml" });
    expect([job.wait_for_completion, job.spec.backoff_limit, job.timeouts.create]).toEqual([true, 0, "900s"]);
    const pod = job.spec.template.spec;
    expect([pod.service_account_name, pod.restart_policy, pod.container[0].image]).toEqual([
      "clf-verify",
      "Never",
      image,
    ]);
    const args: string[] = pod.container[0].args;
    expect(args.slice(0, 5)).toEqual([
      "verify",
      "--spec",
      "/etc/cdktf-triton/verify.json",
      "--url",
      "http://clf-${var.active}.ml.svc.cluster.local:8000",
    ]);
    // An earlier pass and the break glass come through the env, never as triggers of a new Job.
    expect(args).toEqual(
      expect.arrayContaining(["--passed", "$(CDKTF_TRITON_PASSED)", "--header", "Authorization=TRITON_TOKEN"]),
    );
    expect(pod.container[0].env.map((e: any) => e.name)).toEqual([
      "HOME",
      "CDKTF_TRITON_PASSED",
      "CDKTF_TRITON_ALLOW_SERVING_CHANGE",
      "TRITON_TOKEN",
    ]);
    expect(pod.container[0].env[3].value_from.secret_key_ref).toEqual({ name: "triton-auth", key: "token" });
    expect(args.some((a) => a.includes("--kubeconfig") || a.includes("--port-forward"))).toBe(false);
    expect(job.lifecycle).toEqual({
      ignore_changes: ["spec", "metadata"],
      create_before_destroy: true,
      replace_triggered_by: [`terraform_data.${bg.gate!.job!.trigger.friendlyUniqueId}`],
    });
    const spec = resourcesOf(json, "kubernetes_config_map_v1").find((c: any) => c.metadata.name === "clf-verify-spec");
    expect(JSON.parse(spec.data["verify.json"]).models[0].name).toBe("classifier");
    // The switch waits for the Job; the pass record's time is the trigger's.
    expect(serviceByName(json, "clf").depends_on).toContain(`kubernetes_job_v1.${bg.gate!.resource.friendlyUniqueId}`);
    expect(JSON.stringify(serviceByName(json, "clf").metadata.annotations)).toContain(
      `terraform_data.${bg.gate!.job!.trigger.friendlyUniqueId}.output`,
    );
    // No local-exec anywhere.
    expect(JSON.stringify(json)).not.toContain("local-exec");
  });

  test("the least Role: Events, the pair's history ConfigMap (create unrestricted), and after the switch the two Services it may point back", () => {
    const { json } = pair({ afterSwitch: { spec } });
    const roles = Object.fromEntries(
      resourcesOf(json, "kubernetes_role_v1").map((r: any) => [r.metadata.name, r.rule]),
    );
    expect(roles["clf-verify"]).toEqual([
      { api_groups: [""], resources: ["events"], verbs: ["create"] },
      { api_groups: [""], resources: ["configmaps"], resource_names: ["clf-promotions"], verbs: ["get", "update"] },
      { api_groups: [""], resources: ["configmaps"], verbs: ["create"] },
    ]);
    expect(roles["clf-after-switch"]).toEqual([
      { api_groups: [""], resources: ["events"], verbs: ["create"] },
      { api_groups: [""], resources: ["services"], resource_names: ["clf", "clf-preview"], verbs: ["get", "patch"] },
    ]);
    const after = resourcesOf(json, "kubernetes_job_v1").find(
      (j: any) => j.metadata.generate_name === "clf-after-switch-",
    );
    expect(after.spec.template.spec.container[0].args).toEqual(
      expect.arrayContaining([
        "--url",
        "http://clf.ml.svc.cluster.local:8000",
        "--switch-back-to",
        "$(CDKTF_TRITON_SWITCH_BACK_TO)",
      ]),
    );
  });
});
