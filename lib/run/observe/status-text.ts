// `cdktf-triton status` as text: the pairs' table, a driver's progress, and --watch's one line per change.
import { holderText, Progress } from "../promote/lease";
import { NamespaceStatus, PairStatus } from "./status-types";

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
