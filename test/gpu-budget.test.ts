import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gpuBudget, GpuColor } from "../lib/constructs/capacity/gpu-budget";

// The GPU budget's expressions, evaluated by a real engine over Node and Pod objects shaped as the
// API server returns them (what the kubernetes_resources data source gives a plan).
const engine = ["tofu", "terraform"].find((bin) => spawnSync(bin, ["version"], { stdio: "ignore" }).status === 0);

const gpuTaint = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };
// The data source's objects are one list, so an attribute one object lacks is null in it: the
// fixtures carry those nulls as a plan sees them.
const node = (name: string, gpus: number, extra: object = {}) => ({
  metadata: { name, labels: { pool: gpus ? "gpu" : "cpu" } },
  spec: { taints: gpus ? [{ ...gpuTaint, timeAdded: null }] : null, unschedulable: null },
  status: { allocatable: { cpu: "8", "nvidia.com/gpu": gpus ? String(gpus) : null } },
  ...extra,
});
const pod = (namespace: string, app: string, nodeName: string | null, gpus: number) => ({
  metadata: { namespace, labels: { app } },
  spec: {
    nodeName,
    containers: [
      { name: "c", resources: { limits: gpus ? { "nvidia.com/gpu": String(gpus) } : null, requests: null } },
    ],
  },
});
const nodes = [
  node("gpu-a", 4),
  node("gpu-b", 4),
  node("cpu-1", 0),
  node("gpu-cordoned", 8, { spec: { unschedulable: true, taints: [{ ...gpuTaint, timeAdded: null }] } }),
];
const pods = [
  pod("other", "llm", "gpu-a", 2),
  pod("ml", "fraud", "gpu-b", 1),
  pod("ml", "web", "cpu-1", 0),
  pod("other", "pending", null, 8),
];
const color = (replicas: number | string, extra: Partial<GpuColor> = {}): GpuColor => ({
  replicas,
  gpus: 1,
  nodeSelector: { pool: "gpu" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
  ...extra,
});

function evaluate(
  colors: GpuColor[],
  vars: Record<string, string> = {},
): { free: number; need: number; fits: boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-budget-"));
  try {
    const budget = gpuBudget({ nodes: "local.nodes", pods: "local.pods", app: "fraud", namespace: "ml", colors });
    const variable = Object.fromEntries(Object.keys(vars).map((k) => [k, { type: "number" }]));
    fs.writeFileSync(
      path.join(dir, "main.tf.json"),
      JSON.stringify({
        ...(Object.keys(variable).length ? { variable } : {}),
        locals: { nodes, pods, free: `\${${budget.free}}`, need: `\${${budget.need}}`, fits: `\${${budget.fits}}` },
      }),
    );
    const env = { ...process.env, CHECKPOINT_DISABLE: "1", TF_CLI_CONFIG_FILE: path.join(dir, "none.tfrc") };
    fs.writeFileSync(env.TF_CLI_CONFIG_FILE, "");
    const args = Object.entries(vars).flatMap(([k, v]) => ["-var", `${k}=${v}`]);
    const r = spawnSync(engine!, ["console", ...args], {
      cwd: dir,
      env,
      input: "jsonencode({free = local.free, need = local.need, fits = local.fits})\n",
      encoding: "utf8",
    });
    const out = `${r.stdout}${r.stderr}`;
    try {
      return JSON.parse(JSON.parse(r.stdout.trim()));
    } catch {
      throw new Error(`${engine} console said: ${out.replace(/\x1b\[[0-9;]*m/g, "")}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("an engine is on PATH (npm test installs OpenTofu)", () => {
  expect(engine).toBeDefined();
});

test("free GPUs: allocatable on the nodes the colors can use, minus what other pods request; the pair's own pods count as free; cordoned and untolerated nodes count for nothing", () => {
  // gpu-a: 4 - 2 (llm); gpu-b: 4 (the pair's own pod is what the change replaces); cpu-1 has none; gpu-cordoned is unschedulable
  expect(evaluate([color(2), color("var.green")], { green: "4" })).toEqual({ free: 6, need: 6, fits: true });
  expect(evaluate([color(2), color("var.green")], { green: "5" })).toEqual({ free: 6, need: 7, fits: false });
});

test("a color whose pods cannot land on the GPU nodes (no toleration) fits nowhere", () => {
  const untolerated = color(1, { tolerations: [] });
  expect(evaluate([untolerated])).toEqual({ free: 0, need: 1, fits: false });
});

test("per color too: a color pinned to one node cannot borrow another's free GPUs", () => {
  const pinned = (replicas: number) =>
    color(replicas, { nodeSelector: { pool: "gpu", "kubernetes.io/hostname": "gpu-a" } });
  // gpu-a has 2 free; the other color may use gpu-a and gpu-b (6 free in all)
  nodes[0].metadata.labels = { ...nodes[0].metadata.labels, "kubernetes.io/hostname": "gpu-a" } as never;
  expect(evaluate([pinned(3), color(0)])).toMatchObject({ need: 3, fits: false });
  expect(evaluate([pinned(2), color(4)])).toMatchObject({ need: 6, fits: true });
});

test("no GPUs asked: nothing to check", () => {
  expect(evaluate([color(4, { gpus: 0 })])).toEqual({ free: 0, need: 0, fits: true });
});

test("gpuBudget on a pair: Nodes and Pods read at plan, a precondition both releases wait for, refusing with the numbers", () => {
  const { TritonBlueGreen } = require("../lib");
  const { colorProps, newStack, synthJson } = require("./helpers");
  const { stack } = newStack();
  new TritonBlueGreen(stack, "fraud", {
    namespace: "ml",
    blue: colorProps({ replicas: 2, gpus: 1 }),
    green: colorProps({ replicas: 2, gpus: 1 }),
    active: TritonBlueGreen.activeVariable(stack),
    standby: "warm",
    gpuBudget: true,
  });
  const json = synthJson(stack);
  expect(Object.values(json.data.kubernetes_resources).map((d: any) => [d.kind, d.field_selector])).toEqual([
    ["Node", undefined],
    ["Pod", "status.phase!=Succeeded,status.phase!=Failed"],
  ]);
  const [id, check] = Object.entries(json.resource.terraform_data as Record<string, any>).find(([k]) =>
    k.includes("gpu-budget"),
  )!;
  expect(check.lifecycle.precondition[0].error_message).toMatch(
    /^test\/fraud: this change needs \$\{local\.fraud_gpu-need_\w+\} nvidia\.com\/gpu for fraud's pods at its peak, and the nodes they can use have \$\{local\.fraud_gpu-free_\w+\} free/,
  );
  expect(Object.values(json.resource.helm_release).map((r: any) => r.depends_on)).toEqual([
    [`terraform_data.${id}`],
    [`terraform_data.${id}`],
  ]);
});
