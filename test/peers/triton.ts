// Starts and stops the real Triton Inference Server (2.51.0, from the nvidia-pytriton wheel that
// scripts/setup-tools.sh lays out in .tools/triton) on free loopback ports, with a model repository
// of our own Python-backend models (test/models/). The reference server of the tests.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, RunningServer, started } from "./servers";

const TOOLS = path.resolve(__dirname, "..", "..", ".tools");
const HOME = path.join(TOOLS, "triton", "pytriton", "tritonserver");
/** The tritonserver binary. */
export const TRITONSERVER = path.join(HOME, "bin", "tritonserver");
/** Where the Python backend (libtriton_python.so and its stub) lives. */
export const BACKEND_DIR = path.join(HOME, "backends");
export const MODELS_DIR = path.resolve(__dirname, "..", "models");

/** Each model to serve and its versions (folders of test/models/<model>/). */
export type ModelSelection = Readonly<Record<string, readonly number[]>>;

export interface TritonPorts {
  readonly http: number;
  readonly grpc: number;
  readonly metrics: number;
}

export interface RunningTriton extends RunningServer {
  readonly metricsUrl: string;
  /** host:port of the gRPC endpoint. */
  readonly grpcAddress: string;
  readonly ports: TritonPorts;
  /** The process (its own process group), for signals. */
  readonly process: ChildProcess;
  /** The model repository it serves (a temporary folder, removed on stop). */
  readonly repository: string;
  /** The last lines Triton logged. */
  log(): string;
}

/** The environment tritonserver needs: its libraries, and numpy<2 first on PATH for the Python backend stub. */
export function tritonEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  if (!fs.existsSync(TRITONSERVER))
    throw new Error(`${TRITONSERVER} is missing: run scripts/setup-tools.sh (npm test does)`);
  const venv = path.join(TOOLS, "venv-triton", "bin");
  if (!fs.existsSync(path.join(venv, "python3")))
    throw new Error(`${venv} is missing: run scripts/setup-tools.sh (npm test does)`);
  return {
    ...process.env,
    LD_LIBRARY_PATH: path.join(TOOLS, "triton", "nvidia_pytriton.libs"),
    PATH: `${venv}:${process.env.PATH}`,
    ...extra,
  };
}

/** A model repository in a new temporary folder holding the selected models and versions. */
export function makeRepository(models: ModelSelection): string {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "triton-repo-"));
  const copy = (from: string, to: string) =>
    fs.cpSync(from, to, { recursive: true, filter: (f) => !f.includes("__pycache__") });
  for (const [model, versions] of Object.entries(models)) {
    const src = path.join(MODELS_DIR, model);
    if (!fs.existsSync(src)) throw new Error(`no test model ${model} in ${MODELS_DIR}`);
    fs.mkdirSync(path.join(repo, model));
    for (const entry of fs.readdirSync(src)) {
      if (/^\d+$/.test(entry) && !versions.includes(Number(entry))) continue;
      copy(path.join(src, entry), path.join(repo, model, entry));
    }
    for (const v of versions) {
      if (!fs.existsSync(path.join(src, String(v)))) throw new Error(`test model ${model} has no version ${v}`);
    }
  }
  return repo;
}

/** Spawns tritonserver with exactly these arguments, in its own process group, logging to a ring buffer. */
export function spawnTriton(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): { process: ChildProcess; log: () => string } {
  const proc = spawn(TRITONSERVER, [...args], {
    env: tritonEnv(env),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The head (a refused flag is reported there, before Triton prints its usage) and the tail.
  let head = "";
  let tail = "";
  let dropped = false;
  const keep = (d: Buffer) => {
    if (head.length < 3000) head += d.toString();
    else {
      tail += d.toString();
      if (tail.length > 8000) {
        tail = tail.slice(-8000);
        dropped = true;
      }
    }
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  return { process: proc, log: () => head + (dropped ? "\n[...]\n" : "") + tail };
}

export interface TritonOptions {
  /** @default every test model with its version 1 */
  readonly models?: ModelSelection;
  /** More tritonserver arguments (e.g. --model-control-mode=explicit). */
  readonly args?: readonly string[];
  /** Fixed ports (to restart a server where it was). @default - free ports */
  readonly ports?: TritonPorts;
  /** More environment for Triton and its models (e.g. CLASSIFIER_FAIL_AFTER). */
  readonly env?: Readonly<Record<string, string>>;
  /** The address its HTTP and gRPC endpoints listen on (a Service's endpoint must not be loopback). @default "127.0.0.1" */
  readonly address?: string;
}

export const ALL_MODELS: ModelSelection = { classifier: [1], text: [1], tensors: [1], slow: [1] };

/**
 * Starts Triton on loopback and waits until `/v2/health/ready` answers 200 (strict readiness: every
 * model loaded). A Triton that exits or is not ready in time fails with the tail of its log.
 */
export async function startTriton(options: TritonOptions = {}): Promise<RunningTriton> {
  const repository = makeRepository(options.models ?? ALL_MODELS);
  const ports = options.ports ?? { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  const { process: proc, log } = spawnTriton(
    [
      `--model-repository=${repository}`,
      `--backend-directory=${BACKEND_DIR}`,
      `--http-address=${options.address ?? "127.0.0.1"}`,
      `--grpc-address=${options.address ?? "127.0.0.1"}`,
      "--metrics-address=127.0.0.1",
      `--http-port=${ports.http}`,
      `--grpc-port=${ports.grpc}`,
      `--metrics-port=${ports.metrics}`,
      "--exit-timeout-secs=5",
      ...(options.args ?? []),
    ],
    options.env,
  );
  const url = `http://${options.address ?? "127.0.0.1"}:${ports.http}`;
  const metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
  const server = await started(
    proc,
    url,
    metricsUrl,
    "/v2/health/ready",
    () => fs.rmSync(repository, { recursive: true, force: true }),
    undefined,
    log,
  );
  return {
    ...server,
    metricsUrl,
    grpcAddress: `${options.address ?? "127.0.0.1"}:${ports.grpc}`,
    ports,
    process: proc,
    repository,
    log,
  };
}
