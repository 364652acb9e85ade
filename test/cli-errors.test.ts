import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { EXIT_CODES, exitCodesHelp } from "../lib/cli/exit-codes";
import { RENAMED_FLAGS, SHARED_OPTIONS } from "../lib/core/cli-options";
import { main } from "../lib/cli/main";
import { hangBoundMs, hangCheck } from "./hang-check";

// Bad input to every command, as a new user types it: the real CLI in its own process. Each row
// asserts the exit code, that the command returns by itself well before any wait it could have
// started (a readiness window, a spec's deadline, kubectl's request timeout), and the first line of
// the message: one line that says what is wrong and what to do, never a stack trace or another
// tool's raw output. A process that exits by itself has no timer or child left behind.
const root = path.resolve(__dirname, "..");
const bin = path.join(root, "bin", "cdktf-triton.js");
const tools = path.join(root, ".tools", "bin");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-triton-cli-errors-"));
/** A home without ~/.kube/config, and a PATH with no kubectl at all. */
const home = path.join(work, "home");
const noKubectl = path.join(work, "no-kubectl");
fs.mkdirSync(home);
fs.mkdirSync(noKubectl);
const spec = path.join(work, "spec.json");
fs.writeFileSync(spec, JSON.stringify({ models: [{ name: "classifier" }] }));
const garbage = path.join(work, "garbage.jsonl");
fs.writeFileSync(garbage, 'not a record\n{"kind": "something else"}\n');

