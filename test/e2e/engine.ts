import { spawn, spawnSync, SpawnOptions } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { App, TerraformStack } from "cdktf";

/**
 * The real-engine harness: OpenTofu (built by scripts/setup-tools.sh) with providers installed only
 * from the filesystem mirror that setup-tools builds, against the API server of scripts/cluster.sh.
 */
export const root = path.resolve(__dirname, "..", "..");
const tools = path.join(root, ".tools");
export const kubeconfig = process.env.E2E_KUBECONFIG ?? path.join(tools, "cluster", "kubeconfig");
export const tofu = path.join(tools, "bin", "tofu");
export const kubectlBin = path.join(tools, "bin", "kubectl"); // the cluster's version, built by setup-tools
const cliConfig = path.join(tools, "terraform.rc");

/** Why the e2e tests cannot run here, or undefined when they can (tools built, cluster answering). */
export function unavailable(): string | undefined {
  if (!fs.existsSync(tofu)) return "OpenTofu is not built (scripts/setup-tools.sh)";
  if (!fs.existsSync(cliConfig)) return "the provider mirror is not built (scripts/setup-tools.sh)";
  if (!fs.existsSync(kubeconfig) || !fs.existsSync(kubectlBin)) return "no cluster (scripts/cluster.sh up)";
  const ready = spawnSync(kubectlBin, ["--kubeconfig", kubeconfig, "get", "--raw", "/readyz"], { encoding: "utf8" });
  if (ready.status !== 0) return "the cluster does not answer (scripts/cluster.sh up)";
  return undefined;
}

/** Mirrored provider versions (scripts/tools/providers.json), which the e2e stacks pin exactly. */
export const providers: Record<"kubernetes" | "helm", { version: string; commit: string }> = JSON.parse(
  fs.readFileSync(path.join(root, "scripts", "tools", "providers.json"), "utf8"),
);

/**
 * Pins the stack's providers to the versions in the mirror. Our cdktf provider packages pin
 * kubernetes 2.38.0 and helm 3.1.1, whose release commits this machine's module proxy does not
 * serve (see scripts/tools/providers.json); a user pins a newer provider the same way.
 */
export function pinMirroredProviders(stack: TerraformStack): void {
  for (const name of ["kubernetes", "helm"] as const) {
    stack.addOverride(`terraform.required_providers.${name}.version`, providers[name].version);
  }
}

/** The environment every engine run gets: the mirror-only CLI config, no checkpoint, automation. */
export function engineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.join(tools, "bin")}${path.delimiter}${process.env.PATH}`,
    TF_CLI_CONFIG_FILE: cliConfig,
    CHECKPOINT_DISABLE: "1",
    TF_IN_AUTOMATION: "1",
    KUBECONFIG: kubeconfig,
    ...extra,
  };
}

export interface Run {
  code: number | null;
  out: string;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without blocking the event loop: the test's peer servers write their logs into
 * pipes this process drains, and a synchronous wait let those pipes fill until the servers stalled
 * mid-verification (seen as a probe stuck until the gate's deadline).
 */
export function run(
  cmd: string,
  args: string[],
  options: SpawnOptions & { input?: string; timeout?: number } = {},
): Promise<Run> {
  const { input, timeout = 600_000, ...spawnOptions } = options;
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { env: engineEnv(), ...spawnOptions, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d) => (stdout += d));
    proc.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeout} ms)`;
      proc.kill("SIGKILL");
    }, timeout);
    proc.on("error", (e) => (stderr += `\n${e.message}`));
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, out: `${stdout}\n${stderr}` });
    });
    proc.stdin!.end(input ?? "");
  });
}

/** A synthesized stack on disk and the engine commands on it. */
export class EngineStack {
  /** `engine`: OpenTofu from .tools/bin (what we guarantee), or "terraform" where the machine has it. */
  constructor(
    public readonly dir: string,
    public readonly engine: string = tofu,
  ) {}

  tofu(...args: string[]): Promise<Run> {
    return run(this.engine, args, { cwd: this.dir });
  }

  /** Runs and expects exit 0, failing with the engine's own output otherwise. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.tofu(...args);
    if (r.code !== 0) throw new Error(`tofu ${args.join(" ")} exited ${r.code}:\n${r.out.slice(-6000)}`);
    return r.out;
  }

  /** `plan` saved and shown as JSON: the resource changes, by address. */
  async plan(
    vars: Record<string, string> = {},
  ): Promise<{ changes: Map<string, string[]>; json: any; code: number | null; out: string }> {
    const plan = await this.tofu("plan", "-input=false", "-detailed-exitcode", "-out=e2e.tfplan", ...varArgs(vars));
    if (plan.code !== 0 && plan.code !== 2) throw new Error(`tofu plan exited ${plan.code}:\n${plan.out.slice(-6000)}`);
    const json = JSON.parse(
      (await this.ok("show", "-json", "e2e.tfplan"))
        .trim()
        .split("\n")
        .find((l) => l.startsWith("{"))!,
    );
    const changes = new Map<string, string[]>();
    for (const rc of json.resource_changes ?? []) {
      if (!(rc.change.actions.length === 1 && rc.change.actions[0] === "no-op"))
        changes.set(rc.address, rc.change.actions);
    }
    return { changes, json, code: plan.code, out: plan.out };
  }

