// The checks of a TritonBlueGreen's props that need more than a field's type: the verification's
// options together, and a choice given as a value or a Terraform variable (restricted to its set).
import { TerraformStack, TerraformVariable, Token } from "cdktf";
import { Construct } from "constructs";
import { COLORS } from "../../core/colors";
import { PropValidator } from "../validation";
import { TritonBlueGreenProps } from "./bluegreen-props";
import { Choice } from "./standby";

/** The variables already given their validation (a variable shared by several pairs gets it once). */
const validatedVariables = new WeakSet<TerraformVariable>();

/** The gates' specs: an afterSwitch spec and its URL, and every verified model one the colors load (explicit mode loads only its list). */
export function validateVerification(v: PropValidator, props: TritonBlueGreenProps): void {
  if (props.verify?.afterSwitch) {
    const a = props.verify.afterSwitch;
    v.check("verify.afterSwitch.spec", a.spec, typeof a.spec === "object" && a.spec !== null, "a verification spec");
    const access = props.verify.access ?? "port-forward";
    v.check(
      "verify.afterSwitch.url",
      a.url,
      access === "port-forward" || typeof a.url === "string",
      "the active Service's URL (required when verify.access gives URLs)",
    );
  }
  for (const [key, spec] of [
    ["verify.spec", props.verify?.spec],
    ["verify.afterSwitch.spec", props.verify?.afterSwitch?.spec],
  ] as const) {
    (Array.isArray(spec?.models) ? spec!.models : []).forEach((m, i) => {
      for (const color of COLORS) {
        const control = props[color]?.modelControl;
        if (control && typeof m?.name === "string" && !control.loads(m.name)) {
          v.check(
            `${key}.models[${i}].name`,
            m.name,
            false,
            `a model the ${color} release loads (explicit model control: ${control.loadedModels.join(", ")})`,
          );
        }
      }
    });
  }
}

/**
 * A prop given as a literal (validated now) or as a TerraformVariable of this stack (validated by
 * Terraform at plan time, and referenced by name in the expressions we render).
 */
export function choiceOf<T extends string>(
  scope: Construct,
  v: PropValidator,
  field: string,
  value: T | TerraformVariable,
  allowed: readonly T[],
): Choice<T> {
  if (value instanceof TerraformVariable) {
    v.check(
      field,
      `var.${value.friendlyUniqueId}`,
      TerraformStack.of(value) === TerraformStack.of(scope),
      "a TerraformVariable of the same stack",
    );
    v.check(
      field,
      `var.${value.friendlyUniqueId} of type ${value.type}`,
      value.type === undefined || value.type === "string",
      `a variable of type "string" (one of ${allowed.map((a) => `"${a}"`).join(", ")})`,
    );
    restrictVariable(value, allowed);
    return { expression: `var.${value.friendlyUniqueId}` };
  }
  v.oneOf(field, value, allowed);
  return { literal: value };
}

/** A replica count for a release: a number, or a Terraform expression carried as a number token. */
export function asNumber(replicas: number | string): number {
  return typeof replicas === "number" ? replicas : Token.asNumber(replicas);
}

/** Makes Terraform itself refuse a value outside `allowed`, so a typo cannot select no pods. */
function restrictVariable(variable: TerraformVariable, allowed: readonly string[]): void {
  if (validatedVariables.has(variable)) return;
  validatedVariables.add(variable);
  const list = allowed.map((a) => `"${a}"`).join(", ");
  variable.addValidation({
    condition: `\${contains([${list}], var.${variable.friendlyUniqueId})}`,
    errorMessage: `The ${variable.friendlyUniqueId} variable must be one of ${list}.`,
  });
}
