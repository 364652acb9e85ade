// Names that must be unique in a stack: two constructs rendering the same Kubernetes object (or Helm
// release) in one namespace would fight over it at apply, and two gates writing the same report file
// would overwrite each other's. Claimed at construction, so the second one fails at synth, naming
// the construct that holds the name.
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { PropValidator } from "./validation";

const claims = new WeakMap<TerraformStack, Map<string, string>>();

/**
 * Claims `what` (e.g. "Service ml/iris") for `scope` in its stack; reports it under `field` when
 * another construct holds it already.
 */
export function claimName(scope: Construct, v: PropValidator, field: string, value: string, what: string): void {
  const stack = TerraformStack.of(scope);
  const taken = claims.get(stack) ?? new Map<string, string>();
  claims.set(stack, taken);
  const holder = taken.get(what);
  if (holder !== undefined && holder !== scope.node.path) {
    v.check(field, value, false, `a name no other construct of this stack uses: ${holder} already renders ${what}`);
    return;
  }
  taken.set(what, scope.node.path);
}
