// A stand-in for the kubelet that runs one Triton pod (kwok's fake pods run nothing): the pod's
// container as its Deployment renders it (the chart's arguments, its environment resolved from the
// API server at the container's start: ConfigMap and Secret keys, `$(VAR)` expanded), run as a real
// tritonserver on this machine, then the pod's postStart hook run as the kubelet runs it, before the
// pod counts as started. Only what is the pod's own is moved: the model repository (a local one
// holding the versions the test picks) and the ports (fixed local ones, which the stack's backends
// and a kwok PortForward name). `restart()` is a container restart: the same pod, its environment
// read again, the hook run again.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import { kubeconfig, kubectlBin, run } from "../e2e/engine";
import { BACKEND_DIR, makeRepository, ModelSelection, spawnTriton, TritonPorts } from "./triton";
import { ownedByFile } from "./processes";
import { until } from "./wait";

async function kubectlJson(...args: string[]): Promise<any> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, ...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.out}`);
  return JSON.parse(r.stdout);
}

/** The flags this machine sets itself: where the repository and the ports are. */
const LOCAL_FLAGS =
  /^--(model-repository|http-port|grpc-port|metrics-port|backend-directory|(http|grpc|metrics)-address)=/;

export class TritonPod {
  public readonly url: string;
  public readonly metricsUrl: string;
  /** The running pod this stands in for. */
  public pod = "";
  /** The postStart hook's output at the last start. */
  public hookOutput = "";
  private proc?: ChildProcess;
  private log = () => "";
  private readonly repository: string;

  constructor(
    public readonly namespace: string,
    /** The release (its pods carry app.kubernetes.io/instance=<release>). */
    public readonly release: string,
    models: ModelSelection,
    public readonly ports: TritonPorts,
    private readonly env: Readonly<Record<string, string>> = {},
  ) {
    this.repository = makeRepository(models);
    this.url = `http://127.0.0.1:${ports.http}`;
    this.metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
  }

  /** Waits for the release's running pod, then starts its container here. */
  async start(): Promise<this> {
    // kwok runs a Deployment's pod within seconds of the apply; 60 s is slack.
    await until(`a running pod of ${this.namespace}/${this.release}`, 60_000, async () => {
      const pods = await kubectlJson(
        "get",
        "pods",
        "-n",
        this.namespace,
        "-l",
        `app.kubernetes.io/instance=${this.release}`,
      );
      this.pod = pods.items.find((p: any) => p.status?.phase === "Running")?.metadata.name ?? "";
      return this.pod !== "";
    });
    await this.startContainer();
    return this;
  }

  /** A container restart: killed at once, started again from what the API server holds now. */
  async restart(): Promise<void> {
    await this.kill();
    await this.startContainer();
  }

  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.repository, { recursive: true, force: true });
  }

  private async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    process.kill(-p.pid!, "SIGKILL");
    await exited;
  }

  private async startContainer(): Promise<void> {
    const container = (await kubectlJson("get", "pod", this.pod, "-n", this.namespace)).spec.containers[0];
    const env = await this.resolveEnv(container.env ?? []);
    const expand = (arg: string) =>
      arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
    const args = [
      `--model-repository=${this.repository}`,
      `--backend-directory=${BACKEND_DIR}`,
      "--http-address=127.0.0.1",
      "--grpc-address=127.0.0.1",
      "--metrics-address=127.0.0.1",
      `--http-port=${this.ports.http}`,
      `--grpc-port=${this.ports.grpc}`,
      `--metrics-port=${this.ports.metrics}`,
      ...(container.args as string[]).map(expand).filter((a) => !LOCAL_FLAGS.test(a)),
    ];
    const { process: proc, log } = spawnTriton(args, { ...this.env, ...env });
    ownedByFile(proc.pid); // the pod's, which the rig stops: a restart in a test outlives the test
    this.proc = proc;
    this.log = log;
    // Triton loads its models before it serves: 120 s is slack for the Python backend on a loaded machine.
    await until(`Triton of pod ${this.pod} live`, 120_000, async () => {
      if (proc.exitCode !== null) throw new Error(`Triton of pod ${this.pod} exited ${proc.exitCode}:\n${this.log()}`);
      return (await fetch(`${this.url}/v2/health/live`).catch(() => undefined))?.status === 200;
    });
    const hook = container.lifecycle?.postStart?.exec?.command as string[] | undefined;
    if (hook) {
      // The pod's own port in the hook's arguments is this machine's.
      const command = hook.map((a) => (a === String(8000) ? String(this.ports.http) : a));
      const r = await runHook(command, env);
      this.hookOutput = r.out;
      if (r.code !== 0)
        throw new Error(
          `pod ${this.pod}: postStart hook exited ${r.code} (the kubelet would kill the container): ${r.out}`,
        );
    }
    await until(
      `Triton of pod ${this.pod} ready`,
      60_000,
      async () => (await fetch(`${this.url}/v2/health/ready`).catch(() => undefined))?.status === 200,
    );
  }

  /** The container's environment as the kubelet resolves it at the container's start. */
  private async resolveEnv(vars: any[]): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const v of vars) {
      if (v.value !== undefined) env[v.name] = v.value;
      else if (v.valueFrom?.configMapKeyRef) {
        const { name, key } = v.valueFrom.configMapKeyRef;
        env[v.name] = (await kubectlJson("get", "configmap", name, "-n", this.namespace)).data[key];
      } else if (v.valueFrom?.secretKeyRef) {
        const { name, key } = v.valueFrom.secretKeyRef;
        env[v.name] = Buffer.from(
          (await kubectlJson("get", "secret", name, "-n", this.namespace)).data[key],
          "base64",
        ).toString("utf8");
      }
    }
    return env;
  }
}

/** A pod's exec hook run as the kubelet runs it, with the container's environment: its exit code and output. */
export function runHook(
  command: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(command[0], command.slice(1), {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code, out }));
  });
}