  apply(vars: Record<string, string> = {}): Promise<Run> {
    return this.tofu("apply", "-input=false", "-auto-approve", ...varArgs(vars));
  }
}

export function varArgs(vars: Record<string, string>): string[] {
  return Object.entries(vars).flatMap(([k, v]) => ["-var", `${k}=${v}`]);
}

/** Synthesizes one stack into outdir and returns it. */
export function synthesize(
  outdir: string,
  id: string,
  build: (app: App, id: string) => TerraformStack,
  engine = tofu,
): EngineStack {
  const app = new App({ outdir });
  const stack = build(app, id);
  pinMirroredProviders(stack);
  app.synth();
  return new EngineStack(path.join(outdir, "stacks", id), engine);
}

/** The engines the e2e tests run on: OpenTofu always; Terraform too where the machine has one. */
export function engines(): { name: string; bin: string }[] {
  const found = [{ name: "OpenTofu", bin: tofu }];
  if (spawnSync("terraform", ["version"], { stdio: "ignore" }).status === 0)
    found.push({ name: "Terraform", bin: "terraform" });
  return found;
}

/** kubectl against the test cluster, parsed from JSON. */
export async function kubectl(...args: string[]): Promise<any> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, ...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.out}`);
  return JSON.parse(r.stdout);
}

/** `kubectl apply` of these objects on the test cluster. */
export async function kubectlApply(...objects: object[]): Promise<void> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
    input: objects.map((o) => JSON.stringify(o)).join("\n"),
  });
  if (r.code !== 0) throw new Error(`kubectl apply exited ${r.code}: ${r.out}`);
}

/** Names of the objects of a kind in a namespace ([] when there are none or the namespace is gone). */
export async function names(kind: string, namespace: string): Promise<string[]> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "get", kind, "-n", namespace, "-o", "json"]);
  if (r.code !== 0) return [];
  return JSON.parse(r.stdout)
    .items.map((i: any) => i.metadata.name)
    .sort();
}

/**
 * Points the fake pods of each color at a real server on loopback, as their containers: kwok serves
 * the nodes' port-forward endpoint and, by a PortForward named after a pod, connects its port to
 * the given address. Pods come and go with applies (surge, scale), so this watches the pods of
 * `app` in `namespace` (polling the API server) and keeps one PortForward per pod, for its
 * `color` label's target. `point` moves a color to another server before the next apply.
 */
export class ColorForwards {
  private readonly applied = new Map<string, number>();
  /** Reconciliations run one at a time: a late one with an old target must not undo `point`. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly namespace: string,
    private readonly app: string,
    private readonly targets: Record<"blue" | "green", number>,
    private readonly containerPort = 8000,
  ) {}

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.reconcile().catch(() => undefined); // the namespace may not exist yet
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return this;
  }

  /** Sends `color`'s pods to the server on `port` from now on, existing pods included. */
  async point(color: "blue" | "green", port: number): Promise<void> {
    this.targets[color] = port;
    await this.reconcile();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private reconcile(): Promise<void> {
    const next = this.queue.then(() => this.reconcileOnce());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reconcileOnce(): Promise<void> {
    const pods = await run(kubectlBin, [
      "--kubeconfig",
      kubeconfig,
      "get",
      "pods",
      "-n",
      this.namespace,
      "-l",
      `app=${this.app}`,
      "-o",
      "json",
    ]);
    if (pods.code !== 0) return;
    for (const pod of JSON.parse(pods.stdout).items) {
      const color = pod.metadata.labels?.color as "blue" | "green" | undefined;
      if (!color || !(color in this.targets)) continue;
      const port = this.targets[color];
      if (this.applied.get(pod.metadata.name) === port) continue;
      const forward = {
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "PortForward",
        metadata: { name: pod.metadata.name, namespace: this.namespace },
        spec: { forwards: [{ ports: [this.containerPort], target: { address: "127.0.0.1", port } }] },
      };
      const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
        input: JSON.stringify(forward),
      });
      if (r.code === 0) this.applied.set(pod.metadata.name, port);
    }
  }
}
