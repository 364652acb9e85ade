// A stand-in for the kubelets that run one Envoy Deployment's pods (kwok's fake pods run nothing):
// for every Running pod of the Deployment, one Envoy on this machine, started from the ConfigMap
// as it is at the pod's start (a kubelet mounts the current ConfigMap), and kept in sync the way a
// kubelet keeps a mounted ConfigMap: pod by pod, on its sync loop. A kubelet re-syncs each pod
// every `syncFrequency` (1 min by default) with up to half of it again as jitter
// (workerResyncIntervalJitterFactor 0.5), so a change lands in each pod independently, 0 to 90 s
// after the apply. The write is the kubelet's atomic `..data` swap (startEnvoy's). Tests may set a
// shorter period with KUBELET_SYNC_SECONDS only for checks that time nothing.
//
// Only what a pod has of its own is moved to this machine's ports: the listeners, the admin (9901,
// on the pod's loopback) and the ops port (9902). kwok's PortForward objects connect each fake
// pod's 9901 and 9902 to its Envoy here, so `kubectl port-forward pod/<name> 9901` reaches that
// Envoy as it would reach the pod's loopback. It also stands in for the container runtime's log
// writer: Envoy's stdout, copied line by line into a file in the CRI log format (`<time> stdout F
// <line>`), which kwok's Logs objects serve to `kubectl logs`. The Secret volumes of the pod
// template (Envoy's TLS certificate and client CA) are mounted the way the ConfigMap is: written
// at the pod's start, refreshed on the same sync loop with the same atomic `..data` swap.
import * as fs from "fs";
import * as os from "os";
import { EnvoyFiles } from "../../lib/constructs/traffic/envoy-model";
import { ENVOY_ADMIN_PORT, ENVOY_OPS_PORT } from "../../lib/core/envoy";
import { runningPods } from "../../lib/run/kube/kubectl";
import { kubeconfig, kubectlApply, kubectlBin, run } from "../e2e/engine";
import { RunningEnvoy, startEnvoy, writeAtomically } from "./envoy";
import { freePort } from "./servers";
import { until } from "./wait";
import { ownedByFile } from "./processes";

/** The kubelet's sync period, in seconds (its default, 60, unless a test that times nothing sets less). */
export const KUBELET_SYNC_SECONDS = Number(process.env.KUBELET_SYNC_SECONDS ?? 60);

export interface PodEnvoy {
  readonly pod: string;
  /** The pod's listener ports on this machine, by the port the ConfigMap names. */
  readonly ports: ReadonlyMap<number, number>;
  readonly adminPort: number;
  readonly opsPort: number;
  readonly adminUrl: string;
  readonly opsUrl: string;
  /** Envoy's stdout in the CRI log format, as a container runtime writes a container's log. */
  readonly criLogFile: string;
  /** The Envoy running now (a new one after a restart). */
  envoy(): RunningEnvoy;
}

async function readConfigMap(namespace: string, name: string): Promise<EnvoyFiles | undefined> {
  const r = await run(kubectlBin, [
    "--kubeconfig",
    kubeconfig,
    "get",
    "configmap",
    name,
    "-n",
    namespace,
    "-o",
    "json",
    "--ignore-not-found",
  ]);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  return JSON.parse(r.stdout).data as EnvoyFiles;
}

/** A Secret volume of the pod template: where it is mounted, and which keys to which files. */
interface SecretMount {
  readonly mountPath: string;
  readonly secretName: string;
  readonly items?: readonly { key: string; path: string }[];
}

