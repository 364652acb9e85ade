// `npm run bench:capacity`: the GPUs one promotion holds, with a warm standby, with capacity that
// follows the weight, and for a new model version canaried inside the serving pods
// (TritonModelCanary: test/e2e/model-fixture.ts), from the replica counts a real run applied. Each mode runs the example's
// steps (5, 25, 50, 100 %) on the e2e rig (test/e2e/promote-fixture.ts: OpenTofu applying to the
// test cluster, kwok pods, real Envoys and Tritons) with short bakes; the API server's replica
// counts are read while each step's share is served. GPU-minutes are then those counts times the
// example's bakes (300, 300, 600, 600 s) times its 1 GPU per pod: the bakes are the promotion's
// time (each step's apply and rollout, seconds on a cluster, are left out, the same for both modes).
import * as os from "os";
import * as path from "path";
import { kubeconfig, kubectl, kubectlBin, run } from "../../test/e2e/engine";
import { PromoteRig, TEST_ANALYSIS } from "../../test/e2e/promote-fixture";
import { ModelRig } from "../../test/e2e/model-fixture";
import { readModelServed } from "../../lib/run/envoys";
import { writeBenchmarkBlock } from "./report";

const REPLICAS = 3; // the example's classifier
const GPUS = 1;
const EXAMPLE_BAKES = [300, 300, 600, 600];
const WEIGHTS = [5, 25, 50, 100];

interface Mode {
  readonly name: string;
  readonly followCanary?: { replicas: number; surge: number };
}

type Measured = { perStep: { weight: number; blue: number; green: number }[]; peak: number };

/**
 * Runs one promotion on a started rig while reading, every 200 ms, each color's replicas from the
 * API server and the candidate's share every Envoy serves (`share`: the same number from every
 * pod, or undefined); then stops the rig and deletes its namespace (its GPU pods go with it: the
 * next mode needs the cluster's GPUs).
 */
async function measureRun(
  ns: string,
  rig: { stop(): Promise<void> },
  share: () => Promise<number | undefined>,
  promote: () => Promise<{ code: number | null; out: string }>,
): Promise<Measured> {
  const seen = new Map<number, { blue: number; green: number }>();
  let peak = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const items = (await kubectl("get", "deployments", "-n", ns, "-l", "app=fraud")).items as any[];
      const replicas = Object.fromEntries(items.map((d) => [d.metadata.labels.color, d.spec.replicas as number]));
      const w = await share().catch(() => undefined);
      peak = Math.max(peak, (replicas.blue ?? 0) + (replicas.green ?? 0));
      if (w !== undefined && WEIGHTS.includes(w) && !seen.has(w))
        seen.set(w, { blue: replicas.blue, green: replicas.green });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    const r = await promote();
    if (r.code !== 0) throw new Error(`the promotion in ${ns} exited ${r.code}:\n${r.out.slice(-3000)}`);
  } finally {
    polling = false;
    await poller;
    await rig.stop();
    await run(kubectlBin, ["--kubeconfig", kubeconfig, "delete", "namespace", ns, "--ignore-not-found", "--wait=true"]);
  }
  return { perStep: WEIGHTS.map((weight) => ({ weight, ...seen.get(weight)! })), peak };
}

const STEPS = WEIGHTS.map((weightPercent) => ({ weightPercent, bakeSeconds: 8 }));

/** A promotion of the colors: a warm standby, or capacity that follows the weight. */
async function measure(mode: Mode): Promise<Measured> {
  const ns = `bench-capacity-${mode.followCanary ? `follow-${mode.followCanary.surge}` : "warm"}`;
  const rig = new PromoteRig(path.join(os.tmpdir(), ns), ns, {
    steps: STEPS,
    analysis: TEST_ANALYSIS,
    ...(mode.followCanary ? { followCanary: mode.followCanary } : { replicas: REPLICAS }),
  });
  await rig.start();
  const share = async () => {
    const served = await rig.versionServed();
    return served.includes("|") ? undefined : Number(/green=(\d+)/.exec(served)?.[1] ?? NaN);
  };
  return measureRun(ns, rig, share, () => rig.promote("--json-file", path.join(rig.work, "report.json")));
}

/** The model-level canary of the example's model update: the serving color's pods only, the standby as the example keeps it (preview, 1 pod). */
async function measureModel(): Promise<Measured> {
  const ns = "bench-capacity-model";
  const rig = new ModelRig(path.join(os.tmpdir(), ns), ns, { steps: STEPS, replicas: REPLICAS, standby: "preview" });
  await rig.start();
  const share = async () => {
    const shares = await Promise.all(
      rig.kubelet
        .all()
        .map(async (p) => (await readModelServed(p.adminUrl, "classifier")).served?.["classifier@2"] ?? 0),
    );
    return shares.every((x) => x === shares[0]) ? shares[0] : undefined;
  };
  return measureRun(ns, rig, share, () => rig.promote("--next-version", "2"));
}

async function main(): Promise<void> {
  const modes: Mode[] = [
    { name: "warm standby (3 pods all along)" },
    { name: "follows the weight, surge 1", followCanary: { replicas: REPLICAS, surge: 1 } },
    { name: "follows the weight, surge 0", followCanary: { replicas: REPLICAS, surge: 0 } },
  ];
  const rows: string[] = [];
  let warmMinutes = 0;
  for (const mode of [
    ...modes,
    { name: "model-level canary (TritonModelCanary; standby in preview, 1 pod)", model: true },
  ]) {
    const { perStep, peak } = "model" in mode ? await measureModel() : await measure(mode);
    const minutes = perStep.reduce((sum, s, i) => sum + ((s.blue + s.green) * GPUS * EXAMPLE_BAKES[i]) / 60, 0);
    const compared = "model" in mode || ("followCanary" in mode && mode.followCanary);
    if (!compared) warmMinutes = minutes;
    const pods = perStep.map((s) => `${s.weight} %: ${s.blue} + ${s.green}`).join("; ");
    rows.push(
      `| ${mode.name} | ${pods} | ${peak * GPUS} | **${minutes.toFixed(0)}**${warmMinutes && compared ? ` (${((100 * minutes) / warmMinutes).toFixed(0)} % of the warm standby's)` : ""} |`,
    );
    console.log(rows[rows.length - 1]);
  }
  writeBenchmarkBlock(
    "capacity",
    "GPU-minutes of a promotion: a warm standby, capacity that follows the weight, and a model version in place",
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:capacity\`: the example's steps (5, 25, 50, 100 %) promoted on the e2e rig with 8 s bakes; each color ${REPLICAS} replicas, ${GPUS} GPU per pod (the example's classifier). The replica counts are the API server's while each step's share was served; GPU-minutes are those counts times the example's bakes (300, 300, 600, 600 s), the steps' applies and rollouts left out (the same for every mode). The peak is the most pods the API server held at once during the run, the switch included. The model-level canary promotes the classifier's version 2 over 1 inside the serving color (test/e2e/model-fixture.ts: blue's 3 pods, green in preview with 1 as the example keeps its standby; 0 with \`standby: "scaled-down"\`): its pods are the same at every step and at its end, which has no switch.`,
      "",
      "| mode | pods per step (stable + candidate) | peak GPUs | GPU-minutes of the steps |",
      "| --- | --- | --- | --- |",
      ...rows,
    ],
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
