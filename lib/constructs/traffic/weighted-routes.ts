// Weighted routes across releases: canary splits by percent, A/B by header or cookie, shadow
// traffic by mirroring, per-route timeouts. Props -> Envoy model, validated; weights may be
// Terraform expressions, carried into the model as interpolations and summed at plan.
import { Fn, IResolvable, Op, TerraformResource, Token } from "cdktf";
import { PropValidator } from "../validation";
import { Backend, BackendTarget } from "./backend";
import { ENVOY_ADMIN_PORT, protocolCluster } from "../../core/envoy";
import {
  AccessLogProps,
  adminApiPaths,
  ClusterModel,
  ENVOY_OPS_PORT,
  EnvoyModel,
  HealthCheckProps,
  ListenerModel,
  MatchProps,
  OutlierDetectionProps,
  RateLimitProps,
  RouteModel,
} from "./envoy-model";
import { Protocol } from "../../core/closed-sets";

export interface WeightedBackend {
  readonly backend: Backend;
  /**
   * Share of this route's requests, 0 to 100; a route's weights sum to 100. A Terraform variable
   * or expression (`canary.numberValue`, `Op.sub(100, canary.numberValue)`) is accepted: the weight
   * is then known at plan, and the sum is checked there (a precondition on the ConfigMap).
   */
  readonly weightPercent: number;
}

export interface RouteProps {
  /**
   * Becomes the route's runtime keys (`weights.<name>.<cluster>`) and statistics: at most 63 of
   * a-z, 0-9, '-' and '_', and no other route of the service may have it (nor be `route-<index>`
   * by default), or pushing weights to one would move the other.
   * @default - route-<index>
   */
  readonly name?: string;
  /** Requests this route takes. @default - every request (a route without match must be the last) */
  readonly match?: MatchProps;
  readonly backends: readonly WeightedBackend[];
  /** Copy this share of requests to a shadow backend; its answers are discarded. @default - none */
  readonly mirror?: { readonly backend: Backend; readonly percent: number };
  /** How long a request may take, in seconds. @default 30 */
  readonly timeoutSeconds?: number;
}

export interface WeightedRoutesProps {
  /** First match wins. */
  readonly routes: readonly RouteProps[];
  /** Active health checks on each backend. @default - /v2/health/ready every 1 s, 2 failures out, 2 successes back */
  readonly healthCheck?: HealthCheckProps;
  /** @default - 3 consecutive 5xx eject a host for 30 s */
  readonly outlierDetection?: OutlierDetectionProps;
  /** Shed overload with fast 429s. @default - no rate limit */
  readonly rateLimit?: RateLimitProps;
  /**
   * Log sampled requests as JSON lines on Envoy's stdout (`kubectl logs`): time, listener, method,
   * path, status, Envoy's response flags, duration, upstream cluster and host, attempts, request id.
   * With the health checkers' events on the same stream, a failover can be traced to requests.
   * @default - no access log
   */
  readonly accessLog?: AccessLogProps;
  /** @default 8000 (HTTP) and 8001 (gRPC, when every backend serves gRPC) */
  readonly httpPort?: number;
  /** @default 8001 */
  readonly grpcPort?: number;
  /**
   * Serve Triton's administrative APIs (model repository load/unload/index, trace, logging) through
   * these routes. Off, they answer 403 here whatever Triton's own restriction.
   * @default false
   */
  readonly allowAdminApis?: boolean;
}

