// Terraform's built-in `terraform_data` resource as a cdktf construct, without cdktf's own
// DataResource, whose validation runs `terraform version` at synth (synth must need no binary).
import { TerraformResource, TerraformResourceConfig } from "cdktf";
import { Construct } from "constructs";

/** A `terraform_data` resource, without cdktf's DataResource (whose validation runs `terraform version` at synth). */
export class TerraformData extends TerraformResource {
  constructor(
    scope: Construct,
    id: string,
    private readonly attributes: { input?: unknown; triggers_replace?: unknown },
    config: Omit<TerraformResourceConfig, "terraformResourceType"> = {},
  ) {
    super(scope, id, { ...config, terraformResourceType: "terraform_data" });
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return { ...this.attributes };
  }

  protected synthesizeHclAttributes(): Record<string, unknown> {
    return Object.fromEntries(
      Object.entries(this.attributes).map(([k, value]) => [
        k,
        { value, isBlock: false, type: "simple", storageClassType: "any" },
      ]),
    );
  }

  /** `terraform_data.<id>.output`. */
  public get output(): string {
    return this.getStringAttribute("output");
  }
}
