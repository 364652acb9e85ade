// Ports for the processes a test starts (Envoy's listeners, MLServer, Triton, Prometheus, pods of the
// kubelet stand-in): chosen here, bound later by another process.
//
// A port chosen by binding to 0 and closing is free only until the next bind to 0: a server of ours
// that listens on port 0 in between (a test double, a webhook receiver) or the source port of an
// outgoing connection can take it, and the process it was meant for then fails to bind, or, worse,
// its clients reach the server that took the port (seen in CI: every request "through Envoy" answered
// by a test double, because Envoy never got its listener). So the ports handed out here come from
// below the kernel's ephemeral range (net.ipv4.ip_local_port_range), which neither a bind to 0 nor a
// connection's source port ever uses; each one is checked bindable, and none is handed out twice
// until the whole slice has been used once.
import * as fs from "fs";
import * as net from "net";

/** The first port of our range: clear of the well-known and the commonly configured ones. */
const FLOOR = 12_000;
/** Slices of the range, one per jest worker, so two workers never choose the same port. */
const SLICES = 8;

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    /* not Linux: the IANA dynamic range */
  }
  return [49_152, 65_535];
}

/** This worker's [first, last] port: a slice of the ports below the ephemeral range, else above it. */
export function portSlice(worker = Number(process.env.JEST_WORKER_ID ?? "1")): [number, number] {
  const [lo, hi] = ephemeralRange();
  const [from, to] = lo - FLOOR >= SLICES * 256 ? [FLOOR, lo - 1] : [hi + 1, 65_535];
  const size = Math.floor((to - from + 1) / SLICES);
  if (size < 256) throw new Error(`no room for test ports outside the ephemeral range ${lo}-${hi}`);
  const first = from + ((Math.max(1, worker) - 1) % SLICES) * size;
  return [first, first + size - 1];
}

const [first, last] = portSlice();
let next = first + Math.floor(Math.random() * (last - first + 1));

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 now, outside the ephemeral range, not handed out before in this round of the slice. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried <= last - first; tried++) {
    const port = next;
    next = next === last ? first : next + 1;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${first}-${last}`);
}
