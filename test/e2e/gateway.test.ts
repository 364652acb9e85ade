import * as fs from "fs";
import * as path from "path";
import { performance } from "perf_hooks";
import { readRouteStatus, routeProblem } from "../../lib/run/gateway";
import { kubeconfig, kubectl, kubectlBin, root, unavailable } from "./engine";
import { GATEWAY, GatewayRig, ROUTE, SERVICE } from "./gateway-fixture";
import { expectInOrder } from "../hang-check";

// The canary on the platform's own Gateway, on a real Gateway API implementation (Contour) and a
// real Envoy; the rig is test/e2e/gateway-fixture.ts. Every promotion is the CLI as a pipeline runs it.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;
const NS = "e2e-gateway";

describeE2e("the canary on the platform's Gateway (Contour): promoted and aborted through an HTTPRoute", () => {
  const work = path.join(root, "test", ".tmp", NS);
  const rig = new GatewayRig(work, NS);
  beforeAll(() => rig.start(), 600_000);
  afterAll(() => rig.stop(), 120_000);
  const routeStatus = () => readRouteStatus({ kubeconfig, kubectl: kubectlBin }, NS, ROUTE);
  const routeWeights = async () =>
    (await kubectl("get", "httproute", ROUTE, "-n", NS)).spec.rules[0].backendRefs.map((b: any) => [b.name, b.weight]);

  test("a good candidate is promoted through the Gateway: every step's weights served by the Gateway's Envoy within 2 s of the apply, the route Accepted, no failed request", async () => {
    const t0 = performance.now();
    const r = await rig.promote("--json-file", path.join(work, "good.json"));
    const t1 = performance.now();
    expect([r.code, r.out]).toEqual([0, expect.stringContaining("promoted: green (v2) serves all traffic")]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "good.json"), "utf8"));
    expect(report.record.status).toBe("promoted");
    expect(report.record.steps.map((s: any) => [s.weightPercent, s.verdict])).toEqual([
      [10, "pass"],
      [50, "pass"],
      [100, "pass"],
    ]);
    // Every move: applied, then served by the Gateway's Envoy (Contour's xDS push; how soon: npm run bench:gateway).
    const moves = report.timings.moves as {
      weights: string;
      startedAt: string;
      appliedAt: string;
      servedAt: string;
      order: string;
    }[];
    expect(moves.map((m) => m.weights)).toEqual([
      `weights ${ROUTE}: ${SERVICE.blue}=90, ${SERVICE.green}=10`,
      `weights ${ROUTE}: ${SERVICE.blue}=50, ${SERVICE.green}=50`,
      `weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`,
      `weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`,
    ]);
    for (const m of moves) {
      expect(m.order).toBe("apply-first");
      expectInOrder(["the move started", m.startedAt], ["applied", m.appliedAt], ["served", m.servedAt]);
    }
    const timings = moves.map(
      (m) =>
        `${m.weights}: ${Date.parse(m.servedAt) - Date.parse(m.startedAt)} ms started->served, ${Date.parse(m.servedAt) - Date.parse(m.appliedAt)} ms applied->served`,
    );
    fs.writeFileSync(path.join(work, "timings.txt"), timings.join("\n") + "\n");
    // Every metric measured through Prometheus, the Gateway Envoy's ones included.
    expect(new Set(report.measurements.filter((m: any) => m.verdict === "pass").map((m: any) => m.metric))).toEqual(
      new Set(["request-success-rate", "request-duration-p99", "triton-failure-rate"]),
    );
    // The route as Contour accepted it, for its current generation.
    const status = await routeStatus();
    expect(routeProblem(status)).toBeUndefined();
    expect(status.parents).toEqual([
      expect.objectContaining({
        parent: `${rig.gatewayNamespace}/${GATEWAY}/http`,
        controller: "projectcontour.io/gateway-controller",
      }),
    ]);
    expect(await routeWeights()).toEqual([
      [SERVICE.blue, 0],
      [SERVICE.green, 100],
    ]);
    expect(await rig.served()).toEqual({ [SERVICE.blue]: 0, [SERVICE.green]: 100 });
    // No request through the Gateway failed while the promotion ran.
    const during = rig.load.samples.filter((s) => s.endMs >= t0 && s.endMs <= t1);
    expect(during.length).toBeGreaterThan(100);
    expect(during.filter((s) => s.status !== 200).length).toBe(0);
    // The candidate (v2) answered once the weights moved: the traffic really went through the route.
    expect(during.some((s) => s.version === "2")).toBe(true);
  }, 600_000);

  test("a bad candidate is aborted: the Gateway's Envoy is back on the serving color before the apply (the route patched, then applied)", async () => {
    // Stage blue as the candidate: a release whose model fails 5 % of requests.
    await rig.stage("blue", "v5", rig.tritons.v5);
    const r = await rig.promote("--json-file", path.join(work, "bad.json"));
    expect([r.code, r.out]).toEqual([
      1,
      expect.stringMatching(/aborting: (request-success-rate|triton-failure-rate) = [\d.]+ at 10 %/),
    ]);
    const report = JSON.parse(fs.readFileSync(path.join(work, "bad.json"), "utf8"));
    expect(report.record).toMatchObject({ status: "aborted", currentStep: -1 });
    // The rollback is a fall of the candidate's share: the route's weights patched first, served by
    // the Gateway's Envoy, then applied (Terraform stays the record; how soon: npm run bench:gateway).
    const last = report.timings.moves[report.timings.moves.length - 1];
    expect([last.weights, last.order]).toEqual([
      `weights ${ROUTE}: ${SERVICE.blue}=0, ${SERVICE.green}=100`,
      "push-first",
    ]);
    expectInOrder(
      ["decision", report.timings.decisionAt],
      ["the move started", last.startedAt],
      ["served", last.servedAt],
      ["applied", last.appliedAt],
    );
    fs.appendFileSync(
      path.join(work, "timings.txt"),
      `abort: ${Date.parse(last.servedAt) - Date.parse(report.timings.decisionAt)} ms decision->served (patched), applied ${Date.parse(last.appliedAt) - Date.parse(last.servedAt)} ms later\n`,
    );
    expect(await rig.served()).toEqual({ [SERVICE.blue]: 0, [SERVICE.green]: 100 });
    expect(await routeWeights()).toEqual([
      [SERVICE.blue, 0],
      [SERVICE.green, 100],
    ]);
    expect(routeProblem(await routeStatus())).toBeUndefined();
  }, 600_000);
});
