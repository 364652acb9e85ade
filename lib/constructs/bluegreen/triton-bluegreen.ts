import { ITerraformDependable, TerraformIterator, TerraformLocal, TerraformStack, TerraformVariable } from "cdktf";
import { dependable } from "cdktf/lib/tfExpression";
import { DataKubernetesResources } from "@cdktf/provider-kubernetes/lib/data-kubernetes-resources";
import { DataKubernetesAllNamespaces } from "@cdktf/provider-kubernetes/lib/data-kubernetes-all-namespaces";
import { gpuBudget } from "../capacity/gpu-budget";
import { TerraformData } from "../terraform-data";
import { DataKubernetesServiceV1 } from "@cdktf/provider-kubernetes/lib/data-kubernetes-service-v1";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { Construct } from "constructs";
import { TritonBlueGreenProps } from "./bluegreen-props";
import { asNumber, choiceOf, validateVerification } from "./bluegreen-checks";
import { afterSwitchVerification, verificationGate } from "./bluegreen-gates";
import { Color, COLORS, otherColor } from "../../core/colors";
import { TritonRelease } from "../release/triton-release";
import { CHART_LABEL_KEYS, TRITON_PORTS } from "../release/values";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { PAIR_ANNOTATIONS } from "../../core/pair";
import { VerificationGate } from "../verify/verification-gate";
import { byActive, Choice, choiceValue, colorReplicas, previewColor, STANDBY_MODES, StandbyMode } from "./standby";
import { DependableConstruct } from "../dependencies";
import { claimName } from "../names";
import { SERVICE_TYPES } from "../../core/closed-sets";

const ALLOW_SERVING_CHANGE = "allow_serving_change";

/**
 * Two Triton releases, blue and green, behind two Services: the active Service selects the active
 * color, the preview Service the other one. Switching `active` updates the active Service's
 * selector in place (and the preview Service's with it); the switch waits for both releases to be
 * ready (helm_release `wait`), and for every precondition added with {@link addSwitchPrecondition}
 * (the verification gate).
 */
export class TritonBlueGreen extends DependableConstruct {
  /**
   * A TerraformVariable for `active`, validated to "blue" or "green", so a pipeline can switch with
   * `-var active=green`.
   */
  public static activeVariable(scope: Construct, id = "active", defaultColor: Color = "blue"): TerraformVariable {
    return new TerraformVariable(scope, id, {
      type: "string",
      default: defaultColor,
      description: 'The color that serves traffic: "blue" or "green".',
    });
  }

  /** A TerraformVariable for `standby`, validated to one of the StandbyModes. */
  public static standbyVariable(
    scope: Construct,
    id = "standby",
    defaultMode: StandbyMode = "preview",
  ): TerraformVariable {
    return new TerraformVariable(scope, id, {
      type: "string",
      default: defaultMode,
      description: 'What the color that does not serve runs: "preview", "warm" or "scaled-down".',
    });
  }

  /**
   * The stack's `allow_serving_change` variable (bool, default false): `-var allow_serving_change=true`
   * lets a plan change the release of the color that serves (break glass). One per stack.
   */
  public static allowServingChangeVariable(scope: Construct): TerraformVariable {
    const stack = TerraformStack.of(scope);
    const existing = stack.node.tryFindChild(ALLOW_SERVING_CHANGE);
    if (existing) {
      if (!(existing instanceof TerraformVariable))
        throw new Error(`${stack.node.path}/${ALLOW_SERVING_CHANGE} exists and is not a TerraformVariable`);
      return existing;
    }
    return new TerraformVariable(stack, ALLOW_SERVING_CHANGE, {
      type: "bool",
      default: false,
      nullable: false,
      description: "Break glass: let this plan change the release of the blue/green color that serves traffic now.",
    });
  }

