// TritonAlerts: a blue/green pair's and its Envoys' alerts as one PrometheusRule. Installed as a
// helm_release of a bundled chart, so `plan` needs neither the monitoring.coreos.com CRDs nor a
// reachable cluster (kubernetes_manifest would need both); the apply needs the CRDs.
import { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { TritonBlueGreen } from "../bluegreen/triton-bluegreen";
import { chartAsset } from "../chart";
import { DependableConstruct } from "../dependencies";
import { claimName } from "../names";
import { EnvoyModel } from "../traffic/envoy-model";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { AlertThresholds, envoyAlertRules, pairAlertRules, poolTiersOf, RuleGroup } from "./alerts";

export interface TritonAlertsProps extends AlertThresholds {
  /** The pair whose serving color must have ready pods. @default - no pair alert */
  readonly pair?: TritonBlueGreen;
  /** Our Envoys to watch (a TritonCanary, WeightedService or FailoverPool). @default [] */
  readonly envoys?: readonly { readonly model: EnvoyModel }[];
  /** The PrometheusRule's (and Helm release's) namespace. @default - the pair's, or "default" */
  readonly namespace?: string;
  /** Where the Envoys run, when not `namespace`. @default - `namespace` */
  readonly envoyNamespace?: string;
  /** The PrometheusRule's and Helm release's name. @default `${pair.appName}-alerts`, or the id */
  readonly name?: string;
  /** Your labels, e.g. the `release` label your Prometheus selects rules by. @default {} */
  readonly labels?: Record<string, string>;
  /** @default {} */
  readonly annotations?: Record<string, string>;
}

/**
 * Alerts as a PrometheusRule: the pair's serving color without a ready pod, and per Envoy cluster:
 * hosts ejected, every host out of rotation (no backup left), hosts out of rotation, p99 response
 * time (default 5000 ms) and 5xx ratio (default 5 %); per failover pool, a tier with every host out
 * and requests on a lower tier. Each color's Triton alerts are the chart's
 * (`monitoring.prometheusRule`).
 */
export class TritonAlerts extends DependableConstruct {
  public readonly groups: RuleGroup[];
  public readonly helmRelease: Release;

  constructor(scope: Construct, id: string, props: TritonAlertsProps) {
    super(scope, id);
    refuseUnknownKeys("TritonAlerts#2", props, this.node.path);
    const v = new PropValidator(this.node.path);
    if (props.pair !== undefined)
      v.check("pair", props.pair, props.pair instanceof TritonBlueGreen, "a TritonBlueGreen");
    (props.envoys ?? []).forEach((e, i) =>
      v.check(
        `envoys[${i}]`,
        e?.model?.name,
        typeof e?.model?.name === "string",
        "a TritonCanary, WeightedService or FailoverPool",
      ),
    );
    v.check(
      "pair",
      props.pair,
      props.pair !== undefined || (props.envoys ?? []).length > 0,
      "a pair, envoys, or both: something to alert on",
    );
    const r = props.failureRatio;
    if (r !== undefined)
      v.check("failureRatio", r, typeof r === "number" && r > 0 && r < 1, "a share between 0 and 1, e.g. 0.05");
    v.seconds("p99LatencySeconds", props.p99LatencySeconds, 0.001, 3600);
    v.userLabels("labels", props.labels, ["app.kubernetes.io/managed-by"]);
    v.stringMap("annotations", props.annotations, "annotation");
    v.throwIfInvalid();
    const namespace = props.namespace ?? props.pair?.namespace ?? "default";
    const name = props.name ?? (props.pair ? `${props.pair.appName}-alerts` : id);
    v.dnsLabel("name", name, 53);
    claimName(this, v, "name", name, `Helm release ${namespace}/${name}`);
    v.throwIfInvalid();
    const envoyNamespace = props.envoyNamespace ?? namespace;
    this.groups = [
      ...(props.pair ? [pairAlertRules(props.pair.appName, props.pair.namespace)] : []),
      ...(props.envoys ?? []).map((e) =>
        envoyAlertRules(
          e.model.name,
          envoyNamespace,
          { failureRatio: props.failureRatio, p99LatencySeconds: props.p99LatencySeconds },
          poolTiersOf(e.model),
        ),
      ),
    ];
    this.helmRelease = new Release(this, "release", {
      name,
      namespace,
      chart: chartAsset(this, "rules").path,
      values: [
        JSON.stringify(
          { name, labels: props.labels ?? {}, annotations: props.annotations ?? {}, groups: this.groups },
          null,
          2,
        ),
      ],
      wait: false,
      atomic: true,
    });
  }
}
