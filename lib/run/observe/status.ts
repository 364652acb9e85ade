// `cdktf-triton status`: what a namespace's blue/green pairs are doing now, read from the cluster
// with the user's kubeconfig (kubectl): the active Service's selector (the serving color), each
// color's Deployment (version, desired and ready replicas, its HPA), Helm's release records (the
// revision), the history ConfigMap (the last verdicts and promotions), and each Envoy of ours in
// front of the pair: the weights each pod serves (its route tables' and its runtime's), its
// clusters' health (its admin interface, through a port-forward) and the health checkers' events
// (its logs). Whatever cannot be read is a problem in the output, never a crash. Runtime code: no
// cdktf here.
import { historyConfigMap } from "../../core/names";
import { parse as parseYaml } from "yaml";
import { KubeAccess, kubectlFailure, runKubectl, runningPods } from "../kube/kubectl";
import { getText } from "../http";
import { parsePrometheusText } from "../../core/prometheus-text";
import { ClusterHistory } from "../records/history";
import { HistoryRecord } from "../records";
import { PAIR_ANNOTATIONS, PAIR_LABEL } from "../../core/pair";
import { startPortForward } from "../kube/port-forward";
import { isColor } from "../../core/colors";
import { ENVOY_ADMIN_PORT, isOpsCluster, parseWeightsVersion } from "../../core/envoy";
import { readServed, sameWeights, SplitRouteClusters, weightsText } from "../envoys";
import { FailoverEvent, parseEnvoyLog } from "./envoy-log";
import { Holder, holderText, PairLease, Progress } from "../promote/lease";
import { addEnvoyLog, addHistoryRecords, ObservedData } from "./sources";

export interface ColorStatus {
  readonly color: string;
  /** The Deployment (and Helm release) name. */
  readonly release: string;
  readonly version: string;
  /** The serving color's from the active Service; the other's from its last passed verification. */
  readonly fingerprint?: string;
  readonly fingerprintFrom?: "serving" | "last verified";
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly helmRevision?: number;
  readonly helmStatus?: string;
  readonly autoscaler?: { readonly min: number; readonly max: number; readonly current?: number };
}

export interface EnvoyClusterHealth {
  readonly cluster: string;
  readonly healthy: number;
  readonly total: number;
  /** Hosts ejected by outlier detection now. */
  readonly ejected: number;
}

export interface EnvoyStatus {
  readonly name: string;
  readonly pods: string[];
  /** The weights each pod serves (its runtime's where set, else its route tables'), one per pod and split route. */
  readonly weights: string[];
  /** Pods that serve weights from their runtime (a promotion's push), with their file's. */
  readonly runtime: string[];
  readonly clusters: EnvoyClusterHealth[];
  /** Hosts whose last health event took them out of rotation (ejected, or failed since). */
  readonly hostsOut: string[];
  /** The health checkers' events in the pods' logs, oldest first. */
  readonly events: FailoverEvent[];
  readonly problems: string[];
}

/** The pair's promotion driver, from its lease: who holds it and what it published. */
export interface DriverStatus {
  /** A driver holds the lease and renews it. */
  readonly live: boolean;
  readonly holder?: Holder;
  readonly renewTime?: string;
  /** What the driver last published (step, bake left, last measurements); phase "ended" after it let go. */
  readonly progress?: Progress;
}

export interface PairStatus {
  readonly app: string;
  /** The promotion driver's lease, when one ever ran for the pair. */
  readonly driver?: DriverStatus;
  readonly namespace: string;
  /** The color the active Service selects ("" when it selects none). */
  readonly serving: string;
  readonly colors: ColorStatus[];
  /** The newest history records, oldest first. */
  readonly history: HistoryRecord[];
  readonly envoys: EnvoyStatus[];
  readonly problems: string[];
}

export interface NamespaceStatus {
  readonly namespace: string;
  readonly at: string;
  readonly pairs: PairStatus[];
}

