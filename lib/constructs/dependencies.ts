// Ordering our constructs after the team's own resources. cdktf drops construct-level
// `node.addDependency` on the floor, and `resource.dependsOn = [x.fqn]` type-checks but renders a
// reference `init` refuses; this renders `depends_on` the way Terraform wants it, on every resource
// a construct creates.
import { ITerraformDependable, TerraformResource } from "cdktf";
import { dependable } from "cdktf/lib/tfExpression";
import { Construct, IConstruct } from "constructs";

/** What a construct of ours can wait for: a cdktf resource, data source or module, or any construct (every resource in it). */
export type Dependency = ITerraformDependable | IConstruct;

/** The Terraform resources in a construct's tree (data sources aside). */
export function resourcesIn(scope: IConstruct): TerraformResource[] {
  return scope.node.findAll().filter((c): c is TerraformResource => c instanceof TerraformResource);
}

function isDependable(d: Dependency): d is ITerraformDependable {
  return typeof (d as { fqn?: unknown }).fqn === "string";
}

/**
 * Makes every resource in `scope` depend on `dependencies`. Data sources are left alone: a data
 * source with `depends_on` is read only at apply, and a blue/green pair reads what serves at plan.
 */
export function addDependencies(scope: IConstruct, dependencies: readonly Dependency[]): void {
  const targets = dependencies.flatMap((d) => (isDependable(d) ? [d] : resourcesIn(d)));
  dependencies.forEach((d, i) => {
    if (!isDependable(d) && resourcesIn(d).length === 0) {
      throw new Error(
        `${scope.node.path}: dependsOn[${i}] = ${d.node.path} holds no Terraform resource to wait for: pass a resource, a data source, a module, or a construct that holds resources`,
      );
    }
  });
  const refs = targets.map((t) => dependable(t));
  for (const resource of resourcesIn(scope)) {
    resource.dependsOn = [...new Set([...(resource.dependsOn ?? []), ...refs])];
  }
}

/** A construct of ours: everything it creates can be made to wait for the team's own resources. */
export class DependableConstruct extends Construct {
  /**
   * Makes everything this creates wait for `dependencies` (resources, data sources, modules, or
   * constructs: every resource in them), rendered as `depends_on` on each of its resources.
   */
  public dependsOn(...dependencies: Dependency[]): this {
    addDependencies(this, dependencies);
    return this;
  }
}
