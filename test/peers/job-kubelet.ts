// A stand-in for the kubelet that runs the verification gate's Job pods (kwok's pods run nothing):
// for every Running pod labelled cdktf-triton/role=verify in a namespace, it runs the pod's
// container on this machine from the image's files (scripts/check-gate-image.sh lays them out as
// docker/gate/Dockerfile does), as a kubelet would: the ConfigMap volumes written where they are
// mounted (the paths in its arguments moved to those folders), the env with Secret references
// resolved and `$(VAR)` references in the arguments expanded, the pod's ServiceAccount as its
// identity (a token from the TokenRequest API in a kubeconfig, what in-cluster config gives
// kubectl in a pod), and the cluster's DNS answering for the Services' names with the addresses
// where the real servers behind them listen (test/peers/dns-stand-in.js). Its output is the
// container's log (CRI format, served to `kubectl logs` by a kwok Logs object); its exit code
// ends the pod (Succeeded or Failed, through the pod's status), from which the Job controller
// completes or fails the Job.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { kubeconfig, kubectl, kubectlApply, kubectlBin, run } from "../e2e/engine";

async function kubectlOk(...args: string[]): Promise<string> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, ...args]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.out}`);
  return r.stdout;
}

export interface JobRun {
  readonly pod: string;
  readonly job: string;
  /** When this stand-in saw the pod Running and started its container. */
  readonly startedAt: number;
  exitCode?: number;
  finishedAt?: number;
}

export class GateJobKubelet {
  public readonly runs: JobRun[] = [];
  private readonly handled = new Set<string>();
  private readonly children = new Set<ChildProcess>();
  private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), "job-kubelet-"));
  private stopped = false;
  private loop?: Promise<void>;

  /**
   * @param imageRoot the image's files (app/, bin/kubectl) from scripts/check-gate-image.sh
   * @param hosts a Service's DNS name -> the address of the real server behind it
   */
  constructor(
    public readonly namespace: string,
    private readonly imageRoot: string,
    private readonly hosts: Readonly<Record<string, string>>,
  ) {}

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.look().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return this;
  }

  private async look(): Promise<void> {
    const pods = (await kubectl("get", "pods", "-n", this.namespace, "-l", "cdktf-triton/role=verify")).items;
    for (const pod of pods) {
      const name = pod.metadata.name as string;
      if (this.handled.has(name) || pod.status?.phase !== "Running" || pod.metadata.deletionTimestamp) continue;
      this.handled.add(name);
      void this.runPod(pod).catch((e) =>
        this.finish(
          pod,
          { pod: name, job: pod.metadata.labels["job-name"], startedAt: Date.now() },
          128,
          `stand-in: ${(e as Error).message}\n`,
        ),
      );
    }
  }

  private async runPod(pod: any): Promise<void> {
    const name = pod.metadata.name as string;
    const record: JobRun = { pod: name, job: pod.metadata.labels["job-name"], startedAt: Date.now() };
    this.runs.push(record);
    const dir = fs.mkdtempSync(path.join(this.work, `${name}-`));
    const container = pod.spec.containers[0];
    // Volumes: each ConfigMap written into a folder of its own, where the container mounts it.
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const volume = pod.spec.volumes.find((v: any) => v.name === m.name);
      if (!volume?.configMap) continue;
      const data = (await kubectl("get", "configmap", volume.configMap.name, "-n", this.namespace)).data ?? {};
      const folder = path.join(dir, m.name);
      fs.mkdirSync(folder);
      for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(folder, k), v as string);
      mounts.set(m.mountPath, folder);
    }
    // Env: values, and Secret references read with the pod's own rights' equivalent (the test's).
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const secret = await kubectl("get", "secret", e.valueFrom.secretKeyRef.name, "-n", this.namespace);
        env[e.name] = Buffer.from(secret.data[e.valueFrom.secretKeyRef.key], "base64").toString("utf8");
      } else env[e.name] = "";
    }
    // Kubernetes expands $(VAR) in args from the container's env; then the mount paths move here.
    const args = (container.args as string[])
      .map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, v) => (v in env ? env[v] : whole)))
      .map((a) => [...mounts].reduce((t, [from, to]) => t.split(from).join(to), a));
    // The ServiceAccount's identity, as in-cluster config gives it to kubectl in a pod.
    const token = (
      await kubectlOk("create", "token", pod.spec.serviceAccountName, "-n", this.namespace, "--duration", "1h")
    ).trim();
    const admin = parse(fs.readFileSync(kubeconfig, "utf8"));
    const cluster = admin.clusters[0].cluster;
    const podConfig = path.join(dir, "kubeconfig");
    fs.writeFileSync(
      podConfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "in-cluster", cluster }],
        users: [{ name: "pod", user: { token } }],
        contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "pod", namespace: this.namespace } }],
        "current-context": "in-cluster",
      }),
    );
    const logFile = path.join(dir, "container.log");
    fs.writeFileSync(logFile, "");
    await kubectlApply({
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "Logs",
      metadata: { name, namespace: this.namespace },
      spec: { logs: [{ containers: [container.name], logsFile: logFile, follow: false }] },
    });
    const entrypoint = path.join(this.imageRoot, "app", "node_modules", ".bin", "cdktf-triton");
    const child = spawn(entrypoint, args, {
      cwd: dir,
      env: {
        PATH: `${path.join(this.imageRoot, "bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: dir,
        KUBECONFIG: podConfig,
        NODE_OPTIONS: `--require ${path.join(__dirname, "dns-stand-in.js")}`,
        CDKTF_TRITON_TEST_HOSTS: JSON.stringify(this.hosts),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    let partial = "";
    const write = (chunk: Buffer, stream: "stdout" | "stderr") => {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      if (lines.length)
        fs.appendFileSync(logFile, lines.map((l) => `${new Date().toISOString()} ${stream} F ${l}\n`).join(""));
    };
    child.stdout!.on("data", (c) => write(c, "stdout"));
    child.stderr!.on("data", (c) => write(c, "stderr"));
    const code: number = await new Promise((r) => child.once("exit", (c, signal) => r(c ?? (signal ? 137 : 1))));
    this.children.delete(child);
    if (partial) fs.appendFileSync(logFile, `${new Date().toISOString()} stdout F ${partial}\n`);
    await this.finish(pod, record, code);
  }

  /** The container ended: the pod's status says so, as the kubelet reports it. */
  private async finish(pod: any, record: JobRun, code: number, note?: string): Promise<void> {
    record.exitCode = code;
    record.finishedAt = Date.now();
    if (note) process.stderr.write(note);
    const now = new Date().toISOString();
    const status = {
      phase: code === 0 ? "Succeeded" : "Failed",
      conditions: [
        { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "ContainersReady", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "Initialized", status: "True", lastTransitionTime: now },
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
      ],
      containerStatuses: [
        {
          name: pod.spec.containers[0].name,
          image: pod.spec.containers[0].image,
          imageID: "",
          ready: false,
          started: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode: code,
              reason: code === 0 ? "Completed" : "Error",
              startedAt: new Date(record.startedAt).toISOString(),
              finishedAt: now,
            },
          },
        },
      ],
    };
    await kubectlOk(
      "patch",
      "pod",
      pod.metadata.name,
      "-n",
      this.namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.children) c.kill("SIGTERM");
    await this.loop;
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
