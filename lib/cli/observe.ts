// The CLI's `report` and `status` commands. Their modules (Vega among them) load only when one of
// them runs, so `cdktf-triton verify` inside a gate's provisioner starts as fast as before.
import { REPORT_EXIT, STATUS_EXIT } from "../core/exit-codes";
import { Command } from "commander";
import { addShared, CLUSTER, collect, Io } from "./common";
import { exitCodesHelp } from "./exit-codes";

export function addObserveCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  addReportCommand(program, io, setCode);
  addStatusCommand(program, io, setCode);
}

/** `report`: the HTML report of a pair's records. */
function addReportCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const report = program
    .command("report")
    .description(
      "Write a self-contained HTML report (version overview, latency, promotions, failover events) from a pair's history, JSON reports and Envoy logs (--app: the cluster's history ConfigMap and the Envoys' logs)",
    );
  addShared(report, [...CLUSTER, "historyFile"])
    .option(
      "--reports <dir|file>",
      "the gate's or the promotion driver's JSON reports: a folder or a file (repeatable)",
      collect,
      [],
    )
    .option("--envoy-log <file>", "an Envoy's stdout saved to a file (repeatable)", collect, [])
    .option("--out <file.html>", "write here (an existing file is not replaced)")
    .option("--out-dir <dir>", "write <dir>/report-<time>.html (the default, in the current folder)")
    .option("--title <text>", "the page's title", "cdktf-triton report")
    .addHelpText("after", exitCodesHelp("report"))
    .action(async (flags) => {
      try {
        const { emptyData, addHistoryFile, addReports, addEnvoyLogFile } = await import("../run/observe/sources");
        const { renderReport, writeReportFile } = await import("../run/observe/html-report");
        if (flags.out && flags.outDir) throw new Error("give --out or --out-dir, not both");
        const data = emptyData();
        if (!flags.app && !flags.historyFile.length && !flags.reports.length && !flags.envoyLog.length) {
          throw new Error(
            "nothing to report: give --app (the cluster's history and Envoy logs), --history-file, --reports or --envoy-log",
          );
        }
        if (flags.app) {
          const { addClusterSources } = await import("../run/observe/status");
          await addClusterSources(
            data,
            { kubeconfig: flags.kubeconfig, context: flags.context },
            flags.namespace,
            flags.app,
          );
        }
        flags.historyFile.forEach((f: string) => addHistoryFile(data, f));
        flags.reports.forEach((f: string) => addReports(data, f));
        flags.envoyLog.forEach((f: string) => addEnvoyLogFile(data, f));
        // A page with nothing on it is no report: say what could not be read, and write nothing.
        if (
          !data.history.length &&
          !data.verifications.length &&
          !data.promotions.length &&
          !data.events.length &&
          !data.requests.length
        ) {
          const [first, ...more] = data.problems;
          throw new Error(
            `nothing to report: ${first ? `${first}${more.length ? ` (and ${more.length} more source${more.length === 1 ? "" : "s"} unreadable)` : ""}` : "the sources hold no record, report or Envoy log line"}`,
          );
        }
        const html = await renderReport(data, { title: flags.title });
        const file = writeReportFile(
          html,
          flags.out ? { file: flags.out } : { dir: flags.outDir ?? ".", prefix: "report" },
        );
        for (const p of data.problems) io.err.write(`cdktf-triton report: ${p}\n`);
        io.out.write(`${file}\n`);
        setCode(REPORT_EXIT.written);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        io.err.write(
          `cdktf-triton report: ${err.code === "EEXIST" ? `${flags.out} exists: each report is its own file, give another --out` : err.message}\n`,
        );
        setCode(REPORT_EXIT.error);
      }
    });
}

/** `status`: each pair of a namespace, once or watched. */
function addStatusCommand(program: Command, io: Io, setCode: (code: number) => void): void {
  const status = program
    .command("status")
    .description(
      "Print each blue/green pair of a namespace (--app: only that one): the serving color, each color's version, fingerprint, replicas and Helm revision, the last verdicts and promotions, and its Envoys' weights, ejections and health events",
    );
  addShared(status, [...CLUSTER, "json"])
    .option("--no-envoy", "skip the Envoys (no port-forward, no logs)")
    .option("--history-count <n>", "how many history records per pair", "5")
    .option("--watch", "refresh until the promotion ends: one screen on a terminal, a line per change otherwise")
    .addHelpText("after", exitCodesHelp("status"))
    .action(async (flags) => {
      try {
        const { collectStatus, watchStatus } = await import("../run/observe/status");
        const { statusText } = await import("../run/observe/status-text");
        const n = Number(flags.historyCount);
        if (!Number.isInteger(n) || n < 0)
          throw new Error(`--history-count ${flags.historyCount}: expected a whole number`);
        if (flags.watch && flags.json) throw new Error("--watch prints text: give --watch or --json, not both");
        if (flags.watch && flags.envoy === false)
          throw new Error("--watch shows each Envoy's weights: drop --no-envoy");
        if (flags.watch) {
          const status = await watchStatus({ kubeconfig: flags.kubeconfig, context: flags.context }, flags.namespace, {
            app: flags.app,
            historyLimit: n,
            out: io.out,
          });
          return setCode(status.pairs.length ? STATUS_EXIT.printed : STATUS_EXIT.noPair);
        }
        const status = await collectStatus({ kubeconfig: flags.kubeconfig, context: flags.context }, flags.namespace, {
          app: flags.app,
          envoy: flags.envoy,
          historyLimit: n,
        });
        io.out.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : `${statusText(status)}\n`);
        setCode(status.pairs.length ? STATUS_EXIT.printed : STATUS_EXIT.noPair);
      } catch (e) {
        io.err.write(`cdktf-triton status: ${(e as Error).message}\n`);
        setCode(STATUS_EXIT.error);
      }
    });
}
