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
import { pairHistory } from "../records/history";
import { HistoryRecord } from "../records";
import { PAIR_ANNOTATIONS, PAIR_LABEL } from "../../core/pair";
import { startPortForward } from "../kube/port-forward";
import { isColor } from "../../core/colors";
import { ENVOY_ADMIN_PORT, isOpsCluster, parseWeightsVersion } from "../../core/envoy";
import { readServed, sameWeights, SplitRouteClusters, weightsText } from "../envoys";
import { FailoverEvent, parseEnvoyLog } from "./envoy-log";
import { holderText, PairLease } from "../promote/lease";
import { addEnvoyLog, addHistoryRecords, ObservedData } from "./sources";
import {
  ColorStatus,
  DriverStatus,
  EnvoyClusterHealth,
  EnvoyStatus,
  NamespaceStatus,
  PairStatus,
} from "./status-types";
import { statusText, watchLine } from "./status-text";

export type { ColorStatus, DriverStatus, EnvoyClusterHealth, EnvoyStatus, NamespaceStatus, PairStatus };

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
    const colors = colorStatuses(deployments, helm, hpas, app, serving, annotations);
    if (colors.length === 0) problems.push(`no Deployment labelled app=${app} with a color in ${namespace}`);
    const history = await recentHistory(access, namespace, app, options.historyLimit ?? 5, problems);
    const driver = await driverStatus(access, namespace, app, problems);
    const envoys: EnvoyStatus[] = [];
    if (options.envoy !== false)
      for (const envoyCm of frontingEnvoys(configMaps, app, namespace))
        envoys.push(await envoyStatus(access, namespace, envoyCm.metadata.name, envoyCm.data ?? {}));
    out.push({ app, namespace, ...(driver ? { driver } : {}), serving, colors, history, envoys, problems });
  }
  return { namespace, at, pairs: out };
}

/** Each color's Deployment as status shows it: its version, fingerprint, replicas, Helm revision and autoscaler. */
function colorStatuses(
  deployments: any[],
  helm: any[],
  hpas: any[],
  app: string,
  serving: string,
  annotations: Record<string, string>,
): ColorStatus[] {
  return deployments
    .filter((d) => d.metadata.labels?.app === app && isColor(d.metadata.labels?.color))
    .sort((a, b) => a.metadata.labels.color.localeCompare(b.metadata.labels.color))
    .map((d) => {
      const color = d.metadata.labels.color as string;
      const release = d.metadata.name as string;
      const verified = (annotations[PAIR_ANNOTATIONS.verified(color)] ?? "").split(" ")[0];
      const fingerprint = color === serving ? annotations[PAIR_ANNOTATIONS.servingFingerprint] : verified || undefined;
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
}

/** The pair's last `limit` history records (a problem said, not thrown). */
async function recentHistory(
  access: KubeAccess,
  namespace: string,
  app: string,
  limit: number,
  problems: string[],
): Promise<HistoryRecord[]> {
  try {
    const loaded = await pairHistory(access, namespace, app).load();
    loaded.problems.forEach((p) => problems.push(`history: ${p}, skipped`));
    return loaded.records.slice(-limit);
  } catch (e) {
    problems.push(`history: ${(e as Error).message}`);
    return [];
  }
}

/** The promotion driver as its lease tells it; a driver gone with its promotion unfinished is a problem. */
async function driverStatus(
  access: KubeAccess,
  namespace: string,
  app: string,
  problems: string[],
): Promise<DriverStatus | undefined> {
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
  return driver;
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
      if (Date.now() - failingSince > 60_000)
        throw new Error(`${problem} (for a minute; the watch stops)`, { cause: e });
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
