// Reaching a ClusterIP Service from a workstation or a CI job: `kubectl port-forward` to a free
// local port, started before the verification and stopped after it.
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";
import { parsePortForwardTarget } from "../../core/gate-flags";

export interface PortForwardOptions {
  /** e.g. svc/classifier-green:8000 */
  readonly target: string;
  /** @default - the kubeconfig context's namespace */
  readonly namespace?: string;
  /** @default - kubectl's default */
  readonly kubeconfig?: string;
  /** @default - kubectl's current context */
  readonly context?: string;
  /** @default "kubectl" */
  readonly kubectl?: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

export interface PortForward {
  readonly url: string;
  stop(): void;
}

/**
 * "~/..." as the home folder. The gate passes the path single-quoted (no shell expansion) and
 * kubectl does not expand "~" itself; found when the example's gate ran against a real cluster.
 */
export function expandHome(file: string): string {
  return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

export function startPortForward(options: PortForwardOptions): Promise<PortForward> {
  const { resource, port } = parsePortForwardTarget(options.target);
  const args = ["port-forward", resource, `:${port}`, "--address", "127.0.0.1"];
  if (options.namespace) args.push("--namespace", options.namespace);
  if (options.kubeconfig) args.push("--kubeconfig", expandHome(options.kubeconfig));
  if (options.context) args.push("--context", options.context);
  const proc = spawn(options.kubectl ?? "kubectl", args, { stdio: ["ignore", "pipe", "pipe"] });
  const stop = () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
  };
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      stop();
      reject(new Error(`kubectl port-forward ${resource} failed: ${why}`));
    };
    const timer = setTimeout(() => fail(`no forwarding within ${options.timeoutMs ?? 30000} ms: ${err.trim()}`), options.timeoutMs ?? 30000);
    proc.on("error", (e) => fail(e.message));
    proc.on("exit", (code) => fail(`exited with ${code}: ${err.trim().slice(-500)}`));
    proc.stderr!.on("data", (d) => (err += d));
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolve({ url: `http://127.0.0.1:${m[1]}`, stop });
      }
    });
  });
}
