import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, LocalBackend, TerraformStack } from "cdktf";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Backend, ModelRepository, TritonBlueGreen, TritonCanary } from "../../lib";
import { OipClient } from "../../lib/run/verify/client";
import { GrpcOipClient } from "../../lib/run/verify/grpc-client";
import { EnvoyKubelet } from "../peers/kubelet";
import { freePort, issueServerCertificate, makeCertificates, servedFingerprint } from "../peers/servers";
import { RunningTriton, startTriton } from "../peers/triton";
import { until } from "../peers/wait";
import { EngineStack, kubeconfig, kubectl, kubectlApply, kubectlBin, run, synthesize, unavailable } from "./engine";

// A platform team's stack, as its own cluster asks: images from a private registry, the canary's
// Envoy on dedicated ingress nodes (a taint, a node label, a priority class), behind a
// LoadBalancer open to its office ranges only, serving mutual TLS from Secrets that cert-manager
// (here: kubectl) keeps. Applied by OpenTofu to the test cluster, where the real kube-scheduler
// places the pods; then served by real Envoys (the kubelet stand-in, mounting the ConfigMap and the
// Secrets) in front of a real Triton.
const why = unavailable();
const describeE2e = why ? describe.skip : describe;

const NS = "e2e-platform";
const INGRESS_NODES = ["kwok-ingress-0", "kwok-ingress-1"];
const REGISTRY = "registry.internal.example.com";
const request = { inputs: [{ name: "INPUT", shape: [1, 4], datatype: "FP32" as const, data: [1, 2, 3, 4] }] };

function platformStack(
  app: App,
  id: string,
  work: string,
  triton: RunningTriton,
  ports: { http: number; grpc: number },
): TerraformStack {
  const s = new TerraformStack(app, id);
  new LocalBackend(s, { path: path.join(work, "terraform.tfstate") });
  new KubernetesProvider(s, "kubernetes", { configPath: kubeconfig });
  new HelmProvider(s, "helm", { kubernetes: { configPath: kubeconfig } });
  const color = (version: string) => ({
    version,
    image: `${REGISTRY}/nvidia/tritonserver:24.10-py3`,
    imagePullSecrets: ["registry-creds"],
    modelRepository: ModelRepository.objectStore("s3://models/fraud", { credentialsSecret: "model-store" }),
    nodeSelector: { "nvidia.com/gpu.product": "NVIDIA-L4" },
  });
  const pair = new TritonBlueGreen(s, "fraud", {
    namespace: NS,
    blue: color("v1"),
    green: color("v2"),
    active: "blue",
    standby: "warm",
    serviceType: "NodePort",
  });
  const address = Backend.address("blue", "127.0.0.1", triton.ports.http, triton.ports.grpc);
  new TritonCanary(s, "fraud-canary", {
    pair,
    namespace: NS,
    canaryPercent: 0,
    backends: { blue: address, green: Backend.address("green", "127.0.0.1", triton.ports.http, triton.ports.grpc) },
    httpPort: ports.http,
    grpcPort: ports.grpc,
    replicas: 2,
    image: `${REGISTRY}/envoyproxy/envoy:v1.40.0`,
    imagePullSecrets: ["registry-creds"],
    nodeSelector: { pool: "ingress" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "ingress", effect: "NoSchedule" }],
    priorityClassName: "ingress-critical",
    resources: { cpuRequest: "500m", cpuLimit: "2", memoryRequest: "256Mi", memoryLimit: "1Gi" },
    serviceType: "LoadBalancer",
    loadBalancerSourceRanges: ["203.0.113.0/24", "198.51.100.0/24"],
    podDisruptionBudget: { minAvailable: 1 },
    tls: { secretName: "fraud-tls", clientCaSecretName: "fraud-client-ca" },
  });
  return s;
}

