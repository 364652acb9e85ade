import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { inClusterOnly, kubectlArgs, runKubectl } from "../lib/run/kube/kubectl";

// In a pod without a kubeconfig (the gate as a Job, GateRunner.cluster) kubectl uses the pod's
// in-cluster config only when it is given no client flag: with `--request-timeout` it fell back to
// localhost:8080 and every call of the verifier failed (seen on a real kubelet). The calls there
// carry no flag and are bounded by their own timer.
const TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const pod = { KUBERNETES_SERVICE_HOST: "10.96.0.1", HOME: "/home/gate" };
const inPod = (file: string) => file === TOKEN;

test("kubectl uses a pod's in-cluster config only when nothing else names a cluster", () => {
  expect(inClusterOnly({}, pod, inPod)).toBe(true);
  // not a pod: no service host, or no service account token
  expect(inClusterOnly({}, { HOME: "/home/u" }, inPod)).toBe(false);
  expect(inClusterOnly({}, pod, () => false)).toBe(false);
  // a kubeconfig given, in the environment, or in the home folder; a context given
  expect(inClusterOnly({ kubeconfig: "/k" }, pod, inPod)).toBe(false);
  expect(inClusterOnly({ context: "c" }, pod, inPod)).toBe(false);
  expect(inClusterOnly({}, { ...pod, KUBECONFIG: "/k" }, inPod)).toBe(false);
  expect(inClusterOnly({}, pod, (f) => f === TOKEN || f === "/home/gate/.kube/config")).toBe(false);
});

test("in a pod the call carries no client flag; elsewhere the request timeout bounds it", () => {
  expect(kubectlArgs({}, ["get", "cm"], true)).toEqual(["get", "cm"]);
  expect(kubectlArgs({ kubeconfig: "/k", context: "c" }, ["get", "cm"], false)).toEqual([
    "--kubeconfig",
    "/k",
    "--context",
    "c",
    "--request-timeout=20s",
    "get",
    "cm",
  ]);
});

test("a kubectl that exits before reading its input is its exit, not an EPIPE", async () => {
  // A double of kubectl (a real one would need a cluster to fail this way): it exits 1 at once.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kubectl-double-"));
  try {
    const bin = path.join(dir, "kubectl");
    fs.writeFileSync(bin, "#!/bin/sh\necho 'error: gone' >&2\nexit 1\n", { mode: 0o755 });
    const r = await runKubectl({ kubectl: bin }, ["apply", "-f", "-"], "x".repeat(4 * 1024 * 1024));
    expect([r.code, r.stderr.trim()]).toEqual([1, "error: gone"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
