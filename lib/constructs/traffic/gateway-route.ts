// For clusters that already run a Gateway: the same weighted routes as a Gateway API HTTPRoute with
// weighted backendRefs. Installed as a helm_release of a bundled chart, so `plan` needs neither the
// Gateway API CRDs nor a reachable cluster (kubernetes_manifest would need both).
import { Release } from "@cdktf/provider-helm/lib/release";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { chartAsset } from "../chart";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { requireWeightSumsAtPlan, RouteProps, validateWeightedRoutes } from "./weighted-routes";
import { DependableConstruct } from "../dependencies";
import { claimName } from "../names";

export interface ParentRef {
  readonly name: string;
  /** @default - the route's namespace */
  readonly namespace?: string;
  /** @default - every listener of the Gateway */
  readonly sectionName?: string;
}

export interface GatewayRouteProps {
  /** @default - the construct id */
  readonly name?: string;
  /** @default "default" */
  readonly namespace?: string;
  /** The Gateway(s) this route attaches to. */
  readonly parentRefs: readonly ParentRef[];
  /** @default - any host the Gateway accepts */
  readonly hostnames?: readonly string[];
  /** First match wins; backends must be in-cluster (Backend.release, Backend.service). */
  readonly routes: readonly RouteProps[];
  /** Your labels on the HTTPRoute (`app.kubernetes.io/managed-by` is ours). @default {} */
  readonly labels?: Record<string, string>;
  /** Your annotations on the HTTPRoute. @default {} */
  readonly annotations?: Record<string, string>;
}

/** The HTTPRoute's spec. Pure. */
export function renderHttpRouteSpec(props: GatewayRouteProps): Record<string, unknown> {
  const ref = (b: RouteProps["backends"][number]["backend"]) => {
    const t = b._target();
    if (!t.service)
      throw new Error(`backend ${t.name} is not a Service in the cluster: an HTTPRoute refers to Services`);
    return { name: t.service.name, namespace: t.service.namespace, port: t.httpPort };
  };
  return {
    parentRefs: props.parentRefs.map((p) => ({
      name: p.name,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      ...(p.sectionName ? { sectionName: p.sectionName } : {}),
    })),
    ...(props.hostnames?.length ? { hostnames: props.hostnames } : {}),
    rules: props.routes.map((r) => {
      const headers = [
        ...Object.entries(r.match?.headers ?? {}).map(([name, value]) => ({ type: "Exact", name, value })),
        // Gateway API has no cookie match: a regular expression on the Cookie header.
        ...Object.entries(r.match?.cookies ?? {}).map(([name, value]) => ({
          type: "RegularExpression",
          name: "Cookie",
          value: `(^|.*;\\s*)${escapeRe(name)}=${escapeRe(value)}(;.*|$)`,
        })),
      ];
      return {
        ...(r.match
          ? {
              matches: [
                {
                  path: { type: "PathPrefix", value: r.match.pathPrefix ?? "/" },
                  ...(headers.length ? { headers } : {}),
                },
              ],
            }
          : {}),
        ...(r.mirror
          ? {
              filters: [
                {
                  type: "RequestMirror",
                  requestMirror: { backendRef: ref(r.mirror.backend), percent: r.mirror.percent },
                },
              ],
            }
          : {}),
        backendRefs: r.backends.map((wb) => ({ ...ref(wb.backend), weight: wb.weightPercent })),
        timeouts: { request: gatewayDuration(r.timeoutSeconds ?? 30) },
      };
    }),
  };
}

export class GatewayRoute extends DependableConstruct {
  public readonly spec: Record<string, unknown>;
  public readonly helmRelease: Release;

  constructor(scope: Construct, id: string, props: GatewayRouteProps) {
    super(scope, id);
    refuseUnknownKeys("GatewayRoute#2", props, this.node.path);
    const name = props.name ?? id;
    const v = new PropValidator(this.node.path);
    v.dnsLabel("name", name, 53);
    claimName(this, v, "name", name, `Helm release ${props.namespace ?? "default"}/${name}`);
    v.dnsLabel("namespace", props.namespace);
    v.check(
      "parentRefs",
      props.parentRefs,
      Array.isArray(props.parentRefs) && props.parentRefs.length > 0,
      "at least one Gateway",
    );
    (props.parentRefs ?? []).forEach((p, i) => v.dnsSubdomain(`parentRefs[${i}].name`, p.name));
    (props.hostnames ?? []).forEach((h, i) =>
      v.check(
        `hostnames[${i}]`,
        h,
        /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(h),
        "a DNS name, optionally starting with *.",
      ),
    );
    validateWeightedRoutes({ routes: props.routes }, v);
    v.userLabels("labels", props.labels, ["app.kubernetes.io/managed-by"]);
    v.stringMap("annotations", props.annotations, "annotation");
    (props.routes ?? []).forEach((r, i) =>
      [...(r.backends ?? []).map((b) => b.backend), ...(r.mirror ? [r.mirror.backend] : [])].forEach((b) => {
        const t = b._target();
        v.check(
          `routes[${i}]`,
          t.name,
          t.service !== undefined,
          "in-cluster backends only (Backend.release, Backend.service): an HTTPRoute refers to Services",
        );
      }),
    );
    v.throwIfInvalid();
    this.spec = renderHttpRouteSpec(props);
    this.helmRelease = new Release(this, "release", {
      name,
      namespace: props.namespace ?? "default",
      chart: chartAsset(this, "gateway-route").path,
      values: [valuesJson({ spec: this.spec, labels: props.labels ?? {}, annotations: props.annotations ?? {} })],
      // An HTTPRoute is ready when its spec is stored; the Gateway programs it asynchronously.
      wait: false,
      atomic: true,
    });
    // Weights from Terraform variables: the plan refuses a route whose weights do not sum to 100.
    requireWeightSumsAtPlan(this.helmRelease, this.node.path, props.routes);
  }
}

/**
 * Helm values as JSON, with numbers known only at plan (weights from Terraform variables) written
 * as bare Terraform interpolations, so the engine puts the number itself, not a string, in the file.
 */
function valuesJson(values: object): string {
  const planned: number[] = [];
  const text = JSON.stringify(
    values,
    (_k, v) => (typeof v === "number" && Token.isUnresolved(v) ? `@@planned-${planned.push(v) - 1}@@` : v),
    2,
  );
  return text.replace(/"@@planned-(\d+)@@"/g, (_m, i) => Token.asString(planned[Number(i)]));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Seconds as a Gateway API Duration (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`): 1.5 is "1s500ms", not
 * "1.5s", which the HTTPRoute CRD refuses.
 */
export function gatewayDuration(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const parts: [number, string][] = [
    [Math.floor(ms / 3_600_000), "h"],
    [Math.floor((ms % 3_600_000) / 60_000), "m"],
    [Math.floor((ms % 60_000) / 1000), "s"],
    [ms % 1000, "ms"],
  ];
  const text = parts
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join("");
  return text || "0s";
}
