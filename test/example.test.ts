import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// `npm start` as a fresh clone runs it: no terraform on PATH, no cluster, no credentials.
describe("npm start (the example app)", () => {
  const root = path.resolve(__dirname, "..");
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-start-"));
  // Only node's own folder: no terraform, tofu, helm or kubectl.
  const env = {
    PATH: path.dirname(process.execPath),
    HOME: os.tmpdir(),
    CHECKPOINT_DISABLE: "1",
    CDKTF_OUTDIR: outdir,
  };

  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test("synthesizes with terraform absent from PATH and prints a summary", () => {
    expect(spawnSync("terraform", ["version"], { env }).error).toBeDefined();

    const stdout = execFileSync(
      process.execPath,
      [path.join(root, "node_modules", ".bin", "ts-node"), "--transpile-only", "stacks/main.ts"],
      {
        cwd: root,
        env,
        encoding: "utf8",
      },
    );

    expect(stdout).toContain(`Synthesized into ${outdir}/`);
    expect(stdout).toContain("stack triton-example: 1 blue/green, 2 Triton releases");
    expect(stdout).toContain(
      'classifier in ${var.namespace}: active var.active (default "blue"), standby var.standby (default "preview")',
    );
    expect(stdout).toMatch(
      /release classifier-green: color green, version 2026-11-15, nvcr.io\/nvidia\/tritonserver:25.10-py3, replicas \$\{var.active == "green" \|\| local.classifier_serving-color_[0-9A-F]+ == "green" \? 3 : var.standby == "warm" \? 3 :/,
    );
    // explicit model control: the summary says the administrative APIs are locked, and by what
    expect(stdout).toContain(
      "models s3://models-prod/classifier (explicit), gpus 1, model-repository/trace/logging APIs need header triton-admin-key (Secret classifier-green-restricted-api)",
    );

    const stackDir = path.join(outdir, "stacks", "triton-example");
    const text = fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8");
    expect(text).not.toContain(root);
    expect(text).not.toContain(outdir);
    const json = JSON.parse(text);
    expect(Object.keys(json.resource).sort()).toEqual([
      "helm_release",
      "kubernetes_config_map_v1",
      "kubernetes_deployment_v1",
      "kubernetes_pod_disruption_budget_v1",
      "kubernetes_service_v1",
      "terraform_data",
    ]);
    // The canary's Envoy and the failover pool's, each a ConfigMap, a Deployment and a Service; the dashboard's ConfigMap; the versions resnet50's pods load
    expect(
      Object.values<any>(json.resource.kubernetes_config_map_v1)
        .map((c) => c.metadata.name)
        .sort(),
    ).toEqual(["classifier-canary", "classifier-dashboard", "classifier-failover", "classifier-resnet50-versions"]);
    // The promotion `cdktf-triton promote` runs: a file beside the stack, and the pair's state as an output
    const promotion = fs
      .readdirSync(path.join(stackDir, "assets"))
      .filter((a) => a.startsWith("classifier-promotion_spec"));
    expect(promotion).toHaveLength(1);
    const [hash] = fs.readdirSync(path.join(stackDir, "assets", promotion[0]));
    const spec = JSON.parse(
      fs.readFileSync(path.join(stackDir, "assets", promotion[0], hash, "promotion.json"), "utf8"),
    );
    expect(spec).toMatchObject({
      app: "classifier",
      variables: { active: "active", canary: "classifier_canary" },
      output: "classifier_promotion",
      confirmBeforeSwitch: true,
    });
    expect(spec.steps.map((s: any) => s.weightPercent)).toEqual([5, 25, 50, 100]);
    expect(Object.keys(json.output)).toEqual(["classifier_promotion", "classifier_resnet50_versions_promotion"]);
    // The model-level canary's promotion: resnet50's next version inside the serving pods
    const versions = fs
      .readdirSync(path.join(stackDir, "assets"))
      .filter((a) => a.startsWith("resnet50-version-promotion_spec"));
    const [versionsHash] = fs.readdirSync(path.join(stackDir, "assets", versions[0]));
    const versionsSpec = JSON.parse(
      fs.readFileSync(path.join(stackDir, "assets", versions[0], versionsHash, "promotion.json"), "utf8"),
    );
    expect(versionsSpec).toMatchObject({
      app: "classifier",
      output: "classifier_resnet50_versions_promotion",
      model: {
        name: "resnet50",
        variables: {
          version: "resnet50_versions_version",
          next: "resnet50_versions_next_version",
          percent: "resnet50_versions_next_percent",
        },
      },
    });
    expect(json.terraform.required_providers).toEqual({
      helm: { source: "helm", version: "3.1.1" },
      kubernetes: { source: "kubernetes", version: "2.38.0" },
    });
    const chart = Object.values<any>(json.resource.helm_release)[0].chart;
    expect(fs.existsSync(path.join(stackDir, chart, "Chart.yaml"))).toBe(true);
    // The gate's spec (with its 150528-float golden image) is a file beside the stack
    const command: string = Object.values<any>(json.resource.terraform_data).find((d) => d.provisioner)!.provisioner[0][
      "local-exec"
    ].command;
    const specFile = /--spec (\S+)/.exec(command)![1];
    expect(JSON.parse(fs.readFileSync(path.join(stackDir, specFile), "utf8")).models[0].name).toBe("resnet50");
  });
});
