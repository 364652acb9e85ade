import { PropValidator, refuseUnknownKeys } from "../validation";

/** Chart values for Triton's model control (see charts/triton/values.yaml). */
export interface ModelControlValues {
  readonly mode: "none" | "poll" | "explicit";
  readonly repositoryPollSeconds: number;
  readonly loadModels: readonly string[];
}

/** Options for {@link ModelControl.poll}. */
export interface PollOptions {
  /**
   * How often Triton rescans the repository for added, changed or removed models.
   * @default 30
   */
  readonly intervalSeconds?: number;
}

/** Options for {@link ModelControl.explicit}. */
export interface ExplicitOptions {
  /**
   * Models loaded at startup (`--load-model`). Others load only through the repository API.
   * @default - ["*"]: every model in the repository
   */
  readonly loadModels?: readonly string[];
}

/** Triton's `--model-control-mode`: how models are loaded and unloaded. */
export class ModelControl {
  /** Load every model at startup; the repository is not watched (Triton's default). */
  public static none(): ModelControl {
    return new ModelControl("none", 30, []);
  }

  /** Load every model and poll the repository for changes. */
  public static poll(options: PollOptions = {}): ModelControl {
    refuseUnknownKeys("ModelControl.poll#0", options);
    return new ModelControl("poll", options.intervalSeconds ?? 30, []);
  }

  /** Load only the named models at startup; the rest through the model repository API. */
  public static explicit(options: ExplicitOptions = {}): ModelControl {
    refuseUnknownKeys("ModelControl.explicit#0", options);
    return new ModelControl("explicit", 30, options.loadModels ?? ["*"]);
  }

  private constructor(
    public readonly mode: ModelControlValues["mode"],
    private readonly repositoryPollSeconds: number,
    private readonly loadModels: readonly string[],
  ) {}

  /** Whether Triton loads `model` at startup in this mode ("*" in explicit mode loads every model). */
  public loads(model: string): boolean {
    return this.mode !== "explicit" || this.loadModels.includes("*") || this.loadModels.includes(model);
  }

  /** The models explicit mode loads, for messages. */
  public get loadedModels(): readonly string[] {
    return this.loadModels;
  }

  /** @internal */
  public _validate(v: PropValidator, field: string): void {
    if (this.mode === "poll") v.integer(`${field}.intervalSeconds`, this.repositoryPollSeconds, 1, 86400);
    if (this.mode === "explicit") {
      v.check(
        `${field}.loadModels`,
        this.loadModels,
        Array.isArray(this.loadModels) &&
          this.loadModels.length > 0 &&
          this.loadModels.every((m) => typeof m === "string" && MODEL_NAME.test(m)) &&
          new Set(this.loadModels).size === this.loadModels.length,
        'a non-empty list of distinct model names (letters, digits, "-", "_", ".") or ["*"]',
      );
    }
  }

  /** @internal */
  public _toValues(): ModelControlValues {
    return { mode: this.mode, repositoryPollSeconds: this.repositoryPollSeconds, loadModels: this.loadModels };
  }
}

const MODEL_NAME = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]*)$/;
