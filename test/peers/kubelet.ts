// A small stand-in for the kubelet's ConfigMap volume: it reads a ConfigMap from the API server
// (polling, as the kubelet's sync does, here every 200 ms) and writes its data into the folder Envoy
// watches the way a mounted ConfigMap updates (startEnvoy's atomic `..data` swap). So an Envoy on
// loopback serves exactly what `apply` wrote into the cluster. Only the pod's mount path (/etc/envoy,
// named by the bootstrap and the listeners' RDS sources) and the admin and ops ports (9901, 9902)
// are moved to this machine's. It also stands in for the container runtime's log writer: Envoy's
// stdout, copied line by line into a file in the CRI log format (`<time> stdout F <line>`), which is
// what the kubelet serves to `kubectl logs` (kwok's Logs objects point a fake pod at such a file).
import * as fs from "fs";
import { EnvoyFiles } from "../../lib/constructs/traffic/envoy-config";
import { ENVOY_OPS_PORT } from "../../lib/constructs/traffic/envoy-deployment";
import { kubeconfig, kubectlBin, run } from "../e2e/engine";
import { RunningEnvoy, startEnvoy } from "./envoy";
import { until } from "./wait";

export interface MountedEnvoy extends RunningEnvoy {
  readonly opsUrl: string;
  /** How many times the ConfigMap's data changed and was written into Envoy's folder. */
  readonly syncs: () => number;
  /** Envoy's stdout in the CRI log format, as a container runtime writes a container's log. */
  readonly criLogFile: string;
}

async function readConfigMap(namespace: string, name: string): Promise<EnvoyFiles | undefined> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "get", "configmap", name, "-n", namespace, "-o", "json", "--ignore-not-found"]);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  return JSON.parse(r.stdout).data as EnvoyFiles;
}

/** Starts Envoy from the ConfigMap `namespace/name` (waiting until it exists) and keeps it in sync until stopped. */
export async function envoyFromConfigMap(namespace: string, name: string, opsPort: number): Promise<MountedEnvoy> {
  let data: EnvoyFiles | undefined;
  // The first apply wrote it already; 60 s is slack for a loaded API server.
  await until(`ConfigMap ${namespace}/${name}`, 60_000, async () => (data = await readConfigMap(namespace, name)) !== undefined, 200);
  let configDir = "";
  let adminPort = 0;
  // The pod's mount path, in every file that names a watched file (the bootstrap, and the listeners' RDS sources).
  const moved = (files: EnvoyFiles): EnvoyFiles => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.replace(/\/etc\/envoy\b/g, configDir)])) as unknown as EnvoyFiles;
  const local = (files: EnvoyFiles): EnvoyFiles => {
    const m = moved(files);
    return {
      ...m,
      "envoy.yaml": m["envoy.yaml"].replace(/port_value: 9901\b/g, `port_value: ${adminPort}`).replace(new RegExp(`port_value: ${ENVOY_OPS_PORT}\\b`, "g"), `port_value: ${opsPort}`),
    };
  };
  const envoy = await startEnvoy((dir, admin) => {
    configDir = dir;
    adminPort = admin;
    return local(data!);
  });
  let syncs = 0;
  let stopped = false;
  const criLogFile = `${envoy.stdoutFile}.cri`;
  fs.writeFileSync(criLogFile, "");
  let offset = 0;
  let partial = "";
  const copyLog = () => {
    const size = fs.statSync(envoy.stdoutFile).size;
    if (size <= offset) return;
    const fd = fs.openSync(envoy.stdoutFile, "r");
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    fs.closeSync(fd);
    offset = size;
    const lines = (partial + buf.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    const now = new Date().toISOString();
    if (lines.length) fs.appendFileSync(criLogFile, lines.map((l) => `${now} stdout F ${l}\n`).join(""));
  };
  const loop = (async () => {
    while (!stopped) {
      copyLog();
      const now = await readConfigMap(namespace, name).catch(() => undefined);
      if (now && JSON.stringify(now) !== JSON.stringify(data)) {
        data = now;
        envoy.update(local(now));
        syncs++;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    ...envoy,
    opsUrl: `http://127.0.0.1:${opsPort}`,
    syncs: () => syncs,
    criLogFile,
    stop: async () => {
      stopped = true;
      await loop;
      await envoy.stop();
    },
  };
}
