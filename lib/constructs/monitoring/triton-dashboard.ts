// TritonDashboard: a blue/green pair's Grafana dashboard as a ConfigMap that Grafana's dashboard
// sidecar (the Grafana Helm chart's `sidecar.dashboards`) picks up by its label.
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import { Construct } from "constructs";
import { TritonBlueGreen } from "../bluegreen/triton-bluegreen";
import { DependableConstruct } from "../dependencies";
import { claimName } from "../names";
import { EnvoyModel } from "../traffic/envoy-model";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { pairDashboard } from "./dashboard";

export interface TritonDashboardProps {
  readonly pair: TritonBlueGreen;
  /**
   * Our Envoys in front of the pair (a TritonCanary, WeightedService or FailoverPool): their
   * traffic share per cluster, ejections, healthy hosts and health-check failures.
   * @default [] - Triton's panels only
   */
  readonly envoys?: readonly { readonly model: EnvoyModel }[];
  /** The ConfigMap's name. @default `${appName}-dashboard` */
  readonly name?: string;
  /** @default - the pair's title, "Triton <appName>" */
  readonly title?: string;
  /**
   * The label Grafana's sidecar selects dashboards by (its `sidecar.dashboards.label` and
   * `labelValue`), with your other labels.
   * @default { grafana_dashboard: "1" }
   */
  readonly labels?: Record<string, string>;
  /** Your annotations, e.g. the sidecar's folder annotation (`grafana_folder`). @default {} */
  readonly annotations?: Record<string, string>;
}

/**
 * A Grafana dashboard of one blue/green pair, split by color: request rate, success rate, p99,
 * Triton's queue and compute time per request, GPU utilisation and memory (on GPU pods), and for
 * each Envoy in front: the traffic share per cluster, ejections, healthy hosts, health-check
 * failures. Its queries read the series the chart's ServiceMonitor labels (app, color) and our
 * Envoys' pods' `app`. A ConfigMap: off unless you add the construct.
 */
export class TritonDashboard extends DependableConstruct {
  public readonly configMap: ConfigMapV1;
  /** The dashboard JSON, as written into the ConfigMap. */
  public readonly dashboard: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: TritonDashboardProps) {
    super(scope, id);
    refuseUnknownKeys("TritonDashboard#2", props, this.node.path);
    const v = new PropValidator(this.node.path);
    v.check("pair", props.pair, props.pair instanceof TritonBlueGreen, "a TritonBlueGreen");
    v.throwIfInvalid();
    const app = props.pair.appName;
    const name = props.name ?? `${app}-dashboard`;
    v.dnsSubdomain("name", name);
    v.stringMap("labels", props.labels, "label");
    v.stringMap("annotations", props.annotations, "annotation");
    (props.envoys ?? []).forEach((e, i) =>
      v.check(
        `envoys[${i}]`,
        e?.model?.name,
        typeof e?.model?.name === "string",
        "a TritonCanary, WeightedService or FailoverPool",
      ),
    );
    claimName(this, v, "name", name, `ConfigMap ${props.pair.namespace}/${name}`);
    v.throwIfInvalid();
    this.dashboard = pairDashboard({
      app,
      namespace: props.pair.namespace,
      envoys: (props.envoys ?? []).map((e) => e.model.name),
      title: props.title,
    });
    this.configMap = new ConfigMapV1(this, "dashboard", {
      metadata: {
        name,
        namespace: props.pair.namespace,
        labels: {
          ...(props.labels ?? { grafana_dashboard: "1" }),
          app,
          "app.kubernetes.io/managed-by": "cdktf-triton",
        },
        ...(props.annotations && Object.keys(props.annotations).length ? { annotations: props.annotations } : {}),
      },
      data: { [`${app}.json`]: JSON.stringify(this.dashboard, null, 1) },
    });
  }
}
