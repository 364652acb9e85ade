// A real Gateway API implementation for the Gateway canary's e2e: Contour (built by
// scripts/setup-tools.sh from its Go module) running outside the cluster (`contour serve
// --kubeconfig`, as its docs allow for development), watching the test cluster, and serving xDS to
// a real Envoy on this machine, bootstrapped by `contour bootstrap` as Contour's Envoy pods are.
// The Gateway it serves (and its GatewayClass) are created here; Contour reconciles that one
// Gateway (its `gatewayRef`), writes the status of the Gateway and of the routes attached to it,
// and programs Envoy from them. Envoy's listener port is the Gateway listener's port + 8000, as
// Contour maps it.
//
// Compatibility: Contour v1.33.8 is built against gateway-api v1.3.0; the cluster has v1.6.3's
// standard CRDs (GatewayClass, Gateway, HTTPRoute, ReferenceGrant), whose v1 and v1beta1 versions
// Contour reads. It would start informers for TLSRoute, GRPCRoute, TCPRoute and BackendTLSPolicy
// (experimental or not installed here): those are disabled (`--disable-feature`).
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { envoyBinary } from "./envoy";
import { freePort, stopGroup } from "./servers";
import { until } from "./wait";
import { kubeconfig, kubectlBin, run } from "../e2e/engine";

export const CONTOUR = path.resolve(__dirname, "..", "..", ".tools", "bin", "contour");
/** Contour's Gateway controller name: a GatewayClass with it is Contour's. */
export const CONTOUR_CONTROLLER = "projectcontour.io/gateway-controller";

export interface RunningContour {
  /** The Gateway Contour serves. */
  readonly gateway: { readonly namespace: string; readonly name: string; readonly listener: string };
  /** Envoy's HTTP listener (the Gateway listener's port + 8000), on every interface of this machine. */
  readonly httpUrl: string;
  /** Envoy's read-only admin listener (Contour's, on loopback): /config_dump, /stats, /ready. */
  readonly adminPort: number;
  /** Envoy's stats listener, what Prometheus scrapes: /stats/prometheus. */
  readonly statsPort: number;
  /** The tail of Contour's and Envoy's logs, for a failure's message. */
  logs(): string;
  stop(): Promise<void>;
}

/** This machine's first non-loopback IPv4 address: the API server refuses loopback endpoints. */
export function hostAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal);
  if (!found)
    throw new Error(
      "this machine has no non-loopback IPv4 address: the Gateway's backends need one (the API server refuses loopback endpoints)",
    );
  return found.address;
}

async function apply(objects: object[]): Promise<void> {
  const r = await run(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
    input: objects.map((o) => JSON.stringify(o)).join("\n"),
  });
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.out}`);
}

function spawnLogged(bin: string, args: string[], logFile: string): ChildProcess {
  const out = fs.openSync(logFile, "a");
  const proc = spawn(bin, args, { stdio: ["ignore", out, out], detached: true });
  fs.closeSync(out);
  return proc;
}

/** Starts Contour and its Envoy for a Gateway `name` in `namespace` (created with its GatewayClass). */
export async function startContour(namespace: string, name: string): Promise<RunningContour> {
  if (!fs.existsSync(CONTOUR)) throw new Error(`${CONTOUR} is missing: run scripts/setup-tools.sh (npm test does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "contour-"));
  const [xds, metrics, health, debug, adminPort, statsPort, envoyHttp] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  // Contour listens on the Gateway listener's port + 8000: a free port above 8000 gives the listener's.
  const listenerPort = envoyHttp - 8000;
  const className = `${namespace}-contour`;
  await apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: className },
      spec: { controllerName: CONTOUR_CONTROLLER },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name, namespace },
      spec: {
        gatewayClassName: className,
        listeners: [
          { name: "http", protocol: "HTTP", port: listenerPort, allowedRoutes: { namespaces: { from: "All" } } },
        ],
      },
    },
  ]);
  fs.writeFileSync(
    path.join(dir, "contour.yaml"),
    JSON.stringify({ gateway: { gatewayRef: { namespace, name } }, network: { "admin-port": adminPort } }),
  );
  const contourLog = path.join(dir, "contour.log");
  const envoyLog = path.join(dir, "envoy.log");
  const logs = () =>
    ["contour", "envoy"]
      .map((n) => `--- ${n}:\n${fs.readFileSync(path.join(dir, `${n}.log`), "utf8").slice(-3000)}`)
      .join("\n");
  const contour = spawnLogged(
    CONTOUR,
    [
      "serve",
      "--kubeconfig",
      kubeconfig,
      "--insecure",
      "--disable-leader-election",
      "--config-path",
      path.join(dir, "contour.yaml"),
      "--xds-address",
      "127.0.0.1",
      "--xds-port",
      String(xds),
      "--debug-http-address",
      "127.0.0.1",
      "--http-address",
      "127.0.0.1",
      "--http-port",
      String(metrics),
      "--health-address",
      "127.0.0.1",
      "--health-port",
      String(health),
      "--debug-http-port",
      String(debug),
      "--stats-address",
      "127.0.0.1",
      "--stats-port",
      String(statsPort),
      ...["tlsroutes", "grpcroutes", "tcproutes", "backendtlspolicies"].flatMap((f) => ["--disable-feature", f]),
    ],
    contourLog,
  );
  let envoy: ChildProcess | undefined;
  const stop = async () => {
    await Promise.all([envoy && stopGroup(envoy), stopGroup(contour)]);
  };
  try {
    const boot = spawnSync(
      CONTOUR,
      [
        "bootstrap",
        path.join(dir, "bootstrap.json"),
        "--xds-address",
        "127.0.0.1",
        "--xds-port",
        String(xds),
        "--admin-address",
        path.join(dir, "admin.sock"),
        "--namespace",
        namespace,
      ],
      { encoding: "utf8" },
    );
    if (boot.status !== 0) throw new Error(`contour bootstrap exited ${boot.status}: ${boot.stderr}`);
    envoy = spawnLogged(
      envoyBinary(),
      [
        "-c",
        path.join(dir, "bootstrap.json"),
        "--service-cluster",
        "contour",
        "--service-node",
        `${name}-0`,
        "--base-id",
        String(adminPort),
        "--log-level",
        "warn",
      ],
      envoyLog,
    );
    // Contour reconciles the Gateway (Programmed) and Envoy takes its listeners over xDS (the admin
    // listener is one of them): 60 s is slack for Contour's informers' first sync on a loaded machine.
    await until(
      "Contour's Envoy serving its admin listener",
      60_000,
      async () => {
        if (contour.exitCode !== null || envoy!.exitCode !== null) throw new Error("exited");
        return (await fetch(`http://127.0.0.1:${adminPort}/ready`)).status === 200;
      },
      200,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}`);
    });
    await until(
      `Gateway ${namespace}/${name} Programmed by Contour`,
      60_000,
      async () => {
        const r = await run(kubectlBin, [
          "--kubeconfig",
          kubeconfig,
          "get",
          "gateway",
          name,
          "-n",
          namespace,
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Programmed")].status}',
        ]);
        return r.stdout.trim() === "True";
      },
      200,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    gateway: { namespace, name, listener: "http" },
    httpUrl: `http://127.0.0.1:${envoyHttp}`,
    adminPort,
    statsPort,
    logs,
    stop,
  };
}
