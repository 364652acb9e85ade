// `cdktf-triton verify`: runs a verification spec against a candidate and exits 0 (pass), 1
// (verification failed) or 2 (could not verify: bad arguments or spec, unreachable server). Its
// options are the gate's table (core/gate-flags).
import { contentHash } from "../core/names";
import * as fs from "fs";
import { VERIFY_EXIT } from "../core/exit-codes";
import * as path from "path";
import type { SingleBar } from "cli-progress";
import { Command } from "commander";
import { ClientOptions } from "../run/verify/client";
import { collect, Io } from "./common";
import { exitCodesHelp } from "./exit-codes";
import { PortForward, startPortForward } from "../run/kube/port-forward";
import { junitXml, summaryText } from "../run/verify/report";
import { parsePortForwardTarget, VERIFY_FLAGS, VerifyFlags } from "../core/gate-flags";
import { loadSpec, SpecError } from "../core/verify-spec";
import { switchBack } from "../run/verify/switch-back";
import { verify } from "../run/verify/verifier";
import { httpUrlProblem, redactUrl } from "../run/verify/urls";
import { ProgressEvent, Report } from "../run/verify/types";
import { Protocol, PROTOCOLS } from "../core/closed-sets";

/** The `verify` command. */
export function addVerifyCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  addVerifyOptions(program.command("verify"))
    .description("Verify a Triton (Open Inference Protocol) candidate before traffic moves to it")
    .addHelpText("after", exitCodesHelp("verify"))
    .action(async (flags: VerifyFlags) => {
      setCode(await runVerify(flags, io));
    });
}

async function runVerify(flags: VerifyFlags, io: Io): Promise<number> {
  const forwards: PortForward[] = [];
  const started = Date.now();
  try {
    checkArguments(flags);
    const spec = loadSpec(flags.spec);
    const servingChangeAllowed = flags.allowServingChange === "true" ? { servingChangeAllowed: true } : {};
    const fingerprint = flags.fingerprint ? { fingerprint: flags.fingerprint } : {};
    const earlier = passedBefore(flags, spec.fastRollback !== false);
    if (earlier) {
      // Fast rollback: this exact release passed this exact spec before; nothing is checked again.
      const report = skippedReport(flags, earlier, started, fingerprint, servingChangeAllowed);
      io.out.write(flags.quiet ? `${report.verdict}\n` : `${summaryText(report)}\n`);
      await writeReports(report, flags, 10_000);
      await recordVerdict(flags, "skipped", report.checks[0].message, io.err);
      return VERIFY_EXIT.pass;
    }
    const client = clientOptions(flags);
    const forward = async (target: string) => {
      const pf = await startPortForward({
        target,
        namespace: flags.namespace,
        kubeconfig: flags.kubeconfig,
        context: flags.context,
      });
      forwards.push(pf);
      return pf.url.replace(/^http:/, `${flags.scheme}:`);
    };
    const url = flags.url ?? (await forward(flags.portForward!));
    const baselineUrl =
      flags.baselineUrl ?? (flags.baselinePortForward ? await forward(flags.baselinePortForward) : undefined);

    const progress = progressPrinter(flags.quiet ? undefined : io.err);
    // On one terminal the progress lines already listed each check: the summary then gives the verdict.
    const listed = !flags.quiet && isTty(io.err) && isTty(io.out);
    let report: Report = await verify(
      spec,
      { url, baselineUrl, metricsUrl: flags.metricsUrl, client, protocol: flags.protocol as Protocol },
      { onProgress: progress.onEvent },
    );
    progress.done();
    report = { ...report, ...fingerprint, ...servingChangeAllowed };
    // Traffic first: the selectors go back before anything is printed or written.
    if (report.verdict !== "pass" && flags.switchBack) report = await switchBackAfter(report, flags);
    // The verdict first, then the reports, within what is left of the deadline.
    io.out.write(flags.quiet ? `${report.verdict}\n` : `${summaryText(report, { checks: !listed })}\n`);
    const left = started + (spec.deadlineSeconds ?? 600) * 1000 - Date.now();
    try {
      await writeReports(report, flags, Math.max(1000, left));
    } catch (e) {
      io.err.write(
        `cdktf-triton verify: the verdict was ${report.verdict.toUpperCase()}, but ${(e as Error).message}\n`,
      );
      return VERIFY_EXIT.error;
    }
    if (flags.htmlDir) await writeHtml(report, flags.htmlDir, io);
    const failedChecks = report.checks.filter((c) => c.status === "fail").map((c) => c.name);
    await recordVerdict(
      flags,
      report.verdict,
      failedChecks.length ? `failed: ${failedChecks.join(", ")}` : undefined,
      io.err,
    );
    return VERIFY_EXIT[report.verdict];
  } catch (e) {
    const message =
      e instanceof SpecError
        ? e.brief
        : e instanceof UsageError
          ? e.message
          : `could not verify: ${(e as Error).message}`;
    io.err.write(`cdktf-triton verify: ${message}\n`);
    return VERIFY_EXIT.error;
  } finally {
    forwards.forEach((f) => f.stop());
  }
}

