// Everything a promotion run checks and reads before it takes the pair's lease and applies
// anything: the spec, the engine and the pair's state, Prometheus for the metrics that need it, what
// the steps move (the colors, or a model's versions), and the data plane the weights travel
// through. Runtime code: no cdktf here.
import { Color, COLORS, isColor, otherColor } from "../../core/colors";
import { clusterBackend } from "../../core/envoy";
import { loadPromotionSpec, needsPrometheus } from "../../core/promotion-spec";
import { modelWeights, SplitRouteClusters, Weights } from "../envoys";
import { ColorService, contourStatName } from "../gateway";
import { QueryContext, queryPrometheus } from "./analysis";
import { RunContext } from "./context";
import { Engine } from "./engine";
import { EnvoyPlane } from "./envoy-plane";
import { GatewayPlane, GatewayRoute } from "./gateway-plane";
import { ModelPlane } from "./model-plane";
import { ColorMoves, ModelMoves, Moves } from "./moves";
import { findPromotion, PromoteError } from "./options";
import { Recorder } from "./recorder";
import { dryQuery } from "./step-loop";
import { DataPlane } from "./traffic";

/** The pair's state as the stack output gives it. */
export interface PairState {
  readonly active: Color;
  readonly canary: number;
  readonly namespace: string;
  readonly envoyNamespace: string;
  /** A TritonGatewayCanary's: the HTTPRoute's namespace and each color's Service. */
  readonly gateway?: { readonly routeNamespace: string; readonly services: Readonly<Record<Color, ColorService>> };
  readonly blue: { version: string; fingerprint: string };
  readonly green: { version: string; fingerprint: string };
  /** A TritonModelCanary's: the pinned version, the next one (0: none) and its share. */
  readonly model?: { readonly version: number; readonly next: number; readonly percent: number };
}

/** What prepare() found and made: the pair's state, the queries' labels, and what the steps move. */
export interface Prepared {
  readonly state: PairState;
  readonly ctx: QueryContext;
  readonly moves: Moves;
  readonly start: Weights;
  readonly prometheusUrl?: string;
  readonly gateway?: GatewayRoute;
  readonly engine: Engine;
  readonly recorder: Recorder;
}

export class Preparation {
  constructor(
    private readonly c: RunContext,
    /** The engine as soon as it exists: an interruption from then on asks it to stop. */
    private readonly onEngine: (engine: Engine) => void,
  ) {}

  /**
   * Everything checked before the lease is taken and anything applied: the spec, the engine and
   * the pair's state, Prometheus for the metrics that need it (one dry query each, so a bad query
   * is refused now), the data plane the weights travel through. The candidate is the color that
   * does not serve.
   */
  async prepare(): Promise<Prepared> {
    const { c } = this;
    const { stackDir, specFile } = findPromotion(c.o.stack, c.o.promotion);
    c.spec = loadPromotionSpec(specFile);
    const spec = c.spec;
    if (c.o.app !== undefined && spec.app !== c.o.app)
      throw new PromoteError(
        `the stack's promotion ${spec.path} is for ${spec.app}, not ${c.o.app}: give the stack of ${c.o.app} (--stack, --promotion)`,
      );
    const engine = new Engine({ kind: c.o.engine, stackDir, vars: c.o.vars, varFiles: c.o.varFiles });
    this.onEngine(engine);
    engine.check();
    const state = (await c.during(`reading the stack's state with ${c.o.engine}`, () => engine.output(spec.output))) as
      PairState | undefined;
    if (!state || !isColor(state.active)) {
      throw new PromoteError(
        `the stack's state has no output ${spec.output}: apply the stack once (with ${c.o.engine}) before promoting`,
      );
    }
    const recorder = new Recorder(c, c.o.kube ?? {}, state.namespace);
    if (spec.gateway && !state.gateway)
      throw new PromoteError(
        `the stack's output ${spec.output} has no gateway: apply the stack once (with ${c.o.engine}) before promoting`,
      );
    // A rollback analyses nothing. Through a Gateway every metric is Prometheus' (the Gateway's Envoy's stats).
    const promQueries = c.o.rollbackOnly ? [] : spec.analysis.metrics.filter((m) => spec.gateway || needsPrometheus(m));
    const prometheusUrl = c.o.prometheusUrl ?? spec.analysis.prometheusUrl;
    if (promQueries.length && !prometheusUrl) {
      throw new PromoteError(
        `metrics ${promQueries.map((m) => m.name).join(", ")} query Prometheus${spec.gateway ? " (through a Gateway, the Envoy metrics are its Envoy's stats as Prometheus scrapes them)" : ""}: give --prometheus-url (or analysis.prometheusUrl)`,
      );
    }
    const stable = state.active;
    c.candidate = otherColor(stable);
    const gateway = this.gatewayRoute(state);
    if (!spec.model && c.o.nextVersion !== undefined)
      throw new PromoteError(
        `--next-version is for a TritonModelCanary's promotion; ${spec.path} promotes ${spec.app}'s colors`,
      );
    const model = spec.model ? this.modelMoves(state) : undefined;
    const colors = model
      ? undefined
      : new ColorMoves(splitOf(spec, gateway), spec.variables, stable, (color) =>
          gateway ? gateway.services[color].name : clusterBackendOf(spec, color),
        );
    const start = model
      ? modelWeights(spec.model!.name, model.pinned, state.model!.next, state.model!.percent)
      : colors!.weightsOf(stable, state.canary);
    const ctx: QueryContext = {
      app: spec.app,
      namespace: state.namespace,
      color: c.candidate,
      stable,
      ...(model ? { model: { name: spec.model!.name, version: String(model.next) } } : {}),
    };
    for (const m of promQueries) {
      try {
        await queryPrometheus(
          prometheusUrl!,
          dryQuery(m, ctx, m.intervalSeconds ?? spec.analysis.intervalSeconds, gateway),
        );
      } catch (e) {
        throw new PromoteError(`analysis metric ${m.name}: ${(e as Error).message}`);
      }
    }
    return { state, ctx, moves: model ?? colors!, start, prometheusUrl, gateway, engine, recorder };
  }

