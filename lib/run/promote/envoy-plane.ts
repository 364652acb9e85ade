// Our Envoy pods (TritonCanary, TritonModelCanary) as a promotion's data plane: a move is pushed into
// each pod's runtime through its admin interface and read back; a pod serves it from its runtime
// until its mounted ConfigMap carries it (its kubelet's sync, a minute or more), when the runtime
// values are cleared. Runtime code: no cdktf here.
import { KubeAccess } from "../kube/kubectl";
import { EnvoyFleet, sameWeights, Weights, weightsText } from "../envoys";
import { WeightMove } from "../records";
import { DONE, Outcome, RunContext } from "./context";
import { Move, Moves } from "./moves";
import { PromoteError } from "./options";
import { DataPlane, Unreached } from "./traffic";

/** How long a push retries a pod that does not answer or does not serve the weights. */
const PUSH_RETRY_MS = 5_000;

export class EnvoyPlane implements DataPlane {
  readonly fleet: EnvoyFleet;
  readonly holdsRuntime = true;
  readonly words = {
    pods: "Envoy pods",
    serving: "pushing into every Envoy pod",
    pushed: "pushed",
    later: "they take it from their file at their kubelet's next sync",
  };
  private lastRefresh = 0;

  constructor(
    protected readonly c: RunContext,
    protected readonly moves: Moves,
    readonly access: {
      readonly kube: KubeAccess;
      readonly namespace: string;
      readonly name: string;
      readonly adminPort: number;
      readonly urls?: readonly string[];
    },
  ) {
    this.fleet = new EnvoyFleet(access);
  }

  /**
   * The Envoy pods, each reached at its admin port (as given, or one port-forward per pod); each
   * must answer. A pod holding runtime weights that differ from the state was left so by a run that
   * stopped between a push and its apply: said here, and set right by this run's first move.
   */
  async connect(target: Weights): Promise<void> {
    const { namespace, name } = this.access;
    const pods = await this.fleet.refresh().catch((e: Error) => {
      throw new PromoteError(e.message.replace("the pods of", "the Envoy pods of"));
    });
    this.lastRefresh = Date.now();
    if (!pods.length)
      throw new PromoteError(`no running Envoy pod of ${namespace}/${name} (label app=${name}): apply the stack first`);
    for (const pod of pods) {
      if (!pod.url) throw new PromoteError(`Envoy pod ${pod.name} cannot be reached: ${pod.problem}`);
      let served;
      try {
        served = await this.moves.read(pod.url);
      } catch (e) {
        throw new PromoteError(`Envoy pod ${pod.name}: its admin interface does not answer: ${(e as Error).message}`);
      }
      if (Object.keys(served.overrides).length && !sameWeights(served.served, target)) {
        this.c.say(
          `Envoy pod ${pod.name} serves ${weightsText(this.moves.route, served.served)} from its runtime while the state has ${weightsText(this.moves.route, target)}: an earlier run stopped between a push and its apply; this run sets it right`,
        );
      }
    }
  }

  /**
   * Pushes the weights into every Envoy pod and reads them back, each pod retried for up to 5 s.
   * Resolves to the pods that do not serve them, each with why.
   */
  async serve(weights: Weights): Promise<Unreached[]> {
    const deadline = Date.now() + PUSH_RETRY_MS;
    const failed = await Promise.all(
      this.fleet.pods().map(async (pod): Promise<Unreached | undefined> => {
        if (!pod.url) return { pod: pod.name, why: pod.problem ?? "not reached" };
        for (;;) {
          let why: string;
          try {
            await this.moves.push(pod.url, weights);
            const back = await this.moves.read(pod.url);
            if (sameWeights(back.served, weights)) return undefined;
            why = `it serves ${weightsText(this.moves.route, back.served)} after the push`;
          } catch (e) {
            why = (e as Error).message;
          }
          if (Date.now() > deadline) return { pod: pod.name, why };
          await new Promise((r) => setTimeout(r, 250));
        }
      }),
    );
    return failed.filter((f): f is Unreached => f !== undefined);
  }

  /** A pod the push did not reach takes the weights from its file at its kubelet's next sync. */
  async servedAfterApply(_weights: Weights, unreached: Unreached[]): Promise<Unreached[]> {
    return unreached;
  }

  async afterApply(_move: Move): Promise<Outcome> {
    return DONE;
  }

  /**
   * One look at every Envoy pod (the pods listed again every 5 s): a pod that does not serve the
   * target (a restarted Envoy, a new pod whose file is behind) gets it pushed again; a pod whose
   * file carries the target has its runtime values cleared. Resolves to the pods whose file does
   * not carry the target yet, or that could not be read, each with why; the last move's `filesAt`
   * is set when none is left.
   */
  async converge(target: Weights, last: WeightMove | undefined): Promise<string[]> {
    if (Date.now() - this.lastRefresh > 5_000) {
      this.lastRefresh = Date.now();
      await this.fleet
        .refresh()
        .catch((e: Error) => this.c.o.err.write(`promote: ${e.message} (the Envoy pods listed before are kept)\n`));
    }
    const text = (w: Weights | undefined) => weightsText(this.moves.route, w);
    const open = await Promise.all(
      this.fleet.pods().map(async (pod): Promise<string | undefined> => {
        if (!pod.url) return `${pod.name} (${pod.problem})`;
        try {
          const s = await this.moves.read(pod.url);
          const fileCarries = sameWeights(s.file, target);
          if (fileCarries && Object.keys(s.overrides).length) await this.moves.clear(pod.url);
          else if (!sameWeights(s.served, target)) {
            this.c.say(
              `Envoy pod ${pod.name} served ${text(s.served)}, not ${text(target)} (a restarted Envoy reads its file, which its kubelet may not have refreshed): pushed again`,
            );
            await this.moves.push(pod.url, target);
          }
          return fileCarries ? undefined : `${pod.name} (its file carries ${text(s.file)})`;
        } catch (e) {
          return `${pod.name} (${(e as Error).message})`;
        }
      }),
    );
    const left = open.filter((o): o is string => o !== undefined);
    if (!left.length && last && !last.filesAt && last.weights === text(target)) last.filesAt = new Date().toISOString();
    return left;
  }

  close(): void {
    this.fleet.close();
  }
}
