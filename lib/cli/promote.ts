// The CLI's `promote` and `history` commands. The modules that do the work load only when one of
// them runs, so `cdktf-triton verify` (inside a gate's provisioner) starts as fast as before.
import { HISTORY_EXIT, OPERATE_EXIT, PROMOTE_EXIT } from "../core/exit-codes";
import * as fs from "fs";
import { Command } from "commander";
import { addOption, addShared, CLUSTER, collect, Io } from "./common";
import { ENGINE_KINDS, EngineKind, ON_UNFINISHED } from "../core/closed-sets";
import { exitCodesHelp } from "./exit-codes";

export function addPromoteCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  addPromoteCommand(program, io, setCode);
  addHistoryCommand(program, io, setCode);
}

/** `promote`: a TritonPromotion of the stack, driven from here. */
function addPromoteCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const promote = program
    .command("promote")
    .description(
      "Promote a blue/green pair's candidate in canary steps under analysis (a TritonPromotion of the stack)",
    );
  addEngineOptions(promote, "terraform")
    .option("--prometheus-url <url>", "Prometheus' HTTP API for Triton and PromQL metrics")
    .option("--report-dir <dir>", "append the record to <dir>/promotions.jsonl and write <dir>/promotion-<id>.json");
  addShared(promote, ["jsonFile"])
    .option("--confirm-before-switch", "ask before switching active (a pause without a terminal)")
    .option("--confirm", "the switch is confirmed (continue a promotion awaiting confirmation)")
    .option(
      "--next-version <n>",
      "a TritonModelCanary's promotion: the model version to promote (loaded beside the one its requests go to); a re-run of an unfinished one takes it from the state",
    )
    .option(
      "--full",
      "skip the remaining steps and switch: asks the running driver when one holds the pair, else runs without steps (asks first on a terminal)",
    )
    .option(
      `--on-unfinished <${ON_UNFINISHED.join("|")}>`,
      "an earlier run left a promotion unfinished: resume it (same candidate) or roll it back",
      "resume",
    )
    .addHelpText("after", exitCodesHelp("promote"))
    .action(async (flags) => {
      const { promote, PromoteError, InterruptedBeforeStart, findPromotion } = await import("../run/promote/driver");
      const { PromotionSpecError, loadPromotionSpec } = await import("../core/promotion-spec");
      const { EngineError } = await import("../run/promote/engine");
      const { LeaseError } = await import("../run/promote/lease");
      try {
        const stackAndEngine = await engineOptions(flags, io);
        if (!(ON_UNFINISHED as readonly string[]).includes(flags.onUnfinished))
          throw new PromoteError(`--on-unfinished ${flags.onUnfinished}: expected ${ON_UNFINISHED.join(" or ")}`);
        if (flags.nextVersion !== undefined && !/^[1-9][0-9]{0,9}$/.test(flags.nextVersion))
          throw new PromoteError(
            `--next-version ${flags.nextVersion}: expected a model version, a whole number from 1`,
          );
        if (flags.full) {
          const sent = await askFull(flags, io, findPromotion, loadPromotionSpec);
          if (sent !== undefined) return setCode(sent);
        }
        const report = await promote({
          ...stackAndEngine,
          prometheusUrl: flags.prometheusUrl,
          reportDir: flags.reportDir,
          json: flags.jsonFile,
          confirmBeforeSwitch: flags.confirmBeforeSwitch,
          confirm: flags.confirm,
          onUnfinished: flags.onUnfinished,
          full: flags.full,
          ...(flags.nextVersion !== undefined ? { nextVersion: Number(flags.nextVersion) } : {}),
          // vega loads only when a report is written
          writeHtml: async (report, dir) =>
            (await import("../run/observe/html-report")).writePromotionHtml(report, dir),
        });
        setCode(report.exitCode);
      } catch (e) {
        const known =
          e instanceof PromoteError ||
          e instanceof PromotionSpecError ||
          e instanceof EngineError ||
          e instanceof LeaseError;
        io.err.write(
          `cdktf-triton promote: ${known ? "" : "could not promote: "}${e instanceof PromotionSpecError ? e.brief : (e as Error).message}\n`,
        );
        setCode(e instanceof InterruptedBeforeStart ? PROMOTE_EXIT.interrupted : PROMOTE_EXIT.error);
      }
    });
}

/** `history`: a pair's promotions and verdicts. */
function addHistoryCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const history = program
    .command("history")
    .description("Print a pair's promotions and gate verdicts, from its history ConfigMap or a promotions.jsonl file");
  addShared(history, [...CLUSTER, "historyFile", "json"])
    .addHelpText("after", exitCodesHelp("history"))
    .action(async (flags) => {
      const { historyTable, pairHistory, parseHistory } = await import("../run/records/history");
      try {
        let records;
        if (flags.historyFile.length) {
          records = [];
          for (const file of flags.historyFile as string[]) {
            if (!fs.existsSync(file)) throw new Error(`${file} does not exist`);
            const parsed = parseHistory(fs.readFileSync(file, "utf8"));
            if (!parsed.records.length) {
              throw new Error(
                `${file} holds no promotion or verdict record${parsed.problems.length ? ` (${parsed.problems.length} line${parsed.problems.length === 1 ? "" : "s"} could not be read: ${parsed.problems[0]})` : ""}`,
              );
            }
            parsed.problems.forEach((p) => io.err.write(`cdktf-triton history: ${file}: ${p} (skipped)\n`));
            records.push(...parsed.records);
          }
        } else {
          if (!flags.app) throw new Error("give --app (the pair's appName) or --history-file");
          records = await pairHistory(
            { kubeconfig: flags.kubeconfig, context: flags.context },
            flags.namespace,
            flags.app,
          ).read();
        }
        io.out.write(
          flags.json
            ? `${JSON.stringify(records, null, 2)}\n`
            : records.length
              ? `${historyTable(records)}\n`
              : "no promotions or verdicts recorded\n",
        );
        setCode(HISTORY_EXIT.printed);
      } catch (e) {
        io.err.write(`cdktf-triton history: ${(e as Error).message}\n`);
        setCode(HISTORY_EXIT.error);
      }
    });
}