  /** A TritonGatewayCanary's route, each color's Service and its cluster's stat name; none for our Envoy. */
  private gatewayRoute(state: PairState): GatewayRoute | undefined {
    const { gateway } = this.c.spec;
    if (!gateway) return undefined;
    const services = state.gateway!.services;
    return {
      namespace: state.gateway!.routeNamespace,
      route: gateway.route,
      services,
      stats: Object.fromEntries(COLORS.map((c) => [c, contourStatName(services[c])])) as Record<Color, string>,
    };
  }

  /** The data plane the weights travel through: the Gateway's Envoy, or ours (with a model's Triton pods). */
  dataPlane(p: Prepared): DataPlane {
    const { c } = this;
    const kube = c.o.kube ?? {};
    const gw = c.spec.gateway?.envoy;
    if (gw)
      return new GatewayPlane(
        kube,
        p.gateway!,
        { namespace: p.state.envoyNamespace, labels: gw.podLabels, adminPort: gw.adminPort, urls: c.o.envoyUrls },
        c.o.err,
      );
    const envoys = {
      kube,
      namespace: p.state.envoyNamespace,
      name: c.spec.envoy!.name,
      adminPort: c.spec.envoy!.adminPort,
      urls: c.o.envoyUrls,
    };
    return c.spec.model ? new ModelPlane(c, p.moves, envoys, p.state.namespace) : new EnvoyPlane(c, p.moves, envoys);
  }

  /**
   * A TritonModelCanary's moves: the state's pinned version, and the next one (--next-version, or
   * the state's when a promotion was left unfinished). The candidate "color" is the serving one.
   */
  private modelMoves(state: PairState): ModelMoves {
    const spec = this.c.spec;
    const name = spec.model!.name;
    const m = state.model;
    if (!m)
      throw new PromoteError(
        `the stack's output ${spec.output} has no model versions: apply the stack once (with ${this.c.o.engine}) before promoting`,
      );
    const next = this.c.o.nextVersion ?? (m.next > 0 ? m.next : undefined);
    if (next === undefined)
      throw new PromoteError(
        `give --next-version: the version of ${name} to promote over ${m.version}, the one its requests go to now`,
      );
    if (next === m.version)
      throw new PromoteError(`${name} ${next} is the version its requests go to now: nothing to promote`);
    const moves = new ModelMoves(name, spec.model!.variables, m.version, next);
    this.c.candidate = state.active;
    return moves;
  }
}

/** The canary's split route: our Envoy's, with each color's clusters, or the Gateway's HTTPRoute. */
function splitOf(spec: RunContext["spec"], gateway: GatewayRoute | undefined): SplitRouteClusters {
  return gateway
    ? { route: gateway.route, clusters: [] }
    : { route: spec.envoy!.route, clusters: COLORS.flatMap((c) => spec.envoy!.clusters[c]) };
}

/** A color's backend as our Envoy's weights name it: its clusters' base name. */
function clusterBackendOf(spec: RunContext["spec"], color: Color): string {
  return clusterBackend(spec.envoy!.clusters[color][0]);
}