export function weightedRoutesModel(name: string, props: WeightedRoutesProps, v: PropValidator): EnvoyModel {
  validateWeightedRoutes(props, v);
  v.throwIfInvalid();
  const targets = new Map<string, BackendTarget>();
  const add = (b: Backend) => {
    const t = b._target();
    targets.set(t.name, t);
    return t;
  };
  const routes = (protocol: Protocol): RouteModel[] =>
    props.routes.map((r, i) => ({
      name: r.name ?? `route-${i}`,
      match: r.match,
      clusters: r.backends.map((wb) => ({
        cluster: protocolCluster(add(wb.backend).name, protocol),
        weight: planned(wb.weightPercent),
      })),
      mirror: r.mirror
        ? { cluster: protocolCluster(add(r.mirror.backend).name, protocol), percent: r.mirror.percent }
        : undefined,
      timeoutSeconds: r.timeoutSeconds ?? 30,
    }));
  const refused = (protocol: Protocol) => (props.allowAdminApis ? [] : adminApiPaths(protocol));
  const listeners: ListenerModel[] = [
    {
      name: `${name}-http`,
      port: props.httpPort ?? 8000,
      refused: refused("http"),
      routes: routes("http"),
      rateLimit: props.rateLimit,
      accessLog: props.accessLog,
    },
  ];
  const grpc = [...targets.values()].every((t) => t.grpcPort !== undefined);
  if (grpc)
    listeners.push({
      name: `${name}-grpc`,
      port: props.grpcPort ?? 8001,
      refused: refused("grpc"),
      routes: routes("grpc"),
      rateLimit: props.rateLimit,
      accessLog: props.accessLog,
    });
  const clusters: ClusterModel[] = [];
  for (const t of targets.values()) {
    for (const protocol of grpc ? (["http", "grpc"] as const) : (["http"] as const)) {
      clusters.push({
        name: protocolCluster(t.name, protocol),
        protocol,
        endpoints: [
          {
            host: t.host,
            port: protocol === "http" ? t.httpPort : t.grpcPort!,
            healthCheckPort: protocol === "grpc" ? t.httpPort : undefined,
            tls: t.tls,
            priority: 0,
            weight: 1,
          },
        ],
        healthCheck: props.healthCheck ?? {},
        outlierDetection: props.outlierDetection ?? {},
      });
    }
  }
  return { name, listeners, clusters };
}

/**
 * A route's name becomes its runtime keys (`weights.<name>.<cluster>`, the weights a promotion
 * pushes) and its statistics: two routes of one name would share one key, so pushing weights to one
 * would move the other; a dot would nest the key.
 */
function validateRouteName(v: PropValidator, routes: readonly RouteProps[], i: number): void {
  const nameOf = (r: RouteProps, j: number) => r.name ?? `route-${j}`;
  const name = nameOf(routes[i], i);
  if (routes[i].name !== undefined)
    v.check(
      `routes[${i}].name`,
      name,
      typeof name === "string" && /^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$/.test(name),
      "a name of at most 63 characters of a-z, 0-9, '-' and '_' (it becomes runtime keys and statistics)",
    );
  const first = routes.findIndex((r, j) => nameOf(r, j) === name);
  v.check(
    `routes[${i}].name`,
    name,
    first === i,
    `a name no other route has (routes[${first}] is ${JSON.stringify(name)}): they would share runtime keys, and a weight pushed to one would move the other`,
  );
}

