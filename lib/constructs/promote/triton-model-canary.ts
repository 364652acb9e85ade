// A model-level canary inside the serving fleet: the next version of one model loads beside the
// current one in the same Triton pods, and a share of the model's requests that name no version
// goes to it. The versions are Terraform state: three variables (the pinned version, the next one,
// the share) that `cdktf-triton promote` sets; a ConfigMap holds the versions to load, which every
// Triton pod reads at its start (the chart's postStart hook), and our Envoy pins the unversioned
// requests to the pinned version with a runtime share to the next.
import { TerraformStack, TerraformVariable } from "cdktf";
import { dependable } from "cdktf/lib/tfExpression";
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { DataKubernetesConfigMapV1 } from "@cdktf/provider-kubernetes/lib/data-kubernetes-config-map-v1";
import { Construct } from "constructs";
import { COLORS } from "../../core/colors";
import { claimName } from "../names";
import { TerraformData } from "../terraform-data";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { TritonCanary } from "./triton-canary";
import { SpecError, validateSpec, VerifySpec } from "../../core/verify-spec";

/** Props of a {@link TritonModelCanary}. */
export interface TritonModelCanaryProps {
  /**
   * The canary in front of the pair (our Envoy): its HTTP route pins the model's unversioned
   * requests. A TritonGatewayCanary cannot: an HTTPRoute has no runtime share of a rewrite.
   */
  readonly canary: TritonCanary;
  /** The model, as Triton names it; loaded at startup in explicit model control by both colors. */
  readonly model: string;
  /** The version its unversioned requests go to before any promotion: the pinned version variable's default. */
  readonly version: number;
  /**
   * What the next version must pass before it takes a request, checked by `cdktf-triton promote`
   * on its own endpoints (`/v2/models/<model>/versions/<next>`) of a serving pod: the spec's
   * entries for this model are bound to the next version.
   */
  readonly verify: VerifySpec;
}

/** Triton's model names in a URL path without escaping (and in a ConfigMap name, lowered). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * One model of a pair served at pinned versions, with the next version canaried inside the running
 * fleet: `version` (the pinned one), `nextVersion` (0: none) and `nextPercent` (the share of its
 * unversioned HTTP requests to the next version) are Terraform variables. A plan that changes the
 * versions the pods load changes the serving color in place: the serving guard lets that change
 * through, and only alone (no switch of `active`, no color canary, no change to either release in
 * the same plan).
 */
export class TritonModelCanary extends Construct {
  public readonly canary: TritonCanary;
  public readonly model: string;
  /** The pinned version, the next one (0: none) and the next one's share of unversioned requests. */
  public readonly variables: {
    readonly version: TerraformVariable;
    readonly next: TerraformVariable;
    readonly percent: TerraformVariable;
  };
  /** The ConfigMap (in the pair's namespace) whose `versions` key the Triton pods load, e.g. "3,4". */
  public readonly configMap: ConfigMapV1;
  /** The next version's check, validated. */
  public readonly verifySpec!: VerifySpec;

  constructor(scope: Construct, id: string, props: TritonModelCanaryProps) {
    super(scope, id);
    refuseUnknownKeys("TritonModelCanary#2", props, this.node.path);
    this.verifySpec = validated(this.node.path, props);
    const { canary, model } = props;
    const pair = canary.pair;
    this.canary = canary;
    this.model = model;

    this.variables = modelVariables(TerraformStack.of(this), id.replace(/-/g, "_"), model, props.version);
    const { version, next: nextVersion, percent: nextPercent } = this.variables;
    const [pinned, next, percent] = [version, nextVersion, nextPercent].map((x) => `var.${x.friendlyUniqueId}`);

    const name = `${pair.appName}-${model.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-versions`;
    const names = new PropValidator(this.node.path);
    names.dnsSubdomain("model", name);
    claimName(this, names, "model", name, `ConfigMap ${pair.namespace}/${name}`);
    names.throwIfInvalid();
    const versions = `${next} > 0 ? format("%d,%d", ${pinned}, ${next}) : format("%d", ${pinned})`;
    const now = new DataKubernetesConfigMapV1(this, "now", { metadata: { name, namespace: pair.namespace } });
    const versionsNow = `try(data.kubernetes_config_map_v1.${now.friendlyUniqueId}.data["versions"], "")`;
    this.configMap = new ConfigMapV1(this, "versions", {
      metadata: {
        name,
        namespace: pair.namespace,
        labels: { app: pair.appName, "app.kubernetes.io/managed-by": "cdktf-triton" },
      },
      data: { versions: `\${${versions}}` },
      lifecycle: { precondition: this.preconditions({ pinned, next, percent }) },
    });
    // The guard reads both releases' fingerprints: on a resource of its own, which nothing waits
    // for (the releases wait for the ConfigMap: their pods read it).
    const guard = new TerraformData(this, "versions-guard", { input: { versions: `\${${versions}}` } });
    guard.addOverride("lifecycle.precondition", [this.aloneInItsPlan(versions, versionsNow)]);

    for (const color of COLORS) {
      const release = pair.release(color);
      release.pinModelVersions({ model, configMap: name, key: "versions" }, this.node.path);
      // A pod reads the ConfigMap at its start: it exists before the first one.
      release.helmRelease.dependsOn = [...(release.helmRelease.dependsOn ?? []), dependable(this.configMap)];
    }
    canary.pinModelVersions({ model, pinned: `\${${pinned}}`, next: `\${${next}}`, nextPercent: `\${${percent}}` });
  }

