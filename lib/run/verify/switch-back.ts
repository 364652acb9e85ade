// Switching traffic back after a post-switch verification failed: the blue/green pair's active
// Service selects the color that served before the apply again, and its preview Service the other
// one, through the Kubernetes API (kubectl, with the kubeconfig/context of the port-forwards).
// Runtime code: no cdktf here.
import { isColor, otherColor } from "../../core/colors";
import { PAIR_ANNOTATIONS } from "../../core/pair";
import { kubectlFailure, runKubectl } from "../kube/kubectl";

export interface SwitchBackOptions {
  /** The active Service (`svc/NAME` or NAME) and the preview Service. */
  readonly activeService: string;
  /** @default - only the active Service */
  readonly previewService?: string;
  /** The color this apply switched to. */
  readonly from: string;
  /** The color that served before the apply ("" when nothing did: a first apply). */
  readonly to: string;
  /** The release fingerprint of `to`, written back with the selector. @default - the serving fingerprint is left as it is */
  readonly fingerprint?: string;
  /** @default - the kubeconfig context's namespace */
  readonly namespace?: string;
  /** @default - kubectl's default */
  readonly kubeconfig?: string;
  /** @default - kubectl's current context */
  readonly context?: string;
  /** @default "kubectl" */
  readonly kubectl?: string;
}

export interface SwitchBackResult {
  /** True when the selectors point at `to` again. */
  readonly restored: boolean;
  readonly message: string;
  /** From the call to both Services patched. */
  readonly ms: number;
}

/**
 * Points the active Service back at `to` (and the preview Service at the other color), and drops
 * the `from` color's verification record, so a later switch to that fingerprint is verified again.
 */
export async function switchBack(o: SwitchBackOptions): Promise<SwitchBackResult> {
  const started = performance.now();
  const done = (restored: boolean, message: string): SwitchBackResult => ({
    restored,
    message,
    ms: Math.round(performance.now() - started),
  });
  if (!isColor(o.from))
    return done(false, `not switched back: --switch-back-from ${JSON.stringify(o.from)} is not blue or green`);
  if (o.to === "") return done(false, "nothing to switch back to: no color served before this apply");
  if (!isColor(o.to))
    return done(false, `not switched back: --switch-back-to ${JSON.stringify(o.to)} is not blue or green`);
  if (o.to === o.from) return done(false, `nothing to switch back to: ${o.from} already served before this apply`);
  const other = otherColor(o.to);
  const annotations: Record<string, string | null> = { [PAIR_ANNOTATIONS.verified(o.from)]: null };
  if (o.fingerprint) annotations[PAIR_ANNOTATIONS.servingFingerprint] = o.fingerprint;
  const patches: [string, object][] = [
    [o.activeService, { metadata: { annotations }, spec: { selector: { color: o.to } } }],
  ];
  if (o.previewService) patches.push([o.previewService, { spec: { selector: { color: other } } }]);
  const results = await Promise.all(patches.map(([service, patch]) => kubectlPatch(o, service, patch)));
  const failed = results.filter((r) => r !== undefined);
  if (failed.length) return done(false, `could not switch back to ${o.to}: ${failed.join("; ")}`);
  return done(
    true,
    `switched back: ${patches.map(([s]) => serviceName(s)).join(" and ")} select ${o.to}${o.previewService ? ` and ${other}` : ""} again`,
  );
}

function serviceName(service: string): string {
  return service.replace(/^(svc|service)\//, "");
}

/** Resolves to undefined on success, else why it failed. */
async function kubectlPatch(o: SwitchBackOptions, service: string, patch: object): Promise<string | undefined> {
  const args = [
    "patch",
    "service",
    serviceName(service),
    "--type",
    "merge",
    "-p",
    JSON.stringify(patch),
    ...(o.namespace ? ["--namespace", o.namespace] : []),
  ];
  const r = await runKubectl(o, args);
  if (r.error) return r.error;
  return r.code === 0
    ? undefined
    : `kubectl patch service ${serviceName(service)} exited with ${r.code}: ${kubectlFailure(r, o).slice(-300)}`;
}
