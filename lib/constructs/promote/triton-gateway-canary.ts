// A canary on the platform's own Gateway: an HTTPRoute (Gateway API) whose two weighted backendRefs
// are the pair's colors, the active one at `100 - canaryPercent`, the other at `canaryPercent`. No
// Envoy of ours: the Gateway API implementation programs its own data plane from the route. The
// weights and the rules that involve the pair are the Envoy canary's (canary-weights.ts).
import { TerraformVariable } from "cdktf";
import { Construct } from "constructs";
import { TritonBlueGreen } from "../bluegreen/triton-bluegreen";
import { DependableConstruct } from "../dependencies";
import { Color, COLORS } from "../../core/colors";
import { Backend } from "../traffic/backend";
import { GatewayRoute, ParentRef } from "../traffic/gateway-route";
import { RouteProps } from "../traffic/weighted-routes";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { canaryWeights, followCapacity } from "./canary-weights";

/** The Gateway API implementations whose data plane `cdktf-triton promote` can read. */
export type GatewayImplementation = "contour";

/**
 * Where the Gateway's Envoy pods run, so `cdktf-triton promote` can read back the weights they
 * serve (each pod's admin interface, by a port-forward) and name each color's cluster in the
 * Envoy metrics Prometheus scrapes from them.
 */
export interface GatewayEnvoy {
  readonly implementation: GatewayImplementation;
  /** The Envoy pods' namespace. */
  readonly namespace: string;
  /** Labels that select the Gateway's Envoy pods (and no other). */
  readonly podLabels: Readonly<Record<string, string>>;
  /** The pod's loopback port that serves Envoy's read-only admin paths (/config_dump, /stats). */
  readonly adminPort: number;
}

/** The Gateway data planes a promotion can drive. */
export class GatewayDataPlane {
  /**
   * Contour's Envoy: namespace `projectcontour`, pods labelled `app: envoy` and the read-only admin
   * listener on the pod's 127.0.0.1:9001 (Contour's defaults for the Envoy DaemonSet it ships; with
   * Contour's Gateway provisioner, give the namespace of the Gateway and the labels
   * `app.kubernetes.io/name: envoy` and `gateway.networking.k8s.io/gateway-name: <gateway>`).
   * Contour names each Service's Envoy cluster in the stats `<namespace>_<service>_<port>`.
   */
  public static contour(
    options: {
      readonly namespace?: string;
      readonly podLabels?: Readonly<Record<string, string>>;
      readonly adminPort?: number;
    } = {},
  ): GatewayEnvoy {
    refuseUnknownKeys("GatewayDataPlane.contour#0", options);
    return {
      implementation: "contour",
      namespace: options.namespace ?? "projectcontour",
      podLabels: options.podLabels ?? { app: "envoy" },
      adminPort: options.adminPort ?? 9001,
    };
  }
}

/** Props of a {@link TritonGatewayCanary}. */
export interface TritonGatewayCanaryProps {
  /** The pair whose active color is the stable backend and whose other color is the candidate. */
  readonly pair: TritonBlueGreen;
  /**
   * Percent of requests to the candidate (the color that is not active), a whole number 0 to 100,
   * or a TerraformVariable ({@link TritonCanary.percentVariable}). A plan that switches `active`
   * must set it to 0 in the same plan (the plan says so otherwise).
   */
  readonly canaryPercent: number | TerraformVariable;
  /** The Gateway(s) the route attaches to (a listener with `sectionName`). */
  readonly parentRefs: readonly ParentRef[];
  /** The HTTPRoute's name (and its Helm release's). @default - the construct id */
  readonly name?: string;
  /** The HTTPRoute's namespace. @default - the pair's namespace */
  readonly namespace?: string;
  /** @default - any host the Gateway accepts */
  readonly hostnames?: readonly string[];
  /** The requests the canary applies to. @default - every request */
  readonly match?: RouteProps["match"];
  /** How long a request may take, in seconds. @default 30 */
  readonly timeoutSeconds?: number;
  /**
   * Each color's Service (an HTTPRoute refers to Services).
   * @default - each color's own Service (Backend.release)
   */
  readonly backends?: { readonly blue: Backend; readonly green: Backend };
  /**
   * The Gateway's Envoy, for `cdktf-triton promote` (a {@link TritonPromotion} needs it).
   * @default - none: the weights move by plan/apply only
   */
  readonly dataPlane?: GatewayEnvoy;
  /** Your labels on the HTTPRoute. @default {} */
  readonly labels?: Record<string, string>;
  /** Your annotations on the HTTPRoute. @default {} */
  readonly annotations?: Record<string, string>;
}

