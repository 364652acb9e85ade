import { ModelControl, TritonRelease } from "../lib";
import { ModelVersionsError, pinVersions, servedVersions } from "../lib/run/model-versions";
import { newStack, s3Models } from "./helpers";
import { renderChart } from "./peers/chart";
import { RunningTriton, startTriton } from "./peers/triton";
import { runHook } from "./peers/triton-pod";

// The versions one real Triton serves (explicit model control, the classifier's versions 1, 2 and 3
// in its repository, its config.pbtxt's policy `all`): set at a pod's start by the chart's
// postStart hook, run here as the rendered Deployment says, and on a running Triton by the driver's
// pinVersions.

/** The pod's postStart command and the env names it reads, from `helm template` of a release that pins the classifier. */
function renderedHook(restricted: boolean): { command: string[]; env: any[] } {
  const { stack } = newStack();
  const release = new TritonRelease(stack, "r", {
    appName: "fraud",
    color: "blue",
    version: "v1",
    modelRepository: s3Models,
    modelControl: ModelControl.explicit({ loadModels: ["classifier"] }),
    ...(restricted ? {} : { restrictedApi: false }),
  });
  release.pinModelVersions(
    { model: "classifier", configMap: "fraud-classifier-versions", key: "versions" },
    "test/versions",
  );
  const container = renderChart("triton", release.values, "fraud-blue").Deployment.spec.template.spec.containers[0];
  return { command: container.lifecycle.postStart.exec.command, env: container.env };
}

/** Runs the hook as the kubelet would in the pod, the pod's HTTP port being this Triton's. */
function hookOn(
  command: string[],
  triton: RunningTriton,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const args = [...command];
  args[3] = String(triton.ports.http); // python3 -c <script> <port> ...: the pod's port is this machine's
  return runHook(args, env);
}

async function inferVersion(triton: RunningTriton, version?: number): Promise<string> {
  const path = `/v2/models/classifier${version ? `/versions/${version}` : ""}/infer`;
  const res = await fetch(`${triton.url}${path}`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "INPUT", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4] }] }),
  });
  const body = (await res.json()) as { model_version: string };
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body.model_version;
}

describe("a model's pinned versions on a real Triton", () => {
  let triton: RunningTriton;
  const admin = () => ({ url: triton.url });
  beforeAll(async () => {
    triton = await startTriton({
      models: { classifier: [1, 2, 3] },
      args: ["--model-control-mode=explicit", "--load-model=classifier"],
    });
  }, 120_000);
  afterAll(() => triton?.stop());

  test("the chart's postStart hook: the model loaded from its file (1, 2, 3) is re-loaded with the versions its ConfigMap holds, its configuration intact", async () => {
    expect(await servedVersions(admin(), "classifier")).toEqual([1, 2, 3]);
    const { command, env } = renderedHook(false);
    expect(env).toEqual([
      {
        name: "TRITON_PINNED_VERSIONS_0",
        valueFrom: { configMapKeyRef: { name: "fraud-classifier-versions", key: "versions" } },
      },
    ]);
    expect(command.slice(0, 2)).toEqual(["python3", "-c"]);
    expect(command.slice(3)).toEqual(["8000", "", "900", "classifier"]);
    const r = await hookOn(command, triton, { TRITON_PINNED_VERSIONS_0: "2" });
    expect(r).toEqual({ code: 0, out: "pin-versions: classifier serves versions 2\n" });
    expect(await servedVersions(admin(), "classifier")).toEqual([2]);
    // The configuration is the model's own (a load's config replaces it whole): inputs and batching intact.
    expect(await inferVersion(triton)).toBe("2");
  }, 120_000);

  test("pinVersions adds the next version beside the current one, and a later load unloads the old one", async () => {
    expect(await pinVersions(admin(), "classifier", [2, 3])).toEqual([2, 3]);
    expect(await inferVersion(triton, 2)).toBe("2");
    expect(await inferVersion(triton, 3)).toBe("3");
    // Triton's own rule, why Envoy pins unversioned requests before a version loads: they go to the highest.
    expect(await inferVersion(triton)).toBe("3");
    expect(await pinVersions(admin(), "classifier", [3])).toEqual([3]);
    expect(await servedVersions(admin(), "classifier")).toEqual([3]);
    // Already so: nothing is loaded again.
    expect(await pinVersions(admin(), "classifier", [3])).toEqual([3]);
  }, 120_000);

  test("a version that is not in the repository: the load fails and says so; the served versions stay", async () => {
    await expect(pinVersions(admin(), "classifier", [3, 9])).rejects.toThrow(ModelVersionsError);
    expect(await servedVersions(admin(), "classifier")).toContain(3);
    await expect(pinVersions(admin(), "classifier", [0])).rejects.toThrow(
      "versions of classifier must be whole numbers from 1: [0]",
    );
  }, 120_000);

  test("the hook with no versions, or not versions: one line, exit 1, nothing loaded", async () => {
    const { command } = renderedHook(false);
    expect(await hookOn(command, triton, { TRITON_PINNED_VERSIONS_0: "three" })).toEqual({
      code: 1,
      out: "pin-versions: TRITON_PINNED_VERSIONS_0 is 'three', not versions like 3,4\n",
    });
    expect(await hookOn(command, triton, {})).toEqual({
      code: 1,
      out: "pin-versions: no versions for model classifier (TRITON_PINNED_VERSIONS_0 is empty)\n",
    });
  }, 60_000);
});

describe("with the repository API restricted (the chart's default in explicit mode)", () => {
  let triton: RunningTriton;
  beforeAll(async () => {
    triton = await startTriton({
      models: { classifier: [1, 2] },
      args: [
        "--model-control-mode=explicit",
        "--load-model=classifier",
        "--http-restricted-api=model-repository:triton-admin-key=s3cret",
      ],
    });
  }, 120_000);
  afterAll(() => triton?.stop());

  test("the hook sends the key from the pod's environment; the driver needs it too", async () => {
    const { command } = renderedHook(true);
    expect(command[4]).toBe("triton-admin-key");
    expect(
      await hookOn(command, triton, { TRITON_PINNED_VERSIONS_0: "1", TRITON_RESTRICTED_API_KEY: "s3cret" }),
    ).toMatchObject({ code: 0 });
    await expect(pinVersions({ url: triton.url }, "classifier", [1, 2])).rejects.toThrow(
      /answered 403 \(the repository API is restricted/,
    );
    expect(
      await pinVersions(
        { url: triton.url, restricted: { header: "triton-admin-key", key: "s3cret" } },
        "classifier",
        [1, 2],
      ),
    ).toEqual([1, 2]);
  }, 120_000);
});
