import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { SecretV1 } from "@cdktf/provider-kubernetes/lib/secret-v1";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Construct } from "constructs";
import {
  Backend,
  FailoverPool,
  GateTarget,
  GatewayRoute,
  TritonBlueGreen,
  TritonRelease,
  VerificationGate,
  WeightedService,
} from "../lib";
import { colorProps, newStack, synthJson } from "./helpers";
import { EngineStack, synthesize, tofu } from "./e2e/engine";
import { resourcesIn } from "../lib/constructs/dependencies";

// `dependsOn` on every construct: the team's own resources first, rendered as depends_on on each
// resource the construct creates, as Terraform wants it (cdktf's construct-level addDependency is
// dropped at synth; `dependsOn = [x.fqn]` renders a reference `init` refuses).
function build(stack: TerraformStack) {
  const ns = new NamespaceV1(stack, "team-namespace", { metadata: { name: "ml" } });
  const group = new Construct(stack, "team-secrets");
  new SecretV1(group, "a", { metadata: { name: "a", namespace: "ml" } });
  new SecretV1(group, "b", { metadata: { name: "b", namespace: "ml" } });
  const pair = new TritonBlueGreen(stack, "pair", {
    namespace: "ml",
    blue: colorProps(),
    green: colorProps(),
    active: "blue",
    verify: { spec: { models: [{ name: "m" }] } },
  }).dependsOn(ns, group);
  const release = new TritonRelease(stack, "lone", {
    ...colorProps(),
    appName: "lone",
    color: "blue",
    namespace: "ml",
  }).dependsOn(ns);
  const split = new WeightedService(stack, "split", {
    namespace: "ml",
    routes: [{ backends: [{ backend: Backend.release(pair.blue), weightPercent: 100 }] }],
  }).dependsOn(ns);
  const pool = new FailoverPool(stack, "pool", {
    namespace: "ml",
    tiers: [{ name: "a", endpoints: [{ backend: Backend.release(pair.blue) }] }],
  }).dependsOn(ns);
  const route = new GatewayRoute(stack, "route", {
    namespace: "ml",
    parentRefs: [{ name: "gw" }],
    routes: [{ backends: [{ backend: Backend.release(pair.blue), weightPercent: 100 }] }],
  }).dependsOn(ns);
  const gate = new VerificationGate(stack, "smoke", {
    spec: { models: [{ name: "m" }] },
    target: GateTarget.url("http://127.0.0.1:8000"),
  }).dependsOn(ns);
  return { ns, group, constructs: [pair, release, split, pool, route, gate] as Construct[], pair };
}

/** The addresses of a construct's resources, each with the depends_on it was synthesized with. */
function resourcesOf(json: any, construct: Construct): [string, string[] | undefined][] {
  return resourcesIn(construct).map((r) => [
    `${r.terraformResourceType}.${r.friendlyUniqueId}`,
    json.resource[r.terraformResourceType][r.friendlyUniqueId].depends_on,
  ]);
}

/** Whether `to` is reachable from `from` in `tofu graph`'s DOT output (the graph is transitively reduced). */
function reaches(dot: string, from: string, to: string): boolean {
  const edges = new Map<string, string[]>();
  for (const m of dot.matchAll(/"\[root\] ([^"]+?)(?: \(expand\))?" -> "\[root\] ([^"]+?)(?: \(expand\))?"/g)) {
    edges.set(m[1], [...(edges.get(m[1]) ?? []), m[2]]);
  }
  const seen = new Set<string>();
  const walk = (n: string): boolean => n === to || (!seen.has(n) && (seen.add(n), (edges.get(n) ?? []).some(walk)));
  return walk(from);
}

