import { parse } from "yaml";
import { ModelControl, TritonBlueGreen, TritonCanary, TritonGatewayCanary, TritonModelCanary } from "../lib";
import { colorProps, newStack, releaseByName, resourcesOf, synthJson, valuesOf } from "./helpers";
import { classifierSpec } from "./peers/triton-models";

const verify = classifierSpec();

// TritonModelCanary at synth: its variables, the ConfigMap the pods load their versions from, the
// releases' pinned model, the Envoy routes, and the plan-time rules (evaluated by an engine in the
// e2e, test/e2e/model-canary.test.ts).

function fixture(model = "classifier", control = ModelControl.explicit({ loadModels: ["classifier"] })) {
  const { stack } = newStack();
  const color = colorProps({ modelControl: control });
  const pair = new TritonBlueGreen(stack, "fraud", {
    namespace: "ml",
    blue: { ...color, version: "v1" },
    green: { ...color, version: "v2" },
    active: TritonBlueGreen.activeVariable(stack),
    standby: "warm",
  });
  const canary = new TritonCanary(stack, "fraud-canary", {
    pair,
    namespace: "ml",
    canaryPercent: TritonCanary.percentVariable(stack, "fraud_canary"),
  });
  return { stack, pair, canary, model };
}

test("variables, the versions ConfigMap, both releases pinned, Envoy's routes for the model", () => {
  const { stack, canary } = fixture();
  new TritonModelCanary(stack, "classifier-versions", { canary, model: "classifier", version: 3, verify });
  const json = synthJson(stack);
  expect(json.variable.classifier_versions_version).toMatchObject({ type: "number", default: 3 });
  expect(json.variable.classifier_versions_next_version).toMatchObject({ type: "number", default: 0 });
  expect(json.variable.classifier_versions_next_percent).toMatchObject({ type: "number", default: 0 });
  const cm = resourcesOf(json, "kubernetes_config_map_v1").find((c) => c.metadata.name === "fraud-classifier-versions");
  expect(cm.metadata.namespace).toBe("ml");
  expect(cm.data.versions).toBe(
    '${var.classifier_versions_next_version > 0 ? format("%d,%d", var.classifier_versions_version, var.classifier_versions_next_version) : format("%d", var.classifier_versions_version)}',
  );
  expect(cm.lifecycle.precondition).toHaveLength(2);
  const guard = Object.entries(json.resource.terraform_data as Record<string, any>).find(([k]) =>
    k.includes("versions-guard"),
  )![1];
  expect(guard.lifecycle.precondition[0].error_message).toMatch(
    /^test\/classifier-versions: this plan changes the versions of classifier that every pod of fraud loads/,
  );
  for (const name of ["fraud-blue", "fraud-green"]) {
    const release = releaseByName(json, name);
    expect(valuesOf(release).pinnedVersions).toEqual([
      { model: "classifier", configMap: "fraud-classifier-versions", key: "versions" },
    ]);
    expect(release.depends_on.some((d: string) => d.startsWith("kubernetes_config_map_v1.classifier-versions_"))).toBe(
      true,
    );
  }
  const envoyCm = resourcesOf(json, "kubernetes_config_map_v1").find((c) => c.metadata.name === "fraud-canary");
  const routeFile = Object.entries(envoyCm.data as Record<string, string>).find(
    ([k, text]) => k.startsWith("rds") && text.includes("fraud-canary-http"),
  )!;
  const table = parse(routeFile[1]);
  const routes = table.resources[0].virtual_hosts[0].routes;
  expect(routes.map((r: any) => r.name).filter(Boolean)).toEqual([
    "canary-classifier-versioned",
    "canary-classifier-next",
    "canary-classifier-pinned",
    "canary",
  ]);
  const next = routes.find((r: any) => r.name === "canary-classifier-next");
  expect(next.match.runtime_fraction).toEqual({
    default_value: { numerator: "${var.classifier_versions_next_percent}", denominator: "HUNDRED" },
    runtime_key: "versions.classifier.next_percent",
  });
  expect(next.route.regex_rewrite.substitution).toBe(
    "/v2/models/classifier/versions/${var.classifier_versions_next_version > 0 ? var.classifier_versions_next_version : var.classifier_versions_version}",
  );
  expect(routes.find((r: any) => r.name === "canary-classifier-pinned").route.regex_rewrite.substitution).toBe(
    "/v2/models/classifier/versions/${var.classifier_versions_version}",
  );
  // The route table's version names the versions, so the driver reads back what each Envoy serves.
  expect(table.version_info).toContain(
    "model classifier: pinned=${var.classifier_versions_version}, next=${var.classifier_versions_next_version}, share=${var.classifier_versions_next_percent}",
  );
  // gRPC: the version is in the request's body, which Envoy does not rewrite: its routes are unchanged.
  const grpcFile = Object.entries(envoyCm.data as Record<string, string>).find(
    ([k, text]) => k.startsWith("rds") && text.includes("fraud-canary-grpc"),
  )!;
  expect(
    parse(grpcFile[1])
      .resources[0].virtual_hosts[0].routes.map((r: any) => r.name)
      .filter(Boolean),
  ).toEqual(["canary"]);
});

