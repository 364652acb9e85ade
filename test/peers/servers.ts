// Starts and stops the real Open Inference Protocol servers the tests run against: MLServer with
// mlserver-sklearn (iris), and KServe's ModelServer (doubler). Each on free loopback ports, in its
// own process group, stopped with the test.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { X509Certificate } from "crypto";
import { python } from "./python";
import { freePort } from "./ports";
import { groupAlive } from "./processes";

export { freePort };

export interface RunningServer {
  readonly url: string;
  readonly metricsUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts servers side by side; if one fails, stops those that started (a leaked server keeps jest
 * from exiting) and rethrows the first failure.
 */
export async function startAll<T extends { stop(): Promise<void> }>(starts: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (!failed) return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
  await Promise.all(settled.map((r) => (r.status === "fulfilled" ? r.value.stop().catch(() => undefined) : undefined)));
  throw failed.reason;
}

export interface MlserverOptions {
  /** The model_version its answers carry. @default "v1" */
  readonly version?: string;
  /** Fixed ports (to restart a server where it was). @default - free ports */
  readonly ports?: { readonly http: number; readonly grpc: number; readonly metrics: number };
}

export interface RunningMlserver extends RunningServer {
  readonly ports: { readonly http: number; readonly grpc: number; readonly metrics: number };
  /** The process group, for kill -9. */
  readonly pid: number;
}

export async function startMlserver(options: MlserverOptions = {}): Promise<RunningMlserver> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlserver-iris-"));
  const ports = options.ports ?? { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
  const { http, grpc, metrics } = ports;
  execFileSync(python("mlserver"), [
    path.join(__dirname, "mlserver_iris.py"),
    dir,
    String(http),
    String(grpc),
    String(metrics),
    options.version ?? "v1",
  ]);
  const mlserver = path.join(path.dirname(python("mlserver")), "mlserver");
  const proc = spawn(mlserver, ["start", dir], { cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const server = await started(
    proc,
    `http://127.0.0.1:${http}`,
    `http://127.0.0.1:${metrics}/metrics`,
    "/v2/models/iris/ready",
    () => fs.rmSync(dir, { recursive: true, force: true }),
  );
  return { ...server, ports, pid: proc.pid! };
}

type Certificates = ReturnType<typeof makeCertificates>;

/**
 * KServe's ModelServer; with `tls`, it serves HTTPS with that certificate and key, and with
 * `requireClientCert` it also demands a client certificate signed by the test CA (mTLS).
 */
export function startKserve(tls?: Certificates, requireClientCert = false): Promise<RunningServer> {
  return startKserveScript("kserve_doubler.py", "doubler", tls, requireClientCert);
}

/** One of our KServe model scripts on a free port, ready when `model` is. */
async function startKserveScript(
  script: string,
  model: string,
  tls?: Certificates,
  requireClientCert = false,
): Promise<RunningServer> {
  const http = await freePort();
  const tlsArgs = tls
    ? [
        "--ssl_certfile",
        tls.certFile,
        "--ssl_keyfile",
        tls.keyFile,
        ...(requireClientCert ? ["--ssl_client_ca", tls.caFile] : []),
      ]
    : [];
  const proc = spawn(python("kserve"), [path.join(__dirname, script), "--http_port", String(http), ...tlsArgs], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const client = tls
    ? {
        ca: fs.readFileSync(tls.caFile),
        ...(requireClientCert
          ? { cert: fs.readFileSync(tls.clientCertFile), key: fs.readFileSync(tls.clientKeyFile) }
          : {}),
      }
    : undefined;
  return started(
    proc,
    `${tls ? "https" : "http"}://127.0.0.1:${http}`,
    undefined,
    `/v2/models/${model}/ready`,
    undefined,
    client,
  );
}

/** A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, made with openssl. */
export function makeCertificates(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=cdktf-triton test CA",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
  );
  ssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
  );
  fs.writeFileSync(f("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  ssl(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    f("san.cnf"),
    "-out",
    f("server.pem"),
  );
  ssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=verifier",
    "-keyout",
    f("client.key"),
    "-out",
    f("client.csr"),
  );
  ssl(
    "x509",
    "-req",
    "-in",
    f("client.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-out",
    f("client.pem"),
  );
  return {
    caFile: f("ca.pem"),
    certFile: f("server.pem"),
    keyFile: f("server.key"),
    clientCertFile: f("client.pem"),
    clientKeyFile: f("client.key"),
  };
}

/**
 * Another server certificate (for 127.0.0.1 / localhost) from the CA of `makeCertificates(dir)`, as
 * a renewal issues one: `<dir>/<name>.pem` and `<dir>/<name>.key`, and its SHA-256 fingerprint.
 */
export function issueServerCertificate(
  dir: string,
  name: string,
): { certFile: string; keyFile: string; fingerprint: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    f(`${name}.key`),
    "-out",
    f(`${name}.csr`),
  );
  ssl(
    "x509",
    "-req",
    "-in",
    f(`${name}.csr`),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    f("san.cnf"),
    "-out",
    f(`${name}.pem`),
  );
  return {
    certFile: f(`${name}.pem`),
    keyFile: f(`${name}.key`),
    fingerprint: new X509Certificate(fs.readFileSync(f(`${name}.pem`))).fingerprint256,
  };
}

/** The SHA-256 fingerprint of the certificate a TLS server on 127.0.0.1:port presents (SNI localhost). */
export function servedFingerprint(port: number, client: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port, servername: "localhost", ALPNProtocols: ["http/1.1"], ...client },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

/** Stops a process started in its own group (`detached`): SIGTERM, SIGKILL after 5 s. */
export async function stopGroup(proc: ChildProcess): Promise<void> {
  const group = -proc.pid!;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(group, sig);
    } catch {
      /* already gone */
    }
  };
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once("exit", r));
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  // The leader gone, its children (Triton's Python backend stubs) may still be ending: the group
  // is stopped when none is left.
  // (Bounded: a zombie nobody reaps would keep the group "alive" for ever.)
  const start = Date.now();
  while (groupAlive(proc.pid!) && Date.now() - start < 10_000) {
    if (Date.now() - start > 5000) signal("SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until a spawned server answers 200 on `readyPath` (90 s at most: model loads on a loaded
 * 2-core machine), or fails with the tail of its log when it exits or never gets there.
 * `logOf` reads a log the caller already collects; otherwise the process's output is kept here.
 */
export async function started(
  proc: ChildProcess,
  url: string,
  metricsUrl: string | undefined,
  readyPath: string,
  cleanup?: () => void,
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer },
  logOf?: () => string,
): Promise<RunningServer> {
  let own = "";
  if (!logOf) {
    proc.stdout!.on("data", (d) => (own = (own + d).slice(-4000)));
    proc.stderr!.on("data", (d) => (own = (own + d).slice(-4000)));
  }
  const log = () => (logOf ? logOf() : own);
  const stop = async () => {
    await stopGroup(proc);
    cleanup?.();
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      if ((await readyStatus(url + readyPath, tls)) === 200) return { url, metricsUrl, stop };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const exited = proc.exitCode !== null ? ` (it exited with ${proc.exitCode})` : "";
  // what it printed before exiting may still be in the pipes
  if (proc.exitCode !== null && proc.stdout && !proc.stdout.readableEnded)
    await Promise.race([new Promise((r) => proc.once("close", r)), new Promise((r) => setTimeout(r, 2000))]);
  await stop();
  throw new Error(`server at ${url} did not become ready${exited}:\n${log()}`);
}

function readyStatus(url: string, tls?: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith("https:") ? https.get : http.get;
    const req = get(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
  });
}
