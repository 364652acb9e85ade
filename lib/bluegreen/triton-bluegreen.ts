import { ITerraformDependable, TerraformStack, TerraformVariable, Token } from "cdktf";
import { dependable } from "cdktf/lib/tfExpression";
import { ServiceV1 } from "@cdktf/provider-kubernetes/lib/service-v1";
import { createHash } from "crypto";
import { Construct } from "constructs";
import { Color, COLORS, TritonColorProps } from "../release/props";
import { TritonRelease } from "../release/triton-release";
import { TRITON_PORTS } from "../release/values";
import { PropValidator } from "../validation";
import { VerifySpec } from "../verify/spec";
import { GateTarget, VerificationGate } from "../verify/verification-gate";
import { Choice, choiceValue, colorReplicas, otherColor, STANDBY_MODES, StandbyMode } from "./standby";

/** Props of a {@link TritonBlueGreen}. */
export interface TritonBlueGreenProps {
  /**
   * The application's name: the `app` label, the active Service's name, the prefix of the
   * releases (`<appName>-blue`, `<appName>-green`) and of the preview Service. RFC 1123 label.
   * @default - the construct id
   */
  readonly appName?: string;
  /**
   * Kubernetes namespace of everything this declares; it must exist.
   * @default "default"
   */
  readonly namespace?: string;
  /** The blue release. */
  readonly blue: TritonColorProps;
  /** The green release. */
  readonly green: TritonColorProps;
  /**
   * The color that serves traffic. A TerraformVariable lets a pipeline switch with
   * `-var active=green`; it gets a validation that only accepts "blue" or "green".
   */
  readonly active: Color | TerraformVariable;
  /**
   * What the other color runs: "preview" (previewReplicas pods, to verify a candidate), "warm"
   * (full replicas: promote or roll back without a capacity dip) or "scaled-down" (0 pods, still
   * installed). May be a TerraformVariable.
   * @default "preview"
   */
  readonly standby?: StandbyMode | TerraformVariable;
  /**
   * Pods of the standby color in "preview" mode, capped at its own replicas.
   * @default 1
   */
  readonly previewReplicas?: number;
  /**
   * Type of the active and preview Services.
   * @default "ClusterIP"
   */
  readonly serviceType?: "ClusterIP" | "NodePort" | "LoadBalancer";
  /** Annotations on the active and preview Services. @default {} */
  readonly serviceAnnotations?: Record<string, string>;
  /**
   * Verify the color that is to serve before the switch moves to it: a VerificationGate between the
   * releases and the active Service's selector. A failed verification fails the apply and leaves
   * the selector as it was.
   * @default - no verification: the switch waits only for the releases to be ready
   */
  readonly verify?: BlueGreenVerification;
}

/** How TritonBlueGreen verifies the color that is to serve. */
export interface BlueGreenVerification {
  /** What the candidate must show. */
  readonly spec: VerifySpec;
  /**
   * How the verifier, running where `apply` runs, reaches a color: `kubectl port-forward` to the
   * color's own Service, or a URL per color.
   * @default "port-forward"
   */
  readonly access?: "port-forward" | { readonly blue: string; readonly green: string };
  /** For port-forwards. @default - kubectl's defaults */
  readonly kubeconfig?: string;
  readonly kubeContext?: string;
  /**
   * Also probe the other color as a baseline (relative latency budget, output agreement; see the
   * spec's `baseline`). It must be running: standby "warm" or "preview".
   * @default false
   */
  readonly compareWithBaseline?: boolean;
  /** See VerificationGateProps. */
  readonly headersFromEnv?: Record<string, string>;
  readonly command?: string;
  readonly reportDir?: string;
  /** Verify over HTTP/REST (port 8000) or gRPC (port 8001, port-forwarded to the color's Service). @default "http" */
  readonly protocol?: "http" | "grpc";
}

const validatedVariables = new WeakSet<TerraformVariable>();

/**
 * Two Triton releases, blue and green, behind two Services: the active Service selects the active
 * color, the preview Service the other one. Switching `active` updates the active Service's
 * selector in place (and the preview Service's with it); the switch waits for both releases to be
 * ready (helm_release `wait`), and for every precondition added with {@link addSwitchPrecondition}
 * (the verification gate).
 */
