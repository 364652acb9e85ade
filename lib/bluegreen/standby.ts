import { Fn, Op, Token } from "cdktf";
import { Color } from "../release/props";

/**
 * What the color that does not serve traffic (the standby) runs:
 * - `preview`: `previewReplicas` pods, enough to verify a candidate (GPUs are expensive);
 * - `warm`: as many pods as when it is active, so a promotion or a rollback never dips capacity;
 * - `scaled-down`: no pods, its release still installed for a rollback.
 */
export type StandbyMode = "preview" | "warm" | "scaled-down";
export const STANDBY_MODES: readonly StandbyMode[] = ["preview", "warm", "scaled-down"];

/** Inputs of the replica rule: literals at synth, or Terraform expressions (tokens). */
export interface ReplicaRuleInput {
  readonly color: Color;
  /** "blue" | "green", or a token such as `var.active`. */
  readonly active: string;
  /** A StandbyMode, or a token such as `var.standby`. */
  readonly standby: string;
  /** Pods when this color is active. */
  readonly activeReplicas: number;
  readonly previewReplicas: number;
}

/**
 * How many pods a color runs. One rule, two forms: a number when `active` and `standby` are known
 * at synth, and otherwise the same rule as a Terraform conditional, so `-var active=green` at
 * plan time gives exactly what the literal would.
 */
export function colorReplicas(input: ReplicaRuleInput): number {
  const preview = Math.min(input.previewReplicas, input.activeReplicas);
  const byStandby: Record<StandbyMode, number> = {
    warm: input.activeReplicas,
    "scaled-down": 0,
    preview,
  };
  if (!Token.isUnresolved(input.active) && !Token.isUnresolved(input.standby)) {
    return input.active === input.color ? input.activeReplicas : byStandby[input.standby as StandbyMode];
  }
  // standby == "warm" ? n : standby == "scaled-down" ? 0 : preview, nested from the same table.
  const standbyExpr = (["warm", "scaled-down"] as const).reduceRight<unknown>(
    (otherwise, mode) => Fn.conditional(Op.eq(input.standby, mode), byStandby[mode], otherwise),
    byStandby.preview,
  );
  return Token.asNumber(Fn.conditional(Op.eq(input.active, input.color), input.activeReplicas, standbyExpr));
}

/** The other color. A token gives a Terraform conditional. */
export function otherColor(active: string): string {
  if (!Token.isUnresolved(active)) return active === "blue" ? "green" : "blue";
  return Token.asString(Fn.conditional(Op.eq(active, "blue"), "green", "blue"));
}
