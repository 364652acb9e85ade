// The two colors of a blue/green pair, and "the other color", for literals and for the Terraform
// expressions that choose one at plan: written once, for the constructs, the driver and the CLI.

export type Color = "blue" | "green";
export const COLORS: readonly Color[] = ["blue", "green"];

export function isColor(value: unknown): value is Color {
  return value === "blue" || value === "green";
}

/** The color that is not `color`. */
export function otherColor(color: Color): Color {
  return color === "blue" ? "green" : "blue";
}

/** The other color of a Terraform expression that yields a color (`var.active`), as an interpolation. */
export function otherColorExpression(expression: string): string {
  return `\${${expression} == "blue" ? "green" : "blue"}`;
}
