// Starts and stops the real Open Inference Protocol servers the tests run against: MLServer with
// mlserver-sklearn (iris), and KServe's ModelServer (doubler). Each on free loopback ports, in its
// own process group, stopped with the test.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { python } from "./python";

export interface RunningServer {
  readonly url: string;
  readonly metricsUrl?: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startMlserver(): Promise<RunningServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlserver-iris-"));
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  execFileSync(python("mlserver"), [path.join(__dirname, "mlserver_iris.py"), dir, String(http), String(grpc), String(metrics)]);
  const mlserver = path.join(path.dirname(python("mlserver")), "mlserver");
  const proc = spawn(mlserver, ["start", dir], { cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  return started(proc, `http://127.0.0.1:${http}`, `http://127.0.0.1:${metrics}/metrics`, "/v2/models/iris/ready", () => fs.rmSync(dir, { recursive: true, force: true }));
}

export async function startKserve(): Promise<RunningServer> {
  const http = await freePort();
  const proc = spawn(python("kserve"), [path.join(__dirname, "kserve_doubler.py"), "--http_port", String(http)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return started(proc, `http://127.0.0.1:${http}`, undefined, "/v2/models/doubler/ready");
}

async function started(proc: ChildProcess, url: string, metricsUrl: string | undefined, readyPath: string, cleanup?: () => void): Promise<RunningServer> {
  let log = "";
  proc.stdout!.on("data", (d) => (log = (log + d).slice(-4000)));
  proc.stderr!.on("data", (d) => (log = (log + d).slice(-4000)));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      try {
        process.kill(-proc.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-proc.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    cleanup?.();
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const res = await fetch(url + readyPath);
      if (res.status === 200) return { url, metricsUrl, stop };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`server at ${url} did not become ready:\n${log}`);
}
