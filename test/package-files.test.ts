import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// The package as a platform team gets it: `npm pack` (which builds dist/ through `prepare`), the
// tarball installed into a fresh project next to its own cdktf, constructs and providers (peer
// dependencies: one copy of each), a stack using every construct type-checked strictly, synthesized,
// and the CLI run from the stack's folder as the gate runs it.
const root = path.resolve(__dirname, "..");

describe("npm pack, installed into a fresh project", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-consumer-"));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  let tarball: string;
  beforeAll(() => {
    tarball = path.join(
      work,
      sh("npm", ["pack", "--pack-destination", work, "--silent"], root).trim().split("\n").pop()!,
    );
  }, 240_000);
  const sh = (cmd: string, args: string[], cwd: string) => {
    const r = spawnSync(cmd, args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, CHECKPOINT_DISABLE: "1" },
      timeout: 240_000,
    });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`.slice(-4000));
    return r.stdout;
  };

  test("it holds the compiled library, the CLI, the chart, the spec's JSON Schema, the gRPC proto and the licence; no sources or tests", () => {
    const files = sh("tar", ["tzf", tarball], work)
      .trim()
      .split("\n")
      .map((f) => f.replace(/^package\//, ""));
    expect(files).toEqual(
      expect.arrayContaining([
        "dist/lib/index.js",
        "dist/lib/index.d.ts",
        "run/package.json",
        "dist/lib/run/index.d.ts",
        "bin/cdktf-triton.js",
        "charts/triton/Chart.yaml",
        "schemas/verify-spec.schema.json",
        "protos/grpc_predict_v2.proto",
        "LICENSE",
      ]),
    );
    expect(
      files.filter((f) => /^(test|scripts|lib|stacks)\//.test(f) || (f.endsWith(".ts") && !f.endsWith(".d.ts"))),
    ).toEqual([]);
    // @internal members are stripped from the published types
    const gate = sh("tar", ["xzf", tarball, "-O", "package/dist/lib/constructs/verify/verification-gate.d.ts"], work);
    expect(gate).toContain("class VerificationGate");
    expect(gate).not.toContain("_flags");
  });

  test("peer dependencies: cdktf, constructs and the providers are the project's own", () => {
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual([
      "@cdktf/provider-helm",
      "@cdktf/provider-kubernetes",
      "cdktf",
      "constructs",
    ]);
    for (const name of Object.keys(pkg.peerDependencies)) {
      expect(pkg.dependencies[name]).toBeUndefined();
      expect(pkg.devDependencies[name]).toBeDefined(); // pinned for our own tests
    }
  });

  test("builds, installs, type-checks a stack with every construct, synthesizes it, and runs the CLI", () => {
    const project = path.join(work, "project");
    fs.mkdirSync(path.join(project, "src"), { recursive: true });
    const dev = pkg.devDependencies;
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({
        name: "consumer",
        version: "1.0.0",
        private: true,
        dependencies: {
          "cdktf-triton": `file:${tarball}`,
          ...Object.fromEntries(
            [
              "cdktf",
              "constructs",
              "@cdktf/provider-helm",
              "@cdktf/provider-kubernetes",
              "typescript",
              "@types/node",
            ].map((n) => [n, dev[n]]),
          ),
        },
      }),
    );
    fs.copyFileSync(path.join(__dirname, "consumer", "main.ts"), path.join(project, "src", "main.ts"));
    fs.copyFileSync(path.join(__dirname, "consumer", "run.ts"), path.join(project, "src", "run.ts"));
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "commonjs",
          strict: true,
          outDir: "build",
          types: ["node"],
          skipLibCheck: false,
        },
        include: ["src"],
      }),
    );
    sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], project);
    // one cdktf: the package resolves the project's own copy
    expect(fs.existsSync(path.join(project, "node_modules", "cdktf-triton", "node_modules", "cdktf"))).toBe(false);
    expect(fs.existsSync(path.join(project, "node_modules", "cdktf-triton", "lib"))).toBe(false);
    sh(path.join(project, "node_modules", ".bin", "tsc"), ["-p", "."], project);
    sh(process.execPath, [path.join("build", "main.js")], project);
    const stack = path.join(project, "cdktf.out", "stacks", "inference");
    const json = JSON.parse(fs.readFileSync(path.join(stack, "cdk.tf.json"), "utf8"));
    const counts = Object.fromEntries(
      Object.entries(json.resource).map(([type, rs]) => [type, Object.keys(rs as object).length]),
    );
    expect(counts).toEqual({
      helm_release: 4, // blue, green, the lone release, the route's chart
      kubernetes_service_v1: 5, // the pair's active and preview Services, one per Envoy
      kubernetes_config_map_v1: 3, // the WeightedService's, the FailoverPool's and the TritonCanary's Envoys
      kubernetes_deployment_v1: 3,
      kubernetes_pod_disruption_budget_v1: 3,
      terraform_data: 3, // the pair's gate before and after the switch, the lone gate
    });
    // The run side's entry: the verifier's API, without cdktf; the package's own loads no run-time module.
    expect(JSON.parse(sh(process.execPath, [path.join("build", "run.js")], project))).toEqual({
      verify: "function",
      loadSpec: "function",
      client: "function",
      models: 1,
      cdktf: false,
    });
    const runtime = sh(
      process.execPath,
      [
        "-e",
        'require("cdktf-triton"); console.log(JSON.stringify(Object.keys(require.cache).filter((m) => /[\\/](undici|@grpc|vega|commander)[\\/]|[\\/]dist[\\/]lib[\\/](run|cli)[\\/]/.test(m))))',
      ],
      project,
    );
    expect(JSON.parse(runtime)).toEqual([]);
    const help = sh(path.join(project, "node_modules", ".bin", "cdktf-triton"), ["verify", "--help"], stack);
    expect(help).toContain("0  pass: the candidate may take traffic");
    // The packed promote command finds the stack's promotion.json and checks the engine before anything else.
    const promote = spawnSync(
      path.join(project, "node_modules", ".bin", "cdktf-triton"),
      ["promote", "--stack", "inference", "--engine", "terraform"],
      {
        cwd: project,
        encoding: "utf8",
        env: { ...process.env, TERRAFORM_BINARY_NAME: "/nonexistent/terraform" },
      },
    );
    expect([promote.status, promote.stderr]).toEqual([
      2,
      expect.stringContaining("the engine /nonexistent/terraform (--engine terraform) cannot run: not found"),
    ]);
    expect(sh(path.join(project, "node_modules", ".bin", "cdktf-triton"), ["history", "--help"], stack)).toContain(
      "--history-file <promotions.jsonl>",
    );
    // A JavaScript stack with 0.1's names and a typo: refused at synth, each key named with its new or nearest name.
    fs.copyFileSync(path.join(__dirname, "consumer", "js-stack.js"), path.join(project, "js-stack.js"));
    const js = spawnSync(process.execPath, ["js-stack.js"], { cwd: project, encoding: "utf8" });
    expect(js.status).not.toBe(0);
    expect(js.stderr).toContain("TritonValidationError: Invalid props for js/split:");
    expect(js.stderr).toContain(
      'routes[0].timeoutMs = 30000 is invalid: expected no such field since 0.2.0: "timeoutSeconds", in seconds',
    );
    expect(js.stderr).toContain(
      'healthCheck.intervalMs = 1000 is invalid: expected no such field since 0.2.0: "intervalSeconds"',
    );
    expect(js.stderr).toContain('replica = 2 is invalid: expected no such field: did you mean "replicas"?');
    expect(fs.existsSync(path.join(project, "cdktf.out.js", "stacks", "js"))).toBe(false);
  }, 600_000);
});