/** An HTTP server that is no inference server: 404 for every path (a web server on the wrong port). */
let webServer: http.Server;
let webUrl = "";
beforeAll(async () => {
  webServer = http.createServer((_req, res) =>
    res.writeHead(404, { "content-type": "text/html" }).end("<h1>Not Found</h1>"),
  );
  await new Promise<void>((resolve) => webServer.listen(0, "127.0.0.1", resolve));
  webUrl = `http://127.0.0.1:${(webServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => webServer.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

/**
 * "Exits at once on bad input", kept as a hang check: a command here normally answers in about 3 s
 * (Node and ts-node start on a loaded machine); each bug it guards against took 20 s to 600 s.
 */
const NORMAL_MS = 3_000;

interface Row {
  readonly args: () => string[];
  readonly exit: number;
  /** The first line of stderr (or of stdout, where `stdout` is set). */
  readonly first: RegExp;
  readonly stdout?: true;
  /** "no-kubeconfig": HOME without a kubeconfig, no KUBECONFIG; "no-kubectl": a PATH without kubectl. */
  readonly env?: "no-kubeconfig" | "no-kubectl";
}

const rows: [string, Row][] = [
  // verify
  [
    "verify: a URL without a scheme",
    {
      args: () => ["verify", "--spec", spec, "--url", "127.0.0.1:8000"],
      exit: 2,
      first:
        /^cdktf-triton verify: --url "127\.0\.0\.1:8000" is not an http\(s\) URL: write it as http:\/\/127\.0\.0\.1:8000$/,
    },
  ],
  [
    "verify: a host:port URL",
    {
      args: () => ["verify", "--spec", spec, "--url", "localhost:8000"],
      exit: 2,
      first:
        /^cdktf-triton verify: --url "localhost:8000" is not an http\(s\) URL: write it as http:\/\/localhost:8000$/,
    },
  ],
  [
    "verify: a bad baseline URL",
    {
      args: () => ["verify", "--spec", spec, "--url", "http://127.0.0.1:9", "--baseline-url", "blue:8000"],
      exit: 2,
      first:
        /^cdktf-triton verify: --baseline-url "blue:8000" is not an http\(s\) URL: write it as http:\/\/blue:8000$/,
    },
  ],
  [
    "verify: a bad metrics URL",
    {
      args: () => ["verify", "--spec", spec, "--url", "http://127.0.0.1:9", "--metrics-url", "ftp://x/metrics"],
      exit: 2,
      first:
        /^cdktf-triton verify: --metrics-url "ftp:\/\/x\/metrics" is not an http\(s\) URL: write it as http:\/\/127\.0\.0\.1:8000$/,
    },
  ],
  [
    "verify: a bad port-forward target",
    {
      args: () => ["verify", "--spec", spec, "--port-forward", "classifier-green"],
      exit: 2,
      first: /^cdktf-triton verify: --port-forward "classifier-green": expected svc\/NAME:PORT/,
    },
  ],
  [
    "verify: neither --url nor --port-forward",
    {
      args: () => ["verify", "--spec", spec],
      exit: 2,
      first: /^cdktf-triton verify: give exactly one of --url and --port-forward$/,
    },
  ],
  [
    "verify: no --spec",
    {
      args: () => ["verify", "--url", "http://127.0.0.1:9"],
      exit: 2,
      first: /^error: required option '--spec <file>' not specified$/,
    },
  ],
  [
    "verify: a spec file that is not there",
    {
      args: () => ["verify", "--spec", path.join(work, "nope.json"), "--url", "http://127.0.0.1:9"],
      exit: 2,
      first:
        /^cdktf-triton verify: Invalid verification spec .*nope\.json: file = ".*nope\.json": expected a readable file/,
    },
  ],
  [
    "verify: --connections 0",
    {
      args: () => ["verify", "--spec", spec, "--url", "http://127.0.0.1:9", "--connections", "0"],
      exit: 2,
      first: /^cdktf-triton verify: --connections 0: expected an integer from 1 to 1024$/,
    },
  ],
  [
    "verify: a port-forward with no kubeconfig",
    {
      args: () => ["verify", "--spec", spec, "--port-forward", "svc/classifier-green:8000"],
      env: "no-kubeconfig",
      exit: 2,
      first:
        /^cdktf-triton verify: could not verify: kubectl port-forward svc\/classifier-green failed: exited with 1: no cluster to talk to: kubectl found no kubeconfig/,
    },
  ],
  [
    "verify: a port-forward with no kubectl",
    {
      args: () => ["verify", "--spec", spec, "--port-forward", "svc/classifier-green:8000"],
      env: "no-kubectl",
      exit: 2,
      first:
        /^cdktf-triton verify: could not verify: kubectl port-forward svc\/classifier-green failed: kubectl is not on PATH: install kubectl, or put it on PATH$/,
    },
  ],
  [
    "verify: a server that answers but is no inference server",
    {
      args: () => ["verify", "--spec", spec, "--url", webUrl],
      exit: 2,
      stdout: true,
      first: /^Verifying http:\/\/127\.0\.0\.1:\d+$/,
    },
  ],
  // promote
  [
    "promote: an unknown engine",
    {
      args: () => ["promote", "--engine", "pulumi"],
      exit: 2,
      first: /^cdktf-triton promote: --engine pulumi: expected one of /,
    },
  ],
  [
    "promote: a next version that is not a version",
    {
      args: () => ["promote", "--engine", "tofu", "--next-version", "v2"],
      exit: 2,
      first: /^cdktf-triton promote: --next-version v2: expected a model version, a whole number from 1$/,
    },
  ],
  [
    "promote: a stack folder that is not there",
    {
      args: () => ["promote", "--stack", path.join(work, "nostack"), "--engine", "tofu"],
      exit: 2,
      first: /^cdktf-triton promote: .*nostack holds no synthesized stack \(cdk\.tf\.json\): run cdktf synth$/,
    },
  ],
  // abort, pause, resume, skip
  [
    "abort: no --app",
    { args: () => ["abort"], exit: 2, first: /^error: required option '--app <name>' not specified$/ },
  ],
  [
    "pause: no kubeconfig",
    {
      args: () => ["pause", "--app", "fraud"],
      env: "no-kubeconfig",
      exit: 2,
      first:
        /^cdktf-triton pause: could not read Lease default\/fraud-promotion: no cluster to talk to: kubectl found no kubeconfig \(give --kubeconfig FILE, or set KUBECONFIG\)$/,
    },
  ],
  [
    "resume: no kubectl",
    {
      args: () => ["resume", "--app", "fraud"],
      env: "no-kubectl",
      exit: 2,
      first:
        /^cdktf-triton resume: could not read Lease default\/fraud-promotion: kubectl is not on PATH: install kubectl, or put it on PATH$/,
    },
  ],
  [
    "skip: a kubeconfig that is not there",
    {
      args: () => ["skip", "--app", "fraud", "--kubeconfig", path.join(work, "nope.kubeconfig")],
      exit: 2,
      first:
        /^cdktf-triton skip: could not read Lease default\/fraud-promotion: the kubeconfig .*nope\.kubeconfig cannot be read: no such file$/,
    },
  ],
  // status --watch
  [
    "status: --watch with --json",
    {
      args: () => ["status", "--watch", "--json"],
      exit: 2,
      first: /^cdktf-triton status: --watch prints text: give --watch or --json, not both$/,
    },
  ],
  // history
  [
    "history: neither --app nor --history-file",
    {
      args: () => ["history"],
      exit: 2,
      first: /^cdktf-triton history: give --app \(the pair's appName\) or --history-file$/,
    },
  ],
  [
    "history: a file that is not there",
    {
      args: () => ["history", "--history-file", path.join(work, "nope.jsonl")],
      exit: 2,
      first: /^cdktf-triton history: .*nope\.jsonl does not exist$/,
    },
  ],
  [
    "history: a file with no valid record",
    {
      args: () => ["history", "--history-file", garbage],
      exit: 2,
      first:
        /^cdktf-triton history: .*garbage\.jsonl holds no promotion or verdict record \(2 lines could not be read: line 1: /,
    },
  ],
  [
    "history: no kubeconfig",
    {
      args: () => ["history", "--app", "fraud"],
      env: "no-kubeconfig",
      exit: 2,
      first:
        /^cdktf-triton history: could not read ConfigMap default\/fraud-promotions: no cluster to talk to: kubectl found no kubeconfig \(give --kubeconfig FILE, or set KUBECONFIG\)$/,
    },
  ],
  [
    "history: no kubectl",
    {
      args: () => ["history", "--app", "fraud"],
      env: "no-kubectl",
      exit: 2,
      first:
        /^cdktf-triton history: could not read ConfigMap default\/fraud-promotions: kubectl is not on PATH: install kubectl, or put it on PATH$/,
    },
  ],
  // status
  [
    "status: no kubeconfig",
    {
      args: () => ["status"],
      env: "no-kubeconfig",
      exit: 2,
      first:
        /^cdktf-triton status: no cluster to talk to: kubectl found no kubeconfig \(give --kubeconfig FILE, or set KUBECONFIG\)$/,
    },
  ],
  [
    "status: a kubeconfig that is not there",
    {
      args: () => ["status", "--kubeconfig", path.join(work, "nope.kubeconfig")],
      exit: 2,
      first: /^cdktf-triton status: the kubeconfig .*nope\.kubeconfig cannot be read: no such file$/,
    },
  ],
  [
    "status: no kubectl",
    {
      args: () => ["status"],
      env: "no-kubectl",
      exit: 2,
      first: /^cdktf-triton status: kubectl is not on PATH: install kubectl, or put it on PATH$/,
    },
  ],
  [
    "status: a --history-count that is no count",
    {
      args: () => ["status", "--history-count", "all"],
      exit: 2,
      first: /^cdktf-triton status: --history-count all: expected a whole number$/,
    },
  ],
  // report
  [
    "report: no source",
    {
      args: () => ["report", "--out-dir", work],
      exit: 2,
      first: /^cdktf-triton report: nothing to report: give --app/,
    },
  ],
  [
    "report: every source missing",
    {
      args: () => [
        "report",
        "--history-file",
        path.join(work, "nope.jsonl"),
        "--reports",
        path.join(work, "noreports"),
        "--out-dir",
        work,
      ],
      exit: 2,
      first:
        /^cdktf-triton report: nothing to report: history .*nope\.jsonl: cannot be read \(ENOENT\).* \(and 1 more source unreadable\)$/,
    },
  ],
  [
    "report: no kubeconfig",
    {
      args: () => ["report", "--app", "fraud", "--out-dir", work],
      env: "no-kubeconfig",
      exit: 2,
      first:
        /^cdktf-triton report: nothing to report: could not read ConfigMap default\/fraud-promotions: no cluster to talk to: kubectl found no kubeconfig/,
    },
  ],
  [
    "report: --out and --out-dir",
    {
      args: () => ["report", "--history-file", garbage, "--out", path.join(work, "r.html"), "--out-dir", work],
      exit: 2,
      first: /^cdktf-triton report: give --out or --out-dir, not both$/,
    },
  ],
  // the program
  ["an unknown command", { args: () => ["frobnicate"], exit: 2, first: /^error: unknown command 'frobnicate'$/ }],
  ["--version", { args: () => ["--version"], exit: 0, stdout: true, first: /^\d+\.\d+\.\d+$/ }],
];

function environment(kind: Row["env"]): NodeJS.ProcessEnv {
  // Our pinned kubectl first (setup-tools builds it), as npm test runs; HOME has no kubeconfig.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    PATH: `${tools}${path.delimiter}${process.env.PATH}`,
    CHECKPOINT_DISABLE: "1",
  };
  delete env.KUBECONFIG;
  if (kind === "no-kubectl") env.PATH = noKubectl;
  return env;
}

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const proc = spawn(process.execPath, [bin, ...args], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    // Past the bound the test has failed already; the kill only keeps jest from hanging with it.
    const guard = setTimeout(() => proc.kill("SIGKILL"), hangBoundMs({ normalMs: NORMAL_MS }) + 5000);
    proc.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

describe("the CLI's answer to bad input: one line, a documented exit code, at once", () => {
  test("kubectl is on PATH for the rows that need it (npm test builds it)", () => {
    expect(fs.existsSync(path.join(tools, "kubectl"))).toBe(true);
  });

  // One at a time: the data-plane suites run beside this one and time their requests.
  test.each(rows)(
    "%s",
    async (_name, row) => {
      const r = await runCli(row.args(), environment(row.env));
      const text = row.stdout ? r.stdout : r.stderr;
      expect({ code: r.code, first: text.split("\n")[0] }).toEqual({
        code: row.exit,
        first: expect.stringMatching(row.first),
      });
      hangCheck(`cdktf-triton ${row.args().slice(0, 2).join(" ")}`, r.ms, { normalMs: NORMAL_MS });
      // never a stack trace, never kubectl's own log lines
      expect(r.stderr).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
      expect(r.stderr).not.toMatch(/memcache\.go|E\d{4} \d\d:\d\d/);
      // an error is one line (commander's own usage errors included)
      if (r.code !== 0 && !row.stdout) expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    },
    hangBoundMs({ normalMs: NORMAL_MS }) + 10_000,
  );

  test("a server without the protocol's health endpoint is 'could not verify' (2), not a failed candidate (1)", async () => {
    const r = await runCli(["verify", "--spec", spec, "--url", webUrl], environment(undefined));
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      `${webUrl} answers, but is no Open Inference Protocol server: GET /v2/health/live answered 404`,
    );
    expect(r.stdout.trimEnd().split("\n").pop()).toMatch(/^ERROR: could not verify/);
  });

  test("a refused port is waited for out loud: the first line says what it waits for and for how long", async () => {
    const waiting = path.join(work, "wait.json");
    fs.writeFileSync(waiting, JSON.stringify({ models: [{ name: "classifier" }], waitForReadySeconds: 2 }));
    const r = await runCli(["verify", "--spec", waiting, "--url", "http://127.0.0.1:9"], environment(undefined));
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(
      /^ {2}waiting for the server live: cannot connect: .*ECONNREFUSED.* \(\d s left of the spec's waitForReadySeconds\)$/,
    );
  });
});

test("docs/cli.md's shared options are core/cli-options' rows, and each listed command's --help declares them", async () => {
  const readme = fs.readFileSync(path.join(root, "docs", "cli.md"), "utf8");
  const rows = [...readme.matchAll(/^\| `(-[^`]+)` \| (.+) \| ([a-z, ]+) \|$/gm)].map((m) => ({
    usage: m[1],
    description: m[2],
    commands: m[3].split(", "),
  }));
  expect(rows.map((r) => [r.usage, r.description]).sort()).toEqual(
    Object.values(SHARED_OPTIONS)
      .map((o) => [o.usage, o.description])
      .sort(),
  );
  for (const row of rows) {
    for (const command of row.commands) {
      const help = await helpOf(command);
      expect([command, help.replace(/\s+/g, " ")]).toEqual([
        command,
        expect.stringContaining(`${row.usage} ${row.description.slice(0, 20)}`),
      ]);
    }
  }
});

