// What a promotion moves, as the driver asks for it: the variables each apply sets, the weights the
// Envoys must serve after it, and how a weight reaches one Envoy pod at once (its admin's runtime)
// and is read back. Two kinds: the pair's colors on the canary's split route (TritonCanary,
// TritonGatewayCanary), and one model's versions inside the serving color (TritonModelCanary).
// Runtime code: no cdktf here.
import { Color, COLORS } from "../../core/colors";
import { modelVersionsName } from "../../core/envoy";
import {
  clearModelShare,
  clearOverrides,
  modelWeights,
  pushModelShare,
  pushWeights,
  readModelServed,
  readServed,
  ServedWeights,
  SplitRouteClusters,
  Weights,
} from "../envoys";

/** One move: the variables an apply sets, and the weights served after it. */
export interface Move {
  readonly vars: Readonly<Record<string, string>>;
  readonly weights: Weights;
  /** A model's versions the Triton pods load after the apply (TritonModelCanary). @default - none: the colors move */
  readonly versions?: readonly number[];
}

export interface Moves {
  /** What the weights are of, in messages: the split route's name, or `model <m>`. */
  readonly route: string;
  /** The candidate's backend, as the weights name it. */
  readonly candidate: string;
  /** The candidate at `percent` of requests. */
  step(percent: number): Move;
  /** Everything back on what served before the promotion. */
  rollback(): Move;
  /** The promotion done: the candidate takes all. */
  finish(): Move;
  /**
   * Whether the move is pushed into the Envoys before its apply: a fall of the candidate's share
   * (traffic leaves before anything it needs goes away), and a model's finish (its old version
   * unloads after the apply).
   */
  pushFirst(move: Move, now: Weights): boolean;
  push(adminUrl: string, weights: Weights): Promise<void>;
  read(adminUrl: string): Promise<ServedWeights>;
  clear(adminUrl: string): Promise<void>;
}

/** The colors on the canary's split route: `active` and the canary percent. */
export class ColorMoves implements Moves {
  public readonly route: string;
  public readonly candidate: string;
  constructor(
    private readonly split: SplitRouteClusters,
    private readonly variables: { readonly active: string; readonly canary: string },
    private readonly stable: Color,
    private readonly backendOf: (color: Color) => string,
  ) {
    this.route = split.route;
    this.candidate = backendOf(COLORS.find((c) => c !== stable)!);
  }

  /** Each color's percent with `active` serving and the canary at `canary`. */
  weightsOf(active: Color, canary: number): Weights {
    return Object.fromEntries(COLORS.map((c) => [this.backendOf(c), c === active ? 100 - canary : canary]));
  }

  private move(active: Color, canary: number): Move {
    return {
      vars: { [this.variables.active]: active, [this.variables.canary]: String(canary) },
      weights: this.weightsOf(active, canary),
    };
  }

  step(percent: number): Move {
    return this.move(this.stable, percent);
  }

  rollback(): Move {
    return this.move(this.stable, 0);
  }

  finish(): Move {
    return this.move(
      COLORS.find((c) => c !== this.stable)!,
      0,
    );
  }

  pushFirst(move: Move, now: Weights): boolean {
    return move.weights[this.candidate] < now[this.candidate];
  }

  push(adminUrl: string, weights: Weights): Promise<void> {
    return pushWeights(adminUrl, this.split, weights);
  }

  read(adminUrl: string): Promise<ServedWeights> {
    return readServed(adminUrl, this.split);
  }

  clear(adminUrl: string): Promise<void> {
    return clearOverrides(adminUrl, this.split);
  }
}

/** A model's versions: the pinned one, the next one beside it, and the share of unversioned requests to it. */
export class ModelMoves implements Moves {
  public readonly route: string;
  public readonly candidate: string;
  constructor(
    private readonly model: string,
    private readonly variables: { readonly version: string; readonly next: string; readonly percent: string },
    public readonly pinned: number,
    public readonly next: number,
  ) {
    this.route = modelVersionsName(model);
    this.candidate = `${model}@${next}`;
  }

  private move(pinned: number, next: number, percent: number): Move {
    return {
      vars: {
        [this.variables.version]: String(pinned),
        [this.variables.next]: String(next),
        [this.variables.percent]: String(percent),
      },
      weights: modelWeights(this.model, pinned, next, percent),
      versions: next > 0 ? [pinned, next] : [pinned],
    };
  }

  step(percent: number): Move {
    return this.move(this.pinned, this.next, percent);
  }

  rollback(): Move {
    return this.move(this.pinned, 0, 0);
  }

  finish(): Move {
    return this.move(this.next, 0, 0);
  }

  pushFirst(move: Move, now: Weights): boolean {
    return (move.weights[this.candidate] ?? 0) < (now[this.candidate] ?? 0) || move.versions?.length === 1;
  }

  push(adminUrl: string, weights: Weights): Promise<void> {
    // Pushing the finish on an Envoy whose file still has the next route: all of it there.
    return pushModelShare(adminUrl, this.model, weights[this.candidate] ?? 0);
  }

  read(adminUrl: string): Promise<ServedWeights> {
    return readModelServed(adminUrl, this.model);
  }

  clear(adminUrl: string): Promise<void> {
    return clearModelShare(adminUrl, this.model);
  }
}
