// Where pods may run and how they pull their image: the fields a platform team sets on every
// workload (private registries, dedicated nodes, spread, priority). One validation for the Triton
// colors (rendered into Helm values as written) and the Envoy Deployments (rendered into the
// kubernetes provider's schema by the converters below), so a field means the same on both.
import { PropValidator } from "./validation";

export interface Toleration {
  /** @default - every key (with operator Exists) */
  readonly key?: string;
  /** @default "Equal" when value is set, else "Exists" */
  readonly operator?: "Equal" | "Exists";
  /** @default - none */
  readonly value?: string;
  /** @default - all effects */
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  /** For NoExecute: how long the pod stays once the taint appears. @default - forever */
  readonly tolerationSeconds?: number;
}

/** The scheduling fields, as the validator reads them (each construct documents its own defaults). */
export interface PodScheduling {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: readonly Toleration[];
  readonly imagePullSecrets?: readonly string[];
  readonly affinity?: Record<string, unknown>;
  readonly topologySpreadConstraints?: readonly Record<string, unknown>[];
  readonly priorityClassName?: string;
}

/** A pod-spec shape: each key's kind; an object is a nested shape, `[shape]` a list of them. */
type Shape = { readonly [key: string]: "string" | "int" | "strings" | "labels" | Shape | readonly [Shape] };

const REQUIREMENT: Shape = { key: "string", operator: "string", values: "strings" };
const LABEL_SELECTOR: Shape = { matchLabels: "labels", matchExpressions: [REQUIREMENT] };
const NODE_SELECTOR_TERM: Shape = { matchExpressions: [REQUIREMENT], matchFields: [REQUIREMENT] };
const POD_AFFINITY_TERM: Shape = {
  labelSelector: LABEL_SELECTOR,
  namespaceSelector: LABEL_SELECTOR,
  namespaces: "strings",
  topologyKey: "string",
};
const POD_AFFINITY: Shape = {
  requiredDuringSchedulingIgnoredDuringExecution: [POD_AFFINITY_TERM],
  preferredDuringSchedulingIgnoredDuringExecution: [{ weight: "int", podAffinityTerm: POD_AFFINITY_TERM }],
};
const AFFINITY: Shape = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [NODE_SELECTOR_TERM] },
    preferredDuringSchedulingIgnoredDuringExecution: [{ weight: "int", preference: NODE_SELECTOR_TERM }],
  },
  podAffinity: POD_AFFINITY,
  podAntiAffinity: POD_AFFINITY,
};
const TOPOLOGY_SPREAD: Shape = {
  maxSkew: "int",
  topologyKey: "string",
  whenUnsatisfiable: "string",
  labelSelector: LABEL_SELECTOR,
  minDomains: "int",
  matchLabelKeys: "strings",
  nodeAffinityPolicy: "string",
  nodeTaintsPolicy: "string",
};

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** Checks `value` against `shape`: unknown keys (typos the provider would drop in silence) and wrong kinds are problems. */
function checkShape(field: string, value: unknown, shape: Shape, v: PropValidator): void {
  if (!isObject(value)) {
    v.check(field, value, false, `an object with ${Object.keys(shape).join(", ")}`);
    return;
  }
  for (const [k, x] of Object.entries(value)) {
    const kind = shape[k];
    const at = `${field}.${k}`;
    if (kind === undefined) v.check(at, k, false, `one of the fields ${Object.keys(shape).join(", ")}`);
    else if (kind === "string") v.check(at, x, typeof x === "string" && x.length > 0, "a non-empty string");
    else if (kind === "int") v.check(at, x, Number.isInteger(x), "an integer");
    else if (kind === "strings")
      v.check(at, x, Array.isArray(x) && x.every((s) => typeof s === "string"), "a list of strings");
    else if (kind === "labels") v.stringMap(at, x as Record<string, string>, "label");
    else if (Array.isArray(kind)) {
      if (!Array.isArray(x)) v.check(at, x, false, "a list");
      else x.forEach((item, i) => checkShape(`${at}[${i}]`, item, kind[0], v));
    } else checkShape(at, x, kind as Shape, v);
  }
}