  public readonly appName: string;
  public readonly namespace: string;
  public readonly blue: TritonRelease;
  public readonly green: TritonRelease;
  /** The active color: "blue"/"green", or `${var.<name>}`. */
  public readonly active: string;
  /** The standby mode: a StandbyMode, or `${var.<name>}`. */
  public readonly standby: string;
  /** The Service that receives production traffic: the switch. */
  public readonly activeService: ServiceV1;
  /** The Service that selects the standby color: where a candidate is verified before it serves. */
  public readonly previewService: ServiceV1;
  /** The gate between the releases and the switch, when `verify` is set. */
  public readonly gate?: VerificationGate;
  /** The verification after the switch, when `verify.afterSwitch` is set. */
  public readonly afterSwitchGate?: VerificationGate;
  /** The active Service as the cluster has it at plan time: which color serves now. */
  public readonly servingNow: DataKubernetesServiceV1;
  /** Terraform expressions (no `${}`): the color serving at plan time ("" before the first apply), and each color's release fingerprint. */
  public readonly servingColorExpression: string;
  public readonly fingerprintExpressions: Readonly<Record<Color, string>>;
  /** The serving fingerprint the active Service records now, a Terraform expression (no `${}`; "" before the first apply). */
  public readonly servingFingerprintNowExpression: string;
  /** The guard's break-glass value, a Terraform bool expression (no `${}`). */
  public readonly allowServingChangeExpression: string;
  /** Each color's replica rule: a number, or `${expression}` (what its release runs after this apply). */
  private readonly replicaRules: Record<Color, number | string> = { blue: 0, green: 0 };
  /** Each color's replicas while it serves (the HPA's minimum where one is set). */
  private readonly fullReplicas: Record<Color, number> = { blue: 1, green: 1 };
  /** The canary variable the standby's capacity follows (see {@link TritonBlueGreenProps.followCanary}). */
  public readonly followCanaryVariable?: TerraformVariable;
  /** The variables this was given, for summaries. */
  public readonly activeVariable?: TerraformVariable;
  public readonly standbyVariable?: TerraformVariable;

  constructor(scope: Construct, id: string, props: TritonBlueGreenProps) {
    super(scope, id);
    refuseUnknownKeys("TritonBlueGreen#2", props, this.node.path);
    this.appName = props.appName ?? id;
    this.namespace = props.namespace ?? "default";
    const { active, standby, allow } = this.validated(props);
    if (props.active instanceof TerraformVariable) this.activeVariable = props.active;
    if (props.standby instanceof TerraformVariable) this.standbyVariable = props.standby;
    this.followCanaryVariable = props.followCanary?.canaryPercent;
    this.active = choiceValue(active);
    this.standby = choiceValue(standby);
    this.allowServingChangeExpression =
      allow instanceof TerraformVariable ? `var.${allow.friendlyUniqueId}` : String(allow);

    // What serves now, read from the cluster at plan time: the active Service's live selector (a
    // first apply finds no Service: "" serves) and the fingerprint written with it.
    this.servingNow = new DataKubernetesServiceV1(this, "serving-now", {
      metadata: { name: this.appName, namespace: this.namespace },
    });
    this.servingColorExpression = this.local(
      "serving-color",
      `try(data.kubernetes_service_v1.${this.servingNow.friendlyUniqueId}.spec[0].selector.color, "")`,
    );
    const servingFingerprintNow = this.local(
      "serving-fingerprint",
      this.annotationNow(PAIR_ANNOTATIONS.servingFingerprint),
    );
    this.servingFingerprintNowExpression = servingFingerprintNow;

    this.blue = this.colorRelease(props, "blue", active, standby);
    this.green = this.colorRelease(props, "green", active, standby);
    this.fingerprintExpressions = { blue: this.fingerprint("blue"), green: this.fingerprint("green") };
    if (props.gpuBudget) this.addGpuBudget();
    const activeFingerprint = byActive(active, (c) => this.fingerprintExpressions[c]);

    if (props.verify) this.gate = verificationGate(this, props.verify, active, activeFingerprint);
    this.activeService = this.service(
      props,
      "active-service",
      this.appName,
      "active",
      this.active,
      props.serviceType ?? "ClusterIP",
      this.pairAnnotations(active, activeFingerprint),
    );
    this.previewService = this.service(
      props,
      "preview-service",
      `${this.appName}-preview`,
      "preview",
      previewColor(active),
      props.previewServiceType ?? "ClusterIP",
    );
    // The switch moves only once both colors are rolled out and ready, and the gate has passed.
    this.addSwitchPrecondition(this.blue.helmRelease, this.green.helmRelease);
    if (this.gate) this.addSwitchPrecondition(this.gate.resource);
    this.addServingGuard(servingFingerprintNow);
    if (props.verify?.afterSwitch)
      this.afterSwitchGate = afterSwitchVerification(this, props.verify, activeFingerprint, servingFingerprintNow);
  }

