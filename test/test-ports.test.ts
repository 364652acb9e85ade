import * as fs from "fs";
import * as net from "net";
import { Backend } from "../lib/constructs/traffic/backend";
import { failoverPoolModel } from "../lib/constructs/failover/failover-pool-model";
import { PropValidator } from "../lib/constructs/validation";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { startEnvoy } from "./peers/envoy";
import { freePort, portSlice } from "./peers/ports";

// The test rig's ports: a port chosen for a process that binds it later must stay free until then
// (CI once had every request "through Envoy" answered by a test double that had been given Envoy's
// port by a bind to 0), and a process that could not bind its port must fail to start, loudly.

const listen = (port: number) =>
  new Promise<net.Server>((resolve, reject) => {
    const srv = net.createServer((socket) => socket.destroy());
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
const close = (srv: net.Server) => new Promise((r) => srv.close(r));

describe("ports for the processes tests start", () => {
  test("come from outside the ephemeral range, one jest worker's slice each, never twice in a row of 300", async () => {
    const [lo, hi] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const slices = [1, 2, 3, 8].map((w) => portSlice(w));
    for (const [first, last] of slices) expect(last < lo || first > hi).toBe(true);
    for (let i = 1; i < slices.length; i++) expect(slices[i][0]).toBeGreaterThan(slices[i - 1][1]);
    const ports = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(300);
    const [first, last] = portSlice();
    expect(ports.every((p) => p >= first && p <= last)).toBe(true);
  });

  test("a server listening on port 0 meanwhile never takes a port handed out", async () => {
    const handed = new Set<number>();
    for (let i = 0; i < 50; i++) handed.add(await freePort());
    const servers = await Promise.all(Array.from({ length: 200 }, () => listen(0)));
    try {
      const taken = servers.map((s) => (s.address() as net.AddressInfo).port);
      expect(taken.filter((p) => handed.has(p))).toEqual([]);
    } finally {
      await Promise.all(servers.map(close));
    }
  });

  test("a port already held elsewhere is skipped", async () => {
    const [first, last] = portSlice();
    const p = await freePort();
    // The ports the cursor reaches next, held by someone else.
    const next = p + 2 <= last ? [p + 1, p + 2] : [first, first + 1];
    const held = await Promise.all(next.map(listen));
    try {
      expect(next).not.toContain(await freePort());
    } finally {
      await Promise.all(held.map(close));
    }
  });

  test("Envoy whose listener's port is taken fails to start, saying so, instead of running without it", async () => {
    const port = await freePort();
    const squatter = await listen(port);
    try {
      const model = failoverPoolModel(
        "pool",
        { tiers: [{ name: "only", endpoints: [{ backend: Backend.address("a", "127.0.0.1", await freePort()) }] }] },
        new PropValidator("test"),
      );
      await expect(
        startEnvoy((configDir, adminPort) =>
          renderEnvoy(model, {
            configDir,
            adminPort,
            listenAddress: "127.0.0.1",
            portOverrides: { "pool-http": port },
          }),
        ),
      ).rejects.toThrow(/envoy rejected its listeners/);
    } finally {
      await close(squatter);
    }
  });
});
