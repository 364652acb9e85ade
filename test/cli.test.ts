import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { expandHome } from "../lib/run/kube/kubectl";
import { switchBack } from "../lib/run/verify/switch-back";
import { hangCheck } from "./hang-check";
import { freePort, RunningServer, startMlserver } from "./peers/servers";

// The CLI as CI and the gate run it: a real process, a spec file, exit codes and report files.
const bin = path.resolve(__dirname, "..", "bin", "cdktf-triton.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-cli-"));
const file = (name: string) => path.join(dir, name);

const goodSpec = {
  waitForReadySeconds: 10,
  models: [
    {
      name: "iris",
      golden: [
        {
          name: "setosa",
          inputs: [{ name: "x", datatype: "FP64", shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
          outputs: [{ name: "predict", data: [0] }],
        },
      ],
    },
  ],
  probe: { model: "iris", case: "setosa", requests: 40, concurrency: 2, budgets: { p99Seconds: 5 } },
};

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("cdktf-triton verify (CLI) against MLServer", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startMlserver();
    fs.writeFileSync(file("good.yaml"), stringify(goodSpec));
    const wrong = structuredClone(goodSpec);
    wrong.models[0].golden[0].outputs[0].data = [2];
    fs.writeFileSync(file("wrong.json"), JSON.stringify(wrong));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("exit 0 on pass, with a summary, a JSON report and a JUnit report (their folder created)", () => {
    const r = run([
      "verify",
      "--spec",
      file("good.yaml"),
      "--url",
      server.url,
      "--json-file",
      file("reports/r.json"),
      "--junit",
      file("reports/r.xml"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("PASS  model iris golden setosa");
    expect(r.stdout).toContain("PASS: the candidate may take traffic");
    expect(r.stderr).toContain("probe candidate: 40/40 requests");
    const report = JSON.parse(fs.readFileSync(file("reports/r.json"), "utf8"));
    expect(report).toMatchObject({ verdict: "pass", target: server.url, probe: { completed: 40, errors: 0 } });
    const xml = fs.readFileSync(file("reports/r.xml"), "utf8");
    expect(xml).toContain('<testsuites name="cdktf-triton verify" tests="5" failures="0" errors="0" skipped="0"');
    expect(xml).toContain('<testcase classname="cdktf-triton.verify" name="model iris golden setosa"');
  });

  test("on a terminal the checks are listed once, as they run; the summary gives the verdict", () => {
    // script(1) gives the CLI a pseudo-terminal, as a person at a shell has: stdout and stderr both TTYs
    const cmd = [process.execPath, bin, "verify", "--spec", file("good.yaml"), "--url", server.url]
      .map((w) => `'${w}'`)
      .join(" ");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    const screen = r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    expect(screen.match(/model iris golden setosa/g)).toHaveLength(1);
    expect(screen).toContain("PASS: the candidate may take traffic");
  });

  test("a report that cannot be written: the verdict is printed, then exit 2 at once (not minutes under /proc)", () => {
    const t0 = Date.now();
    const r = run([
      "verify",
      "--spec",
      file("good.yaml"),
      "--url",
      server.url,
      "--json-file",
      "/proc/cdktf-triton/report.json",
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("PASS: the candidate may take traffic");
    expect(r.stderr).toMatch(
      /the verdict was PASS, but the report \/proc\/cdktf-triton\/report.json cannot be written: /,
    );
    // A verification takes a few seconds here; the bug looped in mkdir for minutes.
    hangCheck("verify with a report that cannot be written", Date.now() - t0, { normalMs: 5_000 });
    const notAFolder = run([
      "verify",
      "--spec",
      file("good.yaml"),
      "--url",
      server.url,
      "--quiet",
      "--junit",
      `${file("good.yaml")}/r.xml`,
    ]);
    expect(notAFolder.code).toBe(2);
    expect(notAFolder.stdout).toBe("pass\n");
    expect(notAFolder.stderr).toContain("is not a folder");
  });

  test("--help lists the exit codes; --protocol takes http or grpc only", () => {
    const help = run(["verify", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit codes:\n  0  pass");
    expect(help.stdout).toContain("1  verification failed");
    expect(help.stdout).toContain("2  could not verify");
    expect(help.stdout).toContain("--protocol <http|grpc>");
    const bad = run(["verify", "--spec", file("good.yaml"), "--url", server.url, "--protocol", "thrift"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--protocol thrift: expected http or grpc");
  });

  test("exit 1 when verification fails, and the JUnit report carries the failure", () => {
    const r = run(["verify", "--spec", file("wrong.json"), "--url", server.url, "--junit", file("f.xml")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL  model iris golden setosa");
    expect(r.stdout).toContain("FAIL: verification failed");
    expect(fs.readFileSync(file("f.xml"), "utf8")).toContain(
      '<failure message="predict[0] = 0, expected 2 ± 0.000021"/>',
    );
  });

  test("exit 2 when nothing listens at the URL (could not verify)", async () => {
    const spec = { ...goodSpec, waitForReadySeconds: 1 };
    fs.writeFileSync(file("short.json"), JSON.stringify(spec));
    const r = run(["verify", "--spec", file("short.json"), "--url", `http://127.0.0.1:${await freePort()}`, "--quiet"]);
    expect(r.code).toBe(2);
    expect(r.stdout.trim()).toBe("error");
  });

  test("exit 2 on a bad spec, naming each bad field", () => {
    fs.writeFileSync(
      file("bad.yaml"),
      "models:\n  - name: iris\n    golden:\n      - name: g\n        inputs: [{name: x, datatype: FP65, shape: [1], data: [1]}]\n        outputs: [{name: y, data: [1], rtol: -1}]\n",
    );
    const r = run(["verify", "--spec", file("bad.yaml"), "--url", server.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('models[0].golden[0].inputs[0].datatype = "FP65": expected one of BOOL,');
    expect(r.stderr).toContain("models[0].golden[0].outputs[0].rtol = -1: expected a number from 0 to");
  });

  test("exit 2 on bad arguments", () => {
    expect(run(["verify", "--spec", file("good.yaml")]).stderr).toContain(
      "give exactly one of --url and --port-forward",
    );
    expect(
      run(["verify", "--spec", file("good.yaml"), "--url", server.url, "--header", "Authorization=NOT_SET_ANYWHERE"])
        .code,
    ).toBe(2);
    expect(run(["verify", "--spec", file("missing.json"), "--url", server.url]).code).toBe(2);
  });

  test("headers come from the environment and never reach the output or the report", () => {
    const secret = "Bearer s3cr3t-token-value";
    const r = run(
      [
        "verify",
        "--spec",
        file("good.yaml"),
        "--url",
        server.url,
        "--header",
        "Authorization=TRITON_TOKEN",
        "--json-file",
        file("h.json"),
      ],
      { TRITON_TOKEN: secret },
    );
    expect(r.code).toBe(0);
    for (const text of [r.stdout, r.stderr, fs.readFileSync(file("h.json"), "utf8")])
      expect(text).not.toContain("s3cr3t");
  });

  test("credentials in a URL are redacted from the output and the report", () => {
    const url = server.url.replace("http://", "http://user:hunter2@");
    const r = run(["verify", "--spec", file("good.yaml"), "--url", url, "--json-file", file("u.json")]);
    for (const text of [r.stdout, r.stderr, fs.readFileSync(file("u.json"), "utf8")])
      expect(text).not.toContain("hunter2");
  });

  const haveKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
  (haveKubectl ? test : test.skip)(
    `--port-forward with an unreachable cluster: exit 2 with kubectl's reason${haveKubectl ? "" : " (skipped: kubectl not installed)"}`,
    () => {
      fs.writeFileSync(
        file("kubeconfig"),
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: c\n",
      );
      const r = run([
        "verify",
        "--spec",
        file("good.yaml"),
        "--port-forward",
        "svc/iris-green:8000",
        "-n",
        "ml",
        "--kubeconfig",
        file("kubeconfig"),
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("kubectl port-forward svc/iris-green failed");
    },
  );

  test("a kubeconfig of ~/... is the home folder's (the gate quotes it, so no shell expands it)", () => {
    expect(expandHome("~/.kube/config")).toBe(path.join(os.homedir(), ".kube", "config"));
    expect(expandHome("/etc/kube/config")).toBe("/etc/kube/config");
    expect(expandHome("~other/config")).toBe("~other/config");
  });
});

describe("cdktf-triton verify: fast rollback, break glass and switch-back arguments", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-cli-fast-"));
  const specFile = path.join(work, "verify.json");
  const fastSpec = { ...goodSpec, waitForReadySeconds: 0 }; // a verification that runs fails at once
  fs.writeFileSync(specFile, JSON.stringify(fastSpec));
  const specHash = createHash("sha256").update(fs.readFileSync(specFile)).digest("hex").slice(0, 16);
  let closed: string;
  beforeAll(async () => {
    closed = `http://127.0.0.1:${await freePort()}`; // nothing listens: a check that ran could not pass
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("a record of this fingerprint and this spec skips every check: exit 0, the report says when it passed", () => {
    const r = run([
      "verify",
      "--spec",
      specFile,
      "--url",
      closed,
      "--fingerprint",
      "0123456789abcdef",
      "--passed",
      `0123456789abcdef ${specHash} 2026-11-28T10:00:00Z`,
      "--json-file",
      path.join(work, "r.json"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "SKIP  verification (0 ms): skipped: fingerprint 0123456789abcdef passed at 2026-11-28T10:00:00Z",
    );
    expect(r.stdout).toContain("PASS: the candidate may take traffic");
    const report = JSON.parse(fs.readFileSync(path.join(work, "r.json"), "utf8"));
    expect(report).toMatchObject({
      verdict: "pass",
      fingerprint: "0123456789abcdef",
      skipped: { fingerprint: "0123456789abcdef", passedAt: "2026-11-28T10:00:00Z" },
    });
  });

  test.each([
    ["another fingerprint", "fedcba9876543210", specHash],
    ["another spec", "0123456789abcdef", "0000000000000000"],
    ["no record (never passed)", "", ""],
  ])("%s: verified as usual (here: nothing listens, so exit 2)", (_why, fp, hash) => {
    const passed = fp ? `${fp} ${hash} 2026-11-28T10:00:00Z` : "";
    const r = run([
      "verify",
      "--spec",
      specFile,
      "--url",
      closed,
      "--fingerprint",
      "0123456789abcdef",
      "--passed",
      passed,
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain("skipped");
  });

  test("fastRollback: false in the spec verifies even a fingerprint that passed", () => {
    const strict = path.join(work, "strict.json");
    fs.writeFileSync(strict, JSON.stringify({ ...fastSpec, fastRollback: false }));
    const hash = createHash("sha256").update(fs.readFileSync(strict)).digest("hex").slice(0, 16);
    const r = run([
      "verify",
      "--spec",
      strict,
      "--url",
      closed,
      "--fingerprint",
      "0123456789abcdef",
      "--passed",
      `0123456789abcdef ${hash} 2026-11-28T10:00:00Z`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain("skipped");
  });

  test("--allow-serving-change true is recorded in the summary and the report; other values are refused", () => {
    const r = run([
      "verify",
      "--spec",
      specFile,
      "--url",
      closed,
      "--fingerprint",
      "0123456789abcdef",
      "--passed",
      `0123456789abcdef ${specHash} T`,
      "--allow-serving-change",
      "true",
      "--json-file",
      path.join(work, "g.json"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "break glass: allow_serving_change = true, the serving color's release was allowed to change in place",
    );
    expect(JSON.parse(fs.readFileSync(path.join(work, "g.json"), "utf8")).servingChangeAllowed).toBe(true);
    const bad = run(["verify", "--spec", specFile, "--url", closed, "--allow-serving-change", "yes"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--allow-serving-change "yes": expected true or false');
  });

  test("--switch-back needs the color it switched from", () => {
    const r = run(["verify", "--spec", specFile, "--url", closed, "--switch-back", "svc/iris,svc/iris-preview"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--switch-back needs --switch-back-from (and --switch-back-to)");
  });

  test("switch-back with nothing to go back to patches nothing and says why", async () => {
    const kubectl = path.join(work, "no-kubectl"); // a kubectl that does not exist: any call would fail loudly
    expect(await switchBack({ activeService: "svc/iris", from: "green", to: "", kubectl })).toMatchObject({
      restored: false,
      message: "nothing to switch back to: no color served before this apply",
    });
    expect(await switchBack({ activeService: "svc/iris", from: "green", to: "green", kubectl })).toMatchObject({
      restored: false,
      message: "nothing to switch back to: green already served before this apply",
    });
    expect((await switchBack({ activeService: "svc/iris", from: "green", to: "blue", kubectl })).message).toMatch(
      /^could not switch back to blue: kubectl: spawn .*no-kubectl ENOENT/,
    );
  });
});
