import "cdktf/lib/testing/adapters/jest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalBackend, TerraformStack, TerraformVariable, Testing } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { StandbyMode, TritonBlueGreen } from "../lib";
import { colorProps, newStack, releaseByName, serviceByName, synthJson, valuesOf } from "./helpers";
import { colorReplicas } from "../lib/constructs/bluegreen/standby";

function blueGreen(
  stack: Construct,
  active: "blue" | "green" | TerraformVariable,
  standby?: StandbyMode | TerraformVariable,
) {
  return new TritonBlueGreen(stack, "classifier", {
    blue: colorProps({ version: "v1", replicas: 3 }),
    green: colorProps({ version: "v2", replicas: 3 }),
    active,
    standby,
  });
}

describe("TritonBlueGreen", () => {
  test.each(["blue", "green"] as const)(
    "the active Service selects %s and the preview Service the other color",
    (active) => {
      // Given a pair with a literal active color
      const { stack } = newStack();
      blueGreen(stack, active);

      // When synthesized
      const json = synthJson(stack);

      // Then the selectors follow `active`
      const other = active === "blue" ? "green" : "blue";
      expect(serviceByName(json, "classifier").spec.selector).toEqual({ app: "classifier", color: active });
      expect(serviceByName(json, "classifier-preview").spec.selector).toEqual({ app: "classifier", color: other });
      expect(serviceByName(json, "classifier").spec.port.map((p: any) => [p.name, p.port])).toEqual([
        ["http", 8000],
        ["grpc", 8001],
        ["metrics", 8002],
      ]);
      // Both releases exist; labels tie pods to the selectors
      expect(valuesOf(releaseByName(json, "classifier-blue"))).toMatchObject({
        app: "classifier",
        color: "blue",
        version: "v1",
      });
      expect(valuesOf(releaseByName(json, "classifier-green"))).toMatchObject({
        app: "classifier",
        color: "green",
        version: "v2",
      });
    },
  );

  test("the active color runs full replicas; the other runs previewReplicas once it no longer serves (read from the cluster at plan)", () => {
    const { stack } = newStack();
    const bg = blueGreen(stack, "green");
    const json = synthJson(stack);
    expect(releaseByName(json, "classifier-green").set).toEqual([{ name: "replicas", value: "3", type: "auto" }]);
    // blue keeps its 3 pods through the apply that switches away from it (the live selector still
    // says blue at that plan) and goes to 1 in the next one
    expect(bg.servingColorExpression).toMatch(/^local\.classifier_serving-color_[0-9A-F]+$/);
    expect(releaseByName(json, "classifier-blue").set).toEqual([
      { name: "replicas", value: `\${${bg.servingColorExpression} == "blue" ? 3 : 1}`, type: "auto" },
    ]);
    // the serving color: the live active Service's selector, "" when there is no Service yet
    const local = bg.servingColorExpression.replace("local.", "");
    expect(json.locals[local]).toBe(
      `\${try(data.kubernetes_service_v1.${bg.servingNow.friendlyUniqueId}.spec[0].selector.color, "")}`,
    );
    expect(json.data.kubernetes_service_v1[bg.servingNow.friendlyUniqueId].metadata).toEqual({
      name: "classifier",
      namespace: "default",
    });
  });

  test("replica rule with the serving color: full while active or still serving", () => {
    const base = { color: "blue", activeReplicas: 4, previewReplicas: 2, serving: "local.serving" } as const;
    expect(colorReplicas({ ...base, active: { literal: "blue" }, standby: { literal: "preview" } })).toBe(4);
    expect(colorReplicas({ ...base, active: { literal: "green" }, standby: { literal: "scaled-down" } })).toBe(
      '${local.serving == "blue" ? 4 : 0}',
    );
    expect(colorReplicas({ ...base, active: { expression: "var.active" }, standby: { literal: "warm" } })).toBe(
      '${var.active == "blue" || local.serving == "blue" ? 4 : 4}',
    );
  });

  test.each([
    // active, standby, blue replicas, green replicas
    ["blue", "preview", 5, 2],
    ["blue", "warm", 5, 4],
    ["blue", "scaled-down", 5, 0],
    ["green", "preview", 2, 4],
    ["green", "warm", 5, 4],
    ["green", "scaled-down", 0, 4],
  ] as const)("replica rule: active %s, standby %s gives blue %d, green %d", (active, standby, blue, green) => {
    const rule = (color: "blue" | "green", activeReplicas: number) =>
      colorReplicas({
        color,
        active: { literal: active },
        standby: { literal: standby },
        activeReplicas,
        previewReplicas: 2,
      });
    expect([rule("blue", 5), rule("green", 4)]).toEqual([blue, green]);
  });

  test("preview replicas never exceed the color's own replicas", () => {
    const rule = {
      color: "blue",
      active: { literal: "green" },
      standby: { literal: "preview" },
      activeReplicas: 1,
      previewReplicas: 3,
    } as const;
    expect(colorReplicas(rule)).toBe(1);
  });

  test("replica rule as one Terraform expression when a choice is made at plan time", () => {
    const base = { color: "blue", activeReplicas: 4, previewReplicas: 2 } as const;
    expect(colorReplicas({ ...base, active: { expression: "var.active" }, standby: { literal: "scaled-down" } })).toBe(
      '${var.active == "blue" ? 4 : 0}',
    );
    expect(colorReplicas({ ...base, active: { literal: "green" }, standby: { expression: "var.standby" } })).toBe(
      '${var.standby == "warm" ? 4 : var.standby == "scaled-down" ? 0 : 2}',
    );
  });

  test("a TerraformVariable drives selectors and replicas at plan time, validated to blue or green", () => {
    // Given `active` and `standby` from variables, as a pipeline passes them with -var
    const { stack } = newStack();
    const bg = blueGreen(stack, TritonBlueGreen.activeVariable(stack), TritonBlueGreen.standbyVariable(stack));
    const json = synthJson(stack);

    // Then the selectors and replicas are Terraform expressions of those variables
    expect(serviceByName(json, "classifier").spec.selector.color).toBe("${var.active}");
    expect(serviceByName(json, "classifier-preview").spec.selector.color).toBe(
      '${var.active == "blue" ? "green" : "blue"}',
    );
    expect(releaseByName(json, "classifier-green").set[0].value).toBe(
      `\${var.active == "green" || ${bg.servingColorExpression} == "green" ? 3 : var.standby == "warm" ? 3 : var.standby == "scaled-down" ? 0 : 1}`,
    );
    // And Terraform refuses any other value before planning
    expect(json.variable.active).toMatchObject({ type: "string", default: "blue" });
    expect(json.variable.active.validation).toEqual([
      {
        condition: '${contains(["blue", "green"], var.active)}',
        error_message: 'The active variable must be one of "blue", "green".',
      },
    ]);
    expect(json.variable.standby.validation[0].condition).toBe(
      '${contains(["preview", "warm", "scaled-down"], var.standby)}',
    );
  });

  test("a user's own variable gets the validation once, even when shared by several pairs", () => {
    const { stack } = newStack();
    const active = new TerraformVariable(stack, "color", { type: "string", default: "green" });
    for (const app of ["a", "b"]) {
      new TritonBlueGreen(stack, app, { blue: colorProps(), green: colorProps(), active });
    }
    const json = synthJson(stack);
    expect(json.variable.color.validation).toHaveLength(1);
    expect(serviceByName(json, "a").spec.selector.color).toBe("${var.color}");
  });

  test("refuses a variable of another stack, which this stack's expressions could not reference", () => {
    const { app, stack } = newStack();
    const other = new TerraformStack(app, "other");
    expect(() => blueGreen(stack, TritonBlueGreen.activeVariable(other))).toThrow(
      'active = "var.active" is invalid: expected a TerraformVariable of the same stack',
    );
  });

  test("the switch waits for both releases and for every added precondition (the gate seam)", () => {
    const { stack } = newStack();
    const bg = blueGreen(stack, "blue");
    const gate = new ServiceV1(stack, "stand-in-gate", { metadata: { name: "gate" }, spec: {} });
    bg.addSwitchPrecondition(gate);
    const json = synthJson(stack);
    const preconditions = [
      `helm_release.${bg.blue.helmRelease.friendlyUniqueId}`,
      `helm_release.${bg.green.helmRelease.friendlyUniqueId}`,
      "kubernetes_service_v1.stand-in-gate",
    ];
    expect(serviceByName(json, "classifier").depends_on).toEqual(preconditions);
    // The preview Service moves with the switch: a refused switch leaves it on the candidate (found
    // by the e2e test against a real API server, where it had moved alone)
    expect(serviceByName(json, "classifier-preview").depends_on).toEqual(preconditions);
  });

  test("the Services are updated in place on a switch: same resource, only the selector differs", () => {
    const [blue, green] = (["blue", "green"] as const).map((active) => {
      const { stack } = newStack();
      blueGreen(stack, active);
      return synthJson(stack).resource.kubernetes_service_v1;
    });
    expect(Object.keys(blue)).toEqual(Object.keys(green));
    for (const id of Object.keys(blue)) {
      const { selector: a, ...restBlue } = blue[id].spec;
      const { selector: b, ...restGreen } = green[id].spec;
      expect(a).not.toEqual(b);
      expect(restBlue).toEqual(restGreen);
      // the active Service also records which fingerprint it serves, written with the selector
      const withoutFingerprint = (m: any) => ({
        ...m,
        annotations: { ...m.annotations, "cdktf-triton.io/serving-fingerprint": "" },
      });
      expect(withoutFingerprint(blue[id].metadata)).toEqual(withoutFingerprint(green[id].metadata));
    }
  });

  test("passes namespace, service type and annotations through", () => {
    const { stack } = newStack();
    new TritonBlueGreen(stack, "bg", {
      appName: "ranker",
      namespace: "ml",
      blue: colorProps(),
      green: colorProps(),
      active: "blue",
      serviceType: "LoadBalancer",
      serviceAnnotations: { "service.beta.kubernetes.io/aws-load-balancer-internal": "true" },
    });
    const synthesized = Testing.synth(stack);
    expect(synthesized).toHaveResourceWithProperties(ServiceV1, {
      metadata: {
        name: "ranker",
        namespace: "ml",
        annotations: {
          "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
          "cdktf-triton.io/serving-fingerprint": expect.stringMatching(/^\$\{local\.bg_fingerprint-blue_/),
        },
        labels: { app: "ranker", "cdktf-triton/role": "active" },
      },
    });
    expect(releaseByName(JSON.parse(synthesized), "ranker-green").namespace).toBe("ml");
  });

  test("the full synth output is relocatable: no absolute path of this machine anywhere", () => {
    // Given a real synth to disk, with the chart asset copied in
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-"));
    const app = Testing.app({ outdir });
    const stack = new TerraformStack(app, "relocatable");
    new LocalBackend(stack, { path: "../../../terraform.relocatable.tfstate" });
    new KubernetesProvider(stack, "kubernetes", { configPath: "~/.kube/config" });
    new HelmProvider(stack, "helm", { kubernetes: { configPath: "~/.kube/config" } });
    blueGreen(stack, "blue");
    app.synth();

    const stackDir = path.join(outdir, "stacks", "relocatable");
    const text = fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8");
    for (const local of [process.cwd(), outdir, os.homedir(), os.tmpdir(), path.resolve(__dirname, "..")]) {
      expect(text).not.toContain(local);
    }
    // And the chart the helm_release points to is there, relative to the stack's folder
    const chart = releaseByName(JSON.parse(text), "classifier-blue").chart;
    expect(path.isAbsolute(chart)).toBe(false);
    expect(fs.existsSync(path.join(stackDir, chart, "Chart.yaml"))).toBe(true);
    expect(fs.existsSync(path.join(stackDir, chart, "templates", "deployment.yaml"))).toBe(true);
    fs.rmSync(outdir, { recursive: true, force: true });
  });
});
