// What every canary of a blue/green pair shares, whatever carries its traffic (our Envoy, the
// platform's Gateway): the canary percent (a literal or a Terraform variable), each color's weight
// as one Terraform expression on the pair's `active`, and the rules that involve the pair, checked
// at plan: a switch of `active` comes with the canary at 0, and a canary above 0 needs the standby
// color warm.
import { Fn, Op, TerraformLocal, TerraformStack, TerraformVariable, Token } from "cdktf";
import { dependable } from "cdktf/lib/tfExpression";
import { Construct } from "constructs";
import { TritonBlueGreen } from "../bluegreen/triton-bluegreen";
import { Color } from "../../core/colors";
import { PropValidator } from "../validation";

export interface CanaryWeights {
  /** The canary variable, when the percent is one. */
  readonly canaryVariable?: TerraformVariable;
  /** Each color's weight (stable = active: 100 - canary; the other: canary), a number or a token. */
  readonly weight: (color: Color) => number;
  /** The plan-time rules that involve the pair, for the lifecycle of the resource that carries the weights. */
  readonly preconditions: readonly { condition: string; errorMessage: string }[];
}

/**
 * Checks `pair` and `canaryPercent` under the construct's path (throws a TritonValidationError) and
 * builds the weights and the rules. Called from the constructor of `scope`, the canary.
 */
export function canaryWeights(
  scope: Construct,
  pair: TritonBlueGreen,
  canary: number | TerraformVariable,
): CanaryWeights {
  const v = new PropValidator(scope.node.path);
  v.check("pair", String(pair), pair instanceof TritonBlueGreen, "a TritonBlueGreen");
  v.throwIfInvalid();
  let canaryVariable: TerraformVariable | undefined;
  let c: string;
  if (canary instanceof TerraformVariable) {
    v.check(
      "canaryPercent",
      `var.${canary.friendlyUniqueId}`,
      TerraformStack.of(canary) === TerraformStack.of(scope),
      "a TerraformVariable of the same stack",
    );
    canaryVariable = canary;
    c = `var.${canary.friendlyUniqueId}`;
  } else {
    v.integer("canaryPercent", canary, 0, 100);
    v.knownAtSynth(
      "canaryPercent",
      canary,
      "a number or a TerraformVariable (the plan-time rules reference it by name)",
    );
    c = String(canary);
  }
  // A pair whose standby follows a canary's weight follows this canary's variable, or none.
  const follows = pair.followCanaryVariable;
  if (follows) {
    const named = `var.${follows.friendlyUniqueId}`;
    v.check(
      "canaryPercent",
      canaryVariable ? `var.${canaryVariable.friendlyUniqueId}` : canary,
      canaryVariable === follows,
      `${named}, the variable ${pair.node.path}'s followCanary names (its standby's capacity follows that weight)`,
    );
  }
  const active = pair.activeVariable ? `var.${pair.activeVariable.friendlyUniqueId}` : undefined;
  const standby = pair.standbyVariable ? `var.${pair.standbyVariable.friendlyUniqueId}` : undefined;
  // A canary above 0 sends real traffic to the standby color: it must run full replicas.
  if (!standby && typeof canary === "number" && canary > 0) {
    v.check(
      "canaryPercent",
      canary,
      pair.standby === "warm",
      `0 while ${pair.node.path} keeps its standby "${pair.standby}" (a canary needs standby "warm": full replicas)`,
    );
  }
  v.throwIfInvalid();
  const canaryValue: number = canary instanceof TerraformVariable ? canary.numberValue : canary;
  const weight = (color: Color): number => {
    const stable = Op.sub(100, canaryValue);
    if (!pair.activeVariable)
      return pair.active === color
        ? typeof canaryValue === "number" && !Token.isUnresolved(canaryValue)
          ? 100 - canaryValue
          : stable
        : canaryValue;
    // A local: cdktf renders a conditional without parentheses, so it cannot be an operand.
    return new TerraformLocal(
      scope,
      `weight-${color}`,
      Fn.conditional(Op.eq(pair.activeVariable.stringValue, color), stable, canaryValue),
    ).asNumber;
  };
  const path = scope.node.path;
  const activeNow = active ?? `"${pair.active}"`;
  const serving = pair.servingColorExpression;
  const preconditions = [
    {
      condition: `\${${serving} == "" || ${serving} == ${activeNow} || ${c} == 0}`,
      errorMessage:
        `${path}: canaryPercent is \${${c}} while this plan switches ${pair.appName} from \${${serving}} to \${${activeNow}}: ` +
        `with a canary above 0 the color switched away from would take that share at once. Switch with the canary at 0 in the same plan` +
        (canaryVariable ? ` (-var ${canaryVariable.friendlyUniqueId}=0)` : "") +
        ": the color that took the canary's traffic then takes all of it, and nothing moves that was not already serving.",
    },
  ];
  // (A literal canary was checked above; a literal "warm" standby, or capacity that follows this
  // canary, needs no rule.)
  if (!follows && (standby || (canaryVariable && pair.standby !== "warm"))) {
    const standbyNow = standby ? `\${${standby}}` : pair.standby;
    preconditions.push({
      condition: `\${${c} == 0 || ${standby ?? `"${pair.standby}"`} == "warm"}`,
      errorMessage: `${path}: canaryPercent is \${${c}} while ${pair.appName}'s standby is "${standbyNow}": a canary above 0 sends real traffic to the standby color, which must run full replicas (standby "warm").`,
    });
  }
  return { canaryVariable, weight, preconditions };
}

/**
 * When the standby's capacity follows this canary, the resource that carries the weights waits
 * for both releases in every apply: a step's apply scales the candidate up, and Helm waits until
 * its pods are ready, before the weights change (the driver pushes them into Envoy after the
 * apply). A fall is pushed first, so the candidate's pods scale down after its share left them.
 */
export function followCapacity(pair: TritonBlueGreen, weights: { dependsOn?: string[] }): void {
  if (!pair.followCanaryVariable) return;
  const releases = [pair.blue.helmRelease, pair.green.helmRelease].map((r) => dependable(r));
  weights.dependsOn = [...new Set([...(weights.dependsOn ?? []), ...releases])];
}
