import * as path from "path";
import { performance } from "perf_hooks";
import { kubeconfig, kubectl, kubectlBin, root, run, unavailable } from "./engine";
import { PromoteRig, TEST_ANALYSIS } from "./promote-fixture";

// Capacity that follows the weight (issue 27, work in progress): the candidate runs
// ceil(weight x 4 / 100) + 1 pods at each step (at least the preview's 1, at most its 4), scaled up
// and ready before its weight rises; the stable color keeps its 4 until the switch. Read from the
// API server while `cdktf-triton promote` runs (kwok makes the pods ready), beside the weights every
// Envoy pod serves.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const NS = "e2e-capacity";
const STEPS = [
  { weightPercent: 10, bakeSeconds: 8 },
  { weightPercent: 50, bakeSeconds: 8 },
  { weightPercent: 100, bakeSeconds: 8 },
];
const expected = (weight: number) => Math.max(1, Math.min(4, Math.ceil((weight * 4) / 100) + 1));

describeE2e("capacity that follows the canary's weight", () => {
  const rig = new PromoteRig(path.join(root, "test", ".tmp", NS), NS, {
    steps: STEPS,
    analysis: TEST_ANALYSIS,
    followCanary: { replicas: 4, surge: 1 },
  });
  beforeAll(() => rig.start(), 600_000);
  // Its 8 GPU pods go with it: the e2e suites share the test cluster's 16 GPUs.
  afterAll(async () => {
    await rig.stop();
    await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "delete",
      "namespace",
      NS,
      "--ignore-not-found",
      "--wait=false",
    ]);
  }, 120_000);

  test("each step's candidate pods are scaled up and ready before its weight rises; the stable color keeps its replicas; the switch lands on full capacity", async () => {
    type Point = { at: number; served: string; blue: number; green: number; greenReady: number };
    const timeline: Point[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const deployments = Object.fromEntries(
          ((await kubectl("get", "deployments", "-n", NS, "-l", "app=fraud")).items as any[]).map((d) => [
            d.metadata.labels.color,
            d,
          ]),
        );
        const served = await rig.versionServed().catch(() => "");
        timeline.push({
          at: performance.now(),
          served,
          blue: deployments.blue?.spec.replicas,
          green: deployments.green?.spec.replicas,
          greenReady: deployments.green?.status.readyReplicas ?? 0,
        });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const r = await rig.promote("--json-file", path.join(rig.work, "capacity.json"));
    polling = false;
    await poller;
    expect([r.code, r.out.slice(-1500)]).toEqual([0, expect.anything()]);

    const greenWeight = (served: string) => Number(/green=(\d+)/.exec(served)?.[1] ?? NaN);
    // Before the first step: the preview's 1 pod; blue serves with its 4.
    expect(timeline[0]).toMatchObject({ blue: 4, green: 1 });
    // Whenever an Envoy serves the candidate a share, its ready pods are at least what that share asks.
    for (const p of timeline) {
      const w = greenWeight(p.served);
      if (Number.isFinite(w) && w > 0 && !p.served.includes("|"))
        expect({ served: p.served, ready: p.greenReady >= expected(w) }).toEqual({ served: p.served, ready: true });
    }
    // (and the timeline saw every step's share served)
    expect([...new Set(timeline.map((p) => greenWeight(p.served)).filter((w) => w > 0))].sort((a, b) => a - b)).toEqual(
      [10, 50, 100],
    );
    // The stable color keeps its replicas until the switch, and the candidate's replicas step up with its weight.
    expect(timeline.every((p) => p.blue === 4)).toBe(true);
    const greenSteps = [...new Set(timeline.map((p) => p.green))];
    expect(greenSteps).toEqual([1, expected(10), expected(50), expected(100)]);
  }, 900_000);
});
