import * as fs from "fs";
import { until } from "./peers/wait";
import * as path from "path";
import { ModelControl, ModelRepository, TritonReleaseProps } from "../lib";
import { render } from "./peers/chart";
import { freePort, started } from "./peers/servers";
import { BACKEND_DIR, makeRepository, MODELS_DIR, spawnTriton } from "./peers/triton";

// The chart's tritonserver arguments are run, not only rendered: each case renders the Deployment
// with helm, takes the container's args and starts the real Triton (2.51.0) with exactly those,
// mapped to this machine the way the kubelet and the image would: the model repository to a local
// folder, the container ports to free loopback ports, $(VAR) from the container's env (a Secret's
// value supplied here), and the image's own defaults (backend directory, listen addresses).

const KEY = "test-admin-key-value";

interface Launched {
  readonly url: string;
  readonly metricsUrl: string;
  readonly container: any;
  readonly repository: string;
  readonly process: import("child_process").ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Renders `props`, maps the rendered args, and starts Triton; ready when the rendered startup probe answers 200. */
async function launchRendered(props: Partial<TritonReleaseProps>, models: Record<string, number[]>): Promise<Launched> {
  const objects = render({ modelRepository: ModelRepository.persistentVolumeClaim("models"), ...props });
  const container = objects.Deployment.spec.template.spec.containers[0];
  const local: Record<number, number> = {};
  for (const p of container.ports) local[p.containerPort] = await freePort();
  const portOf = (name: string) => local[container.ports.find((p: any) => p.name === name).containerPort];
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) {
      // the kubelet reads the Secret; it must be one the chart renders or the one the user named
      const ref = e.valueFrom.secretKeyRef;
      const ours = objects.Secret?.metadata.name === ref.name && ref.key in objects.Secret.data;
      if (!ours && ref.name !== (props.restrictedApi && props.restrictedApi.secretName))
        throw new Error(`env ${e.name} reads Secret ${ref.name}, which nothing provides`);
      env[e.name] = KEY;
    } else env[e.name] = e.value;
  }
  const repository = makeRepository(models);
  const args = (container.args as string[]).map((arg) => {
    const [flag, value] = [arg.split("=")[0], arg.slice(arg.indexOf("=") + 1)];
    if (flag === "--model-repository") return `${flag}=${repository}`;
    if (["--http-port", "--grpc-port", "--metrics-port"].includes(flag)) return `${flag}=${local[Number(value)]}`;
    // the kubelet's $(VAR) expansion; an unknown variable would stay literal, as in Kubernetes
    return arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
  });
  const image = [
    `--backend-directory=${BACKEND_DIR}`,
    "--http-address=127.0.0.1",
    "--grpc-address=127.0.0.1",
    "--metrics-address=127.0.0.1",
  ];
  const { process: proc, log } = spawnTriton([...args, ...image]);
  const url = `http://127.0.0.1:${portOf("http")}`;
  const probe = container.startupProbe.httpGet;
  const server = await started(
    proc,
    `http://127.0.0.1:${typeof probe.port === "string" ? portOf(probe.port) : local[probe.port]}`,
    undefined,
    probe.path,
    () => fs.rmSync(repository, { recursive: true, force: true }),
    undefined,
    log,
  );
  return {
    url,
    metricsUrl: `http://127.0.0.1:${portOf("metrics")}/metrics`,
    container,
    repository,
    process: proc,
    log,
    stop: server.stop,
  };
}

/** GET or POST on Triton, with optional headers; status and parsed body. */
async function call(
  url: string,
  method = "GET",
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/** The rendered probes, each on its rendered path and port, answer 200. */
async function expectProbesPass(t: Launched): Promise<void> {
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const get = t.container[probe].httpGet;
    expect(get.port).toBe("http");
    expect({ probe, status: (await call(t.url + get.path)).status }).toEqual({ probe, status: 200 });
  }
}

const infer = (name: string, datatype: string, data: unknown[]) => ({
  inputs: [{ name, datatype, shape: [data.length], data }],
});

