// FailoverPool: the construct. The pool itself (props, validation, the Envoy model) is failover-pool-model.ts.
import { refuseUnknownKeys } from "../validation";
import { Construct } from "constructs";
import { EnvoyModel } from "../traffic/envoy-model";
import { DataPlaneProps, deployEnvoy, EnvoyDeployment } from "../traffic/envoy-deployment";
import { failoverPoolModel, FailoverPoolProps } from "./failover-pool-model";
import { DependableConstruct } from "../dependencies";

export interface FailoverPoolServiceProps extends FailoverPoolProps, DataPlaneProps {}

/**
 * A health-checked failover pool served by Envoy in the cluster: tier 0 takes traffic while it is
 * healthy, then tier 1, ...; failed requests retry on another host; every tier down is a fast 503.
 */
export class FailoverPool extends DependableConstruct {
  public readonly model: EnvoyModel;
  public readonly envoy: EnvoyDeployment;

  constructor(scope: Construct, id: string, props: FailoverPoolServiceProps) {
    super(scope, id);
    refuseUnknownKeys("FailoverPool#2", props, this.node.path);
    ({ model: this.model, envoy: this.envoy } = deployEnvoy(this, props, id, (name, v) =>
      failoverPoolModel(name, props, v),
    ));
  }
}