export function validateWeightedRoutes(props: WeightedRoutesProps, v: PropValidator): void {
  v.check("routes", props.routes, Array.isArray(props.routes) && props.routes.length > 0, "at least one route");
  (props.routes ?? []).forEach((r, i) => {
    const at = `routes[${i}]`;
    if (!r.match && i < props.routes.length - 1) {
      v.check(
        `${at}.match`,
        undefined,
        false,
        "a match: a route without one takes every request, so the routes after it would never be used",
      );
    }
    for (const [h, value] of Object.entries(r.match?.headers ?? {})) {
      v.check(
        `${at}.match.headers["${h}"]`,
        h,
        /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h) && h.toLowerCase() !== "cookie",
        "an HTTP header name (use cookies for cookies)",
      );
      v.check(`${at}.match.headers["${h}"]`, value, typeof value === "string", "a string");
    }
    for (const [c, value] of Object.entries(r.match?.cookies ?? {})) {
      v.check(`${at}.match.cookies["${c}"]`, c, /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(c), "a cookie name");
      v.check(
        `${at}.match.cookies["${c}"]`,
        value,
        typeof value === "string" && !/[;,\s]/.test(value),
        "a cookie value without ';', ',' or spaces",
      );
    }
    if (r.match?.pathPrefix !== undefined)
      v.check(
        `${at}.match.pathPrefix`,
        r.match.pathPrefix,
        r.match.pathPrefix.startsWith("/"),
        "a path starting with /",
      );
    validateRouteName(v, props.routes, i);
    v.check(`${at}.backends`, r.backends, Array.isArray(r.backends) && r.backends.length > 0, "at least one backend");
    const names = new Set<string>();
    (r.backends ?? []).forEach((wb, j) => {
      v.integer(`${at}.backends[${j}].weightPercent`, wb.weightPercent, 0, 100);
      wb.backend._validate(v, `${at}.backends[${j}].backend`);
      const n = wb.backend._target().name;
      v.check(`${at}.backends[${j}].backend`, n, !names.has(n), "a backend not already in this route");
      names.add(n);
    });
    // Weights known only at plan are checked there (requireWeightSumsAtPlan); here, all literals.
    const weights = (r.backends ?? []).map((wb) => wb.weightPercent);
    if (weights.length > 0 && !weights.some((w) => Token.isUnresolved(w))) {
      const sum = weights.reduce((a, w) => a + (Number.isFinite(w) ? w : 0), 0);
      v.check(`${at}.backends`, `weights summing to ${sum}`, sum === 100, "weightPercent values summing to 100");
    }
    if (r.mirror) {
      v.knownAtSynth(`${at}.mirror.percent`, r.mirror.percent, "only weights may come from Terraform variables");
      v.integer(`${at}.mirror.percent`, r.mirror.percent, 1, 100);
      r.mirror.backend._validate(v, `${at}.mirror.backend`);
      const n = r.mirror.backend._target().name;
      v.check(`${at}.mirror.backend`, n, !names.has(n), "a shadow backend that is not one of the route's own backends");
    }
    v.knownAtSynth(`${at}.timeoutSeconds`, r.timeoutSeconds, "only weights may come from Terraform variables");
    v.seconds(`${at}.timeoutSeconds`, r.timeoutSeconds, 0.001, 3600);
  });
  validateHealthAndLimits(props.healthCheck, props.outlierDetection, props.rateLimit, v, props.accessLog);
  const backends = (props.routes ?? []).flatMap((r) => [
    ...(r.backends ?? []).map((b) => b.backend),
    ...(r.mirror ? [r.mirror.backend] : []),
  ]);
  validateListenerPorts(
    props.httpPort,
    props.grpcPort,
    backends.length > 0 && backends.every((b) => b._target().grpcPort !== undefined),
    v,
  );
  if (props.allowAdminApis !== undefined)
    v.check("allowAdminApis", props.allowAdminApis, typeof props.allowAdminApis === "boolean", "true or false");
}

/** A weight for the rendered configuration: a literal, or a Terraform expression embedded in the file. */
function planned(weight: number): number | string {
  return Token.isUnresolved(weight) ? Token.asString(weight) : weight;
}

/** A route whose weights are known only at plan: what Terraform must find true, and how to say it is not. */
interface PlannedWeightCheck {
  readonly field: string;
  readonly condition: IResolvable;
  /** The weights and their sum as Terraform interpolations, for the message. */
  readonly shown: string;
}

/**
 * Makes `resource`'s plan refuse routes whose weights, known only at plan, are not each a whole
 * number from 0 to 100 or do not sum to 100 (a precondition per such route, naming the construct
 * path, the field, the weights and their sum). Nothing when every weight is a literal: those are
 * checked at synth.
 */
export function requireWeightSumsAtPlan(
  resource: TerraformResource,
  constructPath: string,
  routes: readonly RouteProps[],
): void {
  const checks = plannedWeightChecks(routes);
  if (!checks.length) return;
  resource.lifecycle = {
    ...resource.lifecycle,
    precondition: [
      ...(resource.lifecycle?.precondition ?? []),
      ...checks.map((c) => ({
        condition: c.condition,
        errorMessage: `${constructPath}: ${c.field}: the weightPercent values are ${c.shown}: each must be a whole number from 0 to 100 and they must sum to 100.`,
      })),
    ],
  };
}

/** The routes whose weights involve Terraform expressions, each with its check at plan. */
function plannedWeightChecks(routes: readonly RouteProps[]): PlannedWeightCheck[] {
  const checks: PlannedWeightCheck[] = [];
  routes.forEach((r, i) => {
    const weights = r.backends.map((wb) => wb.weightPercent);
    if (!weights.some((w) => Token.isUnresolved(w))) return;
    const sum = weights.slice(1).reduce((a: number, w) => Op.add(a, w), Op.add(0, weights[0]));
    // A whole number from 0 to 100, written `> -1` (cdktf renders a literal 0 operand as "undefined").
    const valid = (w: number) => Op.and(Op.and(Op.gt(w, -1), Op.lte(w, 100)), Op.eq(Fn.floor(w), w));
    const condition = weights.reduce((ok: IResolvable, w) => Op.and(ok, valid(w)), Op.eq(sum, 100));
    const shown = `${weights.map((w) => (Token.isUnresolved(w) ? Token.asString(w) : String(w))).join(", ")} (sum ${Token.asString(sum)})`;
    checks.push({ field: `routes[${i}].backends`, condition, shown });
  });
  return checks;
}