describe("the chart's tritonserver args, run by the real Triton", () => {
  let running: Launched | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  test("ModelControl.none(): starts, passes the rendered probes, serves every model", async () => {
    running = await launchRendered({ modelControl: ModelControl.none() }, { classifier: [1], text: [1] });
    expect(running.container.args).toContain("--model-control-mode=none");
    await expectProbesPass(running);
    for (const m of ["classifier", "text"])
      expect((await call(`${running.url}/v2/models/${m}/ready`)).status).toBe(200);
    // no restricted API unless asked for in this mode
    expect(running.container.args.some((a: string) => a.includes("restricted"))).toBe(false);
  }, 120_000);

  test("strictReadiness: the rendered flag decides whether a model that failed to load keeps the server not ready", async () => {
    // --exit-on-error=false keeps Triton up with a model that failed (it exits at start by default)
    const props = { modelControl: ModelControl.none(), extraArgs: ["--exit-on-error=false"] };
    running = await launchRendered({ ...props, strictReadiness: false }, { classifier: [1], broken: [1] });
    expect(running.container.args).toContain("--strict-readiness=false");
    expect((await call(`${running.url}/v2/models/broken/ready`)).status).not.toBe(200);
    expect((await call(running.url + running.container.readinessProbe.httpGet.path)).status).toBe(200);
    await running.stop();
    running = await launchRendered(props, { classifier: [1], broken: [1] });
    expect(running.container.args).toContain("--strict-readiness=true");
    expect((await call(running.url + running.container.readinessProbe.httpGet.path)).status).not.toBe(200);
    expect((await call(running.url + running.container.livenessProbe.httpGet.path)).status).toBe(200);
  }, 120_000);

  test("ModelControl.poll(): a model added to the repository is loaded within the poll interval", async () => {
    running = await launchRendered({ modelControl: ModelControl.poll({ intervalSeconds: 2 }) }, { classifier: [1] });
    expect(running.container.args).toContain("--repository-poll-secs=2");
    await expectProbesPass(running);
    expect((await call(`${running.url}/v2/models/text/ready`)).status).not.toBe(200);
    fs.cpSync(path.join(MODELS_DIR, "text"), path.join(running.repository, "text"), {
      recursive: true,
      filter: (src) => !src.includes("__pycache__"),
    });
    // the next poll (2 s) loads it; a model load takes seconds on a loaded 2-core machine
    await until(
      "text loaded by the poll",
      60000,
      async () => (await call(`${running!.url}/v2/models/text/ready`)).status === 200,
      200,
    );
  }, 120_000);

  test("ModelControl.explicit({ loadModels }): exactly the listed models are loaded; the repository API needs the key", async () => {
    running = await launchRendered(
      { modelControl: ModelControl.explicit({ loadModels: ["classifier"] }) },
      { classifier: [1], text: [1] },
    );
    expect(running.container.args).toContain("--load-model=classifier");
    await expectProbesPass(running);
    const key = { "triton-admin-key": KEY };
    const index = await call(`${running.url}/v2/repository/index`, "POST", {}, key);
    expect(index.status).toBe(200);
    expect(index.body.filter((m: any) => m.state === "READY").map((m: any) => m.name)).toEqual(["classifier"]);
    expect(index.body.map((m: any) => m.name).sort()).toEqual(["classifier", "text"]);

    // restricted by default in explicit mode: without the key, no index, no load, no trace or log settings
    expect((await call(`${running.url}/v2/repository/index`, "POST", {})).status).toBe(403);
    expect((await call(`${running.url}/v2/repository/models/text/load`, "POST", {})).status).toBe(403);
    expect(
      (await call(`${running.url}/v2/repository/models/classifier/unload`, "POST", {}, { "triton-admin-key": "wrong" }))
        .status,
    ).toBe(403);
    expect((await call(`${running.url}/v2/trace/setting`)).status).toBe(403);
    expect((await call(`${running.url}/v2/logging`)).status).toBe(403);
    expect((await call(`${running.url}/v2/models/text/ready`)).status).not.toBe(200);
    // inference and health stay open
    const answer = await call(`${running.url}/v2/models/classifier/infer`, "POST", {
      inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    });
    expect(answer.status).toBe(200);
    // with the key, the repository API works
    expect((await call(`${running.url}/v2/repository/models/text/load`, "POST", {}, key)).status).toBe(200);
    expect((await call(`${running.url}/v2/models/text/ready`)).status).toBe(200);
    expect((await call(`${running.url}/v2/logging`, "GET", undefined, key)).status).toBe(200);
  }, 120_000);

  test("restrictedApi: false leaves the repository API open in explicit mode", async () => {
    running = await launchRendered(
      { modelControl: ModelControl.explicit({ loadModels: ["classifier"] }), restrictedApi: false },
      { classifier: [1], text: [1] },
    );
    expect((await call(`${running.url}/v2/repository/index`, "POST", {})).status).toBe(200);
  }, 120_000);

  test("restrictedApi with the user's Secret, a header of theirs, and inference restricted too", async () => {
    running = await launchRendered(
      {
        restrictedApi: {
          secretName: "triton-keys",
          secretKey: "admin",
          header: "x-team-key",
          apis: ["inference", "model-repository"],
        },
      },
      { classifier: [1] },
    );
    await expectProbesPass(running);
    const body = { inputs: [{ name: "INPUT", datatype: "FP32", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };
    expect((await call(`${running.url}/v2/models/classifier/infer`, "POST", body)).status).toBe(403);
    expect((await call(`${running.url}/v2/models/classifier/infer`, "POST", body, { "x-team-key": KEY })).status).toBe(
      200,
    );
  }, 120_000);

  test("a misspelled flag makes Triton refuse to start, so this test would catch one in the chart", async () => {
    await expect(launchRendered({ extraArgs: ["--strict-readyness=true"] }, { classifier: [1] })).rejects.toThrow(
      /exited with [0-9]+[\s\S]*strict-readyness/,
    );
  }, 120_000);

  test("SIGTERM with the rendered exit timeout: an in-flight request is drained, then Triton exits", async () => {
    running = await launchRendered({ drain: { exitTimeoutSeconds: 20, preStopSeconds: 1 } }, { slow: [1] });
    expect(running.container.args).toContain("--exit-timeout-secs=20");
    const inFlight = call(`${running.url}/v2/models/slow/infer`, "POST", infer("DELAY_MS", "INT32", [3000]));
    const proc = running.process;
    await until("the slow request executing (Triton's log)", 30000, async () =>
      running!.log().includes("slow: executing, sleeping 3000 ms"),
    );
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    process.kill(-proc.pid!, "SIGTERM");
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.outputs[0].data).toEqual([3000]);
    // then it exits by itself, well before the 20 s exit timeout (nothing else is in flight)
    expect(await exited).toBe(0);
    expect(running.log()).toMatch(
      /Timeout 2[0-9]: Found 1 live models and 0 in-flight non-inference requests|successfully unloaded 'slow'/,
    );
  }, 120_000);
});
