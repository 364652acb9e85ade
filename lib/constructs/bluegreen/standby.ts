import { Color, otherColor, otherColorExpression } from "../../core/colors";

/**
 * What the color that does not serve traffic (the standby) runs:
 * - `preview`: `previewReplicas` pods, enough to verify a candidate (GPUs are expensive);
 * - `warm`: as many pods as when it is active, so a promotion or a rollback never dips capacity;
 * - `scaled-down`: no pods, its release still installed for a rollback.
 */
export type StandbyMode = "preview" | "warm" | "scaled-down";
export const STANDBY_MODES: readonly StandbyMode[] = ["preview", "warm", "scaled-down"];

/** A choice known at synth (`literal`), or decided at plan time by a Terraform expression such as `var.active`. */
export type Choice<T extends string> = { readonly literal: T } | { readonly expression: string };

/** Inputs of the replica rule. */
export interface ReplicaRuleInput {
  readonly color: Color;
  readonly active: Choice<Color>;
  readonly standby: Choice<StandbyMode>;
  /** Pods when this color is active. */
  readonly activeReplicas: number;
  readonly previewReplicas: number;
  /**
   * A Terraform expression (no `${}`) for the color that serves now, read from the cluster: that
   * color keeps its full replicas until a later apply, after the switch moved away from it.
   * @default - not known: only the active color runs its full replicas
   */
  readonly serving?: string;
  /**
   * The standby's capacity follows the canary's weight: `ceil(percent x activeReplicas / 100) +
   * surge` pods, at least what the standby mode gives, at most activeReplicas. `percent` is a
   * Terraform expression (no `${}`), the canary's variable.
   * @default - the standby mode alone
   */
  readonly followCanary?: { readonly percent: string; readonly surge: number };
}

/**
 * How many pods a color runs. One rule, two forms: a number when `active` and `standby` are known
 * at synth; otherwise the same rule as one Terraform expression (a string `${...}`), so
 * `-var active=green` at plan time gives exactly what the literal would. The expression is plain
 * text, not a tree of cdktf tokens: each token records a stack trace, which made synth of many
 * models 1.5x slower than hand-written HCL.
 */
export function colorReplicas(input: ReplicaRuleInput): number | string {
  const byStandby: Record<StandbyMode, number> = {
    warm: input.activeReplicas,
    "scaled-down": 0,
    preview: Math.min(input.previewReplicas, input.activeReplicas),
  };
  const { active, standby, followCanary } = input;
  if ("literal" in active && "literal" in standby && input.serving === undefined && followCanary === undefined) {
    return active.literal === input.color ? input.activeReplicas : byStandby[standby.literal];
  }
  const modeExpr =
    "literal" in standby
      ? String(byStandby[standby.literal])
      : `${standby.expression} == "warm" ? ${byStandby.warm} : ${standby.expression} == "scaled-down" ? 0 : ${byStandby.preview}`;
  // Capacity in proportion to the candidate's share of requests, never below the mode's, never above full.
  const n = input.activeReplicas;
  const standbyExpr = followCanary
    ? `max(${"literal" in standby ? modeExpr : `(${modeExpr})`}, min(${n}, ceil(${followCanary.percent} * ${n} / 100) + ${followCanary.surge}))`
    : modeExpr;
  // Full replicas while this color is active or still serves (until the apply after a switch).
  const full = [
    "literal" in active ? String(active.literal === input.color) : `${active.expression} == "${input.color}"`,
    ...(input.serving !== undefined ? [`${input.serving} == "${input.color}"`] : []),
  ].filter((c) => c !== "false");
  if (full.includes("true")) return input.activeReplicas;
  if (full.length === 0)
    return "literal" in standby && !followCanary ? byStandby[standby.literal] : `\${${standbyExpr}}`;
  return `\${${full.join(" || ")} ? ${input.activeReplicas} : ${standbyExpr}}`;
}

/** A Terraform expression (no `${}`) per color, picked by `active`: the literal's, or one conditional. */
export function byActive(active: Choice<Color>, of: (color: Color) => string): string {
  return "literal" in active ? of(active.literal) : `${active.expression} == "blue" ? ${of("blue")} : ${of("green")}`;
}

/** The color the preview Service selects: the other one. */
export function previewColor(active: Choice<Color>): string {
  return "literal" in active ? otherColor(active.literal) : otherColorExpression(active.expression);
}

/** The value a Choice stands for in Terraform JSON: the literal, or `${expression}`. */
export function choiceValue(choice: Choice<string>): string {
  return "literal" in choice ? choice.literal : `\${${choice.expression}}`;
}
