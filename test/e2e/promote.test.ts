import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { NamespaceV1 } from "@cdktf/provider-kubernetes/lib/namespace-v1";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Backend, ModelControl, ModelRepository, PromotionMetric, TritonBlueGreen, TritonCanary, TritonPromotion } from "../../lib";
import { RunningTriton, startTriton } from "../peers/triton";
import { freePort, startAll } from "../peers/servers";
import { envoyFromConfigMap, MountedEnvoy } from "../peers/kubelet";
import { RunningPrometheus, ScrapeTarget, startPrometheus } from "../peers/prometheus";
import { startWebhookReceiver, WebhookReceiver } from "../peers/webhook";
import { classifierInference, steadyLoad } from "../peers/load";
import { until } from "../peers/wait";
import { engineEnv, EngineStack, kubectl, names, root, run, synthesize, unavailable } from "./engine";

// A staged promotion end to end, on real engines: the stack (a blue/green pair, its canary and its
// TritonPromotion) applied to the test cluster by OpenTofu; our Envoy on loopback from the ConfigMap
// the apply wrote (test/peers/kubelet.ts copies it from the API server as a mounted ConfigMap
// updates); real Tritons behind it (the classifier's version 1 and 2 good, version 5 bad); a real
// Prometheus scraping Envoy and the Tritons; steady load through Envoy for the whole run; the driver
// is the CLI, `cdktf-triton promote --engine tofu`, as a pipeline runs it.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const cli = path.join(root, "bin", "cdktf-triton.js");
const NS = "e2e-promote";
const APP = "fraud";

interface Ports {
  http: number;
  grpc: number;
  ops: number;
}

/** The stack: what a platform team writes. `blue`/`green` are where Envoy reaches each color (loopback here). */
function promoteStack(app: App, id: string, work: string, ports: Ports, colors: Record<"blue" | "green", { version: string; triton: RunningTriton }>, extraQuery?: string): TerraformStack {
  const s = new TerraformStack(app, id);
  new LocalBackend(s, { path: path.join(work, "terraform.tfstate") });
  new KubernetesProvider(s, "kubernetes", { configPath: process.env.E2E_KUBECONFIG ?? path.join(root, ".tools", "cluster", "kubeconfig") });
  new HelmProvider(s, "helm", { kubernetes: { configPath: process.env.E2E_KUBECONFIG ?? path.join(root, ".tools", "cluster", "kubeconfig") } });
  const namespace = new NamespaceV1(s, "namespace", { metadata: { name: NS } }).metadata.name;
  const common = {
    modelRepository: ModelRepository.objectStore("s3://models/fraud", { credentialsSecret: "model-store" }),
    modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
    replicas: 1,
    gpus: 1,
    nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
  };
  const pair = new TritonBlueGreen(s, APP, {
    namespace,
    blue: { ...common, version: colors.blue.version },
    green: { ...common, version: colors.green.version },
    active: TritonBlueGreen.activeVariable(s, "active", "blue"),
    standby: TritonBlueGreen.standbyVariable(s, "standby", "warm"),
  });
  const address = (color: "blue" | "green") => Backend.address(color, "127.0.0.1", colors[color].triton.ports.http, colors[color].triton.ports.grpc);
  const canary = new TritonCanary(s, "fraud-canary", {
    pair,
    namespace,
    replicas: 1,
    canaryPercent: TritonCanary.percentVariable(s, "fraud_canary"),
    backends: { blue: address("blue"), green: address("green") },
    httpPort: ports.http,
    grpcPort: ports.grpc,
    // Out of the way of the analysis: a host is never ejected for its errors here.
    outlierDetection: { consecutive5xx: 1000 },
  });
  new TritonPromotion(s, "fraud-promotion", {
    canary,
    // Short bakes for a test; each step still sees several analyses.
    steps: [
      { weightPercent: 10, bakeSeconds: 8 },
      { weightPercent: 50, bakeSeconds: 8 },
      { weightPercent: 100, bakeSeconds: 8 },
    ],
    analysis: {
      intervalSeconds: 2,
      metrics: [
        PromotionMetric.successRate({ minPercent: 99, minRequests: 20 }),
        // Envoy refreshes its histograms every 5 s: a 6 s window holds at least one refresh.
        PromotionMetric.latency({ percentile: 99, maxMs: 150, intervalSeconds: 6, minRequests: 20 }),
        PromotionMetric.tritonFailureRate({ maxPercent: 1, intervalSeconds: 3 }),
        PromotionMetric.promql({ name: "candidate-throughput", query: 'sum(rate(nv_inference_request_success{app="{{app}}",namespace="{{namespace}}",color="{{color}}"}[{{interval}}]))', min: 1, intervalSeconds: 3 }),
        ...(extraQuery ? [PromotionMetric.promql({ name: "extra", query: extraQuery, max: 1 })] : []),
      ],
    },
  });
  return s;
}