/**
 * `promote --full`: on a terminal, asks first. When a live driver holds the pair, the request goes
 * to it and resolves to the exit code; with none, resolves to undefined (this run promotes without
 * steps).
 */
async function askFull(
  flags: Record<string, any>,
  io: Io,
  find: typeof import("../run/promote/driver").findPromotion,
  load: typeof import("../core/promotion-spec").loadPromotionSpec,
): Promise<number | undefined> {
  const { PairLease, NoDriver } = await import("../run/promote/lease");
  const { sendRequest } = await import("../run/promote/ask-driver");
  const { Engine } = await import("../run/promote/engine");
  const { stackDir, specFile } = find(flags.stack, flags.promotion);
  const spec = load(specFile);
  const kube = { kubeconfig: flags.kubeconfig, context: flags.context };
  // The pair's namespace is in the state (the lease is beside the pair).
  const engine = new Engine({ kind: flags.engine, stackDir, vars: flags.var, varFiles: flags.varFile });
  engine.check();
  const namespace = ((await engine.output(spec.output)) as { namespace?: string } | undefined)?.namespace;
  const view = namespace ? await new PairLease(kube, namespace, spec.app).read() : undefined;
  const live = Boolean(view?.live);
  if (io.out.isTTY) {
    const question = live
      ? `skip the remaining steps of ${spec.app}'s running promotion (${view!.progress ? `${view!.progress.to.color} at step ${view!.progress.step} of ${view!.progress.steps}` : "its driver"}) and switch now? [y/N] `
      : `promote ${spec.app} without its steps (no analysed canary) and switch? [y/N] `;
    const readline = await import("readline");
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
    const answer = await new Promise<string>((resolve) => rl.question(question, resolve));
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.out.write("nothing changed\n");
      return PROMOTE_EXIT.aborted;
    }
  }
  if (!live || !namespace) return undefined;
  try {
    // Promoted by the running driver: 0; refused by it: 2 (promote's 1 means aborted).
    return (await sendRequest("full", { app: spec.app, namespace, kube, out: io.out })) === OPERATE_EXIT.done
      ? PROMOTE_EXIT.promoted
      : PROMOTE_EXIT.error;
  } catch (e) {
    if (e instanceof NoDriver) return undefined; // it ended meanwhile: this run goes on
    throw e;
  }
}

/**
 * Declares the driver's options that `promote` and `abort` (its rollback with no driver) share,
 * once: the stack, the engine (`engineDefault`: promote's; abort's has none, so that "no --engine"
 * can be told apart), variables, the cluster's access, the Envoy pods and the rollout timeout.
 */
export function addEngineOptions(command: Command, engineDefault?: string): Command {
  command
    .option(
      "--stack <folder|name>",
      "the synthesized stack (a folder with cdk.tf.json, or a name under cdktf.out/stacks)",
    )
    .option("--promotion <path>", "the TritonPromotion, when the stack declares several");
  addOption(command, {
    usage: `--engine <${ENGINE_KINDS.join("|")}>`,
    description: "what applies the stack (terraform honours TERRAFORM_BINARY_NAME)",
    ...(engineDefault ? { default: engineDefault } : {}),
  });
  command
    .option("--var <name=value>", "a variable for every apply (repeatable)", collect, [])
    .option("--var-file <file>", "a variables file for every apply (repeatable)", collect, []);
  addShared(command, ["kubeconfig", "context"]);
  command.option(
    "--envoy-url <url>",
    "an Envoy pod's admin URL (its port 9901; repeatable) instead of a port-forward to each Envoy pod",
    collect,
    [],
  );
  return addShared(command, ["rolloutTimeout"]);
}

/**
 * The driver's options that `promote` and `abort` (its rollback with no driver) share: the stack,
 * the engine and its variables, the cluster access, the Envoy pods, the rollout timeout, checked.
 */
export async function engineOptions(flags: Record<string, any>, io: Io) {
  const { PromoteError } = await import("../run/promote/driver");
  if (!ENGINE_KINDS.includes(flags.engine))
    throw new PromoteError(`--engine ${flags.engine}: expected one of ${ENGINE_KINDS.join(", ")}`);
  const timeout = Number(flags.rolloutTimeout);
  if (!Number.isInteger(timeout) || timeout < 1)
    throw new PromoteError(`--rollout-timeout ${flags.rolloutTimeout}: expected a whole number of seconds`);
  for (const kv of flags.var)
    if (!/^[A-Za-z_][A-Za-z0-9_-]*=/.test(kv))
      throw new PromoteError(`--var ${JSON.stringify(kv)}: expected name=value`);
  return {
    stack: flags.stack as string | undefined,
    promotion: flags.promotion as string | undefined,
    engine: flags.engine as EngineKind,
    vars: flags.var as string[],
    varFiles: flags.varFile as string[],
    kube: { kubeconfig: flags.kubeconfig as string | undefined, context: flags.context as string | undefined },
    envoyUrls: flags.envoyUrl as string[],
    rolloutTimeoutSeconds: timeout,
    out: io.out,
    err: io.err,
  };
}
