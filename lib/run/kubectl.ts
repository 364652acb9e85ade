// kubectl with the user's kubeconfig and context, for the runtime code that talks to the Kubernetes
// API (the history ConfigMap, the Envoy pods a promotion reads, the gate's switch-back). Each call is
// bounded by kubectl's request timeout: nothing waits on an API server that does not answer.
import { spawn } from "child_process";
import { expandHome } from "./verify/port-forward";

export interface KubeAccess {
  /** @default - kubectl's default */
  readonly kubeconfig?: string;
  /** @default - the kubeconfig's current context */
  readonly context?: string;
  /** @default "kubectl" */
  readonly kubectl?: string;
}

export interface KubectlRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when kubectl could not be started at all (e.g. "kubectl: spawn kubectl ENOENT"). */
  readonly error?: string;
}

export function runKubectl(access: KubeAccess, args: readonly string[], input?: string): Promise<KubectlRun> {
  const all = [...(access.kubeconfig ? ["--kubeconfig", expandHome(access.kubeconfig)] : []), ...(access.context ? ["--context", access.context] : []), "--request-timeout=20s", ...args];
  return new Promise((resolve) => {
    const proc = spawn(access.kubectl ?? "kubectl", all, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    let error: string | undefined;
    proc.on("error", (e) => (error = `kubectl: ${e.message}`));
    proc.on("close", (code) => resolve({ code, stdout, stderr: error ? `${stderr}${error}` : stderr, ...(error ? { error } : {}) }));
    proc.stdin.end(input ?? "");
  });
}

/** The names of an app's running pods (label `app=<app>`); throws with kubectl's message when it cannot list them. */
export async function runningPods(access: KubeAccess, namespace: string, app: string): Promise<string[]> {
  const r = await runKubectl(access, ["get", "pods", "-n", namespace, "-l", `app=${app}`, "--field-selector", "status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}"]);
  if (r.code !== 0) throw new Error(`could not list the pods of ${namespace}/${app}: ${r.stderr.trim()}`);
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}