describeE2e("a staged promotion driven by cdktf-triton promote, on OpenTofu, real Envoy, real Tritons and a real Prometheus", () => {
  const work = path.join(root, "test", ".tmp", NS);
  const reports = path.join(work, "reports");
  let tritons: Record<"v1" | "v2" | "v5" | "slow", RunningTriton>;
  let ports: Ports;
  let stack: EngineStack;
  let envoy: MountedEnvoy;
  let prometheus: RunningPrometheus;
  let webhook: WebhookReceiver;
  let load: ReturnType<typeof steadyLoad>;
  const kubeconfigPath = process.env.E2E_KUBECONFIG ?? path.join(root, ".tools", "cluster", "kubeconfig");

  const synth = (colors: Record<"blue" | "green", { version: string; triton: RunningTriton }>, extraQuery?: string) =>
    (stack = synthesize(path.join(work, "out"), "promote", (app, id) => promoteStack(app, id, work, ports, colors, extraQuery)));
  /** Prometheus labels each Triton as the ServiceMonitor would: app, namespace, and the color it serves as. */
  const targets = (blue: RunningTriton, green: RunningTriton): ScrapeTarget[] => [
    { address: `127.0.0.1:${ports.ops}`, metricsPath: "/stats/prometheus", labels: { app: "fraud-canary", namespace: NS } },
    ...([["blue", blue], ["green", green]] as const).map(([color, t]) => ({ address: `127.0.0.1:${t.ports.metrics}`, metricsPath: "/metrics", labels: { app: APP, namespace: NS, color } })),
  ];
  const promoteCli = (...args: string[]) =>
    run(process.execPath, [cli, "promote", "--stack", stack.dir, "--engine", "tofu", "--kubeconfig", kubeconfigPath, "--envoy-url", envoy.opsUrl, "--prometheus-url", prometheus.url, "--report-dir", reports, ...args], {
      env: engineEnv({ CDKTF_TRITON_WEBHOOK_URL: webhook.url }),
      timeout: 600_000,
    });
  const versionServed = async () => {
    const text = await (await fetch(`${envoy.opsUrl}/stats/prometheus?text_readouts`)).text();
    // Each listener's route table (HTTP and gRPC) reports the weights it serves: one answer, or a mix.
    return [...new Set([...text.matchAll(/envoy_http_rds_version_text\{[^}]*text_value="([^"]*)"\}/g)].map((m) => m[1]))].join(" | ");
  };
  /** Stages a new release on blue (the standby while green serves) behind `triton`, as a pipeline would, and waits until Envoy and Prometheus see it. */
  const stageBlue = async (version: string, triton: RunningTriton) => {
    synth({ blue: { version, triton }, green: { version: "v2", triton: tritons.v2 } });
    await stack.ok("apply", "-input=false", "-auto-approve", "-var", "active=green");
    await prometheus.setTargets(targets(triton, tritons.v2));
    // The mount stand-in polls every 200 ms and Envoy reloads at once: 30 s is slack for a loaded machine.
    await until("Envoy reaching blue's new server", 30_000, async () => (await fetch(`http://127.0.0.1:${envoy.adminPort}/clusters`).then((r) => r.text())).includes(`blue-http::127.0.0.1:${triton.ports.http}::`));
    expect(await versionServed()).toBe("weights canary: blue=0, green=100");
  };
  /** The CLI as a process a test can signal. */
  const promoteProcess = (...args: string[]) => {
    const proc = spawn(process.execPath, [cli, "promote", "--stack", stack.dir, "--engine", "tofu", "--kubeconfig", kubeconfigPath, "--envoy-url", envoy.opsUrl, "--prometheus-url", prometheus.url, "--report-dir", reports, ...args], {
      env: engineEnv({ CDKTF_TRITON_WEBHOOK_URL: webhook.url }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => proc.on("close", (code, signal) => resolve({ code, signal, out })));
    return { proc, exited };
  };
  /** Waits (on the webhook's messages) until the promotion announced step `weight`. A step is an apply plus a rollout: 120 s is slack. */
  const untilStep = (from: number, weight: number) => until(`the promotion at ${weight} %`, 120_000, () => webhook.messages.slice(from).some((m) => m.event === "step" && m.weightPercent === weight), 100);
  const state = async () => JSON.parse((await stack.ok("output", "-json", "fraud_promotion")).trim().split("\n").find((l) => l.startsWith("{"))!);
  const history = async () => {
    const cm = await kubectl("get", "configmap", `${APP}-promotions`, "-n", NS);
    return (cm.data["history.jsonl"] as string).trim().split("\n").map((l) => JSON.parse(l));
  };

  beforeAll(async () => {
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { recursive: true });
    await run(path.join(root, ".tools", "bin", "kubectl"), ["--kubeconfig", kubeconfigPath, "delete", "namespace", NS, "--ignore-not-found", "--wait=true"]);
    ports = { http: await freePort(), grpc: await freePort(), ops: await freePort() };
    const [v1, v2, v5, slow] = await startAll([
      startTriton({ models: { classifier: [1] } }),
      startTriton({ models: { classifier: [2] } }),
      startTriton({ models: { classifier: [5] }, env: { CLASSIFIER_FAIL_EVERY: "20" } }),
      startTriton({ models: { classifier: [5] }, env: { CLASSIFIER_FAIL_EVERY: "0", CLASSIFIER_DELAY_MS: "200" } }),
    ]);
    tritons = { v1, v2, v5, slow };
    webhook = await startWebhookReceiver();
    synth({ blue: { version: "v1", triton: v1 }, green: { version: "v2", triton: v2 } });
    await stack.ok("init", "-input=false");
    await stack.ok("apply", "-input=false", "-auto-approve");
    envoy = await envoyFromConfigMap(NS, "fraud-canary", ports.ops);
    prometheus = await startPrometheus(targets(v1, v2));
    // Every request through Envoy, for the whole run.
    load = steadyLoad(`http://127.0.0.1:${ports.http}`, 4, classifierInference);
  }, 600_000);

  afterAll(async () => {
    await load?.stop();
    await Promise.all([envoy?.stop(), prometheus?.stop(), webhook?.stop(), ...Object.values(tritons ?? {}).map((t) => t.stop())]);
  }, 120_000);

  test("bad input is refused before any apply: a query Prometheus rejects, a missing engine, a canary the plan rules refuse", async () => {
    const configMap = async () => (await kubectl("get", "configmap", "fraud-canary", "-n", NS)).metadata.resourceVersion;
    const before = await configMap();
    // A query Prometheus refuses: the dry query at start says so, and nothing is applied.
    synth({ blue: { version: "v1", triton: tritons.v1 }, green: { version: "v2", triton: tritons.v2 } }, "sum(rate(nv_inference_request_success[1m]) by (");
    const bad = await promoteCli();
    expect([bad.code, bad.out]).toEqual([2, expect.stringMatching(/analysis metric extra: Prometheus refused "sum\(rate\(nv_inference_request_success\[1m\]\) by \(": bad_data: /)]);
    // A missing engine.
    const noEngine = await run(process.execPath, [cli, "promote", "--stack", stack.dir, "--engine", "terraform"], { env: engineEnv({ TERRAFORM_BINARY_NAME: "/nonexistent/terraform" }) });
    expect([noEngine.code, noEngine.out]).toEqual([2, expect.stringContaining("the engine /nonexistent/terraform (--engine terraform) cannot run: not found")]);
    expect(await configMap()).toBe(before);
    expect(await names("configmap", NS)).not.toContain(`${APP}-promotions`);
    synth({ blue: { version: "v1", triton: tritons.v1 }, green: { version: "v2", triton: tritons.v2 } });

    // The canary's rules at plan: a switch with the canary above 0, a canary above 0 on a standby
    // that is not warm, and a percent outside 0 to 100.
    const refused = async (...vars: string[]) => {
      const r = await stack.tofu("plan", "-input=false", "-no-color", ...vars.flatMap((v) => ["-var", v]));
      expect(r.code).toBe(1);
      return r.out.slice(r.out.indexOf("Error:")).replace(/[│╵╷\s]+/g, " ");
    };
    expect(await refused("active=green", "fraud_canary=30")).toContain(
      "promote/fraud-canary: canaryPercent is 30 while this plan switches fraud from blue to green: with a canary above 0 the color switched away from would take that share at once. Switch with the canary at 0 in the same plan (-var fraud_canary=0)",
    );
    expect(await refused("standby=preview", "fraud_canary=30")).toContain(
      'promote/fraud-canary: canaryPercent is 30 while fraud\'s standby is "preview": a canary above 0 sends real traffic to the standby color, which must run full replicas (standby "warm").',
    );
    expect(await refused("fraud_canary=101")).toContain("The fraud_canary variable must be a whole number from 0 to 100");
    expect(await configMap()).toBe(before);
  }, 600_000);

  test("a good candidate is promoted step by step, then switched: no request fails, and the run is in the history, the files and the webhook", async () => {
    // Envoy reads its route tables just after it starts: 15 s is slack for a loaded machine.
    await until("Envoy serving the first apply's weights", 15_000, async () => (await versionServed()) === "weights canary: blue=100, green=0");
    const sent = load.samples.length;
    const r = await promoteCli("--json", path.join(work, "good.json"));
    expect([r.code, r.out.slice(-3000)]).toEqual([0, expect.stringContaining("promoted: green (v2) serves all traffic")]);
    // Every step is a line in CI (no TTY): the weight, the time left, the live values.
    expect(r.out).toMatch(/step 1\/3 10 % · \d+ s left · request-success-rate=/);
    // The switch: active = green, canary back to 0, and Envoy sends everything to green.
    expect(await state()).toMatchObject({ active: "green", canary: 0 });
    expect(await versionServed()).toBe("weights canary: blue=0, green=100");
    expect((await kubectl("get", "service", APP, "-n", NS)).spec.selector.color).toBe("green");
    const during = load.samples.slice(sent);
    expect(during.filter((x) => x.status !== 200)).toEqual([]);
    // Green (version 2) took a growing share, then all of it.
    const tail = load.samples.slice(-50);
    expect(tail.every((x) => x.version === "2")).toBe(true);

    const report = JSON.parse(fs.readFileSync(path.join(work, "good.json"), "utf8"));
    expect(report.record).toMatchObject({ status: "promoted", from: { color: "blue", version: "v1" }, to: { color: "green", version: "v2" } });
    expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([[10, "pass"], [50, "pass"], [100, "pass"]]);
    // Every metric measured and passed in every step; none failed.
    for (const step of report.record.steps) for (const m of step.metrics) expect([step.weightPercent, m.metric, m.passed > 0, m.failed]).toEqual([step.weightPercent, m.metric, true, 0]);
    const [last] = (await history()).slice(-1);
    expect(last).toMatchObject({ kind: "promotion", id: report.record.id, status: "promoted" });
    const lines = fs.readFileSync(path.join(reports, "promotions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.status])).toEqual([[report.record.id, "promoted"]]);
    expect(webhook.messages.map((m) => m.event)).toEqual(["started", "step", "step-passed", "step", "step-passed", "step", "step-passed", "promoted"]);
    expect(webhook.messages.every((m) => typeof m.text === "string" && m.app === APP && m.promotion === report.record.id)).toBe(true);
  }, 600_000);

  test("a bad candidate (5 % errors) is aborted at its first analysis; its traffic returns to 0 % and its failures stay within its step weight times the bake", async () => {
    // The next candidate is blue: version v3, served by the bad Triton. Staged on blue (the standby), applied as a pipeline would.
    await stageBlue("v3", tritons.v5);
    const before = webhook.messages.length;
    const sent = load.samples.length;
    const started = performance.now();
    const r = await promoteCli("--json", path.join(work, "bad.json"));
    const elapsed = performance.now() - started;
    expect([r.code, r.out.slice(-3000)]).toEqual([1, expect.stringContaining("aborted")]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "bad.json"), "utf8"));
    expect(report.record).toMatchObject({ status: "aborted", from: { color: "green" }, to: { color: "blue", version: "v3" } });
    // At its first step, on a failed measurement of the success rate (or Triton's own failure rate).
    expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([[10, "fail"]]);
    expect(report.record.reason).toMatch(/^(request-success-rate|triton-failure-rate) = /);
    const firstFailed = report.measurements.find((m: any) => m.verdict === "fail");
    expect(report.measurements.filter((m: any) => m.metric === firstFailed.metric && m.at < firstFailed.at)).toEqual([]); // its first measurement failed
    // Back to 0 %: green takes everything again, and the state says so.
    expect(await versionServed()).toBe("weights canary: blue=0, green=100");
    expect(await state()).toMatchObject({ active: "green", canary: 0 });
    const afterAbort = load.samples.length;
    await until("50 more answers", 30_000, () => load.samples.length > afterAbort + 50);
    expect(load.samples.slice(afterAbort).filter((x) => x.version === "5" || x.status !== 200)).toEqual([]);
    // The bound: requests the candidate failed <= the load's rate x the step weight x the bake time.
    const during = load.samples.slice(sent, afterAbort);
    const failed = during.filter((x) => x.status !== 200).length;
    const rate = during.length / (elapsed / 1000);
    const bound = Math.ceil(rate * 0.1 * 8);
    expect([failed > 0, failed <= bound, failed, bound]).toEqual([true, true, failed, bound]);
    const decisionMs = report.timings.decisionMs;
    expect(decisionMs).toBeLessThan(8000);
    // Both runs in the history (cluster and files), and the messages in order.
    expect((await history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual(["promoted", "aborted"]);
    const lines = fs.readFileSync(path.join(reports, "promotions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).status);
    expect(lines).toEqual(["promoted", "aborted"]);
    expect(webhook.messages.slice(before).map((m) => m.event)).toEqual(["started", "step", "aborted"]);
    const table = await run(process.execPath, [cli, "history", "--app", APP, "-n", NS, "--kubeconfig", kubeconfigPath], { env: engineEnv() });
    expect(table.stdout).toMatch(/green v2 -> blue v3\s+10%\(fail\)\s+aborted: /);
    expect(table.stdout).toMatch(/blue v1 -> green v2\s+10% 50% 100%\s+promoted/);
  }, 600_000);
  test("a bad candidate (+200 ms) is aborted at its first latency analysis", async () => {
    await stageBlue("v4", tritons.slow);
    const r = await promoteCli("--json", path.join(work, "slow.json"));
    expect([r.code, r.out.slice(-2000)]).toEqual([1, expect.stringContaining("aborted")]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "slow.json"), "utf8"));
    expect(report.record.reason).toMatch(/^request-duration-p99 = \d+/);
    const latency = report.measurements.filter((m: any) => m.metric === "request-duration-p99");
    expect(latency[0]).toMatchObject({ verdict: "fail", step: 1 }); // its first analysis
    expect(latency[0].value).toBeGreaterThan(150);
    expect(await versionServed()).toBe("weights canary: blue=0, green=100");
  }, 600_000);

  test("Ctrl-C rolls back; a killed run is resumed by the next; a pause before the switch waits for --confirm; a failing webhook blocks nothing", async () => {
    await stageBlue("v5", tritons.v1);
    // Ctrl-C during the second step: the driver rolls back to 0 % and exits 130.
    let from = webhook.messages.length;
    const first = promoteProcess();
    await untilStep(from, 50);
    first.proc.kill("SIGINT");
    const stopped = await first.exited;
    expect([stopped.code, stopped.out.slice(-2000)]).toEqual([130, expect.stringContaining("interrupted (SIGINT)")]);
    expect(await versionServed()).toBe("weights canary: blue=0, green=100");
    expect((await history()).slice(-1)[0]).toMatchObject({ status: "interrupted", currentStep: -1 });

    // A run killed outright (a CI job cancelled) leaves traffic on its step, recorded as running.
    from = webhook.messages.length;
    const killed = promoteProcess();
    await untilStep(from, 10);
    killed.proc.kill("SIGKILL");
    await killed.exited;
    const [left] = (await history()).slice(-1);
    expect(left).toMatchObject({ status: "running", currentStep: 0, to: { color: "blue", version: "v5" } });
    expect(await versionServed()).toBe("weights canary: blue=10, green=90");

    // The next run resumes it at that step; the webhook fails meanwhile, and nothing waits for it.
    webhook.mode = "fail";
    const resumed = promoteProcess("--confirm-before-switch", "--json", path.join(work, "resumed.json"));
    const paused = await resumed.exited;
    expect([paused.code, paused.out.slice(-1500)]).toEqual([3, expect.stringContaining("awaiting confirmation before the switch")]);
    expect(paused.out).toContain(`resuming promotion ${left.id}`);
    expect(paused.out).toContain("notification not delivered (the promotion goes on): the webhook answered 500");
    // Paused before the switch: all steps passed, 100 % on blue, active still green, and the record says how to go on.
    expect(await versionServed()).toBe("weights canary: blue=100, green=0");
    expect(await state()).toMatchObject({ active: "green", canary: 100 });
    const report = JSON.parse(fs.readFileSync(path.join(work, "resumed.json"), "utf8"));
    expect(report.record).toMatchObject({ id: left.id, status: "paused" });
    expect(report.notificationProblems.length).toBeGreaterThan(0);
    webhook.mode = "ok";
    const confirmed = await promoteCli("--confirm");
    expect([confirmed.code, confirmed.out.slice(-2000)]).toEqual([0, expect.stringContaining("promoted: blue (v5) serves all traffic")]);
    expect(await state()).toMatchObject({ active: "blue", canary: 0 });
    expect(await versionServed()).toBe("weights canary: blue=100, green=0");
    expect((await history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual(["promoted", "aborted", "aborted", "interrupted", "promoted"]);
  }, 900_000);
});
