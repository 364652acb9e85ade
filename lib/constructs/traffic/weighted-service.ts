import { refuseUnknownKeys } from "../validation";
import { Construct } from "constructs";
import { EnvoyModel } from "./envoy-model";
import { DataPlaneProps, deployEnvoy, EnvoyDeployment } from "./envoy-deployment";
import { requireWeightSumsAtPlan, weightedRoutesModel, WeightedRoutesProps } from "./weighted-routes";
import { DependableConstruct } from "../dependencies";

export interface WeightedServiceProps extends WeightedRoutesProps, DataPlaneProps {}

/**
 * Weighted routes (canary, A/B by header or cookie, mirroring) across Triton releases, Services or
 * external endpoints, served by Envoy in the cluster. Changing weights updates the ConfigMap, which
 * Envoy reloads without a restart.
 */
export class WeightedService extends DependableConstruct {
  public readonly model: EnvoyModel;
  public readonly envoy: EnvoyDeployment;

  constructor(scope: Construct, id: string, props: WeightedServiceProps) {
    super(scope, id);
    refuseUnknownKeys("WeightedService#2", props, this.node.path);
    ({ model: this.model, envoy: this.envoy } = deployEnvoy(this, props, id, (name, v) =>
      weightedRoutesModel(name, props, v),
    ));
    // Weights from Terraform variables: the plan refuses a route whose weights do not sum to 100.
    requireWeightSumsAtPlan(this.envoy.configMap, this.node.path, props.routes);
  }
}
