// How the promotion driver applies the stack: the engine the user runs (`tofu`, `terraform` or
// `cdktf deploy`), in the synthesized stack's folder, with the user's variables plus the step's.
// Runtime code: no cdktf here.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineKind } from "../../core/closed-sets";

export interface EngineOptions {
  readonly kind: EngineKind;
  /** The synthesized stack's folder (cdktf.out/stacks/<name>). */
  readonly stackDir: string;
  /** `-var name=value` the user gives (the step's own variables win). @default [] */
  readonly vars?: readonly string[];
  /** @default [] */
  readonly varFiles?: readonly string[];
  /** Each line the engine prints (for progress); its whole output is also in the result. @default - none */
  readonly onLine?: (line: string) => void;
}

export interface EngineRun {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
}

export class EngineError extends Error {}

/**
 * The engine's binary: `tofu`; `terraform` is TERRAFORM_BINARY_NAME when set (as cdktf does);
 * `cdktf` is the project's own (node_modules/.bin) or the one on PATH.
 */
export function engineBinary(kind: EngineKind, stackDir: string): string {
  if (kind === "tofu") return "tofu";
  if (kind === "terraform") return process.env.TERRAFORM_BINARY_NAME || "terraform";
  const local = path.join(projectDir(stackDir), "node_modules", ".bin", "cdktf");
  return fs.existsSync(local) ? local : "cdktf";
}

/** The cdktf project of a stack folder: cdktf.out/stacks/<name> -> the folder holding cdktf.out. */
export function projectDir(stackDir: string): string {
  return path.resolve(stackDir, "..", "..", "..");
}

export class Engine {
  public readonly binary: string;
  /** What reads outputs: the engine itself, or (for cdktf) the Terraform binary cdktf runs. */
  public readonly outputBinary: string;
  /** The engine's processes running now. */
  private readonly running = new Set<ChildProcess>();

  constructor(private readonly options: EngineOptions) {
    this.binary = engineBinary(options.kind, options.stackDir);
    this.outputBinary = options.kind === "cdktf" ? engineBinary("terraform", options.stackDir) : this.binary;
  }

  /** Throws a clear error when the engine (or what reads outputs) is not installed. */
  check(): void {
    for (const [bin, args] of [
      [this.binary, this.options.kind === "cdktf" ? ["--version"] : ["version"]],
      [this.outputBinary, ["version"]],
    ] as const) {
      const r = spawnSync(bin, [...args], {
        encoding: "utf8",
        env: { ...process.env, CHECKPOINT_DISABLE: "1" },
        timeout: 60_000,
      });
      if (r.error || r.status !== 0) {
        const why = r.error
          ? (r.error as NodeJS.ErrnoException).code === "ENOENT"
            ? "not found (install it, or put it on PATH)"
            : r.error.message
          : `exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
        throw new EngineError(`the engine ${bin} (--engine ${this.options.kind}) cannot run: ${why}`);
      }
    }
  }

  /** Applies the stack with the user's variables and `vars` (which win). */
  apply(vars: Readonly<Record<string, string>>): Promise<EngineRun> {
    const own = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
    const user = (this.options.vars ?? []).filter((kv) => !(kv.split("=")[0] in vars));
    if (this.options.kind === "cdktf") {
      const stack = path.basename(this.options.stackDir);
      return this.run(
        this.binary,
        [
          "deploy",
          stack,
          "--auto-approve",
          ...(this.options.varFiles ?? []).map((f) => `--var-file=${path.resolve(f)}`),
          ...[...user, ...own].map((kv) => `--var=${kv}`),
        ],
        projectDir(this.options.stackDir),
      );
    }
    const args = [
      "apply",
      "-input=false",
      "-auto-approve",
      "-no-color",
      ...(this.options.varFiles ?? []).map((f) => `-var-file=${path.resolve(f)}`),
      ...[...user, ...own].flatMap((kv) => ["-var", kv]),
    ];
    return this.run(this.binary, args, this.options.stackDir);
  }

  /**
   * Asks every engine process running now to stop (SIGTERM: OpenTofu and Terraform stop gracefully,
   * finishing the operations under way and writing their state); does not wait for them.
   */
  cancel(): void {
    for (const proc of this.running) proc.kill("SIGTERM");
  }

  /** One output of the stack's state, parsed; undefined when the state has none. */
  async output(name: string): Promise<unknown> {
    const r = await this.run(this.outputBinary, ["output", "-json", name], this.options.stackDir, false);
    if (r.code !== 0) return undefined;
    const text = r.output.trim();
    try {
      return JSON.parse(text.slice(text.search(/[[{"]/)));
    } catch {
      return undefined;
    }
  }

  private run(bin: string, args: string[], cwd: string, stream = true): Promise<EngineRun> {
    const started = Date.now();
    return new Promise((resolve) => {
      const proc = spawn(bin, args, {
        cwd,
        env: { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.running.add(proc);
      let output = "";
      let partial = "";
      const take = (d: Buffer) => {
        const text = d.toString();
        output += text;
        if (!stream || !this.options.onLine) return;
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        lines.forEach((l) => this.options.onLine!(l));
      };
      proc.stdout.on("data", take);
      proc.stderr.on("data", take);
      proc.on("error", (e) => (output += `\n${e.message}`));
      proc.on("close", (code) => {
        this.running.delete(proc);
        resolve({ code, output, ms: Date.now() - started });
      });
    });
  }
}
