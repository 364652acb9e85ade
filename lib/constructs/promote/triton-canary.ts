// A canary tied to a blue/green pair: Envoy weighted routes whose stable backend is the pair's
// active color and whose candidate is the other one, at `canaryPercent` (a Terraform variable, so a
// pipeline moves traffic with `-var canary=25`). Each weight is one Terraform conditional on the
// pair's `active`, so switching `active` with the canary back at 0 moves nothing that was not
// already serving.
import { refuseUnknownKeys } from "../validation";
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { TritonBlueGreen } from "../bluegreen/triton-bluegreen";
import { DependableConstruct } from "../dependencies";
import { Color, COLORS } from "../../core/colors";
import { Backend } from "../traffic/backend";
import { EnvoyModel } from "../traffic/envoy-model";
import { DataPlaneProps, deployEnvoy, EnvoyDeployment } from "../traffic/envoy-deployment";
import { CANARY_ROUTE, ModelVersionsRoute } from "../../core/envoy";
import { PAIR_LABEL } from "../../core/pair";
import {
  requireWeightSumsAtPlan,
  RouteProps,
  weightedRoutesModel,
  WeightedRoutesProps,
} from "../traffic/weighted-routes";
import { canaryWeights, followCapacity } from "./canary-weights";

/** Props of a {@link TritonCanary}. */
export interface TritonCanaryProps extends Omit<WeightedRoutesProps, "routes">, DataPlaneProps {
  /** The pair whose active color is the stable backend and whose other color is the candidate. */
  readonly pair: TritonBlueGreen;
  /**
   * Percent of requests to the candidate (the color that is not active), a whole number 0 to 100.
   * A TerraformVariable (see {@link TritonCanary.percentVariable}) lets a pipeline or
   * `cdktf-triton promote` move it with `-var <name>=25`. A plan that switches `active` must set it
   * to 0 in the same plan (the plan says so otherwise).
   */
  readonly canaryPercent: number | TerraformVariable;
  /**
   * Where each color is reached from Envoy.
   * @default - each color's own Service (Backend.release)
   */
  readonly backends?: { readonly blue: Backend; readonly green: Backend };
  /** The requests the canary applies to. @default - every request */
  readonly match?: RouteProps["match"];
  /** How long a request may take, in seconds. @default 30 */
  readonly timeoutSeconds?: number;
}

/**
 * Envoy weighted routes in front of a {@link TritonBlueGreen}: the active color takes
 * `100 - canaryPercent`, the other color `canaryPercent`. The sum rule, the 0 to 100 range, "a
 * switch of `active` comes with the canary at 0" and "a canary above 0 needs the standby warm" are
 * preconditions evaluated at plan (or checked at synth when everything is a literal).
 */
export class TritonCanary extends DependableConstruct {
  /**
   * A number variable for `canaryPercent` (default 0), validated by Terraform to a whole number
   * from 0 to 100, so `-var <id>=25` is all a pipeline needs.
   */
  public static percentVariable(scope: Construct, id = "canary", defaultPercent = 0): TerraformVariable {
    const variable = new TerraformVariable(scope, id, {
      type: "number",
      default: defaultPercent,
      nullable: false,
      description: "Percent of requests to the candidate color (the one not active), a whole number from 0 to 100.",
    });
    const ref = `var.${variable.friendlyUniqueId}`;
    variable.addValidation({
      condition: `\${${ref} >= 0 && ${ref} <= 100 && floor(${ref}) == ${ref}}`,
      errorMessage: `The ${variable.friendlyUniqueId} variable must be a whole number from 0 to 100 (percent of requests to the candidate color).`,
    });
    return variable;
  }

  public readonly pair: TritonBlueGreen;
  private envoyModel: EnvoyModel;
  public readonly envoy: EnvoyDeployment;
  /** The canary variable, when `canaryPercent` is one. */
  public readonly canaryVariable?: TerraformVariable;
  /** The Envoy cluster names of each color (HTTP, and gRPC when both colors serve it): what the analysis reads. */
  public readonly clusters: Readonly<Record<Color, readonly string[]>>;
  /** Envoy's namespace. */
  public readonly namespace: string;

  /** Envoy's model: listeners, routes, clusters. */
  public get model(): EnvoyModel {
    return this.envoyModel;
  }

  /**
   * Pins a model's unversioned HTTP requests to a version, with a share to the next one, on the
   * canary's route (used by TritonModelCanary). The ConfigMap is rendered again.
   */
  public pinModelVersions(versions: ModelVersionsRoute): void {
    const http = `${this.envoyModel.name}-http`;
    this.envoyModel = {
      ...this.envoyModel,
      listeners: this.envoyModel.listeners.map((l) =>
        l.name !== http
          ? l
          : {
              ...l,
              routes: l.routes.map((r) =>
                r.name === CANARY_ROUTE ? { ...r, versions: [...(r.versions ?? []), versions] } : r,
              ),
            },
      ),
    };
    this.envoy.rerender(this.envoyModel);
  }

  constructor(scope: Construct, id: string, props: TritonCanaryProps) {
    super(scope, id);
    refuseUnknownKeys("TritonCanary#2", props, this.node.path);
    const { canaryVariable, weight, preconditions } = canaryWeights(this, props.pair, props.canaryPercent);
    const pair = props.pair;
    this.pair = pair;
    this.canaryVariable = canaryVariable;
    this.namespace = props.namespace ?? "default";
    const backends = props.backends ?? { blue: Backend.release(pair.blue), green: Backend.release(pair.green) };
    const route: RouteProps = {
      name: CANARY_ROUTE,
      match: props.match,
      backends: COLORS.map((color) => ({ backend: backends[color], weightPercent: weight(color) })),
      timeoutSeconds: props.timeoutSeconds,
    };
    const routes = [route];
    const { pair: _pair, canaryPercent: _c, backends: _b, match: _m, timeoutSeconds: _t, ...rest } = props;
    // The pair it fronts, for `cdktf-triton status` (a label, so `kubectl get -l` finds it).
    ({ model: this.envoyModel, envoy: this.envoy } = deployEnvoy(
      this,
      rest,
      id,
      (name, mv) => {
        const model = weightedRoutesModel(name, { ...rest, routes }, mv);
        return model;
      },
      { [PAIR_LABEL]: pair.appName },
    ));
    requireWeightSumsAtPlan(this.envoy.configMap, this.node.path, routes);
    this.clusters = Object.fromEntries(
      COLORS.map((color) => {
        const base = backends[color]._target().name;
        return [color, this.model.clusters.filter((cl) => cl.name.startsWith(`${base}-`)).map((cl) => cl.name)];
      }),
    ) as Record<Color, string[]>;

    const configMap = this.envoy.configMap;
    configMap.lifecycle = {
      ...configMap.lifecycle,
      precondition: [...(configMap.lifecycle?.precondition ?? []), ...preconditions],
    };
    followCapacity(pair, configMap);
  }
}