export function validatePodScheduling(props: PodScheduling, v: PropValidator): void {
  v.stringMap("nodeSelector", props.nodeSelector, "label");
  if (props.imagePullSecrets !== undefined) {
    if (!Array.isArray(props.imagePullSecrets))
      v.check("imagePullSecrets", props.imagePullSecrets, false, "a list of Secret names");
    else props.imagePullSecrets.forEach((name, i) => v.dnsSubdomain(`imagePullSecrets[${i}]`, name));
  }
  if (props.priorityClassName !== undefined) v.dnsSubdomain("priorityClassName", props.priorityClassName);
  if (props.affinity !== undefined) checkShape("affinity", props.affinity, AFFINITY, v);
  if (props.topologySpreadConstraints !== undefined) {
    if (!Array.isArray(props.topologySpreadConstraints))
      v.check(
        "topologySpreadConstraints",
        props.topologySpreadConstraints,
        false,
        "a list of topology spread constraints",
      );
    else
      props.topologySpreadConstraints.forEach((c, i) => {
        const at = `topologySpreadConstraints[${i}]`;
        checkShape(at, c, TOPOLOGY_SPREAD, v);
        if (!isObject(c)) return;
        v.check(
          `${at}.maxSkew`,
          c.maxSkew,
          Number.isInteger(c.maxSkew) && (c.maxSkew as number) >= 1,
          "an integer of at least 1",
        );
        v.check(
          `${at}.topologyKey`,
          c.topologyKey,
          typeof c.topologyKey === "string" && c.topologyKey.length > 0,
          'a node label key, e.g. "kubernetes.io/hostname"',
        );
        v.oneOf(`${at}.whenUnsatisfiable`, c.whenUnsatisfiable as string | undefined, [
          "DoNotSchedule",
          "ScheduleAnyway",
        ]);
        if (c.whenUnsatisfiable === undefined)
          v.check(`${at}.whenUnsatisfiable`, undefined, false, '"DoNotSchedule" or "ScheduleAnyway"');
      });
  }
  if (props.tolerations !== undefined && !Array.isArray(props.tolerations)) {
    v.check("tolerations", props.tolerations, false, "a list of tolerations");
    return;
  }
  (props.tolerations ?? []).forEach((t, i) => {
    v.oneOf(`tolerations[${i}].operator`, t.operator, ["Equal", "Exists"]);
    v.oneOf(`tolerations[${i}].effect`, t.effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]);
    if (t.operator === "Exists")
      v.check(`tolerations[${i}].value`, t.value, t.value === undefined, "no value with operator Exists");
    if (t.key === undefined)
      v.check(
        `tolerations[${i}].value`,
        t.value,
        t.value === undefined && t.operator !== "Equal",
        'no value and operator "Exists" for a toleration without a key (it tolerates every taint)',
      );
    if (t.tolerationSeconds !== undefined) {
      v.integer(`tolerations[${i}].tolerationSeconds`, t.tolerationSeconds, 0, 31_536_000);
      v.check(
        `tolerations[${i}].tolerationSeconds`,
        t.tolerationSeconds,
        t.effect === "NoExecute",
        'effect "NoExecute": only a NoExecute taint evicts after a while',
      );
    }
  });
}

/** A label selector in the provider's schema (a block list of one). */
const providerSelector = (s: unknown) => (isObject(s) ? [s] : undefined);

function providerPodAffinityTerm(t: Record<string, unknown>) {
  return {
    ...t,
    labelSelector: providerSelector(t.labelSelector),
    namespaceSelector: providerSelector(t.namespaceSelector),
  };
}

function providerPodAffinity(a: unknown) {
  if (!isObject(a)) return undefined;
  const required = (a.requiredDuringSchedulingIgnoredDuringExecution as Record<string, unknown>[] | undefined)?.map(
    providerPodAffinityTerm,
  );
  const preferred = (a.preferredDuringSchedulingIgnoredDuringExecution as Record<string, unknown>[] | undefined)?.map(
    (p) => ({
      weight: p.weight,
      podAffinityTerm: providerPodAffinityTerm(p.podAffinityTerm as Record<string, unknown>),
    }),
  );
  return {
    requiredDuringSchedulingIgnoredDuringExecution: required,
    preferredDuringSchedulingIgnoredDuringExecution: preferred,
  };
}

/** A pod-spec affinity (validated) in the kubernetes provider's schema: `nodeSelectorTerms` is `nodeSelectorTerm`, selectors are lists of one. */
export function providerAffinity(affinity: Record<string, unknown>): any {
  const node = affinity.nodeAffinity as Record<string, any> | undefined;
  return {
    nodeAffinity: node
      ? {
          requiredDuringSchedulingIgnoredDuringExecution: node.requiredDuringSchedulingIgnoredDuringExecution
            ? { nodeSelectorTerm: node.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms }
            : undefined,
          preferredDuringSchedulingIgnoredDuringExecution: node.preferredDuringSchedulingIgnoredDuringExecution,
        }
      : undefined,
    podAffinity: providerPodAffinity(affinity.podAffinity),
    podAntiAffinity: providerPodAffinity(affinity.podAntiAffinity),
  };
}

/** Pod-spec topology spread constraints (validated) in the kubernetes provider's schema. */
export function providerTopologySpread(constraints: readonly Record<string, unknown>[]): any[] {
  return constraints.map((c) => ({ ...c, labelSelector: providerSelector(c.labelSelector) }));
}