describe("dependsOn", () => {
  test("every resource of every construct waits for the team's resources; the pair's live read stays at plan time", () => {
    const { stack } = newStack();
    const { group, constructs, pair } = build(stack);
    const json = synthJson(stack);
    const ns = "kubernetes_namespace_v1.team-namespace";
    for (const construct of constructs) {
      const resources = resourcesOf(json, construct);
      expect(resources.length).toBeGreaterThan(0);
      for (const [address, dependsOn] of resources)
        expect([address, dependsOn]).toEqual([address, expect.arrayContaining([ns])]);
    }
    // a construct given as a dependency stands for every resource in it
    const secrets = resourcesOf(json, group).map(([address]) => address);
    expect(secrets).toHaveLength(2);
    for (const [, dependsOn] of resourcesOf(json, pair)) expect(dependsOn).toEqual(expect.arrayContaining(secrets));
    // the internal orderings are there too, once each
    const switchDeps = json.resource.kubernetes_service_v1[pair.activeService.friendlyUniqueId].depends_on as string[];
    expect(switchDeps.filter((d) => d === `helm_release.${pair.blue.helmRelease.friendlyUniqueId}`)).toHaveLength(1);
    expect(json.data.kubernetes_service_v1[pair.servingNow.friendlyUniqueId].depends_on).toBeUndefined();
  });

  test("the Envoy Deployment waits for its ConfigMap (a real depends_on, not cdktf's dropped addDependency)", () => {
    const { stack } = newStack();
    new WeightedService(stack, "split", {
      routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }] }],
    });
    const json = synthJson(stack);
    const [deployment] = Object.values<any>(json.resource.kubernetes_deployment_v1);
    expect(deployment.depends_on).toEqual([
      `kubernetes_config_map_v1.${Object.keys(json.resource.kubernetes_config_map_v1)[0]}`,
    ]);
  });

  test("a construct with no resource in it is refused, naming both paths", () => {
    const { stack } = newStack();
    const empty = new Construct(stack, "nothing");
    const release = new TritonRelease(stack, "r", { ...colorProps(), appName: "r", color: "blue" });
    expect(() => release.dependsOn(empty)).toThrow(
      `${stack.node.id}/r: dependsOn[0] = ${stack.node.id}/nothing holds no Terraform resource to wait for`,
    );
  });

  describe("with a real engine", () => {
    const missing = !fs.existsSync(tofu) || !fs.existsSync(path.join(__dirname, "..", ".tools", "terraform.rc"));
    if (missing && process.env.CI !== "true") {
      test.skip("(OpenTofu and the provider mirror are not built: scripts/setup-tools.sh)", () => undefined);
      return;
    }
    let stack: EngineStack;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-deps-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("OpenTofu validates the stack and its graph orders every resource of each construct after the namespace", async () => {
      let constructs: Construct[] = [];
      stack = synthesize(dir, "deps", (app: App, id: string) => {
        const s = new TerraformStack(app, id);
        new KubernetesProvider(s, "kubernetes", { configPath: "/nonexistent/kubeconfig" });
        new HelmProvider(s, "helm", { kubernetes: { configPath: "/nonexistent/kubeconfig" } });
        constructs = build(s).constructs;
        return s;
      });
      await stack.ok("init", "-input=false");
      await stack.ok("validate");
      const graph = await stack.ok("graph");
      const addresses = constructs.flatMap((c) =>
        resourcesIn(c).map((r) => `${r.terraformResourceType}.${r.friendlyUniqueId}`),
      );
      expect(addresses.length).toBeGreaterThan(10);
      expect(addresses.filter((a) => !reaches(graph, a, "kubernetes_namespace_v1.team-namespace"))).toEqual([]);
      // and the check can fail: the pair's live read of what serves does not wait (it is read at plan)
      const live = `data.kubernetes_service_v1.${(constructs[0] as TritonBlueGreen).servingNow.friendlyUniqueId}`;
      expect(graph).toContain(live);
      expect(reaches(graph, live, "kubernetes_namespace_v1.team-namespace")).toBe(false);
    }, 300_000);
  });
});
