import { Construct } from "constructs";
import { EnvoyModel } from "./envoy-config";
import { DataPlaneProps, deployEnvoy, EnvoyDeployment } from "./envoy-deployment";
import { weightedRoutesModel, WeightedRoutesProps } from "./weighted-routes";
import { addDependencies, Dependency } from "../dependencies";

export interface WeightedServiceProps extends WeightedRoutesProps, DataPlaneProps {}

/**
 * Weighted routes (canary, A/B by header or cookie, mirroring) across Triton releases, Services or
 * external endpoints, served by Envoy in the cluster. Changing weights updates the ConfigMap, which
 * Envoy reloads without a restart.
 */
export class WeightedService extends Construct {
  public readonly model: EnvoyModel;
  public readonly envoy: EnvoyDeployment;

  constructor(scope: Construct, id: string, props: WeightedServiceProps) {
    super(scope, id);
    ({ model: this.model, envoy: this.envoy } = deployEnvoy(this, props, id, (name, v) => weightedRoutesModel(name, props, v)));
  }

  /**
   * Makes everything this creates wait for `dependencies` (resources, data sources, modules, or
   * constructs: every resource in them), rendered as `depends_on` on each of its resources.
   */
  public dependsOn(...dependencies: Dependency[]): this {
    addDependencies(this, dependencies);
    return this;
  }
}
