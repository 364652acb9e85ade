// The GPU budget of a change, checked at plan: the nvidia.com/gpu that the pair's pods will request
// after this apply must fit in what the nodes they can use have free. Pure: Terraform expressions
// over the cluster's Node and Pod objects (read at plan by `kubernetes_resources` data sources),
// evaluated by the engine. Used by TritonBlueGreen's `gpuBudget`.
import { Token } from "cdktf";
import { Toleration } from "../pod-scheduling";

/** One color of the pair, as its pods will be scheduled. */
export interface GpuColor {
  /** Pods after this apply: a number, or a Terraform expression (no `${}`). */
  readonly replicas: number | string;
  /** nvidia.com/gpu per pod. */
  readonly gpus: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
}

export interface GpuBudgetInput {
  /** Terraform expression: the cluster's Node objects (a list). */
  readonly nodes: string;
  /** Terraform expression: the cluster's Pod objects that hold resources (not Succeeded or Failed). */
  readonly pods: string;
  /** The pair's own pods, which the change replaces: their GPUs count as free. */
  readonly app: string;
  readonly namespace: string;
  readonly colors: readonly GpuColor[];
}

const GPU = "nvidia.com/gpu";

/**
 * A value in an expression: a literal quoted, a cdktf token as it is (cdktf renders a reference
 * inside an expression without `${}`).
 */
const literal = (value: string) => (Token.isUnresolved(value) ? value : JSON.stringify(value));

/**
 * The data source's objects are a list, so Terraform gives them one type: an attribute one object
 * lacks is null in it. `try` does not catch a null, so each read says what null means.
 */
const orEmptyList = (expr: string) => `try([for e in ${expr} : e], [])`;

/** HCL: does node `n` accept this color (labels match its node selector, every NoSchedule/NoExecute taint tolerated, schedulable)? */
function eligible(n: string, color: GpuColor): string {
  const labels = Object.entries(color.nodeSelector).map(
    ([k, v]) => `try(${n}.metadata.labels[${JSON.stringify(k)}], null) == ${JSON.stringify(v)}`,
  );
  const tolerated = (t: string) => {
    const any = color.tolerations.map((tol) => {
      const key = tol.key === undefined ? "true" : `try(${t}.key, null) == ${JSON.stringify(tol.key)}`;
      const value =
        (tol.operator ?? "Equal") === "Exists"
          ? "true"
          : `coalesce(try(${t}.value, null), "") == ${JSON.stringify(tol.value ?? "")}`;
      const effect = tol.effect === undefined ? "true" : `try(${t}.effect, null) == ${JSON.stringify(tol.effect)}`;
      return `(${key} && ${value} && ${effect})`;
    });
    return any.length ? `(${any.join(" || ")})` : "false";
  };
  const taints = `alltrue([for t in ${orEmptyList(`${n}.spec.taints`)} : contains(["NoSchedule", "NoExecute"], coalesce(try(t.effect, null), "")) ? ${tolerated("t")} : true])`;
  return [`try(${n}.spec.unschedulable, null) != true`, ...labels, taints].join(" && ");
}

/**
 * The expressions of the budget: GPUs free on the nodes each color can use (allocatable minus what
 * other pods request there; the pair's own pods are replaced by the change), GPUs the pair needs
 * after the apply, and the condition that they fit, per color and in all.
 */
export function gpuBudget(input: GpuBudgetInput): { free: string; need: string; fits: string } {
  const others = `[for p in ${orEmptyList(input.pods)} : p if !(try(p.metadata.namespace, null) == ${literal(input.namespace)} && try(p.metadata.labels["app"], null) == ${literal(input.app)})]`;
  const gpusOf = (resources: string) => `try(tonumber(coalesce(${resources}[${JSON.stringify(GPU)}], "0")), 0)`;
  const requested = (p: string) =>
    `sum(concat([0], [for c in ${orEmptyList(`${p}.spec.containers`)} : max(${gpusOf("c.resources.requests")}, ${gpusOf("c.resources.limits")})]))`;
  const freeOn = (accept: string) =>
    `sum(concat([0], [for n in ${orEmptyList(input.nodes)} : ${gpusOf("n.status.allocatable")} - sum(concat([0], [for p in ${others} : ${requested("p")} if try(p.spec.nodeName, null) == n.metadata.name])) if ${accept}]))`;
  const gpuColors = input.colors.filter((c) => c.gpus > 0);
  if (gpuColors.length === 0) return { free: "0", need: "0", fits: "true" };
  const needOf = (c: GpuColor) => `(${c.replicas}) * ${c.gpus}`;
  const need = gpuColors.map(needOf).join(" + ");
  const union = `(${gpuColors.map((c) => `(${eligible("n", c)})`).join(" || ")})`;
  const free = freeOn(union);
  const perColor = gpuColors.map((c) => `${needOf(c)} <= ${freeOn(eligible("n", c))}`);
  return { free, need, fits: [`${need} <= ${free}`, ...perColor].join(" && ") };
}
