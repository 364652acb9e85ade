// A staged promotion declared next to its pair: the steps, the analysis and what the driver does.
// Synthesized into the stack's folder as a file asset (promotion.json) that `cdktf-triton promote`
// reads, and a stack output with the pair's state (active color, versions, fingerprints).
import { historyConfigMap, PROMOTION_SPEC_FILE, PROMOTION_SPEC_FOLDER } from "../../core/names";
import { TerraformAsset, TerraformOutput } from "cdktf";
import { specAsset } from "../spec-asset";
import { Construct } from "constructs";
import { Color, COLORS } from "../../core/colors";
import { CANARY_ROUTE, ENVOY_ADMIN_PORT, ENVOY_OPS_PORT } from "../../core/envoy";
import { PropValidator, refuseUnknownKeys } from "../validation";
import {
  MetricSpec,
  ModelPlaneSpec,
  PROMOTION_SPEC_VERSION,
  PromotionSpec,
  PromotionStep,
  promotionProblems,
} from "../../core/promotion-spec";
import { TritonCanary } from "./triton-canary";
import { TritonGatewayCanary } from "./triton-gateway-canary";
import { TritonModelCanary } from "./triton-model-canary";
import { TRITON_PORTS } from "../release/values";

export type { MetricSpec, PromotionStep, MetricKind } from "../../core/promotion-spec";

/** Thresholds and cadence shared by every metric factory. */
export interface MetricOptions {
  /** @default - the analysis's intervalSeconds */
  readonly intervalSeconds?: number;
  /** Failed measurements tolerated in a step; one more aborts. @default 0 */
  readonly failureLimit?: number;
  /** Conclusive passing measurements each step needs (no data is never a pass). @default 1 */
  readonly count?: number;
}

/** The metrics a promotion can analyse, like Flagger's built-in and custom metric templates. */
export class PromotionMetric {
  /** Percent of the candidate's requests through our Envoy that did not answer 5xx (Envoy's per-cluster counters). */
  public static successRate(
    options: MetricOptions & { readonly minPercent: number; readonly minRequests?: number; readonly name?: string },
  ): MetricSpec {
    refuseUnknownKeys("PromotionMetric.successRate#0", options);
    const { minPercent, name, ...rest } = options;
    return { name: name ?? "request-success-rate", kind: "envoy-success-rate", min: minPercent, ...rest };
  }

  /** A latency percentile (seconds) of the candidate's requests through our Envoy (Envoy's per-cluster histogram). */
  public static latency(
    options: MetricOptions & {
      readonly percentile?: number;
      readonly maxSeconds: number;
      readonly minRequests?: number;
      readonly name?: string;
    },
  ): MetricSpec {
    refuseUnknownKeys("PromotionMetric.latency#0", options);
    const { percentile, maxSeconds, name, ...rest } = options;
    return {
      name: name ?? `request-duration-p${percentile ?? 99}`,
      kind: "envoy-latency",
      percentile: percentile ?? 99,
      max: maxSeconds,
      ...rest,
    };
  }

  /** Percent of the candidate's Triton inferences that failed (nv_inference_request_failure), from Prometheus. */
  public static tritonFailureRate(
    options: MetricOptions & { readonly maxPercent: number; readonly name?: string },
  ): MetricSpec {
    refuseUnknownKeys("PromotionMetric.tritonFailureRate#0", options);
    const { maxPercent, name, ...rest } = options;
    return { name: name ?? "triton-failure-rate", kind: "triton-failure-rate", max: maxPercent, ...rest };
  }

  /** The candidate's mean Triton queue time per request (seconds; core/queue-time), from Prometheus. */
  public static tritonQueueTime(
    options: MetricOptions & { readonly maxSeconds: number; readonly name?: string },
  ): MetricSpec {
    refuseUnknownKeys("PromotionMetric.tritonQueueTime#0", options);
    const { maxSeconds, name, ...rest } = options;
    return { name: name ?? "triton-queue-time", kind: "triton-queue-time", max: maxSeconds, ...rest };
  }

  /**
   * Your PromQL against Prometheus' HTTP API; one number. `{{app}}`, `{{namespace}}`, `{{color}}`
   * (the candidate), `{{stable}}` and `{{interval}}` (e.g. `30s`) are replaced; for a TritonModelCanary also
   * `{{model}}` and `{{version}}` (the candidate version; `{{color}}` is then the serving color).
   */
  public static promql(
    options: MetricOptions & {
      readonly name: string;
      readonly query: string;
      readonly min?: number;
      readonly max?: number;
    },
  ): MetricSpec {
    refuseUnknownKeys("PromotionMetric.promql#0", options);
    return { ...options, kind: "promql" };
  }
}