/**
 * Envoy's listener ports: valid, apart from the ops port (ENVOY_OPS_PORT) and the admin's
 * (ENVOY_ADMIN_PORT, on the pod's loopback: a listener on every address would collide with it) and,
 * when there is a gRPC listener (every backend serves gRPC), apart from each other.
 */
export function validateListenerPorts(
  httpPort: number | undefined,
  grpcPort: number | undefined,
  hasGrpc: boolean,
  v: PropValidator,
): void {
  v.port("httpPort", httpPort);
  v.port("grpcPort", grpcPort);
  const http = httpPort ?? 8000;
  const grpc = grpcPort ?? 8001;
  const reserved = (field: string, port: number) => {
    v.check(
      field,
      port,
      port !== ENVOY_OPS_PORT,
      `a port other than ${ENVOY_OPS_PORT}, Envoy's ops port (/ready, /stats/prometheus)`,
    );
    v.check(
      field,
      port,
      port !== ENVOY_ADMIN_PORT,
      `a port other than ${ENVOY_ADMIN_PORT}, Envoy's admin interface (the pod's loopback)`,
    );
  };
  reserved("httpPort", http);
  if (hasGrpc) {
    reserved("grpcPort", grpc);
    v.check("grpcPort", grpc, grpc !== http, `a port other than httpPort (${http}): each listener needs its own`);
  }
}

export function validateHealthAndLimits(
  hc: HealthCheckProps | undefined,
  od: OutlierDetectionProps | undefined,
  rl: RateLimitProps | undefined,
  v: PropValidator,
  log?: AccessLogProps,
): void {
  if (log !== undefined) v.integer("accessLog.sampledPercent", log.sampledPercent, 1, 100);
  if (hc) {
    v.seconds("healthCheck.intervalSeconds", hc.intervalSeconds, 0.01, 3600);
    v.seconds("healthCheck.timeoutSeconds", hc.timeoutSeconds, 0.001, 3600);
    v.integer("healthCheck.unhealthyThreshold", hc.unhealthyThreshold, 1, 100);
    v.integer("healthCheck.healthyThreshold", hc.healthyThreshold, 1, 100);
    if (hc.path !== undefined) v.check("healthCheck.path", hc.path, hc.path.startsWith("/"), "a path starting with /");
  }
  if (od) {
    v.integer("outlierDetection.consecutive5xx", od.consecutive5xx, 1, 1000);
    v.seconds("outlierDetection.intervalSeconds", od.intervalSeconds, 0.01, 3600);
    v.seconds("outlierDetection.baseEjectionTimeSeconds", od.baseEjectionTimeSeconds, 0.001, 86_400);
    v.integer("outlierDetection.maxEjectionPercent", od.maxEjectionPercent, 0, 100);
    if (od.successRate) {
      v.integer("outlierDetection.successRate.minimumHosts", od.successRate.minimumHosts, 1, 1000);
      v.integer("outlierDetection.successRate.requestVolume", od.successRate.requestVolume, 1, 1_000_000);
      const f = od.successRate.stdevFactor;
      if (f !== undefined)
        v.check(
          "outlierDetection.successRate.stdevFactor",
          f,
          typeof f === "number" && f > 0 && f <= 100,
          "a number above 0 and at most 100 (Envoy rejects the cluster otherwise)",
        );
    }
  }
  if (rl) {
    v.integer("rateLimit.maxTokens", rl.maxTokens, 1, 1_000_000_000);
    v.integer("rateLimit.tokensPerFill", rl.tokensPerFill, 1, 1_000_000_000);
    v.seconds("rateLimit.fillIntervalSeconds", rl.fillIntervalSeconds, 0.001, 3600);
  }
}
