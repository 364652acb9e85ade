// Reaching a ClusterIP Service from a workstation or a CI job: `kubectl port-forward` to a free
// local port, started before the verification and stopped after it.
import { spawn } from "child_process";
import { parsePortForwardTarget } from "../../core/gate-flags";
import { expandHome, kubectlFailure } from "./kubectl";

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
  /** Whether kubectl still forwards (it exits when its pod goes away). */
  alive(): boolean;
  stop(): void;
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
    const timer = setTimeout(
      () => fail(`no forwarding within ${options.timeoutMs ?? 30000} ms: ${err.trim()}`),
      options.timeoutMs ?? 30000,
    );
    // kubectl's failure as one line (no kubeconfig, no such Service, no kubectl at all)
    proc.on("error", (e) =>
      fail(kubectlFailure({ code: null, stdout: "", stderr: "", error: `kubectl: ${e.message}` }, options)),
    );
    proc.on("exit", (code) =>
      fail(`exited with ${code}: ${kubectlFailure({ code, stdout: out, stderr: err }, options)}`),
    );
    proc.stderr!.on("data", (d) => (err += d));
    proc.stdout!.on("data", (d) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+) ->/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          alive: () => proc.exitCode === null && proc.signalCode === null,
          stop,
        });
      }
    });
  });
}