/** Props of a {@link TritonPromotion}. */
export interface TritonPromotionProps {
  /**
   * The canary whose weight the steps move: our Envoy's ({@link TritonCanary}) or the Gateway's
   * ({@link TritonGatewayCanary}, with its `dataPlane`); its pair's `active` and the canary percent
   * must be TerraformVariables. Or a model's next version inside the serving color
   * ({@link TritonModelCanary}): the steps move the share of its unversioned requests, and the end
   * makes it the only version; its Envoy metrics read the next version's route, its Triton metrics
   * that version's (the `version` label).
   */
  readonly canary: TritonCanary | TritonGatewayCanary | TritonModelCanary;
  /** The candidate's weight per step, increasing, e.g. 5 → 25 → 50 → 100, each with its bake time. */
  readonly steps: readonly PromotionStep[];
  readonly analysis: {
    /** @default 30 */
    readonly intervalSeconds?: number;
    readonly metrics: readonly MetricSpec[];
    /** Prometheus' URL where the driver runs (`--prometheus-url` overrides it). @default - none: Prometheus metrics need the flag */
    readonly prometheusUrl?: string;
  };
  /** Ask before the final switch of `active`. @default false */
  readonly confirmBeforeSwitch?: boolean;
  /** Records kept in the pair's history ConfigMap. @default 50 */
  readonly historyLimit?: number;
  /** The environment variable that holds a webhook URL for notifications (never in the plan). @default "CDKTF_TRITON_WEBHOOK_URL" */
  readonly webhookUrlEnv?: string;
}

/**
 * A staged canary promotion of a {@link TritonBlueGreen} through its {@link TritonCanary}, run by
 * `cdktf-triton promote` where you run plan/apply: each step applies the stack with the step's
 * canary weight, bakes under analysis, and goes on or aborts (candidate back to 0 %); the last
 * step switches `active` with the canary back at 0.
 */
export class TritonPromotion extends Construct {
  public readonly spec: PromotionSpec;
  /** promotion.json in the synth output. */
  public readonly specAsset: TerraformAsset;
  /** The pair's state for the driver: active color, each color's version and fingerprint. */
  public readonly stateOutput: TerraformOutput;

  constructor(scope: Construct, id: string, props: TritonPromotionProps) {
    super(scope, id);
    refuseUnknownKeys("TritonPromotion#2", props, this.node.path);
    const v = new PropValidator(this.node.path);
    const modelCanary = props.canary instanceof TritonModelCanary ? props.canary : undefined;
    const canary = modelCanary ? modelCanary.canary : (props.canary as TritonCanary | TritonGatewayCanary);
    const gateway = canary instanceof TritonGatewayCanary;
    v.check(
      "canary",
      String(canary),
      canary instanceof TritonCanary || gateway,
      "a TritonCanary, a TritonGatewayCanary or a TritonModelCanary",
    );
    v.throwIfInvalid();
    const pair = canary.pair;
    const kind = gateway ? "TritonGatewayCanary" : "TritonCanary";
    if (!modelCanary) {
      v.check(
        "canary",
        canary.node.path,
        canary.canaryVariable !== undefined,
        `a ${kind} whose canaryPercent is a TerraformVariable (TritonCanary.percentVariable): the driver sets it per step`,
      );
      v.check(
        "canary",
        pair.node.path,
        pair.activeVariable !== undefined,
        `a ${kind} whose pair's active is a TerraformVariable (TritonBlueGreen.activeVariable): the driver switches it`,
      );
    }
    if (gateway)
      v.check(
        "canary.dataPlane",
        canary.node.path,
        canary.dataPlane !== undefined,
        "a TritonGatewayCanary with its dataPlane (e.g. GatewayDataPlane.contour()): the driver reads the weights the Gateway's Envoy serves and each color's requests from it",
      );
    const { analysis, webhookUrlEnv } = checkedSettings(v, props);

    // A pair may have a promotion of its colors and one of each model canary's versions.
    const outputId = `${pair.appName}${modelCanary ? `_${modelCanary.model}_versions` : ""}_promotion`.replace(
      /[^A-Za-z0-9_]/g,
      "_",
    );
    const rel = (c: Color) => pair.release(c);
    this.stateOutput = new TerraformOutput(this, "state", {
      description: `The state of ${pair.appName} for cdktf-triton promote: the active color, and each color's version and release fingerprint.`,
      value: {
        active: pair.active,
        namespace: pair.namespace,
        envoyNamespace: canary instanceof TritonGatewayCanary ? (canary.dataPlane?.namespace ?? "") : canary.namespace,
        ...(canary instanceof TritonGatewayCanary
          ? { gateway: { routeNamespace: canary.namespace, services: canary.services } }
          : {}),
        canary: canary.canaryVariable ? `\${var.${canary.canaryVariable.friendlyUniqueId}}` : 0,
        ...(modelCanary
          ? {
              model: Object.fromEntries(
                (["version", "next", "percent"] as const).map((k) => [
                  k,
                  `\${var.${modelCanary.variables[k].friendlyUniqueId}}`,
                ]),
              ),
            }
          : {}),
        ...Object.fromEntries(
          COLORS.map((c) => [
            c,
            { version: rel(c).props.version, fingerprint: `\${${pair.fingerprintExpressions[c]}}` },
          ]),
        ),
      },
    });
    this.stateOutput.overrideLogicalId(outputId);
    this.spec = {
      version: PROMOTION_SPEC_VERSION,
      path: this.node.path,
      app: pair.appName,
      variables: {
        active: pair.activeVariable?.friendlyUniqueId ?? "",
        canary: canary.canaryVariable?.friendlyUniqueId ?? "",
      },
      output: outputId,
      ...dataPlaneSpec(canary),
      ...(modelCanary ? { model: modelPlane(modelCanary) } : {}),
      steps: props.steps.map((s) => ({ weightPercent: s.weightPercent, bakeSeconds: s.bakeSeconds })),
      analysis,
      confirmBeforeSwitch: props.confirmBeforeSwitch ?? false,
      history: { configMap: historyConfigMap(pair.appName), limit: props.historyLimit ?? 50 },
      webhookUrlEnv,
    };
    this.specAsset = specAsset(
      this,
      "spec",
      PROMOTION_SPEC_FOLDER,
      PROMOTION_SPEC_FILE,
      JSON.stringify(this.spec, null, 2),
    ).asset;
  }
}