test("a pair with no model canary: its releases' values carry no pinnedVersions (their fingerprints do not change)", () => {
  const { stack } = fixture();
  expect(valuesOf(releaseByName(synthJson(stack), "fraud-blue"))).not.toHaveProperty("pinnedVersions");
});

test("wrong inputs name the construct path, the field, the value and what is valid", () => {
  const bad = (make: () => unknown) => {
    try {
      make();
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("no error");
  };
  const a = fixture();
  expect(
    bad(() => new TritonModelCanary(a.stack, "v", { canary: a.canary, model: "classifier", version: 0, verify })),
  ).toContain("Invalid props for test/v:\n  - version = 0 is invalid: expected an integer from 1");
  const b = fixture();
  expect(
    bad(() => new TritonModelCanary(b.stack, "v", { canary: b.canary, model: "../x", version: 1, verify })),
  ).toMatch(/test\/v:\n {2}- model = "\.\.\/x" is invalid: expected a Triton model name/);
  const c = fixture("classifier", ModelControl.none());
  expect(
    bad(() => new TritonModelCanary(c.stack, "v", { canary: c.canary, model: "classifier", version: 1, verify })),
  ).toMatch(
    /test\/v:\n {2}- model = "classifier" is invalid: expected a model test\/fraud\/blue loads at startup in explicit model control .*it has none\)/,
  );
  const d = fixture("classifier", ModelControl.explicit({ loadModels: ["text"] }));
  expect(
    bad(() => new TritonModelCanary(d.stack, "v", { canary: d.canary, model: "classifier", version: 1, verify })),
  ).toMatch(/it has explicit loading text/);
  const f = fixture();
  expect(
    bad(
      () =>
        new TritonModelCanary(f.stack, "v", {
          canary: f.canary,
          model: "classifier",
          version: 1,
          verify: { models: [{ name: "text" }] },
        }),
    ),
  ).toMatch(/verify\.models = "text" is invalid: expected a spec that checks classifier/);
  const g = fixture();
  expect(
    bad(
      () =>
        new TritonModelCanary(g.stack, "v", {
          canary: g.canary,
          model: "classifier",
          version: 1,
          verify: { models: "x" } as never,
        }),
    ),
  ).toMatch(/- verify\.models = "x" is invalid/);
  const e = fixture();
  const gateway = Object.create(TritonGatewayCanary.prototype);
  expect(
    bad(() => new TritonModelCanary(e.stack, "v", { canary: gateway, model: "classifier", version: 1, verify })),
  ).toMatch(/test\/v:\n {2}- canary = "TritonGatewayCanary" is invalid: expected a TritonCanary \(our Envoy\)/);
});
