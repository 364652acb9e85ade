import * as fs from "fs";
import * as path from "path";
import { scrapeMetrics } from "../../lib/run";
import { RunningTriton, startTriton } from "../peers/triton";
import { startAll } from "../peers/servers";
import { ChildProcess, spawn } from "child_process";
import { BlueGreenE2eStack } from "./bluegreen-stack";
import {
  ColorForwards,
  engines,
  EngineStack,
  kubeconfig,
  kubectl,
  kubectlBin,
  names,
  root,
  run,
  synthesize,
  unavailable,
  varArgs,
} from "./engine";

// The constructs' own test stack, planned and applied by OpenTofu with the real kubernetes and helm
// providers against a real kube-apiserver (scripts/cluster.sh: kine, controller-manager, scheduler,
// kwok nodes with GPUs). Nothing runs inside kwok's pods, so each color's pods are port-forwarded
// (kwok PortForwards, kept per pod by ColorForwards) to a real Triton: blue's to one serving the
// classifier's version 1, green's to one serving version 2, or the deliberately wrong version 3.
// The gate reaches them as in production, `kubectl port-forward` to the color's Service.
const why = unavailable();
const cases = why ? [{ name: `(skipped: ${why})`, bin: "" }] : engines();
const describeE2e = why ? describe.skip.each(cases) : describe.each(cases);