  /** Every prop checked at once (a TritonValidationError names each bad one); the choices and the break glass as given. */
  private validated(props: TritonBlueGreenProps): {
    active: Choice<Color>;
    standby: Choice<StandbyMode>;
    allow: boolean | TerraformVariable;
  } {
    const v = new PropValidator(this.node.path);
    v.dnsLabel("appName", this.appName, 47);
    v.dnsLabel("namespace", this.namespace);
    v.integer("previewReplicas", props.previewReplicas ?? 1, 1, 1000);
    v.oneOf("serviceType", props.serviceType, SERVICE_TYPES);
    v.oneOf("previewServiceType", props.previewServiceType, SERVICE_TYPES);
    v.stringMap("serviceAnnotations", props.serviceAnnotations, "annotation");
    v.userLabels("labels", props.labels, [...CHART_LABEL_KEYS, "cdktf-triton/role"]);
    v.stringMap("annotations", props.annotations, "annotation");
    const active = choiceOf(this, v, "active", props.active, COLORS);
    const standby = choiceOf(this, v, "standby", props.standby ?? "preview", STANDBY_MODES);
    v.check("blue", props.blue, typeof props.blue === "object" && props.blue !== null, "the blue release's props");
    v.check("green", props.green, typeof props.green === "object" && props.green !== null, "the green release's props");
    this.validateReplicas(v, props, standby);
    if (props.followCanary !== undefined) {
      const f = props.followCanary;
      v.check(
        "followCanary.canaryPercent",
        String(f.canaryPercent),
        f.canaryPercent instanceof TerraformVariable && TerraformStack.of(f.canaryPercent) === TerraformStack.of(this),
        "the canary's percent variable (TritonCanary.percentVariable), of the same stack",
      );
      v.integer("followCanary.surge", f.surge, 0, 1000);
    }
    const allow = props.allowServingChange ?? TritonBlueGreen.allowServingChangeVariable(this);
    if (allow instanceof TerraformVariable) {
      v.check(
        "allowServingChange",
        `var.${allow.friendlyUniqueId}`,
        TerraformStack.of(allow) === TerraformStack.of(this),
        "a TerraformVariable of the same stack",
      );
    } else v.check("allowServingChange", allow, typeof allow === "boolean", "true, false or a bool TerraformVariable");
    validateVerification(v, props);
    claimName(this, v, "appName", this.appName, `Service ${this.namespace}/${this.appName}`);
    claimName(this, v, "appName", this.appName, `Service ${this.namespace}/${this.appName}-preview`);
    v.throwIfInvalid();
    return { active, standby, allow };
  }

  /** A color's own replicas reach its release only through the replica rule, so they are checked here. */
  private validateReplicas(v: PropValidator, props: TritonBlueGreenProps, standby: Choice<StandbyMode>): void {
    const inRule = "it enters the replica rule (use a literal, or TritonRelease for a replica variable)";
    v.knownAtSynth("previewReplicas", props.previewReplicas ?? 1, inRule);
    if (props.previewReplicas !== undefined && "literal" in standby && standby.literal !== "preview") {
      v.check(
        "previewReplicas",
        props.previewReplicas,
        false,
        `no previewReplicas with standby "${standby.literal}": only standby "preview" runs them (leave it out, or make standby "preview" or a variable)`,
      );
    }
    for (const color of COLORS) {
      v.check(
        `${color}.replicas`,
        props[color]?.replicas,
        props[color]?.replicas !== 0,
        `at least 1: ${color} serves once active names it, and 0 pods would serve nothing (a standby's pods follow standby)`,
      );
      v.integer(`${color}.replicas`, props[color]?.replicas, 0, 1000);
      v.knownAtSynth(`${color}.replicas`, props[color]?.replicas, inRule);
      const hpa = props[color]?.autoscaling;
      const full = props[color]?.replicas ?? 1;
      if (hpa && Number.isInteger(hpa.maxReplicas) && typeof full === "number") {
        v.check(
          `${color}.autoscaling.maxReplicas`,
          hpa.maxReplicas,
          hpa.maxReplicas >= full,
          `at least ${color}.replicas (${full}), the HPA's minimum while it serves`,
        );
      }
    }
  }

