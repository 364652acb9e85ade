import * as fs from "fs";
import * as path from "path";
import { until } from "../peers/wait";
import { engineEnv, kubeconfig, kubectl, kubectlBin, names, root, run, unavailable } from "./engine";
import { loadReport, openBrowser } from "../peers/browser";
import { parseEnvoyLog } from "../../lib/run/observe/envoy-log";
import { APP, ENVOY_PODS, PromoteRig } from "./promote-fixture";
import { KUBELET_SYNC_SECONDS } from "../peers/kubelet";
import { weightsText } from "../../lib/run/envoys";
import { expectInOrder } from "../hang-check";

// A staged promotion end to end, on real engines (the rig: test/e2e/promote-fixture.ts): the stack
// applied to the test cluster by OpenTofu; two Envoy pods, each a real Envoy on loopback from the
// ConfigMap the apply wrote, refreshed at a kubelet's pace (a 60 s sync loop per pod, with jitter);
// real Tritons behind them (the classifier's version 1 and 2 good, version 5 bad); a real Prometheus
// scraping the Envoys and the Tritons; steady load through both Envoys for the whole run; the driver
// is the CLI, `cdktf-triton promote --engine tofu`, as a pipeline runs it: it pushes each move of the
// weights into every Envoy pod's runtime through a port-forward to the pod's admin port.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const cli = path.join(root, "bin", "cdktf-triton.js");
const NS = "e2e-promote";

