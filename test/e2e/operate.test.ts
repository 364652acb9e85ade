import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ChildProcess, spawn } from "child_process";
import { until } from "../peers/wait";
import { groupAlive } from "../peers/processes";
import { engineEnv, kubeconfig, root, unavailable } from "./engine";
import { APP, ENVOY_PODS, PromoteRig, TEST_ANALYSIS } from "./promote-fixture";
import { expectInOrder, hangCheck } from "../hang-check";
import { STOP_WITHIN_SECONDS } from "../../lib/run/promote/driver";
import { LEASE_DURATION_SECONDS } from "../../lib/run/promote/lease";

// Operating a running promotion from other shells, on the promotion rig (test/e2e/promote-fixture.ts:
// OpenTofu, the test cluster's API server, two real Envoy pods refreshed at a kubelet's pace, real
// Tritons, a real Prometheus, steady load): one driver per pair through the pair's Lease, requests
// written into it by `cdktf-triton abort | pause | resume | skip` and `promote --full`, `status
// --watch` following it, and the Kubernetes Events on the pair's Service. Every driver, request and
// watch is the CLI as a user runs it.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const cli = path.join(root, "bin", "cdktf-triton.js");
const NS = "e2e-operate";

describeE2e(
  "operating a promotion from any shell: the lease, abort, pause, resume, skip, --full, status --watch, events",
  () => {
    const work = path.join(root, "test", ".tmp", NS);
    // Long first steps: every test ends them itself (skip, abort, a kill, --full), so their bake is
    // only the window its requests and the watch have, however loaded the machine.
    const rig = new PromoteRig(work, NS, {
      steps: [
        { weightPercent: 10, bakeSeconds: 300 },
        { weightPercent: 50, bakeSeconds: 300 },
        { weightPercent: 100, bakeSeconds: 8 },
      ],
      analysis: TEST_ANALYSIS,
    });
    beforeAll(() => rig.start(), 600_000);
    afterAll(() => rig.stop(), 120_000);

    test("two runs at once: one drives, the other exits 2 naming it and applies nothing; pause holds the weights and stops the bake clock; resume; skip; abort from another shell reaches 0 % in every pod before its apply; status --watch follows it; each transition is an Event", async () => {
      const stateBefore = await rig.state();
      const from = rig.webhook.messages.length;
      const a = rig.promoteProcess("--json-file", path.join(work, "a.json"));
      const b = rig.promoteProcess("--json-file", path.join(work, "b.json"));
      // The second takes no step: it refuses at once, naming the holder.
      const refused = await Promise.race([
        a.exited.then((r) => ({ r, other: b })),
        b.exited.then((r) => ({ r, other: a })),
      ]);
      const driver = refused.other;
      expect([refused.r.code, refused.r.out.trim().split("\n").pop()]).toEqual([
        2,
        expect.stringMatching(
          new RegExp(
            `^cdktf-triton promote: another driver promotes ${APP}: \\S+@\\S+ \\(pid ${driver.proc.pid}\\), since \\S+.* holds Lease ${NS}/${APP}-promotion \\(renewed \\S+, so held until \\S+ at least\\); nothing was applied$`,
          ),
        ),
      ]);
      expect(refused.r.out).not.toMatch(/applying with tofu/);
      await rig.untilStep(from, 10);
      await until(
        "the lease naming the driver's step",
        5_000,
        async () => (await rig.lease()).holder?.step === "step 1 of 3 (10 %)",
        100,
      );
      expect((await rig.lease()).holder).toMatchObject({ pid: driver.proc.pid, promotion: expect.any(String) });

      // status --watch, as a CI log would show it: a line per change, until the promotion ends.
      const watch = spawnCollect(process.execPath, [
        cli,
        "status",
        "--watch",
        "--app",
        APP,
        "-n",
        NS,
        "--kubeconfig",
        kubeconfig,
      ]);

      // Pause: answered (how soon: npm run bench:operate); the weights hold and the bake clock stops while analysis goes on.
      const pause = await rig.cli("pause");
      expect([pause.code, pause.stdout]).toEqual([
        0,
        expect.stringMatching(
          /^the driver \(\S+ \(pid \d+\), .*\) answered in (\d+\.\d) s: paused at step 1 \(10 %\): the weights hold and the bake clock stopped with \d+ s left; analysis goes on/,
        ),
      ]);
      let progress: any;
      await until(
        "the driver publishing its pause",
        5_000,
        async () => (progress = (await rig.lease()).progress)?.phase === "paused",
        100,
      );
      const leftAtPause = progress.bakeLeftSeconds;
      const pausedAt = Date.parse(progress.at);
      // Analysis goes on: new measurements are published while paused; the bake left does not move.
      await until(
        "6 s of analysis while paused",
        20_000,
        async () => Date.parse((progress = (await rig.lease()).progress)?.at ?? "") > pausedAt + 6_000,
        250,
      );
      expect([progress.phase, progress.bakeLeftSeconds, progress.measurements.length > 0]).toEqual([
        "paused",
        leftAtPause,
        true,
      ]);
      expect(await rig.versionServed()).toBe("weights canary: blue=90, green=10");
      // A second pause is refused (exit 1), and says by whom it is paused.
      const again = await rig.cli("pause");
      expect([again.code, again.stdout]).toEqual([1, expect.stringMatching(/refused: already paused by \S+ at /)]);
      const resume = await rig.cli("resume");
      expect([resume.code, resume.stdout]).toEqual([
        0,
        expect.stringMatching(/answered in \d+\.\d s: resumed at step 1 \(10 %\): \d+ s of bake left/),
      ]);
      await until(
        "the bake clock running again",
        10_000,
        async () => (await rig.lease()).progress!.bakeLeftSeconds! < leftAtPause,
        250,
      );
      const notPaused = await rig.cli("resume");
      expect([notPaused.code, notPaused.stdout]).toEqual([
        1,
        expect.stringContaining("refused: the promotion is not paused"),
      ]);

      // Skip: step 1 ends now, step 2 follows.
      const skip = await rig.cli("skip");
      expect([skip.code, skip.stdout]).toEqual([0, expect.stringContaining("step 1 (10 %) ends now")]);
      await rig.untilStep(from, 50);

      // The watch shows step 2 baking (it refreshes every 2 s or so) before the abort ends it.
      await until(
        "the watch showing step 2",
        60_000,
        () => /step 2\/3 \(50 %\), baking, \d+ s left/.test(watch.output()),
        200,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}; the watch printed:\n${watch.output().slice(-3000)}\nthe driver printed:\n${driver.output().slice(-3000)}`,
        );
      });
      // Abort from another shell: every Envoy pod serves 0 %, then the state (how soon: npm run bench:operate).
      const watching = watchServed(rig);
      const t0 = Date.now();
      const abort = await rig.cli("abort");
      expect([abort.code, abort.stdout]).toEqual([
        0,
        expect.stringMatching(
          /answered in \d+\.\d s: aborting at step 2 \(50 %\): the candidate goes back to 0 %\naborted in \d+\.\d s: blue serves all traffic again/,
        ),
      ]);
      const zeroMs = (await watching.firstZero) - t0;
      watching.stop();
      console.log(`abort from another shell: every Envoy pod served 0 % ${zeroMs} ms after the command started`);
      const done = await driver.exited;
      expect([done.code, done.out.slice(-2000)]).toEqual([1, expect.stringContaining("aborted")]);
      expect(await rig.state()).toMatchObject({ active: stateBefore.active, canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
      const report = JSON.parse(fs.readFileSync(path.join(work, refused.other === a ? "a.json" : "b.json"), "utf8"));
      expect(report.record.reason).toMatch(/^aborted by \S+ \(cdktf-triton abort\) during step 2$/);
      // The driver's side: the request written into the lease, then the decision (when the driver read
      // it, before any write), then every pod read back at 0 % (the push), then the apply.
      const asked = report.record.requests.find((r: any) => r.action === "abort");
      const abortMove = report.timings.moves[report.timings.moves.length - 1];
      expect(abortMove).toMatchObject({ weights: "weights canary: blue=100, green=0", order: "push-first" });
      const actedMs = Date.parse(report.timings.decisionAt) - Date.parse(asked.at);
      const servedMs = Date.parse(abortMove.servedAt) - Date.parse(asked.at);
      console.log(
        `abort: the request written at ${asked.at}, the driver decided ${actedMs} ms later, every Envoy pod served 0 % ${servedMs} ms later`,
      );
      expectInOrder(
        ["asked", asked.at],
        ["decision", report.timings.decisionAt],
        ["served", abortMove.servedAt],
        ["applied", abortMove.appliedAt],
      );
      expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([
        [10, "skipped"],
        [50, "aborted"],
      ]);
      expect(report.record.requests.map((r: any) => [r.action, r.outcome, r.step])).toEqual([
        ["pause", "done", 1],
        ["pause", "refused", 1],
        ["resume", "done", 1],
        ["resume", "refused", 1],
        ["skip", "done", 1],
        ["abort", "done", 2],
      ]);
      // The history holds one record for the run: requests and renewals add none.
      expect((await rig.history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual(["aborted"]);
      expect((await rig.lease()).live).toBe(false);

      // The watch ended by itself with the promotion; a line per change.
      const watched = await watch.exited;
      console.log(`cdktf-triton status --watch:\n${watched.out}`);
      expect(watched.code).toBe(0);
      const lines = watched.out.trim().split("\n");
      expect(
        lines.some((l) =>
          /fraud: blue v1 -> green v2: step 1\/3 \(10 %\), paused by \S+ since \S+, \d+ s of bake left when resumed · request-success-rate = \S+ \(min \S+\): pass/.test(
            l,
          ),
        ),
      ).toBe(true);
      expect(lines.some((l) => /step 2\/3 \(50 %\), baking, \d+ s left/.test(l))).toBe(true);
      expect(
        lines.some((l) =>
          new RegExp(
            `envoy fraud-canary: fraud-canary-\\S+ blue=90, green=10, fraud-canary-\\S+ blue=90, green=10; .*blue-http ${ENVOY_PODS}/${ENVOY_PODS}`,
          ).test(l),
        ),
      ).toBe(true);
      expect(lines[lines.length - 1]).toMatch(/the promotion ended$/);

      // Each transition an Event on the pair's active Service, in order.
      expect(await rig.eventReasons()).toEqual([
        "PromotionStarted",
        "StepStarted",
        "Paused",
        "Unpaused",
        "StepSkipped",
        "StepStarted",
        "PromotionAborted",
      ]);
    }, 900_000);

    test("a driver killed mid-step: abort waits for nothing, says what it needs, then rolls the pair back itself through the engine once the lease expired", async () => {
      const from = rig.webhook.messages.length;
      const killed = rig.promoteProcess();
      await rig.untilStep(from, 10);
      // The step's Event is written beside its webhook message: killed once both are out.
      await until(
        "the step's Event",
        10_000,
        async () => (await rig.eventReasons()).slice(-1)[0] === "StepStarted",
        100,
      );
      killed.killGroup();
      await killed.exited;
      // Renewed less than 15 s ago: still live, so a new run refuses (the first test's refusal, by the
      // same lease). Not tried here: a CLI that starts slower than the lease's 15 s on a loaded machine
      // would take the pair over and run the whole promotion.
      const lease = await rig.lease();
      expect(lease.live).toBe(true);
      await rig.untilLeaseExpired();
      // Left to expire, never released: the killed driver still named in it.
      expect(await rig.lease()).toMatchObject({ live: false, holderIdentity: lease.holderIdentity });

      // Without the engine: what it found, and what it needs (exit 2), nothing applied.
      const bare = await rig.cli("abort");
      expect([bare.code, bare.stderr.trim()]).toEqual([
        2,
        expect.stringMatching(
          /^cdktf-triton abort: no driver runs fraud's promotion \S+: the driver \S+ \(pid \d+\), .* is gone: its lease expired \(last renewed \S+\); it was left running at step 1 \(10 %\)\. To roll it back from here, give the stack and the engine as promote takes them: --engine \(and --stack, --var, --var-file\)$/,
        ),
      ]);
      expect(await rig.versionServed()).toBe("weights canary: blue=90, green=10");
      // pause with no driver: nothing to pause (exit 1).
      const pause = await rig.cli("pause");
      expect([pause.code, pause.stdout]).toEqual([1, expect.stringContaining("nothing to pause")]);

      const rolled = await rig.cli("abort", "--engine", "tofu", "--stack", rig.stack.dir);
      expect([rolled.code, rolled.out.slice(-2000)]).toEqual([
        0,
        expect.stringContaining("rolled back: blue serves all traffic"),
      ]);
      expect(rolled.out).toMatch(/took over the pair's lease from \S+ \(pid \d+\), .*; its lease expired/);
      expect(rolled.out).toMatch(/was left running at step 1 \(10 %\): rolling it back/);
      expect(await rig.state()).toMatchObject({ active: "blue", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
      expect(await rig.overrides()).toEqual([]);
      expect((await rig.history()).filter((h) => h.kind === "promotion").map((h) => h.status)).toEqual([
        "aborted",
        "rolled-back",
      ]);
      // Nothing left to abort now.
      const nothing = await rig.cli("abort", "--engine", "tofu", "--stack", rig.stack.dir);
      expect([nothing.code, nothing.stdout.trim().split("\n").pop()]).toEqual([
        1,
        expect.stringMatching(/^no promotion of fraud is running .*: nothing to abort$/),
      ]);
      expect((await rig.eventReasons()).slice(-4)).toEqual([
        "PromotionStarted",
        "StepStarted",
        "LeaseTakenOver",
        "RolledBack",
      ]);
    }, 600_000);

    test("SIGTERM while the API server does not answer: the rollback pushed into every Envoy pod, then, past 60 s, one line on where traffic was left, exit 4, the lease left to expire; abort --engine finishes the rollback", async () => {
      const from = rig.webhook.messages.length;
      const driver = rig.promoteProcess("--json-file", path.join(work, "term.json"));
      await rig.untilStep(from, 10);
      // The driver's API server stops answering: its kubeconfig (and its engine's) now names a
      // listener that accepts and never answers (a double: no real API server hangs on purpose).
      // Its port-forwards to the Envoy pods, already open, still carry its pushes.
      const held = new Set<net.Socket>();
      const silent = net.createServer((socket) => held.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const answering = fs.readFileSync(rig.driverKubeconfig, "utf8");
      fs.writeFileSync(
        rig.driverKubeconfig,
        answering.replace(
          /server: https:\/\/127\.0\.0\.1:\d+/,
          `server: https://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
        ),
      );
      try {
        const t0 = Date.now();
        driver.proc.kill("SIGTERM");
        const stopped = await driver.exited;
        // The driver's promise (STOP_WITHIN_SECONDS), kept as a hang check: it exits at its deadline here.
        hangCheck("a driver after SIGTERM with its API server silent", Date.now() - t0, {
          normalMs: STOP_WITHIN_SECONDS * 1000,
          deadlineMs: STOP_WITHIN_SECONDS * 1000,
        });
        console.log(`the driver after SIGTERM, its API server silent:\n${stopped.out.slice(-4000)}`);
        const lines = stopped.out.trim().split("\n");
        expect([stopped.code, lines[lines.length - 1]]).toEqual([
          4,
          expect.stringMatching(
            new RegExp(
              // What it was doing then depends on where the silent API server held it (the apply, or the history after a failed apply).
              `^cdktf-triton promote: interrupted \\(SIGTERM\\), stopped: the rollback did not finish within ${STOP_WITHIN_SECONDS} s; it was (applying weights canary: blue=100, green=0 with tofu|recording "interrupted" in the pair's history|announcing "interrupted" \\(webhook, Event\\)) for \\d+ s\\. ` +
                "Every Envoy pod serves weights canary: blue=100, green=0 from its runtime \\(pushed\\), but the apply did not finish: the state still has step 1 of 3 \\(10 % to green, v2\\), which a restarted Envoy pod would serve\\. " +
                `The pair's lease is left to expire \\(${LEASE_DURATION_SECONDS} s\\)\\. A re-run rolls it back \\(--on-unfinished rollback\\), as does \`cdktf-triton abort --engine tofu\`\\.$`,
            ),
          ),
        ]);
        expect(stopped.out).toContain(
          "interrupted (SIGTERM): rolling back to the last good weights (candidate 0 %); it exits within 60 s",
        );
        expect(stopped.out).toMatch(
          /promote: still (applying weights canary: blue=100, green=0 with tofu|recording "interrupted" in the pair's history|announcing "interrupted" \(webhook, Event\)) \(\d+ s\)/,
        ); // said while it waited
        // The rollback it owed, as far as it could go: every Envoy pod serves 0 % (pushed), the state still has the step.
        expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
        expect(await rig.state()).toMatchObject({ active: "blue", canary: 10 });
        // The lease: not released (the driver still named), so it expires by itself.
        expect((await rig.lease()).holder).toMatchObject({ pid: driver.proc.pid });
        await rig.untilLeaseExpired();
      } finally {
        fs.writeFileSync(rig.driverKubeconfig, answering);
        silent.close();
        held.forEach((s) => s.destroy());
      }
      // The engine the driver asked to stop ends once its connections fail (it holds the state's lock until then).
      await until("the stopped driver's engine exiting", 120_000, () => !groupAlive(driver.proc.pid!), 250);
      // From another shell with the cluster answering: the rollback finished through the engine.
      const rolled = await rig.cli("abort", "--engine", "tofu", "--stack", rig.stack.dir);
      expect([rolled.code, rolled.out.slice(-2000)]).toEqual([
        0,
        expect.stringContaining("rolled back: blue serves all traffic"),
      ]);
      expect(await rig.state()).toMatchObject({ active: "blue", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=100, green=0");
    }, 600_000);

    test("promote --full from another shell: the running driver skips the steps left and switches", async () => {
      const from = rig.webhook.messages.length;
      const driver = rig.promoteProcess("--json-file", path.join(work, "full.json"));
      await rig.untilStep(from, 10);
      const full = await run([
        "promote",
        "--full",
        "--stack",
        rig.stack.dir,
        "--engine",
        "tofu",
        "--kubeconfig",
        kubeconfig,
      ]);
      expect([full.code, full.stdout]).toEqual([
        0,
        expect.stringMatching(
          /answered in \d+\.\d s: step 1 \(10 %\) and the steps after it are skipped: switching to green\npromoted in \d+\.\d s: green \(v2\) serves all traffic/,
        ),
      ]);
      const done = await driver.exited;
      expect(done.code).toBe(0);
      expect(await rig.state()).toMatchObject({ active: "green", canary: 0 });
      expect(await rig.versionServed()).toBe("weights canary: blue=0, green=100");
      const report = JSON.parse(fs.readFileSync(path.join(work, "full.json"), "utf8"));
      expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([[10, "skipped"]]);
      expect(report.record.requests.map((r: any) => r.action)).toEqual(["full"]);
      expect((await rig.eventReasons()).slice(-4)).toEqual([
        "PromotionStarted",
        "StepStarted",
        "StepSkipped",
        "Promoted",
      ]);
    }, 600_000);
  },
);

/** The CLI to its end, with the engines' environment. */
async function run(args: string[]) {
  const r = spawnCollect(process.execPath, [cli, ...args]);
  const done = await r.exited;
  return { code: done.code, stdout: done.stdout, stderr: done.stderr, out: done.out };
}

function spawnCollect(
  cmd: string,
  args: string[],
): {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; out: string; stdout: string; stderr: string }>;
} {
  const proc = spawn(cmd, args, { env: engineEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let stdout = "";
  let stderr = "";
  proc.stdout!.on("data", (d) => ((out += d), (stdout += d)));
  proc.stderr!.on("data", (d) => ((out += d), (stderr += d)));
  return {
    proc,
    output: () => out,
    exited: new Promise((resolve) => proc.on("close", (code) => resolve({ code, out, stdout, stderr }))),
  };
}

/** Reads what every Envoy pod serves, every 50 ms, until each serves the candidate at 0 %. */
function watchServed(rig: PromoteRig): { firstZero: Promise<number>; stop: () => void } {
  let stopped = false;
  const firstZero = (async () => {
    for (;;) {
      if (stopped) return Number.NaN;
      const served = await rig.versionServed().catch(() => "");
      if (served === "weights canary: blue=100, green=0") return Date.now();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { firstZero, stop: () => (stopped = true) };
}