  /**
   * The GPU budget: a terraform_data whose precondition evaluates the budget over the cluster's
   * Nodes and Pods at plan; both releases wait for it, so a change that does not fit is refused
   * before anything moves. The need is the change's peak: what the pods request after this apply,
   * and, while a canary that the standby's capacity follows is above 0, both colors at full
   * replicas (where its last step and its switch take the promotion), so a promotion that could
   * not finish is refused at its first step, before any request reaches the candidate.
   */
  private addGpuBudget(): void {
    const nodes = new DataKubernetesResources(this, "gpu-nodes", { apiVersion: "v1", kind: "Node" });
    // The data source lists one namespace (without one, none: measured on provider 2.38), so one per namespace.
    const namespaces = new DataKubernetesAllNamespaces(this, "gpu-namespaces", {});
    const each = TerraformIterator.fromList(namespaces.namespaces);
    const pods = new DataKubernetesResources(this, "gpu-pods", {
      forEach: each,
      apiVersion: "v1",
      kind: "Pod",
      namespace: each.value,
      fieldSelector: "status.phase!=Succeeded,status.phase!=Failed",
    });
    const colors = COLORS.map((color) => {
      const p = this.release(color).props;
      const rule = this.replicaRules[color];
      const after = typeof rule === "number" ? String(rule) : rule.replace(/^\$\{([\s\S]*)\}$/, "$1");
      const canary = this.followCanaryVariable && `var.${this.followCanaryVariable.friendlyUniqueId}`;
      const replicas = canary ? `${canary} > 0 ? ${this.fullReplicas[color]} : (${after})` : after;
      return { replicas, gpus: p.gpus, nodeSelector: p.nodeSelector, tolerations: p.tolerations };
    });
    const budget = gpuBudget({
      nodes: `data.kubernetes_resources.${nodes.friendlyUniqueId}.objects`,
      pods: `flatten([for ns, d in data.kubernetes_resources.${pods.friendlyUniqueId} : d.objects])`,
      app: this.appName,
      namespace: this.namespace,
      colors,
    });
    // Locals, so a plan shows the numbers by name and the message reads them.
    const need = this.local("gpu-need", budget.need);
    const free = this.local("gpu-free", budget.free);
    const check = new TerraformData(this, "gpu-budget", { input: { need: `\${${need}}`, free: `\${${free}}` } });
    check.addOverride("lifecycle.precondition", [
      {
        condition: `\${${budget.fits}}`,
        error_message: `${this.node.path}: this change needs \${${need}} nvidia.com/gpu for ${this.appName}'s pods at its peak${this.followCanaryVariable ? " (with a canary above 0: both colors at full replicas, where the promotion ends)" : ""}, and the nodes they can use have \${${free}} free (allocatable minus what other pods request; each color is checked on its own nodes too). Free GPUs first, or lower the replicas or the standby's capacity.`,
      },
    ]);
    for (const color of COLORS)
      this.release(color).helmRelease.dependsOn = [
        ...(this.release(color).helmRelease.dependsOn ?? []),
        dependable(check),
      ];
  }

  /** A Terraform local of this pair; its reference (no `${}`). */
  private local(lid: string, expression: string): string {
    return `local.${new TerraformLocal(this, lid, `\${${expression}}`).friendlyUniqueId}`;
  }

  /** One color's TritonRelease: the pair's labels and annotations under its own, its replicas from the replica rule. */
  private colorRelease(
    props: TritonBlueGreenProps,
    color: Color,
    active: Choice<Color>,
    standby: Choice<StandbyMode>,
  ): TritonRelease {
    this.fullReplicas[color] = props[color].replicas ?? 1;
    this.replicaRules[color] = colorReplicas({
      color,
      active,
      standby,
      activeReplicas: props[color].replicas ?? 1,
      previewReplicas: props.previewReplicas ?? 1,
      serving: this.servingColorExpression,
      ...(props.followCanary
        ? {
            followCanary: {
              percent: `var.${props.followCanary.canaryPercent.friendlyUniqueId}`,
              surge: props.followCanary.surge ?? 0,
            },
          }
        : {}),
    });
    const colorProps = props[color];
    return new TritonRelease(this, color, {
      ...colorProps,
      ...(props.labels || colorProps.labels ? { labels: { ...props.labels, ...colorProps.labels } } : {}),
      ...(props.annotations || colorProps.annotations
        ? { annotations: { ...props.annotations, ...colorProps.annotations } }
        : {}),
      appName: this.appName,
      color,
      namespace: this.namespace,
      replicas: asNumber(this.replicaRules[color]),
    });
  }

  /**
   * A release's fingerprint: what it runs (the chart, whose asset path holds its content hash, and
   * the values; replicas aside), evaluated by Terraform so variables in the values count.
   */
  private fingerprint(color: Color): string {
    const r = `helm_release.${this.release(color).helmRelease.friendlyUniqueId}`;
    return this.local(`fingerprint-${color}`, `substr(sha256(join("\\n", [${r}.chart, ${r}.values[0]])), 0, 16)`);
  }