/**
 * A canary of a {@link TritonBlueGreen} on the platform's Gateway: an HTTPRoute with the two colors
 * as weighted backendRefs. The same plan-time rules as {@link TritonCanary}: the weights sum to 100,
 * a switch of `active` comes with the canary at 0, a canary above 0 needs the standby warm. HTTP
 * only (the Open Inference Protocol's gRPC would need a GRPCRoute).
 */
export class TritonGatewayCanary extends DependableConstruct {
  public readonly pair: TritonBlueGreen;
  public readonly route: GatewayRoute;
  /** The canary variable, when `canaryPercent` is one. */
  public readonly canaryVariable?: TerraformVariable;
  /** The HTTPRoute's name and namespace. */
  public readonly routeName: string;
  public readonly namespace: string;
  /** Each color's Service as the route refers to it (namespace, name, port). */
  public readonly services: Readonly<
    Record<Color, { readonly namespace: string; readonly name: string; readonly port: number }>
  >;
  public readonly dataPlane?: GatewayEnvoy;

  constructor(scope: Construct, id: string, props: TritonGatewayCanaryProps) {
    super(scope, id);
    refuseUnknownKeys("TritonGatewayCanary#2", props, this.node.path);
    const { canaryVariable, weight, preconditions } = canaryWeights(this, props.pair, props.canaryPercent);
    const pair = props.pair;
    this.pair = pair;
    this.canaryVariable = canaryVariable;
    this.routeName = props.name ?? id;
    this.namespace = props.namespace ?? pair.namespace;
    const v = new PropValidator(this.node.path);
    const d = props.dataPlane;
    if (d !== undefined) {
      v.check(
        "dataPlane.implementation",
        d.implementation,
        d.implementation === "contour",
        "contour (GatewayDataPlane.contour()): the only implementation whose Envoy the promotion reads",
      );
      v.dnsLabel("dataPlane.namespace", d.namespace);
      v.check(
        "dataPlane.podLabels",
        JSON.stringify(d.podLabels),
        typeof d.podLabels === "object" && d.podLabels !== null && Object.keys(d.podLabels).length > 0,
        "at least one label that selects the Gateway's Envoy pods",
      );
      v.stringMap("dataPlane.podLabels", d.podLabels, "label");
      v.port("dataPlane.adminPort", d.adminPort);
    }
    const backends = props.backends ?? { blue: Backend.release(pair.blue), green: Backend.release(pair.green) };
    COLORS.forEach((color) => {
      const t = backends[color]?._target?.();
      v.check(
        `backends.${color}`,
        t?.name ?? String(backends[color]),
        t?.service !== undefined,
        "a Service in the cluster (Backend.release, Backend.service): an HTTPRoute refers to Services",
      );
    });
    v.throwIfInvalid();
    this.dataPlane = d;
    this.services = Object.fromEntries(
      COLORS.map((color) => {
        const t = backends[color]._target();
        return [color, { namespace: t.service!.namespace, name: t.service!.name, port: t.httpPort }];
      }),
    ) as Record<Color, { namespace: string; name: string; port: number }>;
    this.route = new GatewayRoute(this, "route", {
      name: this.routeName,
      namespace: this.namespace,
      parentRefs: props.parentRefs,
      hostnames: props.hostnames,
      routes: [
        {
          name: "canary",
          match: props.match,
          backends: COLORS.map((color) => ({ backend: backends[color], weightPercent: weight(color) })),
          timeoutSeconds: props.timeoutSeconds,
        },
      ],
      labels: props.labels,
      annotations: props.annotations,
    });
    const release = this.route.helmRelease;
    release.lifecycle = {
      ...release.lifecycle,
      precondition: [...(release.lifecycle?.precondition ?? []), ...preconditions],
    };
    followCapacity(props.pair, release);
  }
}
