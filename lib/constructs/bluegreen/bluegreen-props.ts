// What a platform team gives a TritonBlueGreen: the colors' releases, the active color and the
// standby mode, and the verification before (and after) a switch.
import { TerraformVariable } from "cdktf";
import { Color } from "../../core/colors";
import { Protocol, ServiceType } from "../../core/closed-sets";
import { VerifySpec } from "../../core/verify-spec";
import { TritonColorProps } from "../release/props";
import { GateRunner } from "../verify/gate-job";
import { StandbyMode } from "./standby";

/** Props of a {@link TritonBlueGreen}. */
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
   * Capacity that follows a canary's weight: while the standby color takes `canaryPercent` of the
   * requests, it runs `ceil(canaryPercent x replicas / 100) + surge` pods (at least what its
   * standby mode gives, at most its replicas), so a promotion holds the candidate's GPUs in
   * proportion to its traffic instead of a warm standby's full replicas for the whole promotion.
   * The same TerraformVariable as the canary's `canaryPercent`: each step's apply scales the
   * candidate up (Helm waits until its pods are ready) before the driver pushes the step's weights.
   * @default - the standby runs what its standby mode says
   */
  readonly followCanary?: { readonly canaryPercent: TerraformVariable; readonly surge?: number };
  /**
   * Check at plan that the nvidia.com/gpu the pair's pods request after the apply fit in what the
   * nodes they can use have free (allocatable minus other pods' requests; node selectors, taints and
   * tolerations, cordoned nodes honoured), and refuse the plan with the numbers when they do not.
   * Reads the cluster's Nodes and Pods at plan (the provider's identity needs list on both).
   * @default false
   */
  readonly gpuBudget?: boolean;
  /**
   * Type of the active Service, the one that serves.
   * @default "ClusterIP"
   */
  readonly serviceType?: ServiceType;
  /**
   * Type of the preview Service, the one that selects the unverified candidate: inside the cluster
   * unless you say otherwise.
   * @default "ClusterIP"
   */
  readonly previewServiceType?: ServiceType;
  /** Annotations on the active and preview Services. @default {} */
  readonly serviceAnnotations?: Record<string, string>;
  /**
   * Your labels on everything the pair creates: its Services, and both releases' objects and pods
   * (a color's own `labels` win). The keys we set (app, color, version, app.kubernetes.io/*,
   * helm.sh/chart, cdktf-triton/role) are refused.
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /** Your annotations on everything the pair creates (a color's own `annotations` win). @default {} */
  readonly annotations?: Record<string, string>;
  /**
   * Verify the color that is to serve before the switch moves to it: a VerificationGate between the
   * releases and the active Service's selector. A failed verification fails the apply and leaves
   * the selector as it was.
   * @default - no verification: the switch waits only for the releases to be ready
   */
  readonly verify?: BlueGreenVerification;
  /**
   * The break-glass switch of the serving-color guard: while it is false, a plan that would change
   * the release of the color that serves now is refused. A TerraformVariable (bool) or a literal.
   * @default - the stack's `allow_serving_change` variable (default false), shared by its pairs
   */
  readonly allowServingChange?: boolean | TerraformVariable;
}

/** How TritonBlueGreen verifies the color that is to serve. */
export interface BlueGreenVerification {
  /** What the candidate must show. */
  readonly spec: VerifySpec;
  /**
   * Where the verifier runs: `GateRunner.local()`, on the machine that applies (local-exec: Node,
   * this package, kubectl, a route to the API server), or `GateRunner.cluster({ image })`, a
   * Kubernetes Job in the pair's namespace that Terraform waits for (the runner needs nothing but
   * Terraform). In the cluster the Job reaches a color by its Service's DNS name.
   * @default GateRunner.local()
   */
  readonly runIn?: GateRunner;
  /**
   * How the verifier reaches a color: `kubectl port-forward` to the color's own Service (from
   * where apply runs; in the cluster, the Service's DNS name), or a URL per color.
   * @default "port-forward"
   */
  readonly access?: "port-forward" | { readonly blue: string; readonly green: string };
  /** For port-forwards. @default - kubectl's defaults */
  readonly kubeconfig?: string;
  /** @default - kubectl's current context */
  readonly kubeContext?: string;
  /**
   * Also probe the other color as a baseline (relative latency budget, output agreement; see the
   * spec's `baseline`). It must be running: standby "warm" or "preview".
   * @default false
   */
  readonly compareWithBaseline?: boolean;
  /** See VerificationGateProps. @default {} */
  readonly headersFromEnv?: Record<string, string>;
  /** @default "npx --no-install cdktf-triton" */
  readonly command?: string;
  /** @default - no report files */
  readonly reportDir?: string;
  /** Verify over HTTP/REST (port 8000) or gRPC (port 8001, port-forwarded to the color's Service). @default "http" */
  readonly protocol?: Protocol;
  /**
   * Verify again once the selectors moved, through the active Service (the real traffic path).
   * If it does not pass, the verifier points both Services back at the color that served before the
   * apply (through the Kubernetes API, with this kubeconfig/context) and the apply fails.
   * @default - nothing runs after the switch
   */
  readonly afterSwitch?: AfterSwitchVerification;
}

/** The post-switch verification of a TritonBlueGreen. */
export interface AfterSwitchVerification {
  /** What the active Service must show once it selects the new color. */
  readonly spec: VerifySpec;
  /**
   * How the verifier reaches the active Service: required when `access` gives URLs; with
   * port-forwards, `kubectl port-forward svc/<appName>`.
   * @default - a port-forward to the active Service
   */
  readonly url?: string;
}