describeE2e("blue/green on a real API server with $name and the real providers", ({ name, bin: engine }) => {
  // One namespace and state per engine.
  const NS = `e2e-bluegreen-${name.toLowerCase()}`;
  const work = path.join(root, "test", ".tmp", NS);
  let tritons: Record<"v1" | "v2" | "v3" | "v4", RunningTriton>;
  let forwards: ColorForwards;
  let stack: EngineStack;
  /** The restricted-API keys the chart generated on install, by color. */
  const keys: Record<string, string> = {};
  const keyOf = async (color: string) =>
    (await kubectl("get", "secret", `iris-${color}-restricted-api`, "-n", NS)).data.token as string;
  const selector = async (name: string) => (await kubectl("get", "service", name, "-n", NS)).spec.selector;
  const replicas = async (color: string) =>
    (await kubectl("get", "deployment", `iris-${color}`, "-n", NS)).spec.replicas;
  /** The variables every plan and apply of this stack is given from now on. */
  const vars: Record<string, string> = { active: "blue", standby: "preview", blue_build: "1", green_build: "1" };
  const timings: { verifiedSwitchMs?: number; verifiedGate?: string; rollbackMs?: number; switchBackMs?: number } = {};
  /** How long the engine says the pre-switch gate took in an apply's output. */
  const gateSeconds = (out: string) =>
    /terraform_data\.iris_verify_\w+: Creation complete after (\S+)/.exec(out)?.[1] ?? "?";
  /** The pre-switch gate's last report (the gate writes it into the stack's reports/ folder). */
  const gateReport = () => JSON.parse(fs.readFileSync(path.join(stack.dir, "reports", "verify.json"), "utf8"));
  /** Inferences a Triton answered, by its own counter. */
  const inferences = async (t: RunningTriton) =>
    (await scrapeMetrics(t.metricsUrl))
      .filter((m) => m.name === "nv_inference_request_success" && m.labels.model === "classifier")
      .reduce((n, m) => n + m.value, 0);

  beforeAll(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    // What an interrupted earlier run left in a reused cluster goes with its namespace.
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "delete",
      "namespace",
      NS,
      "--ignore-not-found",
      "--wait=true",
      "--timeout=120s",
    ]);
    // version 4 answers the pre-switch gate's 1 golden + 50 probe requests, then fails every request
    const [v1, v2, v3, v4] = await startAll(
      [1, 2, 3, 4].map((v) => startTriton({ models: { classifier: [v] }, env: { CLASSIFIER_FAIL_AFTER: "51" } })),
    );
    tritons = { v1, v2, v3, v4 };
    forwards = new ColorForwards(NS, "iris", { blue: v1.ports.http, green: v2.ports.http }).start();
  }, 180_000);
  afterAll(async () => {
    // Leave nothing behind even when a test failed half-way.
    if (stack && fs.existsSync(path.join(work, "terraform.tfstate")))
      await stack.tofu("destroy", "-input=false", "-auto-approve");
    await forwards?.stop();
    await Promise.all(Object.values(tritons ?? {}).map((t) => t.stop()));
  }, 600_000);

  test("init installs the providers from the mirror only; validate accepts the stack", async () => {
    stack = synthesize(
      path.join(work, "out"),
      "bluegreen",
      (app, id) => new BlueGreenE2eStack(app, id, work, NS),
      engine,
    );
    const init = await stack.ok("init", "-input=false");
    expect(init).toMatch(/Installing hashicorp\/kubernetes v3\.2\.2-main/);
    expect(init).toMatch(/Installing hashicorp\/helm v3\.2\.1-main/);
    await stack.ok("validate");
  }, 300_000);

  test("plan creates everything; apply creates it and the API server holds it", async () => {
    const plan = await stack.plan(vars);
    expect(plan.code).toBe(2);
    // the live Service is read once the namespace exists (a first apply: nothing serves yet)
    const reads = [...plan.changes.entries()].filter(([, a]) => a.join() === "read");
    expect(reads.map(([address]) => address)).toEqual([
      expect.stringContaining("data.kubernetes_service_v1.iris_serving-now"),
    ]);
    expect([...plan.changes.values()].filter((a) => a.join() !== "read").every((a) => a.join() === "create")).toBe(
      true,
    );
    const apply = await stack.apply(vars);
    if (apply.code !== 0) throw new Error(apply.out.slice(-6000));
    expect(apply.out).toContain("PASS: the candidate may take traffic");
    // the switch records what it serves, and that blue's fingerprint passed this spec
    const annotations = (await kubectl("get", "service", "iris", "-n", NS)).metadata.annotations;
    expect(annotations["cdktf-triton.io/serving-fingerprint"]).toMatch(/^[0-9a-f]{16}$/);
    expect(annotations["cdktf-triton.io/verified-blue"]).toMatch(
      new RegExp(
        `^${annotations["cdktf-triton.io/serving-fingerprint"]} [0-9a-f]{16} [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z$`,
      ),
    );
    expect(annotations["cdktf-triton.io/verified-green"]).toBe("");

    // Both colors' Deployments, rolled out on the kwok GPU nodes (standby "preview": green runs 1).
    const deployments = (await kubectl("get", "deployments", "-n", NS)).items;
    const byName = Object.fromEntries(deployments.map((d: any) => [d.metadata.name, d]));
    expect(Object.keys(byName).sort()).toEqual(["iris-blue", "iris-canary", "iris-failover", "iris-green"]);
    expect(byName["iris-blue"].status.readyReplicas).toBe(2);
    expect(byName["iris-green"].status.readyReplicas).toBe(1);
    expect(byName["iris-blue"].spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe("1");
    // explicit mode: the repository API is locked with a key the chart generated into a Secret the pod reads
    for (const color of ["blue", "green"]) {
      keys[color] = await keyOf(color);
      expect(Buffer.from(keys[color], "base64").toString()).toMatch(/^[A-Za-z0-9]{40}$/);
      expect(byName[`iris-${color}`].spec.template.spec.containers[0].env).toContainEqual({
        name: "TRITON_RESTRICTED_API_KEY",
        valueFrom: { secretKeyRef: { name: `iris-${color}-restricted-api`, key: "token" } },
      });
    }
    expect(keys.blue).not.toBe(keys.green);
    // The switch and the preview.
    expect(await selector("iris")).toEqual({ app: "iris", color: "blue" });
    expect(await selector("iris-preview")).toEqual({ app: "iris", color: "green" });
    expect(await selector("iris-blue")).toMatchObject({ app: "iris", color: "blue" });
    // The chart's PodDisruptionBudget and ServiceAccount for each color, the data plane's objects.
    expect(await names("poddisruptionbudgets", NS)).toEqual([
      "iris-blue",
      "iris-canary",
      "iris-failover",
      "iris-green",
    ]);
    expect(await names("serviceaccounts", NS)).toEqual(expect.arrayContaining(["iris-blue", "iris-green"]));
    const cm = await kubectl("get", "configmap", "iris-canary", "-n", NS);
    expect(Object.keys(cm.data).sort()).toEqual(["cds.yaml", "envoy.yaml", "lds.yaml", "rds-0.yaml", "rds-1.yaml"]);
    expect(cm.data["cds.yaml"]).toContain(`iris-green.${NS}.svc.cluster.local`);
    expect(await names("configmaps", NS)).toEqual(expect.arrayContaining(["iris-canary", "iris-failover"]));
    // The HTTPRoute, accepted by the API server against Gateway API v1.6.3's schema and CEL rules.
    const route = await kubectl("get", "httproute", "iris-route", "-n", NS);
    expect(route.spec.rules.map((r: any) => r.backendRefs.map((b: any) => [b.name, b.weight]))).toEqual([
      [["iris-green", 100]],
      [
        ["iris-blue", 80],
        ["iris-green", 20],
      ],
    ]);
  }, 600_000);

  test("a second plan right after apply is empty", async () => {
    const plan = await stack.plan(vars);
    expect([...plan.changes.entries()]).toEqual([]);
    expect(plan.code).toBe(0);
  }, 300_000);

  test("the serving color's release is refused at plan, naming the color; with the break glass it plans", async () => {
    const refused = await stack.tofu("plan", "-input=false", "-no-color", ...varArgs({ ...vars, blue_build: "2" }));
    expect(refused.code).not.toBe(0);
    const message = refused.out.replace(/[│╷╵]/g, "").replace(/\s+/g, " ");
    expect(message).toContain(
      "The blue release of iris serves traffic now (Service iris selects color=blue): this plan would change it in place while it takes all traffic. " +
        "Stage the change on green, the standby color, and switch active to green once it is verified; or, to change the serving color anyway, set -var allow_serving_change=true (break glass).",
    );
    const glass = await stack.plan({ ...vars, blue_build: "2", allow_serving_change: "true" });
    expect(glass.code).toBe(2);
    expect([...glass.changes.keys()].filter((a) => a.startsWith("helm_release."))).toEqual([
      expect.stringContaining("iris_blue"),
    ]);
  }, 300_000);

  test("a change to the standby color plans and applies; the serving color's Deployment is untouched", async () => {
    const generation = async (color: string) =>
      (await kubectl("get", "deployment", `iris-${color}`, "-n", NS)).metadata.generation;
    const [blueBefore, greenBefore] = [await generation("blue"), await generation("green")];
    vars.green_build = "2";
    const plan = await stack.plan(vars);
    expect([...plan.changes.entries()]).toEqual([[expect.stringContaining("helm_release.iris_green"), ["update"]]]);
    const apply = await stack.apply(vars);
    if (apply.code !== 0) throw new Error(apply.out.slice(-6000));
    expect(apply.out).not.toContain("Verifying"); // nothing switches: nothing is verified
    expect(await generation("blue")).toBe(blueBefore);
    expect(await generation("green")).toBeGreaterThan(greenBefore);
  }, 600_000);

  test("blue -> green serving the wrong version 3: the gate fails the apply and the selector stays blue; -var active=blue scales green back", async () => {
    await forwards.point("green", tritons.v3.ports.http);
    const apply = await stack.apply({ ...vars, active: "green" });
    expect(apply.code).not.toBe(0);
    expect(apply.out).toContain("FAIL  model classifier golden three classes");
    expect(apply.out).toContain("PROBABILITIES row 0: top 1 classes [1], expected [0]");
    expect(await selector("iris")).toEqual({ app: "iris", color: "blue" });
    expect(await replicas("green")).toBe(2); // the candidate holds its full size after the failed gate...
    // ...until the serving color is named active again: blue passed before, so nothing is verified
    const back = await stack.apply(vars);
    if (back.code !== 0) throw new Error(back.out.slice(-6000));
    expect(back.out).toMatch(
      /SKIP +verification \(0 ms\): skipped: fingerprint [0-9a-f]{16} passed at \d{4}-\d\d-\d\dT/,
    );
    // Each verdict is in the pair's history (what `cdktf-triton history` prints): blue's first pass, green's failure, blue's skip.
    const history = ((await kubectl("get", "configmap", "iris-promotions", "-n", NS)).data["history.jsonl"] as string)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(history.slice(-3).map((h) => [h.kind, h.app, h.color, h.verdict])).toEqual([
      ["verification", "iris", "blue", "pass"],
      ["verification", "iris", "green", "fail"],
      ["verification", "iris", "blue", "skipped"],
    ]);
    expect(history[history.length - 2].message).toContain("golden three classes");
    expect(await replicas("green")).toBe(1);
    expect((await stack.plan(vars)).code).toBe(0);
  }, 600_000);

  test("blue -> green serving version 2: blue keeps its replicas through the switch, shrinks in the next apply; then the plan is empty", async () => {
    await forwards.point("green", tritons.v2.ports.http);
    vars.active = "green";
    const plan = await stack.plan(vars);
    const services = [...plan.changes.entries()].filter(([address]) => address.startsWith("kubernetes_service_v1."));
    expect(services.map(([, actions]) => actions)).toEqual([["update"], ["update"]]); // in place
    expect(plan.changes.get([...plan.changes.keys()].find((a) => a.includes("iris_verify"))!)).toEqual([
      "delete",
      "create",
    ]);
    expect([...plan.changes.keys()].filter((a) => a.startsWith("helm_release."))).toEqual([
      expect.stringContaining("iris_green"),
    ]);

    const watch = watchReplicas(NS, "iris-blue");
    const t0 = Date.now();
    const apply = await stack.apply(vars);
    timings.verifiedSwitchMs = Date.now() - t0;
    const seen = await watch.stop();
    if (apply.code !== 0) throw new Error(apply.out.slice(-6000));
    expect(apply.out).toContain("PASS: the candidate may take traffic");
    timings.verifiedGate = gateSeconds(apply.out);
    expect(gateReport().skipped).toBeUndefined();
    expect(await selector("iris")).toEqual({ app: "iris", color: "green" });
    expect(await selector("iris-preview")).toEqual({ app: "iris", color: "blue" });
    // every spec.replicas the API server held for blue while it served: never below its 2
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((n) => n === 2)).toBe(true);
    expect(await keyOf("green")).toBe(keys.green); // green's release was upgraded: the chart kept its key

    const after = await stack.plan(vars);
    expect([...after.changes.entries()]).toEqual([[expect.stringContaining("helm_release.iris_blue"), ["update"]]]);
    const scaleDown = await stack.apply(vars);
    if (scaleDown.code !== 0) throw new Error(scaleDown.out.slice(-6000));
    expect(await replicas("blue")).toBe(1);
    expect((await stack.plan(vars)).code).toBe(0);
  }, 600_000);

  test("rollback green -> blue to the fingerprint that passed before: the pre-switch checks are skipped, the report says why", async () => {
    await forwards.point("blue", tritons.v1.ports.http);
    vars.active = "blue";
    const served = () => inferences(tritons.v1);
    const before = await served();
    const t0 = Date.now();
    const apply = await stack.apply(vars);
    timings.rollbackMs = Date.now() - t0;
    if (apply.code !== 0) throw new Error(apply.out.slice(-6000));
    const report = gateReport();
    expect(report.skipped).toEqual({
      fingerprint: report.fingerprint,
      passedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(apply.out).toContain(`skipped: fingerprint ${report.fingerprint} passed at ${report.skipped.passedAt}`);
    expect(await selector("iris")).toEqual({ app: "iris", color: "blue" });
    // blue answered only the post-switch verification through the active Service (1 golden + 50
    // probe requests): the pre-switch checks sent it nothing
    expect((await served()) - before).toBe(51);
    // Times are printed, not asserted (helm's rollout dominates an apply; the gate alone is measured
    // by `npm run bench:switch`).
    console.log(
      `${name}: verified switch ${timings.verifiedSwitchMs} ms (its gate ${timings.verifiedGate}), ` +
        `rollback to a passed fingerprint ${timings.rollbackMs} ms (its gate ${gateSeconds(apply.out)})`,
    );
    const scaleDown = await stack.apply(vars);
    if (scaleDown.code !== 0) throw new Error(scaleDown.out.slice(-6000));
  }, 600_000);

  test("a candidate that passes before the switch and fails after it: the selectors go back, the apply fails, the next plan shows it", async () => {
    // green with a build never verified, served by version 4: it answers the gate's 51 requests, then fails
    await forwards.point("green", tritons.v4.ports.http);
    const apply = await stack.apply({ ...vars, active: "green", green_build: "3" });
    expect(apply.code).not.toBe(0);
    expect(apply.out).toContain("PASS: the candidate may take traffic"); // before the switch
    const back = /switched back: iris and iris-preview select blue and green again \((\d+) ms after the verdict\)/.exec(
      apply.out,
    );
    expect(back).not.toBeNull();
    console.log(`${name}: post-switch failure, verdict to restored selectors: ${back![1]} ms`);
    timings.switchBackMs = Number(back![1]);
    expect(await selector("iris")).toEqual({ app: "iris", color: "blue" });
    expect(await selector("iris-preview")).toEqual({ app: "iris", color: "green" });
    // the next plan says what it would do again: move the Services to green and verify after the switch
    const plan = await stack.plan({ ...vars, active: "green", green_build: "3" });
    const changed = [...plan.changes.keys()];
    expect(changed).toEqual(
      expect.arrayContaining([
        expect.stringContaining("kubernetes_service_v1.iris_active-service"),
        expect.stringContaining("iris_after-switch"),
      ]),
    );
    // and with active=blue again (what serves), the plan only tidies up: green shrinks, records are rewritten
    const restore = await stack.apply(vars);
    if (restore.code !== 0) throw new Error(restore.out.slice(-6000));
    expect((await stack.plan(vars)).code).toBe(0);
  }, 600_000);

  test("destroy leaves nothing behind: no Helm release, no object, no namespace", async () => {
    const destroy = await stack.tofu("destroy", "-input=false", "-auto-approve");
    if (destroy.code !== 0) throw new Error(destroy.out.slice(-6000));
    // The releases (two colors, the route) uninstalled by the provider, not swept away with the namespace
    expect(destroy.out.match(/helm_release\.[^:]+: Destruction complete/g)).toHaveLength(3);
    expect(destroy.out).toMatch(/kubernetes_namespace_v1\.namespace[^:]*: Destruction complete/);
    expect(await names("all", NS)).toEqual([]);
    expect(await names("httproutes", NS)).toEqual([]);
    expect(await names("secrets", NS)).toEqual([]); // Helm keeps its release records in Secrets
    const gone = (await kubectl("get", "namespaces")).items.map((n: any) => n.metadata.name);
    expect(gone).not.toContain(NS);
    expect(JSON.parse(fs.readFileSync(path.join(work, "terraform.tfstate"), "utf8")).resources).toEqual([]);
  }, 600_000);
});

/** Records every spec.replicas the API server holds for a Deployment, from now until stop(). */
function watchReplicas(namespace: string, deployment: string): { stop(): Promise<number[]> } {
  const seen: number[] = [];
  const proc: ChildProcess = spawn(
    kubectlBin,
    [
      "--kubeconfig",
      kubeconfig,
      "get",
      "deployment",
      deployment,
      "-n",
      namespace,
      "--watch",
      "-o",
      'jsonpath={.spec.replicas}{"\\n"}',
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let buffer = "";
  proc.stdout!.on("data", (d) => {
    buffer += d;
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    seen.push(...lines.filter((l) => l.trim() !== "").map(Number));
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        proc.on("close", () => resolve(seen));
        proc.kill("SIGTERM");
      }),
  };
}
