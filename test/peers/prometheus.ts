// The real Prometheus server (built pinned by scripts/setup-tools.sh from the Go module
// github.com/prometheus/prometheus), scraping our peers on loopback every second. Targets come from
// a file (file_sd), so a test relabels a server (which color it is) by rewriting that file, as a
// ServiceMonitor's relabeling follows a pod's labels.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, RunningServer, started } from "./servers";
import { until } from "./wait";

export const PROMETHEUS = path.resolve(__dirname, "..", "..", ".tools", "bin", "prometheus");

export interface ScrapeTarget {
  /** host:port */
  readonly address: string;
  readonly metricsPath: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface RunningPrometheus extends RunningServer {
  /** Replaces the scrape targets; resolves once Prometheus scrapes exactly these (its /api/v1/targets). */
  setTargets(targets: readonly ScrapeTarget[]): Promise<void>;
}

export async function startPrometheus(targets: readonly ScrapeTarget[]): Promise<RunningPrometheus> {
  if (!fs.existsSync(PROMETHEUS))
    throw new Error(`${PROMETHEUS} is missing: run scripts/setup-tools.sh prometheus (npm test does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-"));
  const port = await freePort();
  // One job per metrics path (file_sd cannot set the path per target without relabeling).
  const sd = path.join(dir, "targets.json");
  const write = (list: readonly ScrapeTarget[]) => {
    fs.writeFileSync(
      `${sd}.tmp`,
      JSON.stringify(
        list.map((t) => ({ targets: [t.address], labels: { ...t.labels, __metrics_path__: t.metricsPath } })),
      ),
    );
    fs.renameSync(`${sd}.tmp`, sd);
  };
  write(targets);
  fs.writeFileSync(
    path.join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: peers\n    file_sd_configs:\n      - files: [${JSON.stringify(sd)}]\n        refresh_interval: 1s\n`,
  );
  const proc = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const server = await started(proc, url, undefined, "/-/ready", () =>
    fs.rmSync(dir, { recursive: true, force: true }),
  );
  const setTargets = async (list: readonly ScrapeTarget[]) => {
    write(list);
    const want = list.map((t) => `http://${t.address}${t.metricsPath}`).sort();
    // file_sd re-reads the file on change (inotify) or every second: 20 s is slack for a loaded machine.
    await until(
      "Prometheus scraping the new targets",
      20_000,
      async () => {
        const body = (await (await fetch(`${url}/api/v1/targets?state=active`)).json()) as {
          data: { activeTargets: { scrapeUrl: string; labels: Record<string, string>; health: string }[] };
        };
        const active = body.data.activeTargets;
        const urls = active.map((t) => t.scrapeUrl).sort();
        const labelled = list.every((t) =>
          active.some(
            (a) =>
              a.scrapeUrl === `http://${t.address}${t.metricsPath}` &&
              Object.entries(t.labels).every(([k, v]) => a.labels[k] === v) &&
              a.health === "up",
          ),
        );
        return JSON.stringify(urls) === JSON.stringify(want) && labelled;
      },
      250,
    );
  };
  await setTargets(targets);
  return { ...server, setTargets };
}
