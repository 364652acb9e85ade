// kubectl with the user's kubeconfig and context, for the runtime code that talks to the Kubernetes
// API (the history ConfigMap, the Envoy pods a promotion reads, the gate's switch-back). Each call is
// bounded by kubectl's request timeout (in a pod, by its own timer): nothing waits on an API server
// that does not answer.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * "~/..." as the home folder. The gate passes the path single-quoted (no shell expansion) and
 * kubectl does not expand "~" itself; found when the example's gate ran against a real cluster.
 */
export function expandHome(file: string): string {
  return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

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

/** How long one kubectl call may take: its request timeout, or its whole run where that flag cannot be given. */
const KUBECTL_TIMEOUT_SECONDS = 20;
const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * Whether kubectl will use the pod's in-cluster config (the gate as a Job): no kubeconfig given or
 * found, and a pod's service account. kubectl then ignores the in-cluster config when any client
 * flag is given, `--request-timeout` included, and falls back to localhost:8080; found when the gate
 * Job first ran on a real kubelet.
 */
export function inClusterOnly(
  access: KubeAccess,
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = fs.existsSync,
): boolean {
  if (access.kubeconfig || access.context || env.KUBECONFIG) return false;
  if (!env.KUBERNETES_SERVICE_HOST || !exists(SERVICE_ACCOUNT_TOKEN)) return false;
  return !exists(path.join(env.HOME || os.homedir(), ".kube", "config"));
}

/** kubectl's arguments for a call: the access, the request timeout (not in a pod: see inClusterOnly), then `args`. */
export function kubectlArgs(access: KubeAccess, args: readonly string[], inCluster: boolean): string[] {
  return [
    ...(access.kubeconfig ? ["--kubeconfig", expandHome(access.kubeconfig)] : []),
    ...(access.context ? ["--context", access.context] : []),
    ...(inCluster ? [] : [`--request-timeout=${KUBECTL_TIMEOUT_SECONDS}s`]),
    ...args,
  ];
}

export function runKubectl(access: KubeAccess, args: readonly string[], input?: string): Promise<KubectlRun> {
  const inCluster = inClusterOnly(access);
  const all = kubectlArgs(access, args, inCluster);
  return new Promise((resolve) => {
    const proc = spawn(access.kubectl ?? "kubectl", all, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    let error: string | undefined;
    // In a pod, where the flag cannot be given, the call's own timer bounds it.
    const timer = inCluster
      ? setTimeout(() => {
          error = `kubectl: the Kubernetes API server did not answer within ${KUBECTL_TIMEOUT_SECONDS} s`;
          proc.kill("SIGKILL");
        }, KUBECTL_TIMEOUT_SECONDS * 1000)
      : undefined;
    proc.on("error", (e) => (error = `kubectl: ${e.message}`));
    proc.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr: error ? `${stderr}${error}` : stderr, ...(error ? { error } : {}) });
    });
    // kubectl gone before it read its input (killed, or failed at once): its exit says so, not an EPIPE.
    proc.stdin.on("error", () => undefined);
    proc.stdin.end(input ?? "");
  });
}

/**
 * Why a kubectl call failed, as one line that says what to do: never kubectl's own log lines
 * (`E1205 ... memcache.go:265] ...`, repeated per API group) or a bare `spawn kubectl ENOENT`.
 */
export function kubectlFailure(r: KubectlRun, access: KubeAccess = {}): string {
  const bin = access.kubectl ?? "kubectl";
  if (r.error) return /ENOENT/.test(r.error) ? `${bin} is not on PATH: install kubectl, or put it on PATH` : r.error;
  const lines = r.stderr
    .split("\n")
    .map((l) => l.replace(/^[EWIF]\d{4} [\d:.]+\s+\d+ [\w.-]+:\d+\] /, "").trim())
    .filter(Boolean);
  const text = lines.join("\n");
  const last = lines[lines.length - 1] ?? `${bin} exited ${r.code}`;
  if (/localhost:8080\b/.test(text) && !access.kubeconfig)
    return "no cluster to talk to: kubectl found no kubeconfig (give --kubeconfig FILE, or set KUBECONFIG)";
  if (access.kubeconfig && /no such file or directory/.test(text))
    return `the kubeconfig ${access.kubeconfig} cannot be read: no such file`;
  if (/context .*(does not exist|not found)/i.test(text))
    return `the kubeconfig has no context ${JSON.stringify(access.context ?? "")}: ${last.replace(/^error: /, "")}`;
  if (/Unable to connect to the server|connection refused|no such host|i\/o timeout|was refused/i.test(text))
    return `the Kubernetes API server does not answer: ${last.replace(/^error: /, "")}`;
  return last.replace(/^error: /, "");
}

/**
 * The names of an app's running pods (label `app=<app>`, or the labels given); throws with kubectl's
 * message when it cannot list them.
 */
export async function runningPods(
  access: KubeAccess,
  namespace: string,
  app: string | Readonly<Record<string, string>>,
): Promise<string[]> {
  const selector =
    typeof app === "string"
      ? `app=${app}`
      : Object.entries(app)
          .map(([k, v]) => `${k}=${v}`)
          .join(",");
  const r = await runKubectl(access, [
    "get",
    "pods",
    "-n",
    namespace,
    "-l",
    selector,
    "--field-selector",
    "status.phase=Running",
    "-o",
    "jsonpath={.items[*].metadata.name}",
  ]);
  if (r.code !== 0)
    throw new Error(
      `could not list the pods of ${namespace}/${typeof app === "string" ? app : selector}: ${kubectlFailure(r, access)}`,
    );
  return r.stdout.trim().split(/\s+/).filter(Boolean);
}
