import { Backend } from "../lib/constructs/traffic/backend";
import { FailoverPoolProps } from "../lib/constructs/failover/failover-pool-model";
import { Double, DoubleOptions, startMisbehavingServer } from "./doubles/misbehaving-server";
import { RunningEnvoy, startPool } from "./peers/envoy";
import { load, steadyLoad } from "./peers/load";
import { freePort, RunningMlserver, startAll, startMlserver } from "./peers/servers";
import { until } from "./peers/wait";

// The pool options the README names, exercised under load on a real Envoy (1.40) in front of real
// MLServer instances, and, where a host must be slow or fail on purpose, the test double (named as
// such: no real server is slow or fails a third of its requests on demand). Each case compares the
// option with what Envoy does without it, so a rendering that lost the option fails.

describe("load balancing, locality weights, success-rate ejection and circuit breakers on a real Envoy", () => {
  let a: RunningMlserver;
  let b: RunningMlserver;
  let envoy: RunningEnvoy | undefined;
  const doubles: Double[] = [];
  let port: number;
  beforeAll(async () => {
    [a, b] = await startAll([startMlserver({ version: "a" }), startMlserver({ version: "b" })]);
    port = await freePort();
  }, 180_000);
  afterEach(async () => {
    await envoy?.stop();
    envoy = undefined;
  });
  afterAll(async () => {
    await Promise.all([...doubles.map((d) => d.stop()), a?.stop(), b?.stop()]);
  });

  const healthCheck = { intervalSeconds: 0.2, timeoutSeconds: 0.25, unhealthyThreshold: 2, healthyThreshold: 1 };
  const mls = (s: RunningMlserver, zone?: string, weight?: number) => ({
    backend: Backend.address(s === a ? "a" : "b", "127.0.0.1", s.ports.http),
    zone,
    region: zone && "test",
    weight,
  });
  const double = async (options: DoubleOptions) => {
    const d = await startMisbehavingServer(options);
    doubles.push(d);
    // By name, so the cluster is STRICT_DNS as with a Service's name in a cluster.
    return { d, endpoint: { backend: Backend.address(options.root!, "localhost", d.port) } };
  };
  const start = async (props: FailoverPoolProps) => {
    await envoy?.stop();
    envoy = await startPool(props, port);
  };
  const share = (r: { byVersion: Record<string, number> }, version: string, of: number) =>
    (r.byVersion[version] ?? 0) / of;

  test("least request sends a slow host far less than its round-robin third", async () => {
    const { endpoint } = await double({ root: "slow", delayMs: 100 });
    const pool = (loadBalancing: "round-robin" | "least-request"): FailoverPoolProps => ({
      tiers: [{ name: "only", endpoints: [mls(a), mls(b), endpoint] }],
      healthCheck,
      loadBalancing,
    });
    await start(pool("round-robin"));
    const rr = await load(envoy!.url(port), 600, 6);
    await start(pool("least-request"));
    const lr = await load(envoy!.url(port), 600, 6);
    console.log(
      `slow host's share: round robin ${(share(rr, "slow", 600) * 100).toFixed(1)} %, least request ${(share(lr, "slow", 600) * 100).toFixed(1)} %`,
    );
    expect([rr.failed, lr.failed]).toEqual([0, 0]);
    // Round robin: one in three, whatever the latency. Least request (two random choices, the one
    // with fewer requests in flight): the slow host wins only when both choices land on it (1/9).
    expect(share(rr, "slow", 600)).toBeGreaterThan(0.3);
    expect(share(lr, "slow", 600)).toBeLessThan(0.2);
  }, 90_000);

  test("locality weights split traffic between zones 3:1", async () => {
    await start({
      tiers: [{ name: "only", endpoints: [mls(a, "zone-a", 3), mls(b, "zone-b", 1)] }],
      healthCheck,
      localityWeighted: true,
    });
    const r = await load(envoy!.url(port), 2000, 8);
    expect(r.failed).toBe(0);
    // Envoy picks localities by a weighted schedule, not at random: 2 points is ample.
    expect(Math.abs(share(r, "a", 2000) - 0.75)).toBeLessThanOrEqual(0.02);
    const clusters: any = await (await fetch(`http://127.0.0.1:${envoy!.adminPort}/clusters?format=json`)).json();
    const zones = clusters.cluster_statuses
      .find((c: any) => c.name === "pool-http")
      .host_statuses.map((h: any) => h.locality.zone)
      .sort();
    expect(zones).toEqual(["zone-a", "zone-b"]);
  }, 60_000);

  test("success-rate ejection takes out a host that fails one request in three, which consecutive-5xx ejection never would; clients see none of it", async () => {
    const { endpoint } = await double({ root: "flaky", errorEvery: 3 });
    await start({
      tiers: [{ name: "only", endpoints: [mls(a), mls(b), endpoint] }],
      healthCheck,
      // Three hosts at 100, 100 and 67 %: mean 89, stdev 16; a factor of 1 ejects below 73 %.
      outlierDetection: {
        consecutive5xx: 3,
        intervalSeconds: 0.5,
        baseEjectionTimeSeconds: 30,
        successRate: { minimumHosts: 3, requestVolume: 30, stdevFactor: 1 },
      },
      retries: { numRetries: 2 },
    });
    const traffic = steadyLoad(envoy!.url(port), 4);
    try {
      // Bound: one 500 ms interval with 30 requests per host; 20 s is slack for a loaded 2-core machine.
      await until(
        "an ejection by success rate",
        20_000,
        async () => (await envoy!.stat("cluster.pool-http.outlier_detection.ejections_enforced_success_rate")) >= 1,
      );
      const ejectedAt = traffic.samples.length;
      // Its readiness keeps passing (every 200 ms): the ejection must hold anyway, for the ~2 s of
      // 1500 answers (a dozen health checks).
      await until("1500 answers after the ejection", 60_000, () => traffic.samples.length >= ejectedAt + 1500);
      expect(await envoy!.stat("cluster.pool-http.outlier_detection.ejections_active")).toBe(1);
      const samples = await traffic.stop();
      expect(samples.filter((s) => s.status !== 200)).toEqual([]); // its 500s were retried on another host
      expect(samples.slice(ejectedAt + 20).filter((s) => s.version === "flaky")).toEqual([]); // (20: answers already in flight)
      expect(await envoy!.stat("cluster.pool-http.outlier_detection.ejections_enforced_consecutive_5xx")).toBe(0);
    } finally {
      await traffic.stop();
    }
  }, 90_000);

  test("circuit breakers bound what reaches a slow host and shed the rest with fast 503s", async () => {
    const limited = await double({ root: "slow", delayMs: 200 });
    await start({
      tiers: [{ name: "only", endpoints: [limited.endpoint] }],
      healthCheck,
      circuitBreakers: { maxConnections: 2, maxPendingRequests: 2, maxRequests: 2 },
    });
    const r = await load(envoy!.url(port), 100, 16);
    expect(limited.d.maxInFlight()).toBeLessThanOrEqual(2);
    expect(r.statuses[503]).toBeGreaterThan(0);
    expect(r.statuses[200]).toBeGreaterThan(0);
    expect(await envoy!.stat("cluster.pool-http.upstream_rq_pending_overflow")).toBeGreaterThan(0); // shed by the breaker, not failed upstream

    // The defaults (1024) let all 16 through.
    const open = await double({ root: "slow", delayMs: 200 });
    await start({ tiers: [{ name: "only", endpoints: [open.endpoint] }], healthCheck });
    const d = await load(envoy!.url(port), 100, 16);
    expect(d.statuses).toEqual({ 200: 100 });
    expect(open.d.maxInFlight()).toBe(16);
  }, 60_000);
});