export class TritonBlueGreen extends Construct {
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
  public static standbyVariable(scope: Construct, id = "standby", defaultMode: StandbyMode = "preview"): TerraformVariable {
    return new TerraformVariable(scope, id, {
      type: "string",
      default: defaultMode,
      description: 'What the color that does not serve runs: "preview", "warm" or "scaled-down".',
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
  /** The variables this was given, for summaries. */
  public readonly activeVariable?: TerraformVariable;
  public readonly standbyVariable?: TerraformVariable;

  constructor(scope: Construct, id: string, props: TritonBlueGreenProps) {
    super(scope, id);
    this.appName = props.appName ?? id;
    this.namespace = props.namespace ?? "default";
    const previewReplicas = props.previewReplicas ?? 1;

    const v = new PropValidator(this.node.path);
    v.dnsLabel("appName", this.appName, 47);
    v.dnsLabel("namespace", this.namespace);
    v.integer("previewReplicas", previewReplicas, 1, 1000);
    v.oneOf("serviceType", props.serviceType, ["ClusterIP", "NodePort", "LoadBalancer"]);
    v.stringMap("serviceAnnotations", props.serviceAnnotations, "annotation");
    const active = choiceOf(this, v, "active", props.active, COLORS);
    const standby = choiceOf(this, v, "standby", props.standby ?? "preview", STANDBY_MODES);
    if (props.active instanceof TerraformVariable) this.activeVariable = props.active;
    if (props.standby instanceof TerraformVariable) this.standbyVariable = props.standby;
    this.active = choiceValue(active);
    this.standby = choiceValue(standby);
    v.check("blue", props.blue, typeof props.blue === "object" && props.blue !== null, "the blue release's props");
    v.check("green", props.green, typeof props.green === "object" && props.green !== null, "the green release's props");
    // A color's own replicas reach its release only through the replica rule, so check them here.
    const inRule = "it enters the replica rule (use a literal, or TritonRelease for a replica variable)";
    v.knownAtSynth("previewReplicas", previewReplicas, inRule);
    for (const color of COLORS) {
      v.integer(`${color}.replicas`, props[color]?.replicas, 0, 1000);
      v.knownAtSynth(`${color}.replicas`, props[color]?.replicas, inRule);
    }
    v.throwIfInvalid();

    const release = (color: Color): TritonRelease => {
      const colorProps = props[color];
      return new TritonRelease(this, color, {
        ...colorProps,
        appName: this.appName,
        color,
        namespace: this.namespace,
        replicas: asNumber(
          colorReplicas({ color, active, standby, activeReplicas: colorProps.replicas ?? 1, previewReplicas }),
        ),
      });
    };
    this.blue = release("blue");
    this.green = release("green");

    const service = (sid: string, name: string, role: string, color: string): ServiceV1 =>
      new ServiceV1(this, sid, {
        metadata: {
          name,
          namespace: this.namespace,
          labels: { app: this.appName, "cdktf-triton/role": role },
          annotations: props.serviceAnnotations,
        },
        spec: {
          type: props.serviceType ?? "ClusterIP",
          selector: { app: this.appName, color },
          port: [
            { name: "http", port: TRITON_PORTS.http, targetPort: "http", protocol: "TCP" },
            { name: "grpc", port: TRITON_PORTS.grpc, targetPort: "grpc", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
            { name: "metrics", port: TRITON_PORTS.metrics, targetPort: "metrics", protocol: "TCP" },
          ],
        },
      });
    this.activeService = service("active-service", this.appName, "active", this.active);
    this.previewService = service("preview-service", `${this.appName}-preview`, "preview", otherColor(active));
    // The switch moves only once both colors are rolled out and ready, and the gate has passed.
    this.addSwitchPrecondition(this.blue.helmRelease, this.green.helmRelease);
    if (props.verify) {
      this.gate = this.verificationGate(props.verify, active);
      this.addSwitchPrecondition(this.gate.resource);
    }
  }

  /** A gate that verifies the color `active` names, re-run when that color or its release changes. */
  private verificationGate(options: BlueGreenVerification, active: Choice<Color>): VerificationGate {
    const access = options.access ?? "port-forward";
    /** The candidate (the color `active` names) or the baseline (the other one), as a gate target. */
    const targetOf = (which: "candidate" | "baseline"): GateTarget => {
      if (access === "port-forward") {
        const color = which === "candidate" ? this.active : otherColor(active);
        const port = options.protocol === "grpc" ? TRITON_PORTS.grpc : TRITON_PORTS.http;
        return GateTarget.portForward({ service: `${this.appName}-${color}`, port, namespace: this.namespace, kubeconfig: options.kubeconfig, context: options.kubeContext });
      }
      const [ifBlue, ifGreen] = which === "candidate" ? [access.blue, access.green] : [access.green, access.blue];
      if ("literal" in active) return GateTarget.url(active.literal === "blue" ? ifBlue : ifGreen);
      return GateTarget.url(`\${${active.expression} == "blue" ? ${JSON.stringify(ifBlue)} : ${JSON.stringify(ifGreen)}}`);
    };
    const fingerprint = (r: TritonRelease) => createHash("sha256").update(JSON.stringify(r.values)).digest("hex").slice(0, 16);
    const candidate =
      "literal" in active
        ? fingerprint(this.release(active.literal))
        : `\${${active.expression} == "blue" ? "${fingerprint(this.blue)}" : "${fingerprint(this.green)}"}`;
    const gate = new VerificationGate(this, "verify", {
      spec: options.spec,
      target: targetOf("candidate"),
      baseline: options.compareWithBaseline ? targetOf("baseline") : undefined,
      triggers: { color: this.active, release: candidate },
      headersFromEnv: options.headersFromEnv,
      command: options.command,
      reportDir: options.reportDir,
      protocol: options.protocol,
    });
    gate.resource.dependsOn = [dependable(this.blue.helmRelease), dependable(this.green.helmRelease)];
    return gate;
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

/**
 * A prop given as a literal (validated now) or as a TerraformVariable of this stack (validated by
 * Terraform at plan time, and referenced by name in the expressions we render).
 */
function choiceOf<T extends string>(
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
    restrictVariable(value, allowed);
    return { expression: `var.${value.friendlyUniqueId}` };
  }
  v.oneOf(field, value, allowed);
  return { literal: value };
}

/** A replica count for a release: a number, or a Terraform expression carried as a number token. */
function asNumber(replicas: number | string): number {
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