/** The analysis, the history's limit and the webhook's variable checked (every problem named at once). */
function checkedSettings(
  v: PropValidator,
  props: TritonPromotionProps,
): { analysis: PromotionSpec["analysis"]; webhookUrlEnv: string } {
  const analysis = {
    intervalSeconds: props.analysis?.intervalSeconds ?? 30,
    metrics: props.analysis?.metrics,
    ...(props.analysis?.prometheusUrl !== undefined ? { prometheusUrl: props.analysis.prometheusUrl } : {}),
  };
  for (const p of promotionProblems({ steps: props.steps, analysis })) v.check(p.field, p.value, false, p.expected);
  v.integer("historyLimit", props.historyLimit, 1, 1000);
  const webhookUrlEnv = props.webhookUrlEnv ?? "CDKTF_TRITON_WEBHOOK_URL";
  v.check(
    "webhookUrlEnv",
    webhookUrlEnv,
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(webhookUrlEnv),
    "the name of an environment variable",
  );
  v.throwIfInvalid();
  return { analysis: analysis as PromotionSpec["analysis"], webhookUrlEnv };
}

/** Where the driver finds the weights: the Gateway's Envoy pods, or our Envoy's route and clusters. */
function dataPlaneSpec(canary: TritonCanary | TritonGatewayCanary): Pick<PromotionSpec, "gateway" | "envoy"> {
  return canary instanceof TritonGatewayCanary
    ? {
        gateway: {
          implementation: canary.dataPlane!.implementation,
          route: canary.routeName,
          envoy: {
            namespace: canary.dataPlane!.namespace,
            podLabels: { ...canary.dataPlane!.podLabels },
            adminPort: canary.dataPlane!.adminPort,
          },
        },
      }
    : {
        envoy: {
          name: canary.model.name,
          opsPort: ENVOY_OPS_PORT,
          adminPort: ENVOY_ADMIN_PORT,
          route: CANARY_ROUTE,
          clusters: canary.clusters,
        },
      };
}

/** A model canary as the driver reads it: the variables, the check, each color's pods and restricted API. */
function modelPlane(m: TritonModelCanary): ModelPlaneSpec {
  const pair = m.canary.pair;
  const triton = Object.fromEntries(
    COLORS.map((color) => {
      const release = pair.release(color);
      const r = release.values.restrictedApi;
      const restricted =
        r.enabled && r.apis.includes("model-repository")
          ? {
              header: r.header,
              secretName: r.secretName || `${release.props.releaseName}-restricted-api`,
              secretKey: r.secretKey,
            }
          : undefined;
      return [color, { podLabels: { app: pair.appName, color }, ...(restricted ? { restricted } : {}) }];
    }),
  ) as unknown as ModelPlaneSpec["triton"];
  return {
    name: m.model,
    variables: {
      version: m.variables.version.friendlyUniqueId,
      next: m.variables.next.friendlyUniqueId,
      percent: m.variables.percent.friendlyUniqueId,
    },
    verify: m.verifySpec,
    triton,
    httpPort: TRITON_PORTS.http,
  };
}