async function kubectlRun(...args: string[]): Promise<string> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, ...args]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.out}`);
  return r.stdout;
}

const b64 = (file: string) => fs.readFileSync(file).toString("base64");
const tlsSecret = (cert: string, key: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  type: "kubernetes.io/tls",
  metadata: { name: "fraud-tls", namespace: NS },
  data: { "tls.crt": b64(cert), "tls.key": b64(key) },
});

describeE2e(
  "a platform team's stack: private registry, dedicated ingress nodes, a LoadBalancer for its ranges, mutual TLS",
  () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-platform-"));
    const certs = makeCertificates(work);
    const ca = fs.readFileSync(certs.caFile);
    const client = { ca, cert: fs.readFileSync(certs.clientCertFile), key: fs.readFileSync(certs.clientKeyFile) };
    let triton: RunningTriton;
    let stack: EngineStack;
    let kubelet: EnvoyKubelet | undefined;
    let ports: { http: number; grpc: number };

    beforeAll(async () => {
      await run(kubectlBin, [
        "--kubeconfig",
        kubeconfig,
        "delete",
        "namespace",
        NS,
        "--ignore-not-found",
        "--wait=true",
      ]);
      triton = await startTriton({ models: { classifier: [1] } });
      ports = { http: await freePort(), grpc: await freePort() };
      // What the platform has before this stack: the namespace, its dedicated nodes, a priority class,
      // the registry's pull secret and the certificates.
      await kubectlApply(
        { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
        ...INGRESS_NODES.map((name, i) => ({
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name,
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: {
              "kubernetes.io/hostname": name,
              "kubernetes.io/os": "linux",
              type: "kwok",
              pool: "ingress",
              "topology.kubernetes.io/zone": `zone-${i}`,
            },
          },
          spec: { taints: [{ key: "dedicated", value: "ingress", effect: "NoSchedule" }] },
        })),
        {
          apiVersion: "scheduling.k8s.io/v1",
          kind: "PriorityClass",
          metadata: { name: "ingress-critical" },
          value: 1_000_000,
          globalDefault: false,
        },
        {
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/dockerconfigjson",
          metadata: { name: "registry-creds", namespace: NS },
          data: {
            ".dockerconfigjson": Buffer.from(
              JSON.stringify({
                auths: { [REGISTRY]: { auth: Buffer.from("robot:not-a-real-token").toString("base64") } },
              }),
            ).toString("base64"),
          },
        },
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "model-store", namespace: NS },
          stringData: { AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" },
        },
        tlsSecret(certs.certFile, certs.keyFile),
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "fraud-client-ca", namespace: NS },
          data: { "ca.crt": b64(certs.caFile) },
        },
      );
      await until("the ingress nodes Ready", 60_000, async () => {
        const nodes = await kubectl("get", "nodes");
        return INGRESS_NODES.every((n) =>
          nodes.items.some(
            (x: any) =>
              x.metadata.name === n && x.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"),
          ),
        );
      });
      stack = synthesize(path.join(work, "out"), "platform", (app, id) => platformStack(app, id, work, triton, ports));
      await stack.ok("init", "-input=false");
      // No cloud controller here: its stand-in gives the LoadBalancer Service an address once it
      // exists, as a cloud's would (the provider waits for one).
      const apply = stack.apply();
      let applied = false;
      void apply.then(() => (applied = true));
      await until("the Envoy Service, to give it a load balancer", 600_000, async () => {
        if (applied) return true;
        const r = await run(kubectlBin, [
          "--kubeconfig",
          kubeconfig,
          "get",
          "service",
          "fraud-canary",
          "-n",
          NS,
          "--ignore-not-found",
          "-o",
          "name",
        ]);
        return r.stdout.trim() !== "";
      });
      await kubectlRun(
        "patch",
        "service",
        "fraud-canary",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: "192.0.2.80" }] } } }),
      );
      const done = await apply;
      if (done.code !== 0) throw new Error(`tofu apply exited ${done.code}:\n${done.out.slice(-6000)}`);
    }, 900_000);

    afterAll(async () => {
      await kubelet?.stop();
      await triton?.stop();
      await run(kubectlBin, [
        "--kubeconfig",
        kubeconfig,
        "delete",
        "namespace",
        NS,
        "--ignore-not-found",
        "--wait=false",
      ]);
      await run(kubectlBin, ["--kubeconfig", kubeconfig, "delete", "node", ...INGRESS_NODES, "--ignore-not-found"]);
      await run(kubectlBin, [
        "--kubeconfig",
        kubeconfig,
        "delete",
        "priorityclass",
        "ingress-critical",
        "--ignore-not-found",
      ]);
      fs.rmSync(work, { recursive: true, force: true });
    });

    test("the API server holds the Envoy pods as declared, and the scheduler put them on the ingress nodes, one per node; the preview Service stays inside the cluster", async () => {
      const deployment = await kubectl("get", "deployment", "fraud-canary", "-n", NS);
      const pod = deployment.spec.template.spec;
      expect(pod.imagePullSecrets).toEqual([{ name: "registry-creds" }]);
      expect(pod.nodeSelector).toEqual({ pool: "ingress" });
      expect(pod.tolerations).toEqual([
        { key: "dedicated", operator: "Equal", value: "ingress", effect: "NoSchedule" },
      ]);
      expect(pod.priorityClassName).toBe("ingress-critical");
      expect(pod.topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: "kubernetes.io/hostname",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { app: "fraud-canary", "app.kubernetes.io/instance": "fraud-canary" } },
        },
      ]);
      const container = pod.containers[0];
      expect(container.image).toBe(`${REGISTRY}/envoyproxy/envoy:v1.40.0`);
      expect(container.resources).toEqual({
        requests: { cpu: "500m", memory: "256Mi" },
        limits: { cpu: "2", memory: "1Gi" },
      });
      expect(
        container.volumeMounts
          .filter((m: any) => m.name.startsWith("tls-"))
          .map(({ name, mountPath, readOnly }: any) => ({ name, mountPath, readOnly })),
      ).toEqual([
        { name: "tls-certificate", mountPath: "/etc/envoy-tls/certificate", readOnly: true },
        { name: "tls-client-ca", mountPath: "/etc/envoy-tls/client-ca", readOnly: true },
      ]);
      const service = await kubectl("get", "service", "fraud-canary", "-n", NS);
      expect([service.spec.type, service.spec.loadBalancerSourceRanges]).toEqual([
        "LoadBalancer",
        ["203.0.113.0/24", "198.51.100.0/24"],
      ]);
      // Over TLS, gRPC is negotiated by ALPN: no h2c app protocol on the port.
      expect(service.spec.ports.find((p: any) => p.name === "grpc").appProtocol).toBeUndefined();
      const pdb = await kubectl("get", "pdb", "fraud-canary", "-n", NS);
      expect([pdb.spec.minAvailable, pdb.spec.maxUnavailable]).toEqual([1, undefined]);
      // The scheduler's work: on the tainted ingress nodes only, spread one per node; the priority admitted.
      await until(
        "2 Envoy pods scheduled",
        60_000,
        async () =>
          (await kubectl("get", "pods", "-n", NS, "-l", "app=fraud-canary")).items.filter((p: any) => p.spec.nodeName)
            .length === 2,
      );
      const pods = (await kubectl("get", "pods", "-n", NS, "-l", "app=fraud-canary")).items;
      expect(pods.map((p: any) => p.spec.nodeName).sort()).toEqual(INGRESS_NODES);
      expect(pods.map((p: any) => p.spec.priority)).toEqual([1_000_000, 1_000_000]);
      // Triton's colors pull from the registry too; the preview Service (the unverified candidate) is ClusterIP.
      const triton = (await kubectl("get", "deployment", "fraud-green", "-n", NS)).spec.template.spec;
      expect([triton.imagePullSecrets, triton.containers[0].image]).toEqual([
        [{ name: "registry-creds" }],
        `${REGISTRY}/nvidia/tritonserver:24.10-py3`,
      ]);
      expect((await kubectl("get", "service", "fraud", "-n", NS)).spec.type).toBe("NodePort");
      expect((await kubectl("get", "service", "fraud-preview", "-n", NS)).spec.type).toBe("ClusterIP");
    }, 120_000);

    test("every Envoy pod serves mutual TLS to Triton over HTTPS and gRPC, refuses a client without a certificate, and its readiness chain passes", async () => {
      kubelet = await new EnvoyKubelet(NS, "fraud-canary").start(2);
      for (const pod of kubelet.all()) {
        await until(
          `${pod.pod} ready on its ops port`,
          15_000,
          async () => (await fetch(`${pod.opsUrl}/ready`).catch(() => undefined))?.status === 200,
        );
        const https = new OipClient({ url: `https://localhost:${pod.ports.get(ports.http)}`, tls: client });
        expect((await https.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
        await https.close();
        const grpc = new GrpcOipClient({ url: `https://localhost:${pod.ports.get(ports.grpc)}`, tls: client });
        expect((await grpc.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
        await grpc.close();
        const anonymous = new OipClient({
          url: `https://localhost:${pod.ports.get(ports.http)}`,
          tls: { ca },
          connectTimeoutSeconds: 2,
        });
        await expect(anonymous.infer("classifier", undefined, request)).rejects.toThrow();
        await anonymous.close();
      }
    }, 120_000);

    test("a certificate renewed in the Secret is served by every pod after its kubelet's next sync, without a restart", async () => {
      const { certFile, keyFile, fingerprint: renewed } = issueServerCertificate(work, "renewed");
      await kubectlApply(tlsSecret(certFile, keyFile));
      for (const pod of kubelet!.all()) {
        const envoyBefore = pod.envoy();
        expect(await servedFingerprint(pod.ports.get(ports.http)!, client)).not.toBe(renewed);
        // The kubelet's sync for this pod (its loop runs every minute or so; this one is now).
        await kubelet!.get(pod.pod).sync();
        await until(
          `${pod.pod} serving the renewed certificate`,
          10_000,
          async () => (await servedFingerprint(pod.ports.get(ports.http)!, client)) === renewed,
          100,
        );
        expect(pod.envoy()).toBe(envoyBefore);
        const https = new OipClient({ url: `https://localhost:${pod.ports.get(ports.http)}`, tls: client });
        expect((await https.infer("classifier", undefined, request)).outputs[0].name).toBe("PROBABILITIES");
        await https.close();
      }
    }, 120_000);
  },
);