class UsageError extends Error {}

/** The arguments, each bad one refused at once: a typo must not wait for a server or a deadline. */
function checkArguments(flags: VerifyFlags): void {
  if (!(PROTOCOLS as readonly string[]).includes(flags.protocol))
    throw new UsageError(`--protocol ${flags.protocol}: expected ${PROTOCOLS.join(" or ")}`);
  if (Boolean(flags.url) === Boolean(flags.portForward))
    throw new UsageError("give exactly one of --url and --port-forward");
  if (flags.baselineUrl && flags.baselinePortForward)
    throw new UsageError("give at most one of --baseline-url and --baseline-port-forward");
  for (const [flag, value] of [
    ["--url", flags.url],
    ["--baseline-url", flags.baselineUrl],
    ["--metrics-url", flags.metricsUrl],
  ] as const)
    httpUrlFlag(flag, value);
  for (const [flag, value] of [
    ["--port-forward", flags.portForward],
    ["--baseline-port-forward", flags.baselinePortForward],
  ] as const) {
    try {
      if (value !== undefined) parsePortForwardTarget(value, flag);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (flags.allowServingChange !== undefined && !["true", "false"].includes(flags.allowServingChange)) {
    throw new UsageError(`--allow-serving-change ${JSON.stringify(flags.allowServingChange)}: expected true or false`);
  }
  if (flags.switchBack && flags.switchBackFrom === undefined)
    throw new UsageError("--switch-back needs --switch-back-from (and --switch-back-to)");
  if (flags.switchBack && flags.switchBackFrom === undefined)
    throw new UsageError("--switch-back needs --switch-back-from (and --switch-back-to)");
}

/** The report of a fast rollback: this release passed this spec before, nothing checked again. */
function skippedReport(
  flags: VerifyFlags,
  earlier: { fingerprint: string; passedAt: string },
  started: number,
  fingerprint: Partial<Report>,
  servingChangeAllowed: Partial<Report>,
): Report {
  const message = `skipped: fingerprint ${earlier.fingerprint} passed at ${earlier.passedAt}`;
  return {
    verdict: "pass",
    target: flags.url ? redactUrl(flags.url) : (flags.portForward ?? ""),
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    checks: [{ name: "verification", status: "skipped", message, durationMs: 0 }],
    ...fingerprint,
    skipped: earlier,
    ...servingChangeAllowed,
  };
}

/** A failed verdict with --switch-back: the Services' selectors back to the color that served. */
async function switchBackAfter(report: Report, flags: VerifyFlags): Promise<Report> {
  const [activeService, previewService] = flags.switchBack!.split(",");
  const back = await switchBack({
    activeService,
    previewService,
    from: flags.switchBackFrom!,
    to: flags.switchBackTo ?? "",
    fingerprint: flags.switchBackFingerprint,
    namespace: flags.namespace,
    kubeconfig: flags.kubeconfig,
    context: flags.context,
  });
  return {
    ...report,
    switchBack: {
      to: flags.switchBackTo ?? "",
      restored: back.restored,
      message: back.message,
      msAfterVerdict: back.ms,
    },
  };
}

/** An http(s) URL flag, or a UsageError that shows how to write it. */
function httpUrlFlag(flag: string, value: string | undefined): void {
  const problem = value === undefined ? undefined : httpUrlProblem(value);
  if (problem) throw new UsageError(`${flag} ${JSON.stringify(value)} ${problem}`);
}

/** `verify`'s options, from the table the gate writes its command with (core/gate-flags). */
export function addVerifyOptions(command: Command): Command {
  for (const f of VERIFY_FLAGS) {
    if (f.required) command.requiredOption(f.usage, f.description);
    else if (f.repeatable) command.option(f.usage, f.description, collect, [] as string[]);
    else if (f.default !== undefined) command.option(f.usage, f.description, f.default);
    else command.option(f.usage, f.description);
  }
  return command;
}

/** The run's HTML report in its own file; the charting modules load only here. Never changes the verdict. */
async function writeHtml(report: Report, dir: string, io: Io): Promise<void> {
  try {
    const { emptyData } = await import("../run/observe/sources");
    const { renderReport, writeReportFile } = await import("../run/observe/html-report");
    const data = emptyData();
    data.verifications.push({ file: "this run", report });
    data.sources.push(`this verification of ${report.target}`);
    const file = writeReportFile(
      await renderReport(data, { title: `Verification of ${report.target}: ${report.verdict}` }),
      { dir, prefix: "verify", at: new Date(report.startedAt) },
    );
    io.out.write(`HTML report: ${file}\n`);
  } catch (e) {
    io.err.write(
      `cdktf-triton verify: the HTML report was not written (${(e as Error).message}); the verdict stands\n`,
    );
  }
}

/** Appends the verdict to the pair's history ConfigMap; a failed write is reported, never fatal (bounded: kubectl's request timeout). */
async function recordVerdict(
  flags: VerifyFlags,
  verdict: string,
  message: string | undefined,
  err: NodeJS.WritableStream,
): Promise<void> {
  if (!flags.historyConfigmap) return;
  const [namespace, configMap] = flags.historyConfigmap.split("/");
  try {
    if (!namespace || !configMap)
      throw new Error(`--history-configmap ${JSON.stringify(flags.historyConfigmap)}: expected NAMESPACE/CONFIGMAP`);
    const { ClusterHistory } = await import("../run/records/history");
    const at = new Date().toISOString();
    await new ClusterHistory({ kubeconfig: flags.kubeconfig, context: flags.context }, namespace, configMap, 50).put({
      kind: "verification",
      id: `verify-${at.replace(/[-:.]/g, "")}-${Math.random().toString(16).slice(2, 8)}`,
      app: flags.historyApp ?? "",
      namespace,
      at,
      color: flags.historyColor ?? "",
      ...(flags.fingerprint ? { fingerprint: flags.fingerprint } : {}),
      verdict,
      ...(message ? { message } : {}),
    });
  } catch (e) {
    err.write(
      `cdktf-triton verify: the verdict (${verdict}) was not recorded in the history: ${(e as Error).message}\n`,
    );
  }
  // And an Event on the pair's active Service (named after the pair), beside the promotions' own.
  if (!flags.historyApp || !namespace) return;
  const { recordEvent } = await import("../run/kube/events");
  const passed = verdict === "pass" || verdict === "skipped";
  const text = `gate of ${flags.historyApp}: ${flags.historyColor ?? "the candidate"}${flags.fingerprint ? ` (${flags.fingerprint})` : ""} ${verdict}${message ? `: ${message}` : ""}`;
  const problem = await recordEvent(
    {
      access: { kubeconfig: flags.kubeconfig, context: flags.context },
      namespace,
      service: flags.historyApp,
      component: "cdktf-triton-gate",
    },
    passed ? "GatePassed" : "GateFailed",
    text,
  );
  if (problem) err.write(`cdktf-triton verify: ${problem} (the verdict stands)\n`);
}

/** The earlier pass `--passed` records, when it is for this fingerprint and this spec file. */
function passedBefore(flags: VerifyFlags, allowed: boolean): { fingerprint: string; passedAt: string } | undefined {
  if (!allowed || !flags.fingerprint || !flags.passed) return undefined;
  const m = /^(\S+) (\S+) (\S+)$/.exec(flags.passed.trim());
  if (!m || m[1] !== flags.fingerprint) return undefined;
  const specHash = contentHash(fs.readFileSync(flags.spec));
  return m[2] === specHash ? { fingerprint: m[1], passedAt: m[3] } : undefined;
}

function clientOptions(flags: VerifyFlags): Omit<ClientOptions, "url"> {
  const headers: Record<string, string> = {};
  for (const h of flags.header) {
    const m = /^([A-Za-z0-9-]+)=([A-Za-z_][A-Za-z0-9_]*)$/.exec(h);
    if (!m)
      throw new UsageError(
        `--header ${JSON.stringify(h)}: expected Name=ENV_VAR (the value is read from the environment, never given on the command line)`,
      );
    const value = process.env[m[2]];
    if (value === undefined) throw new UsageError(`--header ${m[1]}: environment variable ${m[2]} is not set`);
    headers[m[1]] = value;
  }
  const read = (flag: string, file?: string) => {
    if (!file) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new UsageError(`--${flag} ${file}: ${(e as Error).message}`);
    }
  };
  const connections = Number(flags.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 1024)
    throw new UsageError(`--connections ${flags.connections}: expected an integer from 1 to 1024`);
  if (!["http", "https"].includes(flags.scheme))
    throw new UsageError(`--scheme ${flags.scheme}: expected http or https`);
  const tls = {
    ca: read("ca", flags.ca),
    cert: read("cert", flags.cert),
    key: read("key", flags.key),
    servername: flags.servername,
  };
  return { headers, connections, tls: Object.values(tls).some((v) => v !== undefined) ? tls : undefined };
}

/** Writes the reports, creating missing folders one level at a time, within `withinMs`. */
async function writeReports(report: Report, flags: VerifyFlags, withinMs: number): Promise<void> {
  const writes = async () => {
    for (const [file, text] of [
      [flags.jsonFile, () => JSON.stringify(report, null, 2) + "\n"],
      [flags.junit, () => junitXml(report)],
    ] as const) {
      if (!file) continue;
      try {
        makeFolders(path.dirname(path.resolve(file)));
        await fs.promises.writeFile(file, text());
      } catch (e) {
        throw new Error(`the report ${file} cannot be written: ${(e as Error).message}`, { cause: e });
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`the reports were not written within the deadline (${Math.round(withinMs / 1000)}s left)`)),
      withinMs,
    );
  });
  try {
    await Promise.race([writes(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a report folder (the gate's reportDir on a first apply) one level at a time. Not
 * mkdir's recursive mode: Node 20's loops for minutes under a folder that refuses it, like /proc.
 */
function makeFolders(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    return;
  }
  makeFolders(path.dirname(dir));
  fs.mkdirSync(dir);
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY);
}

/** A progress bar on a terminal; a line per check (and per quarter of the probe) elsewhere. */
function progressPrinter(stream?: NodeJS.WritableStream) {
  const tty = Boolean(stream && (stream as NodeJS.WriteStream).isTTY);
  let bar: SingleBar | undefined;
  let lastQuarter = -1;
  return {
    onEvent: (e: ProgressEvent) => {
      if (!stream) return;
      if (e.type === "check") {
        bar?.stop();
        bar = undefined;
        stream.write(`  ${e.result.status.toUpperCase().padEnd(7)} ${e.result.name}\n`);
      } else if (e.type === "waiting") {
        stream.write(
          `  waiting for ${e.what}: ${e.seen} (${e.leftSeconds} s left of the spec's waitForReadySeconds)\n`,
        );
      } else if (tty) {
        if (!bar) {
          // Loaded on a terminal only: a gate's CLI starts without it.
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous and lazy: the progress bar starts inside a sync callback
          const { SingleBar: Bar } = require("cli-progress") as typeof import("cli-progress");
          bar = new Bar({
            stream: stream as NodeJS.WriteStream,
            format: `  probe ${e.label} [{bar}] {value}/{total} requests`,
          });
          bar.start(e.total, 0);
        }
        bar.update(e.done);
      } else {
        const quarter = Math.floor((e.done / e.total) * 4);
        if (quarter !== lastQuarter) {
          lastQuarter = quarter;
          stream.write(`  probe ${e.label}: ${e.done}/${e.total} requests\n`);
        }
      }
    },
    done: () => bar?.stop(),
  };
}
