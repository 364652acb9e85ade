import { spawnSync } from "child_process";
import { Command } from "commander";
import { addVerifyOptions } from "../lib/cli/verify";
import { gateCommand, VERIFY_FLAGS, VerifyFlags } from "../lib/core/gate-flags";

// The gate's command line is one contract, written once (core/gate-flags): what the gate renders,
// run by a real shell with the provisioner's environment, is parsed by the CLI back into the same
// values, for every flag the gate writes.

/** The words `sh` makes of the gate's arguments, with its environment, as local-exec runs them. */
function shellWords(args: string[], environment: Record<string, string>): string[] {
  const r = spawnSync("sh", ["-c", `printf '%s\\0' ${args.join(" ")}`], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, ...environment },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split("\0").slice(0, -1);
}

/** The flags the CLI's own `verify` declaration parses from these words. */
function parsed(words: string[]): VerifyFlags {
  let flags: VerifyFlags | undefined;
  const program = new Command("cdktf-triton").exitOverride();
  addVerifyOptions(program.command("verify")).action((f: VerifyFlags) => {
    flags = f;
  });
  program.parse(words, { from: "user" });
  if (!flags) throw new Error("verify did not run");
  return flags;
}

/** A value for every flag the gate writes: spaces, quotes, `$`, a `${...}` that sh leaves alone. */
const written: Partial<VerifyFlags> = {
  spec: "assets/gate spec/verify.json",
  portForward: "svc/fraud-green:8000",
  namespace: "ml",
  kubeconfig: "~/.kube/config",
  context: "prod's",
  baselinePortForward: "svc/fraud-blue:8000",
  metricsUrl: "http://127.0.0.1:8002/metrics",
  protocol: "grpc",
  header: ["Authorization=TOKEN", "X-Tenant=TENANT"],
  jsonFile: "reports/gate.json",
  junit: "reports/gate.xml",
  htmlDir: "reports",
  fingerprint: "0123456789abcdef",
  historyConfigmap: "ml/fraud-history",
  historyApp: "fraud",
  historyColor: "green",
  passed: "0123456789abcdef 89ab 2026-12-05T10:00:00Z",
  allowServingChange: "false",
  switchBack: "svc/fraud,svc/fraud-preview",
  switchBackFrom: "green",
  switchBackTo: "",
  switchBackFingerprint: "fedcba9876543210 $HOME `x`",
};

test("every flag the gate writes reaches the CLI with its value, through a real shell", () => {
  const { args, environment } = gateCommand(written);
  const words = shellWords(args, environment);
  expect(words[0]).toBe("verify");
  const flags = parsed(words);
  for (const [key, value] of Object.entries(written))
    expect([key, flags[key as keyof VerifyFlags]]).toEqual([key, value]);
  // values read at plan time travel in the environment, never in the command (they are not triggers)
  expect(Object.keys(environment).sort()).toEqual(
    VERIFY_FLAGS.filter((f) => f.env)
      .map((f) => f.env)
      .sort(),
  );
  for (const value of Object.values(environment)) if (value) expect(args.join(" ")).not.toContain(value);
});

test("the URL targets and the defaults the gate leaves out", () => {
  const { args, environment } = gateCommand({
    spec: "v.json",
    url: "http://fraud-green.ml:8000",
    baselineUrl: "http://fraud-blue.ml:8000",
  });
  expect(args).toEqual([
    "verify",
    "--spec",
    "v.json",
    "--url",
    "http://fraud-green.ml:8000",
    "--baseline-url",
    "http://fraud-blue.ml:8000",
  ]);
  expect(environment).toEqual({});
  const flags = parsed(shellWords(args, environment));
  expect(flags).toEqual({
    spec: "v.json",
    url: "http://fraud-green.ml:8000",
    baselineUrl: "http://fraud-blue.ml:8000",
    protocol: "http",
    header: [],
    scheme: "http",
    connections: "8",
    namespace: "default",
  });
});

test("the table covers every option the CLI's verify has, and the CLI takes no other", () => {
  const cmd = addVerifyOptions(new Command("verify"));
  expect(cmd.options.map((o) => o.attributeName()).sort()).toEqual(VERIFY_FLAGS.map((f) => f.key).sort());
});