describeE2e(
  "a staged promotion driven by cdktf-triton promote, on OpenTofu, real Envoy, real Tritons and a real Prometheus",
  () => {
    const work = path.join(root, "test", ".tmp", NS);
    const rig = new PromoteRig(work, NS);
    const reports = rig.reports;
    beforeAll(() => rig.start(), 600_000);
    afterAll(() => rig.stop(), 120_000);

    test("bad input is refused before any apply: a query Prometheus rejects, a missing engine, an Envoy URL that is not its admin, a canary the plan rules refuse", async () => {
      const configMap = async () =>
        (await kubectl("get", "configmap", "fraud-canary", "-n", NS)).metadata.resourceVersion;
      const before = await configMap();
      // A query Prometheus refuses: the dry query at start says so, and nothing is applied.
      rig.synth(
        { blue: { version: "v1", triton: rig.tritons.v1 }, green: { version: "v2", triton: rig.tritons.v2 } },
        "sum(rate(nv_inference_request_success[1m]) by (",
      );
      const bad = await rig.promote();
      expect([bad.code, bad.out]).toEqual([
        2,
        expect.stringMatching(
          /analysis metric extra: Prometheus refused "sum\(rate\(nv_inference_request_success\[1m\]\) by \(": bad_data: /,
        ),
      ]);
      // A missing engine.
      const noEngine = await run(
        process.execPath,
        [cli, "promote", "--stack", rig.stack.dir, "--engine", "terraform"],
        { env: engineEnv({ TERRAFORM_BINARY_NAME: "/nonexistent/terraform" }) },
      );
      expect([noEngine.code, noEngine.out]).toEqual([
        2,
        expect.stringContaining("the engine /nonexistent/terraform (--engine terraform) cannot run: not found"),
      ]);
      expect(await configMap()).toBe(before);
      expect(await names("configmap", NS)).not.toContain(`${APP}-promotions`);
      rig.synth({ blue: { version: "v1", triton: rig.tritons.v1 }, green: { version: "v2", triton: rig.tritons.v2 } });
      // An Envoy's ops port given where its admin is wanted (--envoy-url takes each pod's 9901): one line, exit 2.
      const opsUrl = rig.kubelet.all()[0].opsUrl;
      const wrongPort = await run(
        process.execPath,
        [
          cli,
          "promote",
          "--stack",
          rig.stack.dir,
          "--engine",
          "tofu",
          "--kubeconfig",
          kubeconfig,
          "--prometheus-url",
          rig.prometheus.url,
          "--envoy-url",
          opsUrl,
        ],
        { env: engineEnv() },
      );
      expect([wrongPort.code, wrongPort.out.trim().split("\n")]).toEqual([
        2,
        [
          expect.stringMatching(
            new RegExp(
              `^cdktf-triton promote: Envoy pod ${opsUrl}: its admin interface does not answer: GET ${opsUrl}/stats answered 404 \\(is it Envoy's admin interface, the pod's port 9901\\? the ops port 9902 serves no runtime\\)$`,
            ),
          ),
        ],
      ]);

      // The canary's rules at plan: a switch with the canary above 0, a canary above 0 on a standby
      // that is not warm, and a percent outside 0 to 100.
      const refused = async (...vars: string[]) => {
        const r = await rig.stack.tofu("plan", "-input=false", "-no-color", ...vars.flatMap((v) => ["-var", v]));
        expect(r.code).toBe(1);
        return r.out.slice(r.out.indexOf("Error:")).replace(/[│╵╷\s]+/g, " ");
      };
      expect(await refused("active=green", "fraud_canary=30")).toContain(
        "promote/fraud-canary: canaryPercent is 30 while this plan switches fraud from blue to green: with a canary above 0 the color switched away from would take that share at once. Switch with the canary at 0 in the same plan (-var fraud_canary=0)",
      );
      expect(await refused("standby=preview", "fraud_canary=30")).toContain(
        'promote/fraud-canary: canaryPercent is 30 while fraud\'s standby is "preview": a canary above 0 sends real traffic to the standby color, which must run full replicas (standby "warm").',
      );
      expect(await refused("fraud_canary=101")).toContain(
        "The fraud_canary variable must be a whole number from 0 to 100",
      );
      expect(await configMap()).toBe(before);
    }, 600_000);

    test("a good candidate is promoted step by step, then switched: no request fails, and the run is in the history, the files and the webhook", async () => {
      // Envoy reads its route tables just after it starts: 15 s is slack for a loaded machine.
      await until(
        "Envoy serving the first apply's weights",
        15_000,
        async () => (await rig.versionServed()) === "weights canary: blue=100, green=0",
      );
      const sent = rig.load.samples.length;
      const r = await rig.promote("--json-file", path.join(work, "good.json"));
      expect([r.code, r.out.slice(-3000)]).toEqual([
        0,
        expect.stringContaining("promoted: green (v2) serves all traffic"),
      ]);
      // Every step is a line in CI (no TTY): the weight, the time left, the live values.
      expect(r.out).toMatch(/step 1\/3 10 % · \d+ s left · request-success-rate=/);
      // The switch: active = green, canary back to 0, and Envoy sends everything to green.
      expect(await rig.state()).toMatchObject({ active: "green", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      expect((await kubectl("get", "service", APP, "-n", NS)).spec.selector.color).toBe("green");
      const during = rig.load.samples.slice(sent);
      expect(during.filter((x) => x.status !== 200)).toEqual([]);
      // Green (version 2) took a growing share, then all of it.
      const tail = rig.load.samples.slice(-50);
      expect(tail.every((x) => x.version === "2")).toBe(true);

      const report = JSON.parse(fs.readFileSync(path.join(work, "good.json"), "utf8"));
      expect(report.record).toMatchObject({
        status: "promoted",
        from: { color: "blue", version: "v1" },
        to: { color: "green", version: "v2" },
      });
      expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([
        [10, "pass"],
        [50, "pass"],
        [100, "pass"],
      ]);
      // Every metric measured and passed in every step; none failed.
      for (const step of report.record.steps)
        for (const m of step.metrics)
          expect([step.weightPercent, m.metric, m.passed > 0, m.failed]).toEqual([
            step.weightPercent,
            m.metric,
            true,
            0,
          ]);
      const [last] = (await rig.history()).slice(-1);
      expect(last).toMatchObject({ kind: "promotion", id: report.record.id, status: "promoted" });
      const lines = fs
        .readFileSync(path.join(reports, "promotions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.id, l.status])).toEqual([[report.record.id, "promoted"]]);
      expect(rig.webhook.messages.map((m) => m.event)).toEqual([
        "started",
        "step",
        "step-passed",
        "step",
        "step-passed",
        "step",
        "step-passed",
        "promoted",
      ]);
      expect(
        rig.webhook.messages.every(
          (m) => typeof m.text === "string" && m.app === APP && m.promotion === report.record.id,
        ),
      ).toBe(true);
    }, 600_000);

    test("a bad candidate (5 % errors) is aborted at its first analysis; its traffic returns to 0 % and its failures stay within its step weight times the bake", async () => {
      // The next candidate is blue: version v3, served by the bad Triton. Staged on blue (the standby), applied as a pipeline would.
      await rig.stageBlue("v3", rig.tritons.v5);
      const before = rig.webhook.messages.length;
      const sent = rig.load.samples.length;
      const started = performance.now();
      const r = await rig.promote("--json-file", path.join(work, "bad.json"));
      const elapsed = performance.now() - started;
      expect([r.code, r.out.slice(-3000)]).toEqual([1, expect.stringContaining("aborted")]);
      const report = JSON.parse(fs.readFileSync(path.join(work, "bad.json"), "utf8"));
      expect(report.record).toMatchObject({
        status: "aborted",
        from: { color: "green" },
        to: { color: "blue", version: "v3" },
      });
      // At its first step, on a failed measurement of the success rate (or Triton's own failure rate).
      expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([[10, "fail"]]);
      expect(report.record.reason).toMatch(/^(request-success-rate|triton-failure-rate) = /);
      const firstFailed = report.measurements.find((m: any) => m.verdict === "fail");
      expect(report.measurements.filter((m: any) => m.metric === firstFailed.metric && m.at < firstFailed.at)).toEqual(
        [],
      ); // its first measurement failed
      // Back to 0 %: green takes everything again, and the state says so.
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      expect(await rig.state()).toMatchObject({ active: "green", canary: 0 });
      const afterAbort = rig.load.samples.length;
      await until("50 more answers", 30_000, () => rig.load.samples.length > afterAbort + 50);
      expect(rig.load.samples.slice(afterAbort).filter((x) => x.version === "5" || x.status !== 200)).toEqual([]);
      // The bound: requests the candidate failed <= the load's rate x the step weight x the bake time.
      const during = rig.load.samples.slice(sent, afterAbort);
      const failed = during.filter((x) => x.status !== 200).length;
      const rate = during.length / (elapsed / 1000);
      const bound = Math.ceil(rate * 0.1 * 8);
      expect([failed > 0, failed <= bound, failed, bound]).toEqual([true, true, failed, bound]);
      // How soon after the first error the decision comes is bench:promote's figure; here, that it came after it.
      expectInOrder(
        ["the first failed measurement", report.timings.firstFailureAt],
        ["the decision", report.timings.decisionAt],
      );
      // The abort was pushed into every Envoy pod, then applied; each pod's runtime value was cleared
      // once its file (its kubelet's sync) carried 0 %.
      const abortMove = report.timings.moves[report.timings.moves.length - 1];
      expect(abortMove).toMatchObject({ weights: "weights canary: blue=0, green=100", order: "push-first" });
      expect([
        abortMove.unreached,
        abortMove.servedAt < abortMove.appliedAt,
        abortMove.appliedAt < abortMove.filesAt,
      ]).toEqual([undefined, true, true]);
      expect(report.timings.zeroTrafficAt).toBe(abortMove.servedAt);
      expect(await rig.overrides()).toEqual([]);
      // Both runs in the history (cluster and files), and the messages in order.
      expect((await rig.history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual([
        "promoted",
        "aborted",
      ]);
      const lines = fs
        .readFileSync(path.join(reports, "promotions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).status);
      expect(lines).toEqual(["promoted", "aborted"]);
      expect(rig.webhook.messages.slice(before).map((m) => m.event)).toEqual(["started", "step", "aborted"]);
      const table = await run(process.execPath, [cli, "history", "--app", APP, "-n", NS, "--kubeconfig", kubeconfig], {
        env: engineEnv(),
      });
      expect(table.stdout).toMatch(/green v2 -> blue v3\s+10%\(fail\)\s+aborted: /);
      expect(table.stdout).toMatch(/blue v1 -> green v2\s+10% 50% 100%\s+promoted/);
    }, 600_000);
    test("a bad candidate (+200 ms) is aborted at its first latency analysis (each Envoy pod's stats read through a port-forward to it)", async () => {
      await rig.stageBlue("v4", rig.tritons.slow);
      const r = await rig.promote("--json-file", path.join(work, "slow.json"));
      expect([r.code, r.out.slice(-2000)]).toEqual([1, expect.stringContaining("aborted")]);
      const report = JSON.parse(fs.readFileSync(path.join(work, "slow.json"), "utf8"));
      expect(report.record.reason).toMatch(/^request-duration-p99 = \d+/);
      const latency = report.measurements.filter((m: any) => m.metric === "request-duration-p99");
      expect(latency[0]).toMatchObject({ verdict: "fail", step: 1 }); // its first analysis, over its 0.15 s limit
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
    }, 600_000);

    test("a run killed between the abort's push and its apply: the Envoys serve 0 % from their runtime while the state has the step; status says so, and the next run rolls it back", async () => {
      await rig.stageBlue("v6", rig.tritons.v5);
      const first = rig.promoteProcess();
      // The driver says when every pod serves the abort's weights, then applies: killed right then (with its engine).
      const pushed = /weights canary: blue=0, green=100: served by 2 of 2 Envoy pods; applying with tofu/;
      await until("the abort pushed", 120_000, () => pushed.test(first.output()), 20);
      first.killGroup();
      await first.exited;
      // Its lease lasts 15 s more: the next run refuses until then.
      await rig.untilLeaseExpired();
      expect(await rig.state()).toMatchObject({ active: "green", canary: 10 }); // the apply never ran
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      expect((await rig.overrides()).length).toBe(ENVOY_PODS);
      expect((await rig.history()).slice(-1)[0]).toMatchObject({
        status: "aborted",
        currentStep: 0,
        to: { version: "v6" },
      });
      const status = await run(process.execPath, [cli, "status", "-n", NS, "--kubeconfig", kubeconfig, "--json"], {
        timeout: 120_000,
      });
      const [envoy] = JSON.parse(status.stdout).pairs[0].envoys;
      expect(envoy.problems).toHaveLength(ENVOY_PODS);
      expect(envoy.problems[0]).toMatch(
        /^Envoy pod fraud-canary-\S+ serves weights canary: blue=0, green=100 from its runtime while the applied ConfigMap has weights canary: blue=10, green=90: /,
      );

      // The next run: it names the pods, rolls the aborted promotion back (push, apply), then promotes
      // the candidate anew (aborted again: it is still bad), and clears every runtime value at the end.
      const second = await rig.promote();
      expect([second.code, second.out.slice(-2000)]).toEqual([1, expect.stringContaining("aborted")]);
      expect(second.out).toMatch(
        /Envoy pod fraud-canary-\S+ serves weights canary: blue=0, green=100 from its runtime while the state has weights canary: blue=10, green=90: an earlier run stopped between a push and its apply/,
      );
      expect(second.out).toMatch(/was left aborted at step 1 \(10 %\): rolling it back/);
      expect(second.out).toMatch(
        /took over the pair's lease from \S+ \(pid \d+\), since \S+, at step 1 of 3 \(10 %\), promotion \S+; its lease expired/,
      );
      expect(await rig.state()).toMatchObject({ active: "green", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      expect(await rig.overrides()).toEqual([]);
      expect(
        (await rig.history())
          .filter((h) => h.kind === "promotion")
          .map((h) => h.status)
          .slice(-2),
      ).toEqual(["rolled-back", "aborted"]);
    }, 900_000);

    test("Ctrl-C rolls back; a killed run is resumed by the next; a pause before the switch waits for --confirm; a failing webhook blocks nothing", async () => {
      await rig.stageBlue("v5", rig.tritons.v1);
      // Ctrl-C during the second step: the driver rolls back to 0 % and exits 130.
      let from = rig.webhook.messages.length;
      const first = rig.promoteProcess();
      await rig.untilStep(from, 50);
      first.proc.kill("SIGINT");
      const stopped = await first.exited;
      expect([stopped.code, stopped.out.slice(-2000)]).toEqual([130, expect.stringContaining("interrupted (SIGINT)")]);
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      expect((await rig.history()).slice(-1)[0]).toMatchObject({ status: "interrupted", currentStep: -1 });

      // A run killed outright (a CI job cancelled) leaves traffic on its step, recorded as running.
      from = rig.webhook.messages.length;
      const killed = rig.promoteProcess();
      await rig.untilStep(from, 10);
      killed.killGroup(); // the job and everything it started, port-forwards included
      await killed.exited;
      await rig.untilLeaseExpired();
      const [left] = (await rig.history()).slice(-1);
      expect(left).toMatchObject({ status: "running", currentStep: 0, to: { color: "blue", version: "v5" } });
      expect(await rig.versionServed()).toBe("weights canary: blue=10, green=90");

      // The next run resumes it at that step; the webhook fails meanwhile, and nothing waits for it.
      rig.webhook.mode = "fail";
      const resumed = rig.promoteProcess("--confirm-before-switch", "--json-file", path.join(work, "resumed.json"));
      const paused = await resumed.exited;
      expect([paused.code, paused.out.slice(-1500)]).toEqual([
        3,
        expect.stringContaining("awaiting confirmation before the switch"),
      ]);
      expect(paused.out).toContain(`resuming promotion ${left.id}`);
      expect(paused.out).toContain("notification not delivered (the promotion goes on): the webhook answered 500");
      // Paused before the switch: all steps passed, 100 % on blue, active still green, and the record says how to go on.
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
      expect(await rig.state()).toMatchObject({ active: "green", canary: 100 });
      const report = JSON.parse(fs.readFileSync(path.join(work, "resumed.json"), "utf8"));
      expect(report.record).toMatchObject({ id: left.id, status: "awaiting-confirmation" });
      expect(report.notificationProblems.length).toBeGreaterThan(0);
      rig.webhook.mode = "ok";
      const confirmed = await rig.promote("--confirm");
      expect([confirmed.code, confirmed.out.slice(-2000)]).toEqual([
        0,
        expect.stringContaining("promoted: blue (v5) serves all traffic"),
      ]);
      expect(await rig.state()).toMatchObject({ active: "blue", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
      expect((await rig.history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual([
        "promoted",
        "aborted",
        "aborted",
        "rolled-back",
        "aborted",
        "interrupted",
        "promoted",
      ]);
    }, 900_000);

    test("an Envoy pod restarted mid-promotion serves the step's weights again; a pod that answers no push aborts the step, named", async () => {
      await rig.stage("green", "v7", rig.tritons.v2);
      const from = rig.webhook.messages.length;
      const running = rig.promoteProcess("--json-file", path.join(work, "restart.json"));
      await rig.untilStep(from, 10);
      const [a, b] = rig.kubelet.all();
      // The container restarts: its runtime is empty and its file is what its kubelet last wrote
      // (most likely still 0 %). The driver looks at every pod each second and pushes again.
      await rig.kubelet.get(a.pod).restart();
      await until(
        `${a.pod} serving the step's weights again`,
        10_000,
        async () =>
          weightsText("canary", (await rig.served(a.adminUrl)).served) === "weights canary: blue=90, green=10",
        100,
      ).catch((e) => {
        try {
          running.killGroup();
        } catch {
          // it had exited
        }
        throw new Error(`${e.message}; the driver said:\n${running.output().slice(-4000)}`);
      });
      // Pod b hangs just as the second step applies: its push is retried, then the step aborts.
      await until("the second step", 120_000, () => running.output().includes("step 2/3: 50 % to green"), 20);
      rig.kubelet.get(b.pod).freeze();
      await until("the abort", 120_000, () => running.output().includes("aborting: "), 100);
      rig.kubelet.get(b.pod).thaw();
      const done = await running.exited;
      expect([done.code, done.out.slice(-2000)]).toEqual([1, expect.stringContaining("aborted")]);
      const report = JSON.parse(fs.readFileSync(path.join(work, "restart.json"), "utf8"));
      expect(report.record.reason).toMatch(
        new RegExp(`^step 2: Envoy pod did not take weights canary: blue=50, green=50: ${b.pod} \\(`),
      );
      // Back on blue in both pods (b's stale pushes, answered after it thawed, were set right too), nothing left in a runtime.
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
      expect(await rig.overrides()).toEqual([]);
    }, 900_000);

    test("a plain apply of the canary variable, without the driver, reaches every Envoy pod at its kubelet's pace", async () => {
      const servedEverywhere = (text: string) => async () => (await rig.versionServed()) === text;
      // Each pod's kubelet writes the ConfigMap at its next sync: at most 1.5 sync periods (the jitter), plus 30 s of slack.
      const limit = KUBELET_SYNC_SECONDS * 1500 + 30_000;
      for (const canary of [25, 0]) {
        await rig.stack.ok(
          "apply",
          "-input=false",
          "-auto-approve",
          "-var",
          "active=blue",
          "-var",
          `fraud_canary=${canary}`,
        );
        const applied = Date.now();
        await until(
          `every Envoy pod serving ${canary} %`,
          limit,
          servedEverywhere(`weights canary: blue=${100 - canary}, green=${canary}`),
          500,
        );
        console.log(
          `a plain apply of fraud_canary=${canary}: every Envoy pod served it ${((Date.now() - applied) / 1000).toFixed(1)} s after the apply`,
        );
        expect(await rig.overrides()).toEqual([]);
      }
    }, 600_000);
    test("the pair's Grafana dashboard (a ConfigMap with the sidecar's label): every panel's query returns data from the real Prometheus, the GPU panels aside (no GPU here)", async () => {
      const cm = await kubectl("get", "configmap", `${APP}-dashboard`, "-n", NS);
      expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: "1", app: APP });
      const dashboard = JSON.parse(cm.data[`${APP}.json`]);
      const queries = dashboard.panels.map((p: any) => ({ title: p.title, expr: p.targets[0].expr as string }));
      expect(queries.length).toBe(11);
      const results: Record<string, number> = {};
      for (const q of queries) {
        // Grafana's $__rate_interval, as Grafana would set it for a 1 s scrape interval and up.
        const expr = q.expr.replace(/\$__rate_interval/g, "1m");
        const body: any = await (
          await fetch(`${rig.prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`)
        ).json();
        expect([q.title, body.status]).toEqual([q.title, "success"]);
        results[q.title] = body.data.result.length;
      }
      const empty = Object.entries(results)
        .filter(([, n]) => n === 0)
        .map(([t]) => t);
      expect(empty).toEqual(["GPU utilisation (GPU pods only)", "GPU memory used (GPU pods only)"]);
      // Split by color: both colors' series in Triton's panels.
      expect(results["Requests per second"]).toBe(2);
    }, 60_000);

    test("status and report from the cluster: the pair, its colors, HPAs and Helm revisions, the history, the canary's Envoy (weights, health, and its event log through kubectl logs); a stopped standby is out of rotation", async () => {
      // Blue (v5 on the v1 server) serves since the last test; green (v2) is the standby at 0 %.
      const green = rig.tritons.v2;
      const greenHost = `green-http 127.0.0.1:${green.ports.http}`;
      // Its gRPC cluster too: Envoy checks gRPC endpoints on Triton's HTTP port.
      const greenHosts = [`green-grpc 127.0.0.1:${green.ports.grpc}`, greenHost];
      await green.stop();
      // Envoy's health checker takes it out (1 s interval, 2 failures); its event reaches the pod's
      // log through the stand-in's copy (every 200 ms) after Envoy's file flush (up to 10 s): 60 s is
      // slack for a loaded machine.
      const status = async () => {
        const r = await run(process.execPath, [cli, "status", "-n", NS, "--kubeconfig", kubeconfig, "--json"], {
          timeout: 120_000,
        });
        if (r.code !== 0) throw new Error(r.out);
        return JSON.parse(r.stdout);
      };
      let s: any;
      await until(
        "status showing green's hosts out of rotation",
        60_000,
        async () => (s = await status()).pairs[0]?.envoys[0]?.hostsOut.length === 2,
        1000,
      );
      const state = await rig.state();
      const [pair] = s.pairs;
      expect(pair).toMatchObject({ app: APP, namespace: NS, serving: "blue", problems: [] });
      expect(
        pair.colors.map((c: any) => [
          c.color,
          c.version,
          c.readyReplicas,
          c.desiredReplicas,
          c.helmStatus,
          c.autoscaler,
        ]),
      ).toEqual([
        // The HPA controller holds each color at its minimum (no metrics adapter serves queue time here).
        ["blue", "v5", 1, 1, "deployed", { min: 1, max: 3, current: 1 }],
        ["green", "v7", 1, 1, "deployed", { min: 1, max: 3, current: 1 }],
      ]);
      expect(pair.colors[0]).toMatchObject({ fingerprint: state.blue.fingerprint, fingerprintFrom: "serving" });
      // Every apply of the runs upgraded blue's release: Helm's revision says so.
      expect(pair.colors[0].helmRevision).toBeGreaterThan(1);
      // The newest 5 history records: the promotions of the earlier tests, oldest first.
      expect(pair.history.map((h: any) => h.status)).toEqual([
        "rolled-back",
        "aborted",
        "interrupted",
        "promoted",
        "aborted",
      ]);
      const [envoy] = pair.envoys;
      expect(envoy).toMatchObject({ name: "fraud-canary", problems: [], runtime: [] });
      expect(envoy.pods).toHaveLength(ENVOY_PODS);
      expect(envoy.weights).toEqual(Array(ENVOY_PODS).fill("weights canary: blue=100, green=0"));
      // Summed over the pods: each sees blue's host healthy and green's out.
      const health = Object.fromEntries(envoy.clusters.map((c: any) => [c.cluster, `${c.healthy}/${c.total}`]));
      expect(health).toMatchObject({ "blue-http": `${ENVOY_PODS}/${ENVOY_PODS}`, "green-http": `0/${ENVOY_PODS}` });
      expect([...envoy.hostsOut].sort()).toEqual(greenHosts);
      const ejected = envoy.events.filter((e: any) => e.kind === "ejected");
      expect(ejected.map((e: any) => `${e.cluster} ${e.host}`)).toContain(greenHost);
      expect(ejected[0].envoy).toMatch(/^fraud-canary-/);
      // The table a person reads.
      const text = await run(process.execPath, [cli, "status", "-n", NS, "--kubeconfig", kubeconfig], {
        timeout: 120_000,
      });
      expect(text.code).toBe(0);
      console.log(`cdktf-triton status -n ${NS}:\n${text.stdout}`);
      expect(text.stdout).toContain(`${APP} (${NS}): blue serves`);
      expect(text.stdout).toMatch(/blue\*\s+v5\s+\S+\s+1\/1\s+1-3\s+\d+ deployed/);
      expect(text.stdout).toContain("out of rotation: green-");
      expect(text.stdout).toContain("serves: weights canary: blue=100, green=0");

      // Each run of the driver wrote its own HTML report next to its JSON: one per line of promotions.jsonl.
      const runs = fs.readFileSync(path.join(reports, "promotions.jsonl"), "utf8").trim().split("\n").length;
      expect(fs.readdirSync(reports).filter((f) => /^promotion-.+-\d{4}-.+\.html$/.test(f))).toHaveLength(runs);
      // The report from the same cluster (history ConfigMap, Envoy logs) and the driver's report folder.
      const out = path.join(work, "cluster-report.html");
      const report = await run(
        process.execPath,
        [cli, "report", "--app", APP, "-n", NS, "--kubeconfig", kubeconfig, "--reports", reports, "--out", out],
        { timeout: 120_000 },
      );
      expect([report.code, report.out.trim()]).toEqual([0, out]); // no problem on stderr
      const browser = await openBrowser();
      try {
        const page = await loadReport(browser, out, path.join(work, "cluster-report.png"));
        expect(page.errors).toEqual([]);
        expect(page.requests).toEqual([]);
        const records = (await rig.history()).filter((h) => h.kind === "promotion");
        for (const r of records) {
          // A point per step the promotion started, and one for how it ended.
          expect(await page.marks(`${APP}-weights-${r.id}`, "symbol")).toBe(r.steps.length + 1);
        }
        const driven = JSON.parse(fs.readFileSync(path.join(reports, `promotion-${records[1].id}.json`), "utf8"));
        expect(await page.marks(`${APP}-measurements-${records[1].id}`, "symbol")).toBe(
          driven.measurements.filter((m: any) => m.value !== undefined).length,
        );
        const events = (
          await run(kubectlBin, [
            "--kubeconfig",
            kubeconfig,
            "logs",
            "-n",
            NS,
            "-l",
            "app=fraud-canary",
            "--tail=20000",
          ])
        ).stdout;
        expect(await page.marks("failover-events", "symbol")).toBe(parseEnvoyLog(events).events.length);
      } finally {
        await browser.close();
      }
    }, 300_000);
  },
);