  /**
   * Written on the active Service with the selector: what it serves, and each color's last pass as
   * the candidate (kept from the cluster, renewed when the active color's fingerprint is new).
   */
  private pairAnnotations(active: Choice<Color>, activeFingerprint: string): Record<string, string> {
    const annotations: Record<string, string> = { [PAIR_ANNOTATIONS.servingFingerprint]: `\${${activeFingerprint}}` };
    if (!this.gate) return annotations;
    for (const color of COLORS) {
      const now = this.annotationNow(PAIR_ANNOTATIONS.verified(color));
      const key = `format("%s %s ", ${this.fingerprintExpressions[color]}, "${this.gate.specHash}")`;
      const isActive = "literal" in active ? String(active.literal === color) : `${active.expression} == "${color}"`;
      annotations[PAIR_ANNOTATIONS.verified(color)] =
        `\${${isActive} && !startswith(${now}, ${key}) ? "\${${key}}\${${this.gate.passedAtExpression}}" : ${now}}`;
    }
    return annotations;
  }

  /** One of the pair's two Services (active or preview): the selector picks a color, the ports are Triton's. */
  private service(
    props: TritonBlueGreenProps,
    sid: string,
    name: string,
    role: string,
    color: string,
    type: string,
    annotations?: Record<string, string>,
  ): ServiceV1 {
    return new ServiceV1(this, sid, {
      metadata: {
        name,
        namespace: this.namespace,
        labels: { ...props.labels, app: this.appName, "cdktf-triton/role": role },
        annotations:
          annotations || props.annotations
            ? { ...props.annotations, ...props.serviceAnnotations, ...annotations }
            : props.serviceAnnotations,
      },
      spec: {
        type,
        selector: { app: this.appName, color },
        port: [
          { name: "http", port: TRITON_PORTS.http, targetPort: "http", protocol: "TCP" },
          {
            name: "grpc",
            port: TRITON_PORTS.grpc,
            targetPort: "grpc",
            protocol: "TCP",
            appProtocol: "kubernetes.io/h2c",
          },
          { name: "metrics", port: TRITON_PORTS.metrics, targetPort: "metrics", protocol: "TCP" },
        ],
      },
    });
  }

  /**
   * The guard, checked at plan time: the release of the color that serves now must not change
   * (its fingerprint must be the one written with the selector), unless the break glass is set.
   * A precondition of the active Service, which depends on both releases.
   */
  private addServingGuard(servingFingerprintNow: string): void {
    const serving = this.servingColorExpression;
    const glass = this.allowServingChangeExpression;
    const how = glass.startsWith("var.") ? `set -var ${glass.slice(4)}=true` : "set allowServingChange";
    this.activeService.addOverride(
      "lifecycle.precondition",
      COLORS.map((color) => {
        const other = otherColor(color);
        return {
          condition: `\${${serving} != "${color}" || ${servingFingerprintNow} == "" || ${servingFingerprintNow} == ${this.fingerprintExpressions[color]} || ${glass}}`,
          error_message:
            `The ${color} release of ${this.appName} serves traffic now (Service ${this.appName} selects color=${color}): this plan would change it in place while it takes all traffic. ` +
            `Stage the change on ${other}, the standby color, and switch active to ${other} once it is verified; or, to change the serving color anyway, ${how} (break glass).`,
        };
      }),
    );
  }

  /** An annotation of the active Service as the cluster has it at plan time ("" when absent). */
  annotationNow(key: string): string {
    return `try(data.kubernetes_service_v1.${this.servingNow.friendlyUniqueId}.metadata[0].annotations[${JSON.stringify(key)}], "")`;
  }

  /**
   * Makes the switch wait for `dependables`: this is where the verification gate sits, between the
   * candidate's rollout and the traffic switch. The switch is both Services' selectors (the active
   * one and the preview one move together), so if one of them fails during apply neither selector
   * is updated: the active color stays as it was and the preview still shows the candidate.
   */
  public addSwitchPrecondition(...dependables: ITerraformDependable[]): void {
    for (const service of [this.activeService, this.previewService]) {
      service.dependsOn = [...(service.dependsOn ?? []), ...dependables.map(dependable)];
    }
  }

  /** The release of a color. */
  public release(color: Color): TritonRelease {
    return color === "blue" ? this.blue : this.green;
  }
}