/** The Secret volumes of Deployment `name`'s pod template. */
async function secretMounts(namespace: string, name: string): Promise<SecretMount[]> {
  const r = await run(kubectlBin, [
    "--kubeconfig",
    kubeconfig,
    "get",
    "deployment",
    name,
    "-n",
    namespace,
    "-o",
    "json",
  ]);
  if (r.code !== 0) throw new Error(`deployment ${namespace}/${name}: ${r.out}`);
  const pod = JSON.parse(r.stdout).spec.template.spec;
  const volumes = new Map<string, any>(
    (pod.volumes ?? []).filter((v: any) => v.secret).map((v: any) => [v.name, v.secret]),
  );
  return (pod.containers[0].volumeMounts ?? [])
    .filter((m: any) => volumes.has(m.name))
    .map((m: any) => ({
      mountPath: m.mountPath,
      secretName: volumes.get(m.name).secretName,
      items: volumes.get(m.name).items,
    }));
}

/** A Secret volume's files as the kubelet projects them (every key, or the listed items); undefined while the Secret is missing. */
async function secretFiles(namespace: string, mount: SecretMount): Promise<Record<string, string> | undefined> {
  const r = await run(kubectlBin, [
    "--kubeconfig",
    kubeconfig,
    "get",
    "secret",
    mount.secretName,
    "-n",
    namespace,
    "-o",
    "json",
    "--ignore-not-found",
  ]);
  if (r.code !== 0 || !r.stdout.trim()) return undefined;
  const data: Record<string, string> = JSON.parse(r.stdout).data ?? {};
  const decode = (k: string) => Buffer.from(data[k] ?? "", "base64").toString("utf8");
  return Object.fromEntries(
    mount.items ? mount.items.map((i) => [i.path, decode(i.key)]) : Object.keys(data).map((k) => [k, decode(k)]),
  );
}

class Pod implements PodEnvoy {
  public readonly criLogFile: string;
  public readonly adminUrl: string;
  public readonly opsUrl: string;
  private current!: RunningEnvoy;
  /** The ConfigMap's data as last written into the pod (its mounted volume). */
  private mounted!: EnvoyFiles;
  private stopped = false;
  private logOffset = 0;
  private partial = "";
  private loops: Promise<void>[] = [];
  private wake?: () => void;
  /** Each Secret volume: its folder on this machine and the files last written there. */
  private readonly secrets = new Map<string, { dir: string; files: Record<string, string> }>();

  constructor(
    private readonly kubelet: EnvoyKubelet,
    public readonly pod: string,
    public readonly ports: ReadonlyMap<number, number>,
    public readonly adminPort: number,
    public readonly opsPort: number,
  ) {
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.opsUrl = `http://127.0.0.1:${opsPort}`;
    this.criLogFile = `${kubelet.logDir}/${pod}.cri.log`;
    fs.writeFileSync(this.criLogFile, "");
  }

  envoy(): RunningEnvoy {
    return this.current;
  }

  /** The pod's files as this machine runs them: its own ports, its Secret volumes' folders. */
  private local(files: EnvoyFiles, configDir: string): EnvoyFiles {
    const moves = new Map<number, number>([
      ...this.ports,
      [ENVOY_ADMIN_PORT, this.adminPort],
      [ENVOY_OPS_PORT, this.opsPort],
    ]);
    const paths = (text: string) =>
      [...this.secrets]
        .reduce((t, [mountPath, { dir }]) => t.split(mountPath).join(dir), text)
        .replace(/\/etc\/envoy\b/g, configDir);
    return Object.fromEntries(
      Object.entries(files).map(([k, v]) => [
        k,
        [...moves].reduce(
          (t, [from, to]) => t.replace(new RegExp(`port_value: ${from}\\b`, "g"), `port_value: ${to}`),
          paths(v),
        ),
      ]),
    ) as unknown as EnvoyFiles;
  }

  /** Writes each Secret volume whose Secret changed (all of them at the pod's start). */
  private async syncSecrets(): Promise<void> {
    for (const mount of this.kubelet.secretMounts) {
      const files = await secretFiles(this.kubelet.namespace, mount);
      if (!files) {
        if (!this.secrets.has(mount.mountPath))
          throw new Error(
            `pod ${this.pod}: Secret ${this.kubelet.namespace}/${mount.secretName} is missing (a kubelet would not start the container)`,
          );
        continue;
      }
      const now = this.secrets.get(mount.mountPath);
      if (now && JSON.stringify(now.files) === JSON.stringify(files)) continue;
      const dir = now?.dir ?? fs.mkdtempSync(`${this.kubelet.logDir}/${this.pod}-secret-`);
      writeAtomically(dir, files);
      this.secrets.set(mount.mountPath, { dir, files });
    }
  }

