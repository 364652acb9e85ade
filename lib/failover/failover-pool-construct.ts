import { Construct } from "constructs";
import { PropValidator } from "../validation";
import { EnvoyModel } from "../traffic/envoy-config";
import { DataPlaneProps, EnvoyDeployment, validateDataPlane } from "../traffic/envoy-deployment";
import { failoverPoolModel, FailoverPoolProps } from "./failover-pool";

export interface FailoverPoolServiceProps extends FailoverPoolProps, DataPlaneProps {}

/**
 * A health-checked failover pool served by Envoy in the cluster: tier 0 takes traffic while it is
 * healthy, then tier 1, ...; failed requests retry on another host; every tier down is a fast 503.
 */
export class FailoverPool extends Construct {
  public readonly model: EnvoyModel;
  public readonly envoy: EnvoyDeployment;

  constructor(scope: Construct, id: string, props: FailoverPoolServiceProps) {
    super(scope, id);
    const name = props.name ?? id;
    const v = new PropValidator(this.node.path);
    validateDataPlane(props, name, v);
    this.model = failoverPoolModel(name, props, v);
    this.envoy = new EnvoyDeployment(this, "envoy", name, this.model, props);
  }
}