async function getJson(access: KubeAccess, args: string[]): Promise<any> {
  const r = await runKubectl(access, [...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(kubectlFailure(r, access));
  return JSON.parse(r.stdout);
}

/** Reads the pairs of a namespace (or one pair). */
export async function collectStatus(
  access: KubeAccess,
  namespace: string,
  options: { app?: string; envoy?: boolean; historyLimit?: number } = {},
): Promise<NamespaceStatus> {
  const at = new Date().toISOString();
  const services = (await getJson(access, ["get", "services", "-n", namespace, "-l", "cdktf-triton/role=active"]))
    .items as any[];
  const pairs = services.filter((s) => !options.app || s.metadata.labels?.app === options.app);
  if (options.app && pairs.length === 0)
    throw new Error(
      `no blue/green pair ${options.app} in namespace ${namespace} (no Service labelled cdktf-triton/role=active, app=${options.app})`,
    );
  const deployments = (await getJson(access, ["get", "deployments", "-n", namespace])).items as any[];
  const hpas = ((
    await getJson(access, ["get", "horizontalpodautoscalers", "-n", namespace]).catch(() => ({ items: [] }))
  ).items ?? []) as any[];
  const helm = ((
    await getJson(access, ["get", "secrets", "-n", namespace, "-l", "owner=helm"]).catch(() => ({ items: [] }))
  ).items ?? []) as any[];
  const configMaps =
    options.envoy === false
      ? []
      : ((
          await getJson(access, [
            "get",
            "configmaps",
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/name=envoy,app.kubernetes.io/managed-by=cdktf-triton",
          ])
        ).items as any[]);
  const out: PairStatus[] = [];
  for (const svc of pairs) {
    const app: string = svc.metadata.labels.app;
    const problems: string[] = [];
    const serving: string = svc.spec.selector?.color ?? "";
    const annotations: Record<string, string> = svc.metadata.annotations ?? {};
    const colors: ColorStatus[] = deployments
      .filter((d) => d.metadata.labels?.app === app && isColor(d.metadata.labels?.color))
      .sort((a, b) => a.metadata.labels.color.localeCompare(b.metadata.labels.color))
      .map((d) => {
        const color = d.metadata.labels.color as string;
        const release = d.metadata.name as string;
        const verified = (annotations[PAIR_ANNOTATIONS.verified(color)] ?? "").split(" ")[0];
        const fingerprint =
          color === serving ? annotations[PAIR_ANNOTATIONS.servingFingerprint] : verified || undefined;
        const records = helm
          .filter((s) => s.metadata.labels?.name === release)
          .map((s) => ({ revision: Number(s.metadata.labels.version), status: s.metadata.labels.status as string }));
        const latest = records.sort((a, b) => b.revision - a.revision)[0];
        const hpa = hpas.find((h) => h.spec?.scaleTargetRef?.name === release);
        return {
          color,
          release,
          version: d.metadata.labels.version ?? "",
          ...(fingerprint
            ? { fingerprint, fingerprintFrom: color === serving ? ("serving" as const) : ("last verified" as const) }
            : {}),
          desiredReplicas: d.spec.replicas ?? 0,
          readyReplicas: d.status?.readyReplicas ?? 0,
          ...(latest ? { helmRevision: latest.revision, helmStatus: latest.status } : {}),
          ...(hpa
            ? {
                autoscaler: {
                  min: hpa.spec.minReplicas ?? 1,
                  max: hpa.spec.maxReplicas,
                  ...(hpa.status?.currentReplicas !== undefined ? { current: hpa.status.currentReplicas } : {}),
                },
              }
            : {}),
        };
      });
    if (colors.length === 0) problems.push(`no Deployment labelled app=${app} with a color in ${namespace}`);
    let history: HistoryRecord[] = [];
    try {
      const loaded = await pairHistory(access, namespace, app).load();
      loaded.problems.forEach((p) => problems.push(`history: ${p}, skipped`));
      history = loaded.records.slice(-(options.historyLimit ?? 5));
    } catch (e) {
      problems.push(`history: ${(e as Error).message}`);
    }
    let driver: DriverStatus | undefined;
    try {
      const lease = await new PairLease(access, namespace, app).read();
      if (lease.exists)
        driver = {
          live: lease.live,
          ...(lease.holder ? { holder: lease.holder } : {}),
          ...(lease.renewTime ? { renewTime: lease.renewTime } : {}),
          ...(lease.progress ? { progress: lease.progress } : {}),
        };
      if (lease.exists && !lease.live && lease.holderIdentity && lease.progress?.phase !== "ended") {
        problems.push(
          `the promotion driver ${holderText(lease.holder, lease.holderIdentity)} is gone (its lease expired; last renewed ${lease.renewTime}): \`cdktf-triton abort --engine ...\` rolls the pair back, \`promote\` resumes it`,
        );
      }
    } catch (e) {
      problems.push(`promotion lease: ${(e as Error).message}`);
    }
    const envoys: EnvoyStatus[] = [];
    if (options.envoy !== false)
      for (const envoyCm of frontingEnvoys(configMaps, app, namespace))
        envoys.push(await envoyStatus(access, namespace, envoyCm.metadata.name, envoyCm.data ?? {}));
    out.push({ app, namespace, ...(driver ? { driver } : {}), serving, colors, history, envoys, problems });
  }
  return { namespace, at, pairs: out };
}

/**
 * Our Envoys in front of a pair: a TritonCanary's (labelled with the pair), one whose endpoints are
 * the pair's Services, and one whose endpoints are such an Envoy's Service (a FailoverPool before a
 * canary).
 */
export function frontingEnvoys(configMaps: readonly any[], app: string, namespace: string): any[] {
  const hostsOf = (cm: any): string[] => {
    try {
      return (parseYaml(cm.data?.["cds.yaml"] ?? "")?.resources ?? []).flatMap((c: any) =>
        (c.load_assignment?.endpoints ?? []).flatMap((e: any) =>
          (e.lb_endpoints ?? []).map((l: any) => String(l.endpoint?.address?.socket_address?.address ?? "")),
        ),
      );
    } catch {
      return [];
    }
  };
  const names = new Set([app, `${app}-preview`, `${app}-blue`, `${app}-green`]);
  const reaches = (host: string, targets: Set<string>) =>
    [...targets].some((n) => host === n || host.startsWith(`${n}.${namespace}.`) || host === `${n}.${namespace}`);
  const fronting = configMaps.filter(
    (cm) => cm.metadata.labels?.[PAIR_LABEL] === app || hostsOf(cm).some((h) => reaches(h, names)),
  );
  const envoyNames = new Set(fronting.map((cm) => cm.metadata.name as string));
  const second = configMaps.filter(
    (cm) => !envoyNames.has(cm.metadata.name) && hostsOf(cm).some((h) => reaches(h, envoyNames)),
  );
  return [...fronting, ...second];
}

/** The split routes of an Envoy's ConfigMap (route name, clusters), and the weights it carries (what was applied). */
function splitRoutes(data: Record<string, string>): {
  routes: SplitRouteClusters[];
  applied?: Map<string, Map<string, number>>;
} {
  const routes = new Map<string, Set<string>>();
  let applied: Map<string, Map<string, number>> | undefined;
  for (const [file, text] of Object.entries(data)) {
    if (!/^rds-\d+\.yaml$/.test(file)) continue;
    try {
      const doc = parseYaml(text);
      if (typeof doc?.version_info === "string") applied ??= parseWeightsVersion(doc.version_info);
      for (const table of doc?.resources ?? []) {
        for (const vh of table.virtual_hosts ?? []) {
          for (const r of vh.routes ?? []) {
            const clusters = r.route?.weighted_clusters?.clusters;
            if (!r.name || !Array.isArray(clusters)) continue;
            const set = routes.get(r.name) ?? new Set<string>();
            for (const c of clusters) set.add(c.name);
            routes.set(r.name, set);
          }
        }
      }
    } catch {
      // A table that does not parse is Envoy's to refuse; the pods' own answers still show.
    }
  }
  return { routes: [...routes].map(([route, clusters]) => ({ route, clusters: [...clusters] })), applied };
}

/** One Envoy: each pod's admin interface (weights, cluster health) and logs (health events). */
export async function envoyStatus(
  access: KubeAccess,
  namespace: string,
  name: string,
  configMapData: Record<string, string> = {},
): Promise<EnvoyStatus> {
  const problems: string[] = [];
  const weights: string[] = [];
  const runtime: string[] = [];
  const { routes, applied } = splitRoutes(configMapData);
  const clusters = new Map<string, { healthy: number; total: number; ejected: number }>();
  const events: FailoverEvent[] = [];
  let podNames: string[] = [];
  try {
    podNames = await runningPods(access, namespace, name);
    if (!podNames.length) problems.push(`no running pod of Envoy ${name}`);
  } catch (e) {
    problems.push(`Envoy ${name}: ${(e as Error).message}`);
  }
  for (const pod of podNames) {
    try {
      const pf = await startPortForward({
        target: `pod/${pod}:${ENVOY_ADMIN_PORT}`,
        namespace,
        kubeconfig: access.kubeconfig,
        context: access.context,
        kubectl: access.kubectl,
      });
      try {
        for (const split of routes) {
          const s = await readServed(pf.url, split);
          weights.push(weightsText(split.route, s.served));
          if (!Object.keys(s.overrides).length) continue;
          runtime.push(`${pod}: ${weightsText(split.route, s.served)} (its file: ${weightsText(split.route, s.file)})`);
          const wanted = applied?.get(split.route);
          if (wanted && !sameWeights(s.served, Object.fromEntries(wanted))) {
            problems.push(
              `Envoy pod ${pod} serves ${weightsText(split.route, s.served)} from its runtime while the applied ConfigMap has ${weightsText(split.route, Object.fromEntries(wanted))}: ` +
                "a promotion is moving the weights, or one stopped between a push and its apply (`cdktf-triton promote` sets it right)",
            );
          }
        }
        for (const s of parsePrometheusText(await getText(`${pf.url}/stats/prometheus`))) {
          const cluster = s.labels.envoy_cluster_name;
          if (!cluster || isOpsCluster(cluster)) continue;
          const c = clusters.get(cluster) ?? { healthy: 0, total: 0, ejected: 0 };
          if (s.name === "envoy_cluster_membership_healthy") c.healthy += s.value;
          else if (s.name === "envoy_cluster_membership_total") c.total += s.value;
          else if (s.name === "envoy_cluster_outlier_detection_ejections_active") c.ejected += s.value;
          else continue;
          clusters.set(cluster, c);
        }
      } finally {
        pf.stop();
      }
    } catch (e) {
      problems.push(`Envoy pod ${pod}: its admin interface could not be read (${(e as Error).message})`);
    }
    const logs = await runKubectl(access, ["logs", `pod/${pod}`, "-n", namespace, "--tail=5000"]);
    if (logs.code !== 0)
      problems.push(
        `Envoy pod ${pod}: its logs could not be read (${kubectlFailure(logs, access)}): no health events from it`,
      );
    else events.push(...parseEnvoyLog(logs.stdout, pod).events);
  }
  events.sort((a, b) => a.at.localeCompare(b.at));
  const last = new Map<string, FailoverEvent>();
  for (const e of events) if (e.kind !== "degraded" && e.kind !== "not-degraded") last.set(`${e.cluster} ${e.host}`, e);
  const hostsOut = [...last.entries()].filter(([, e]) => e.kind === "ejected" || e.kind === "failed").map(([k]) => k);
  return {
    name,
    pods: podNames,
    weights,
    runtime,
    clusters: [...clusters.entries()].map(([cluster, c]) => ({ cluster, ...c })),
    hostsOut,
    events,
    problems,
  };
}

/** A pair's history ConfigMap (the one `promote` and the gate write). */
const pairHistory = (access: KubeAccess, namespace: string, app: string) =>
  new ClusterHistory(access, namespace, historyConfigMap(app), 1000);

/** For the report: the pair's history ConfigMap and its Envoys' logs, read from the cluster. */
export async function addClusterSources(
  data: ObservedData,
  access: KubeAccess,
  namespace: string,
  app: string,
): Promise<void> {
  const where = `history ConfigMap ${namespace}/${historyConfigMap(app)}`;
  try {
    const loaded = await pairHistory(access, namespace, app).load();
    if (!loaded.exists)
      data.problems.push(`${where} does not exist: no promotion or gate verdict recorded in the cluster`);
    else addHistoryRecords(data, loaded.records, loaded.problems, where);
  } catch (e) {
    data.problems.push((e as Error).message); // names the ConfigMap
  }
  const cms = await runKubectl(access, [
    "get",
    "configmaps",
    "-n",
    namespace,
    "-l",
    "app.kubernetes.io/name=envoy,app.kubernetes.io/managed-by=cdktf-triton",
    "-o",
    "json",
  ]);
  if (cms.code !== 0) {
    data.problems.push(`Envoys in ${namespace}: cannot be listed (${kubectlFailure(cms, access)}): no failover events`);
    return;
  }
  for (const envoy of frontingEnvoys(JSON.parse(cms.stdout).items, app, namespace)) {
    const name = envoy.metadata.name;
    const pods = await runningPods(access, namespace, name).catch((e: Error) => {
      data.problems.push(`Envoy ${name}: ${e.message}: no failover events from it`);
      return [] as string[];
    });
    for (const pod of pods) {
      const logs = await runKubectl(access, ["logs", `pod/${pod}`, "-n", namespace, "--tail=20000"]);
      if (logs.code !== 0)
        data.problems.push(
          `Envoy pod ${namespace}/${pod}: logs cannot be read (${kubectlFailure(logs, access)}): no failover events from it`,
        );
      else addEnvoyLog(data, logs.stdout, `Envoy pod ${namespace}/${pod}`, pod);
    }
  }
}

/** The status as text: a block per pair. */
export function statusText(s: NamespaceStatus): string {
  if (!s.pairs.length) return `no blue/green pair in namespace ${s.namespace}`;
  const lines: string[] = [];
  for (const p of s.pairs) {
    lines.push(`${p.app} (${p.namespace}): ${p.serving ? `${p.serving} serves` : "no color serves"}`);
    const rows = p.colors.map((c) => [
      `${c.color}${c.color === p.serving ? "*" : ""}`,
      c.version,
      c.fingerprint
        ? `${c.fingerprint.slice(0, 16)}${c.fingerprintFrom === "last verified" ? " (verified)" : ""}`
        : "-",
      `${c.readyReplicas}/${c.desiredReplicas}`,
      c.autoscaler ? `${c.autoscaler.min}-${c.autoscaler.max}` : "-",
      c.helmRevision !== undefined ? `${c.helmRevision} ${c.helmStatus ?? ""}`.trim() : "-",
    ]);
    lines.push(...table(["COLOR", "VERSION", "FINGERPRINT", "READY", "HPA", "HELM"], rows).map((l) => `  ${l}`));
    if (p.driver?.live && p.driver.progress) {
      lines.push(`  promotion ${p.driver.progress.promotion}: ${progressText(p.driver.progress)}`);
      lines.push(`    driver: ${holderText(p.driver.holder)} (lease renewed ${p.driver.renewTime})`);
      for (const m of p.driver.progress.measurements) lines.push(`    ${measurementText(m)}`);
    } else if (p.driver?.live) lines.push(`  promotion: starting (driver ${holderText(p.driver.holder)})`);
    if (p.history.length) {
      lines.push("  history:");
      for (const h of p.history) {
        lines.push(
          h.kind === "promotion"
            ? `    ${h.startedAt}  promotion ${h.from.color} ${h.from.version} -> ${h.to.color} ${h.to.version}: ${h.status}${h.reason ? ` (${h.reason})` : ""} [${h.steps.map((st) => `${st.weightPercent}%`).join(" ")}]`
            : `    ${h.at}  verification ${h.color}: ${h.verdict}${h.message ? ` (${h.message})` : ""}`,
        );
      }
    } else lines.push("  history: none recorded");
    for (const e of p.envoys) {
      lines.push(`  envoy ${e.name} (${e.pods.length} pod${e.pods.length === 1 ? "" : "s"}):`);
      for (const w of [...new Set(e.weights)]) lines.push(`    serves: ${w}`);
      for (const r of e.runtime) lines.push(`    runtime: ${r}`);
      for (const c of e.clusters)
        lines.push(`    ${c.cluster}: ${c.healthy}/${c.total} healthy${c.ejected ? `, ${c.ejected} ejected` : ""}`);
      lines.push(`    out of rotation: ${e.hostsOut.length ? e.hostsOut.join(", ") : "none"}`);
      for (const ev of e.events.slice(-5))
        lines.push(`    ${ev.at}  ${ev.kind} ${ev.cluster} ${ev.host}${ev.detail ? ` (${ev.detail})` : ""}`);
      for (const pr of e.problems) lines.push(`    ! ${pr}`);
    }
    for (const pr of p.problems) lines.push(`  ! ${pr}`);
  }
  return lines.join("\n");
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * "blue v1 -> green v2: step 2/3 (50 %), baking, 12 s left" (or paused, applying...). The driver
 * publishes the bake left at `at` (renewing every 5 s): counted down from there.
 */
export function progressText(p: Progress, now = Date.now()): string {
  // No step once the run rolled back or switched: its outcome instead.
  const step =
    p.step > 0
      ? `step ${p.step}/${p.steps} (${p.weightPercent} %)`
      : p.phase === "starting" || !p.status || p.status === "running"
        ? "before the first step"
        : p.status;
  const left =
    p.bakeLeftSeconds === undefined
      ? "?"
      : Math.max(0, Math.ceil(p.bakeLeftSeconds - Math.max(0, now - Date.parse(p.at)) / 1000));
  const phase =
    p.phase === "paused"
      ? `paused by ${p.pausedBy} since ${p.pausedAt}, ${p.bakeLeftSeconds ?? "?"} s of bake left when resumed`
      : p.phase === "baking"
        ? `baking, ${left} s left`
        : p.phase;
  return `${p.from.color} ${p.from.version} -> ${p.to.color} ${p.to.version}: ${step}, ${phase}`;
}

/** "request-success-rate = 99.8 (min 99): pass". */
export function measurementText(m: Progress["measurements"][number]): string {
  const limit = [m.min !== undefined ? `min ${m.min}` : "", m.max !== undefined ? `max ${m.max}` : ""]
    .filter(Boolean)
    .join(", ");
  return `${m.metric} = ${m.value ?? "no data"}${limit ? ` (${limit})` : ""}: ${m.verdict}`;
}

/**
 * `status --watch`: the pairs refreshed every `everyMs` until no driver holds any of them. On a
 * terminal the whole screen is redrawn; elsewhere a line per pair is printed when something but
 * the time left changed (the step, the phase, a measurement, an Envoy's weights or health).
 */
export async function watchStatus(
  access: KubeAccess,
  namespace: string,
  options: { app?: string; historyLimit?: number; everyMs?: number; out: NodeJS.WritableStream & { isTTY?: boolean } },
): Promise<NamespaceStatus> {
  const last = new Map<string, string>();
  let seenLive = false;
  let failingSince: number | undefined;
  let lastProblem = "";
  for (;;) {
    let status: NamespaceStatus;
    try {
      status = await collectStatus(access, namespace, { app: options.app, historyLimit: options.historyLimit });
      failingSince = undefined;
    } catch (e) {
      // A refresh that fails (the API server restarting, a network blip) is said once and retried for a minute.
      const problem = (e as Error).message;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > 60_000) throw new Error(`${problem} (for a minute; the watch stops)`);
      if (problem !== lastProblem)
        options.out.write(`${new Date().toISOString()}  could not refresh (retrying): ${problem}\n`);
      lastProblem = problem;
      await new Promise((r) => setTimeout(r, options.everyMs ?? 2000));
      continue;
    }
    const live = status.pairs.some((p) => p.driver?.live);
    seenLive ||= live;
    if (options.out.isTTY)
      options.out.write(
        `\x1b[2J\x1b[H${statusText(status)}\n\n${live ? `refreshed ${status.at}; Ctrl-C leaves` : "no promotion running"}\n`,
      );
    else {
      for (const p of status.pairs) {
        const { key, line } = watchLine(p);
        if (last.get(p.app) !== key) options.out.write(`${status.at}  ${line}\n`);
        last.set(p.app, key);
      }
    }
    if (!live) {
      if (!options.out.isTTY)
        options.out.write(
          `${new Date().toISOString()}  ${seenLive ? "the promotion ended" : "no promotion running"}\n`,
        );
      return status;
    }
    await new Promise((r) => setTimeout(r, options.everyMs ?? 2000));
  }
}

/** A pair in one line, and the same without what changes every second (the time left). */
export function watchLine(p: PairStatus, now = Date.now()): { key: string; line: string } {
  const envoys = p.envoys.map((e) => {
    const health = e.clusters.map((c) => `${c.cluster} ${c.healthy}/${c.total}`).join(" ");
    return `envoy ${e.name}: ${e.weights.length ? e.weights.map((w, i) => `${e.pods[i] ?? "?"} ${w.replace(/^weights \S+: /, "")}`).join(", ") : "no weights read"}${health ? `; ${health}` : ""}${e.problems.length ? `; ${e.problems.length} problem(s)` : ""}`;
  });
  const d = p.driver;
  const head =
    d?.live && d.progress
      ? progressText(d.progress, now)
      : d?.live
        ? "starting"
        : `${p.serving || "no color"} serves; no promotion running`;
  const measurements = d?.live && d.progress ? d.progress.measurements.map(measurementText) : [];
  const parts = [`${p.app}: ${head}`, ...measurements, ...envoys, ...p.problems.map((x) => `! ${x}`)];
  const line = parts.join(" · ");
  return { key: line.replace(/\d+ s (of bake )?left/g, "").replace(/ = [\d.e+-]+/g, ""), line };
}
