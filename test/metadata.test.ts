import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { Backend, FailoverPool, GatewayRoute, TritonBlueGreen, TritonValidationError, WeightedService } from "../lib";
import { helm } from "./peers/chart";
import {
  colorProps,
  newStack,
  thrownBy,
  releaseByName,
  resourcesOf,
  serviceByName,
  synthJson,
  valuesOf,
} from "./helpers";
import { chartDir } from "../lib/constructs/chart";

// A platform team's own metadata (cost-center, team, workload-identity pod labels) on everything
// each construct creates; the keys our selectors rely on are theirs to read, not to replace.
const team = { "cost-center": "ml-42", team: "fraud" };
const owner = { "example.com/owner": "fraud@example.com" };

describe("labels and annotations on everything a construct creates", () => {
  test("TritonBlueGreen: its Services, and both releases (a color's own labels win)", () => {
    const { stack } = newStack();
    new TritonBlueGreen(stack, "fraud", {
      blue: colorProps({ labels: { team: "fraud-blue" } }),
      green: colorProps(),
      active: "blue",
      labels: team,
      annotations: owner,
      serviceAnnotations: { "service.beta.kubernetes.io/aws-load-balancer-internal": "true" },
    });
    const json = synthJson(stack);
    for (const name of ["fraud", "fraud-preview"]) {
      expect(serviceByName(json, name).metadata.labels).toMatchObject({ ...team, app: "fraud" });
      expect(serviceByName(json, name).metadata.annotations).toMatchObject({
        ...owner,
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
      });
    }
    expect(valuesOf(releaseByName(json, "fraud-blue"))).toMatchObject({
      labels: { "cost-center": "ml-42", team: "fraud-blue" },
      annotations: owner,
    });
    expect(valuesOf(releaseByName(json, "fraud-green"))).toMatchObject({ labels: team, annotations: owner });
  });

  test.each([
    [
      "WeightedService",
      (s: any) =>
        new WeightedService(s, "split", {
          routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }] }],
          labels: team,
          annotations: owner,
          podLabels: { "sidecar.istio.io/inject": "false" },
        }),
    ],
    [
      "FailoverPool",
      (s: any) =>
        new FailoverPool(s, "pool", {
          tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
          labels: team,
          annotations: owner,
          podLabels: { "sidecar.istio.io/inject": "false" },
        }),
    ],
  ])("%s: its ConfigMap, Deployment, Service and PDB; pod labels on the pods only", (_name, make) => {
    const { stack } = newStack();
    make(stack);
    const json = synthJson(stack);
    const objects = [
      "kubernetes_config_map_v1",
      "kubernetes_deployment_v1",
      "kubernetes_service_v1",
      "kubernetes_pod_disruption_budget_v1",
    ].flatMap((t) => resourcesOf(json, t));
    expect(objects).toHaveLength(4);
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({ ...team, "app.kubernetes.io/name": "envoy" });
      expect(o.metadata.labels["sidecar.istio.io/inject"]).toBeUndefined();
      expect(o.metadata.annotations).toEqual(owner);
    }
    const pod = resourcesOf(json, "kubernetes_deployment_v1")[0].spec.template.metadata;
    expect(pod.labels).toMatchObject({ ...team, "sidecar.istio.io/inject": "false" });
    expect(resourcesOf(json, "kubernetes_deployment_v1")[0].spec.selector.match_labels).not.toHaveProperty("team");
  });

  test("GatewayRoute: on the HTTPRoute, as helm renders it", () => {
    if (!fs.existsSync(helm)) {
      if (process.env.CI) throw new Error(`helm not found at ${helm}: run scripts/setup-tools.sh`);
      return;
    }
    const { stack } = newStack();
    const route = new GatewayRoute(stack, "route", {
      namespace: "ml",
      parentRefs: [{ name: "gw" }],
      routes: [{ backends: [{ backend: Backend.service("fraud", { namespace: "ml" }), weightPercent: 100 }] }],
      labels: team,
      annotations: owner,
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "route-values-"));
    try {
      const release = resourcesOf(synthJson(stack), "helm_release")[0];
      expect(release.name).toBe(route.node.id);
      fs.writeFileSync(path.join(dir, "v.json"), release.values[0]);
      const rendered = parse(
        execFileSync(
          helm,
          ["template", "route", chartDir("gateway-route"), "-n", "ml", "-f", path.join(dir, "v.json")],
          { encoding: "utf8" },
        ),
      );
      expect(rendered.metadata.labels).toMatchObject({ ...team, "app.kubernetes.io/managed-by": "Helm" });
      expect(rendered.metadata.annotations).toEqual(owner);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [
      "TritonBlueGreen",
      'labels["cdktf-triton/role"]',
      (s: any) =>
        new TritonBlueGreen(s, "p", {
          blue: colorProps(),
          green: colorProps(),
          active: "blue",
          labels: { "cdktf-triton/role": "x" },
        }),
    ],
    [
      "TritonBlueGreen",
      'labels["color"]',
      (s: any) =>
        new TritonBlueGreen(s, "p", {
          blue: colorProps(),
          green: colorProps(),
          active: "blue",
          labels: { color: "x" },
        }),
    ],
    [
      "WeightedService",
      'labels["app"]',
      (s: any) =>
        new WeightedService(s, "w", {
          routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }] }],
          labels: { app: "x" },
        }),
    ],
    [
      "FailoverPool",
      'podLabels["app.kubernetes.io/instance"]',
      (s: any) =>
        new FailoverPool(s, "f", {
          tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
          podLabels: { "app.kubernetes.io/instance": "x" },
        }),
    ],
    [
      "GatewayRoute",
      'annotations["bad key!"]',
      (s: any) =>
        new GatewayRoute(s, "g", {
          parentRefs: [{ name: "gw" }],
          routes: [{ backends: [{ backend: Backend.service("a"), weightPercent: 100 }] }],
          annotations: { "bad key!": "x" },
        }),
    ],
  ])("%s refuses %s, naming the field", (_name, field, make) => {
    const { stack } = newStack();
    const error = thrownBy(() => make(stack));
    expect(error).toBeInstanceOf(TritonValidationError);
    expect((error as Error).message).toContain(`${field} = `);
  });
});