  /** The plan-time rules of the variables: a next version other than the pinned one, a share only with a next version. */
  private preconditions(v: { pinned: string; next: string; percent: string }) {
    const path = this.node.path;
    return [
      {
        condition: `\${${v.next} != ${v.pinned}}`,
        errorMessage: `${path}: the next version of ${this.model} (\${${v.next}}) is the pinned one: set ${v.next.slice(4)} to a version other than \${${v.pinned}}, or 0 for none.`,
      },
      {
        condition: `\${${v.percent} == 0 || ${v.next} > 0}`,
        errorMessage: `${path}: ${v.percent.slice(4)} is \${${v.percent}} with no next version of ${this.model} (${v.next.slice(4)} is 0): a share needs a version to go to.`,
      },
    ];
  }

  /** The serving guard's one exception: a change of the versions the pods load, alone in its plan. */
  private aloneInItsPlan(versions: string, versionsNow: string): { condition: string; error_message: string } {
    const pair = this.canary.pair;
    const serving = pair.servingColorExpression;
    const fingerprintNow = pair.servingFingerprintNowExpression;
    const servingUnchanged = `(${serving} == "" || ${fingerprintNow} == "" || ${COLORS.map((c) => `(${serving} == "${c}" && ${fingerprintNow} == ${pair.fingerprintExpressions[c]})`).join(" || ")})`;
    const activeUnchanged = pair.activeVariable
      ? `(${serving} == "" || ${serving} == var.${pair.activeVariable.friendlyUniqueId})`
      : "true";
    const noColorCanary = this.canary.canaryVariable
      ? `var.${this.canary.canaryVariable.friendlyUniqueId} == 0`
      : "true";
    return {
      condition: `\${${versionsNow} == "" || ${versionsNow} == (${versions}) || (${servingUnchanged} && ${activeUnchanged} && ${noColorCanary})}`,
      error_message:
        `${this.node.path}: this plan changes the versions of ${this.model} that every pod of ${pair.appName} loads (\${${versionsNow}} -> \${${versions}}), the serving color's pods included: the one change to the serving color the serving guard lets through, and only alone. ` +
        `This plan also switches active, moves the color canary, or changes the serving release: apply the versions in a plan of their own.`,
    };
  }
}

/** The props checked, every problem named at once; the verification spec as checked. */
function validated(path: string, props: TritonModelCanaryProps): VerifySpec {
  const v = new PropValidator(path);
  let spec: VerifySpec | undefined;
  v.check(
    "canary",
    (props.canary as object | undefined)?.constructor?.name ?? String(props.canary),
    props.canary instanceof TritonCanary,
    "a TritonCanary (our Envoy): its routes pin the model's unversioned requests to a version with a runtime share to the next; a Gateway's HTTPRoute cannot",
  );
  v.check(
    "model",
    props.model,
    typeof props.model === "string" && MODEL_NAME.test(props.model),
    "a Triton model name: letters, digits, '_', '.', '-', starting with a letter or digit, at most 63",
  );
  v.integer("version", props.version, 1, 2 ** 31 - 1);
  try {
    spec = validateSpec(props.verify, "verify");
    v.check(
      "verify.models",
      props.verify.models.map((m) => m.name).join(", "),
      props.verify.models.some((m) => m.name === props.model),
      `a spec that checks ${props.model} (its entries for ${props.model} are run against the next version)`,
    );
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    e.problems.forEach((p) => v.check(`verify.${p.field}`, p.value, false, p.expected));
  }
  v.throwIfInvalid();
  return spec!;
}

/** The model's version variables: the pinned version, the next one (0: none) and its share, each validated by the engine. */
function modelVariables(
  stack: TerraformStack,
  base: string,
  model: string,
  pinnedVersion: number,
): TritonModelCanary["variables"] {
  const number = (
    name: string,
    dflt: number,
    description: string,
    condition: (ref: string) => string,
    what: string,
  ) => {
    const variable = new TerraformVariable(stack, `${base}_${name}`, {
      type: "number",
      default: dflt,
      nullable: false,
      description,
    });
    const ref = `var.${variable.friendlyUniqueId}`;
    variable.addValidation({
      condition: `\${${condition(ref)}}`,
      errorMessage: `The ${variable.friendlyUniqueId} variable must be ${what}.`,
    });
    return variable;
  };
  const version = number(
    "version",
    pinnedVersion,
    `The version of ${model} that requests naming no version go to.`,
    (r) => `${r} >= 1 && floor(${r}) == ${r}`,
    "a whole number from 1 (a model version)",
  );
  const nextVersion = number(
    "next_version",
    0,
    `The next version of ${model}, loaded beside the pinned one (0: none).`,
    (r) => `${r} >= 0 && floor(${r}) == ${r}`,
    "a whole number: a model version, or 0 for none",
  );
  const nextPercent = number(
    "next_percent",
    0,
    `Percent of ${model}'s requests naming no version that go to the next version.`,
    (r) => `${r} >= 0 && ${r} <= 100 && floor(${r}) == ${r}`,
    "a whole number from 0 to 100",
  );
  return { version, next: nextVersion, percent: nextPercent };
}