/** A command's --help, from the CLI's main in this process (a spawn per command and option would take half a minute). */
async function helpOf(command: string): Promise<string> {
  const out: string[] = [];
  const io = {
    out: { write: (t: string) => out.push(t) } as unknown as NodeJS.WritableStream,
    err: { write: (t: string) => out.push(t) } as unknown as NodeJS.WritableStream,
  };
  expect(await main(["node", "cdktf-triton", command, "--help"], io)).toBe(0);
  return out.join("");
}

test("a flag renamed in 0.2.0 is answered with its new name, in one line, exit 2", async () => {
  for (const [command, renames] of Object.entries(RENAMED_FLAGS)) {
    for (const [old, now] of Object.entries(renames)) {
      const r = await runCli([command, old, "x"], environment(undefined));
      expect([r.code, r.stderr]).toEqual([
        2,
        `cdktf-triton ${command}: ${old} is ${now} since 0.2.0 (see the CHANGELOG)\n`,
      ]);
    }
  }
});

test("docs/cli.md's exit codes are the ones each command's --help prints", async () => {
  const readme = fs.readFileSync(path.join(root, "docs", "cli.md"), "utf8");
  const table = [...readme.matchAll(/^\| `(\w+)` \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
  expect(table).toEqual(
    Object.entries(EXIT_CODES).flatMap(([command, codes]) => codes.map(([code, what]) => [command, code, what])),
  );
  for (const command of Object.keys(EXIT_CODES)) {
    const help = await runCli([command, "--help"], environment(undefined));
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(exitCodesHelp(command as keyof typeof EXIT_CODES));
  }
});