  /** Starts the pod's Envoy from its mounted files and the kubelet's loops. */
  async start(files: EnvoyFiles): Promise<void> {
    this.mounted = files;
    await this.syncSecrets();
    await this.startEnvoy();
    await this.kubelet.forward(this.pod, this.adminPort, this.opsPort, this.criLogFile);
    this.loops.push(this.syncLoop(), this.logLoop());
  }

  private async startEnvoy(): Promise<void> {
    this.current = await startEnvoy((configDir) => this.local(this.mounted, configDir), { adminPort: this.adminPort });
    ownedByFile(this.current.pid); // the pod's, which the rig stops: a restart in a test outlives the test
    this.logOffset = 0;
  }

  /** The container restarts: a new Envoy process from the pod's volume as it is (not refreshed), its runtime empty. */
  async restart(): Promise<void> {
    this.copyLog();
    await this.current.stop();
    await this.startEnvoy();
  }

  /** The pod hangs (its Envoy process stopped): it answers nothing, neither traffic nor its admin. */
  freeze(): void {
    this.current.signal("SIGSTOP");
  }

  thaw(): void {
    this.current.signal("SIGCONT");
  }

  /** The kubelet's loop for this pod: every period (with jitter), the ConfigMap written into the pod if it changed. */
  private async syncLoop(): Promise<void> {
    while (!this.stopped) {
      const period = KUBELET_SYNC_SECONDS * 1000 * (1 + 0.5 * Math.random());
      await new Promise<void>((r) => {
        const t = setTimeout(r, period);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      if (this.stopped) return;
      await this.sync();
    }
  }

  async sync(): Promise<void> {
    await this.syncSecrets().catch(() => undefined);
    const now = await readConfigMap(this.kubelet.namespace, this.kubelet.configMap).catch(() => undefined);
    if (now && JSON.stringify(now) !== JSON.stringify(this.mounted)) {
      this.mounted = now;
      this.current.update(this.local(now, this.current.configDir));
    }
  }

  private copyLog(): void {
    const file = this.current.stdoutFile;
    if (!fs.existsSync(file)) return;
    const size = fs.statSync(file).size;
    if (size <= this.logOffset) return;
    const fd = fs.openSync(file, "r");
    const buf = Buffer.alloc(size - this.logOffset);
    fs.readSync(fd, buf, 0, buf.length, this.logOffset);
    fs.closeSync(fd);
    this.logOffset = size;
    const lines = (this.partial + buf.toString("utf8")).split("\n");
    this.partial = lines.pop() ?? "";
    const now = new Date().toISOString();
    if (lines.length) fs.appendFileSync(this.criLogFile, lines.map((l) => `${now} stdout F ${l}\n`).join(""));
  }

  private async logLoop(): Promise<void> {
    while (!this.stopped) {
      this.copyLog();
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await Promise.all(this.loops);
    this.copyLog();
    await this.current.stop();
  }
}

/**
 * The stand-in kubelets of Deployment `name` in `namespace` (pods labelled `app=<name>`, mounting
 * ConfigMap `name`): one local Envoy per Running pod, found within a second of the pod turning
 * Running, stopped when the pod goes.
 */
export class EnvoyKubelet {
  public readonly logDir: string;
  private readonly pods = new Map<string, Pod>();
  private stopped = false;
  private watcher?: Promise<void>;
  private listenerPorts: number[] = [];
  /** The pod template's Secret volumes (read at start). */
  public secretMounts: SecretMount[] = [];

  constructor(
    public readonly namespace: string,
    public readonly configMap: string,
  ) {
    this.logDir = fs.mkdtempSync(`${os.tmpdir()}/kubelet-`);
  }

  /** Starts an Envoy for each Running pod and keeps watching; resolves once `expectPods` run. */
  async start(expectPods: number): Promise<this> {
    // The first apply wrote it already; 60 s is slack for a loaded API server.
    let files: EnvoyFiles | undefined;
    await until(
      `ConfigMap ${this.namespace}/${this.configMap}`,
      60_000,
      async () => (files = await readConfigMap(this.namespace, this.configMap)) !== undefined,
      200,
    );
    this.listenerPorts = [...files!["lds.yaml"].matchAll(/port_value: (\d+)/g)].map((m) => Number(m[1]));
    this.secretMounts = await secretMounts(this.namespace, this.configMap);
    await this.look();
    this.watcher = (async () => {
      while (!this.stopped) {
        await new Promise((r) => setTimeout(r, 1000));
        if (!this.stopped) await this.look().catch(() => undefined);
      }
    })();
    // kwok marks the Deployment's pods Running within seconds; 60 s is slack for a loaded machine.
    await until(
      `${expectPods} Envoy pods of ${this.namespace}/${this.configMap}`,
      60_000,
      () => this.pods.size === expectPods,
      200,
    );
    return this;
  }

  /** Pods that started or went since the last look. */
  private async look(): Promise<void> {
    const names = await runningPods({ kubeconfig, kubectl: kubectlBin }, this.namespace, this.configMap);
    for (const [name, pod] of this.pods) {
      if (!names.includes(name)) {
        this.pods.delete(name);
        await pod.stop();
      }
    }
    for (const name of names.filter((n) => !this.pods.has(n))) {
      const files = await readConfigMap(this.namespace, this.configMap);
      if (!files) continue;
      const ports = new Map<number, number>();
      for (const p of this.listenerPorts) ports.set(p, await freePort());
      const pod = new Pod(this, name, ports, await freePort(), await freePort());
      this.pods.set(name, pod);
      await pod.start(files);
    }
  }

  /** The pods' Envoys, by pod name order. */
  all(): PodEnvoy[] {
    return [...this.pods.values()].sort((a, b) => a.pod.localeCompare(b.pod));
  }

  get(pod: string): PodEnvoy & { restart(): Promise<void>; sync(): Promise<void>; freeze(): void; thaw(): void } {
    const p = this.pods.get(pod);
    if (!p) throw new Error(`no Envoy pod ${pod} (running: ${[...this.pods.keys()].join(", ")})`);
    return p;
  }

  /** Each pod's URL for a listener port the ConfigMap names (a Service's endpoints, for the load). */
  urls(listenerPort: number): string[] {
    return this.all().map((p) => `http://127.0.0.1:${p.ports.get(listenerPort)}`);
  }

  /**
   * Writes the ConfigMap into every pod at once. Only for what a cluster does without a kubelet
   * sync: the rig moving a color to another Triton rewrites its address in the ConfigMap, where a
   * cluster keeps the color's Service and replaces its pods. Never for weights.
   */
  async syncAll(): Promise<void> {
    await Promise.all([...this.pods.values()].map((p) => p.sync()));
  }

  /** kwok's PortForward (admin and ops ports) and Logs for a pod. */
  async forward(pod: string, adminTo: number, opsTo: number, criLogFile: string): Promise<void> {
    await kubectlApply(
      {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "PortForward",
        metadata: { name: pod, namespace: this.namespace },
        spec: {
          forwards: [
            { ports: [ENVOY_ADMIN_PORT], target: { address: "127.0.0.1", port: adminTo } },
            { ports: [ENVOY_OPS_PORT], target: { address: "127.0.0.1", port: opsTo } },
          ],
        },
      },
      {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "Logs",
        metadata: { name: pod, namespace: this.namespace },
        spec: { logs: [{ containers: ["envoy"], logsFile: criLogFile, follow: false }] },
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher;
    await Promise.all([...this.pods.values()].map((p) => p.stop()));
    this.pods.clear();
  }
}
