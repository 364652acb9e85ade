// What a promotion run is given (PromoteOptions), how it ends badly (PromoteError and its kinds),
// the clocks an operator relies on, and where it finds its stack and spec. Runtime code: no cdktf here.
import { PROMOTION_SPEC_FILE } from "../../core/names";
import * as fs from "fs";
import * as path from "path";
import { KubeAccess } from "../kube/kubectl";
import { PromoteReport } from "../records";
import { EngineKind, OnUnfinished } from "../../core/closed-sets";
import { PromotionSpec } from "../../core/promotion-spec";

/**
 * How long a driver has, from SIGINT or SIGTERM, to roll back and exit. Past it (or at a second
 * signal) it says in one line where traffic was left and exits PROMOTE_EXIT.stoppedUnfinished,
 * leaving the pair's lease to expire: a re-run, or `cdktf-triton abort --engine`, rolls back.
 */
export const STOP_WITHIN_SECONDS = 60;

/** How often, at least, a driver that waits says what it waits for. */
export const WAITING_SAID_EVERY_SECONDS = 10;

export interface PromoteOptions {
  /** A stack folder (holding cdk.tf.json) or a stack name under ./cdktf.out/stacks. @default - the current folder, or the only stack of ./cdktf.out */
  readonly stack?: string;
  /** The TritonPromotion's construct path (or its last part), when the stack has several. @default - the stack's only one */
  readonly promotion?: string;
  readonly engine: EngineKind;
  /** `name=value` for every apply. @default [] */
  readonly vars?: readonly string[];
  /** @default [] */
  readonly varFiles?: readonly string[];
  /** @default - kubectl's defaults */
  readonly kube?: KubeAccess;
  /** Envoy admin URLs (each pod's port 9901). @default - a port-forward to each Envoy pod's admin port */
  readonly envoyUrls?: readonly string[];
  /** @default - the spec's analysis.prometheusUrl */
  readonly prometheusUrl?: string;
  /** Append the record to <dir>/promotions.jsonl and write <dir>/promotion-<id>.json. @default - no files */
  readonly reportDir?: string;
  /** Write the report (the record and every measurement) here as JSON. @default - not written */
  readonly json?: string;
  /** Ask before the switch even when the spec does not. @default false */
  readonly confirmBeforeSwitch?: boolean;
  /** The switch is confirmed (a re-run after a pause, or a pipeline's manual approval). @default false */
  readonly confirm?: boolean;
  /** What to do with a promotion an earlier run left unfinished. @default "resume" */
  readonly onUnfinished?: OnUnfinished;
  /**
   * A TritonModelCanary's promotion: the model version to promote over the pinned one (loaded
   * beside it). A re-run of an unfinished one takes it from the state.
   * @default - the state's next version; none there is an error
   */
  readonly nextVersion?: number;
  /** Skip the steps (those left, when resuming) and switch: `promote --full` with no driver running. @default false */
  readonly full?: boolean;
  /**
   * Only roll back the promotion an earlier run left unfinished, then stop (`cdktf-triton abort`
   * when no driver holds the lease); nothing unfinished is a NothingToAbort error.
   * @default false
   */
  readonly rollbackOnly?: boolean;
  /** The pair the run must be for (`abort --app`): a stack whose promotion is another pair's is refused. @default - the stack's */
  readonly app?: string;
  /**
   * How long, at the end, every Envoy pod's mounted file may take to carry the final weights (its
   * kubelet's sync: about a minute) before the driver leaves their runtime values in place and
   * says so.
   * @default 300
   */
  readonly rolloutTimeoutSeconds?: number;
  readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly err: NodeJS.WritableStream;
  /** Answers the TTY question before the switch. @default - reads a line from stdin */
  readonly ask?: (question: string) => Promise<boolean>;
  /**
   * Resolves when the user interrupts. With the default the driver owns the process's SIGINT and
   * SIGTERM: it rolls back and exits within STOP_WITHIN_SECONDS, or says where traffic was left and
   * exits PROMOTE_EXIT.stoppedUnfinished. A caller that gives its own owns that deadline too.
   * @default - the process's signals
   */
  readonly interrupted?: Promise<string>;
  /**
   * Writes this run's HTML report into reportDir and resolves to its path (the CLI renders it: the
   * driver never imports the reports). A failure is reported, never fatal.
   * @default - no HTML report
   */
  readonly writeHtml?: (report: PromoteReport, dir: string) => Promise<string>;
}

export class PromoteError extends Error {}

/** `abort` found no promotion to roll back. */
export class NothingToAbort extends PromoteError {}

/** Interrupted before the first step: nothing was applied (exit PROMOTE_EXIT.interrupted). */
export class InterruptedBeforeStart extends PromoteError {}

/** Finds the stack folder and the promotion spec in it. */
export function findPromotion(
  stack: string | undefined,
  promotion: string | undefined,
): { stackDir: string; specFile: string } {
  const cwd = process.cwd();
  let stackDir: string;
  if (stack && fs.existsSync(path.join(stack, "cdk.tf.json"))) stackDir = path.resolve(stack);
  else if (stack) stackDir = path.resolve(cwd, "cdktf.out", "stacks", stack);
  else if (fs.existsSync(path.join(cwd, "cdk.tf.json"))) stackDir = cwd;
  else {
    const stacks = fs.existsSync(path.join(cwd, "cdktf.out", "stacks"))
      ? fs.readdirSync(path.join(cwd, "cdktf.out", "stacks"))
      : [];
    if (stacks.length !== 1)
      throw new PromoteError(
        stacks.length
          ? `several stacks in cdktf.out/stacks (${stacks.join(", ")}): choose one with --stack`
          : "no synthesized stack here: run cdktf synth, or give --stack <folder or name>",
      );
    stackDir = path.join(cwd, "cdktf.out", "stacks", stacks[0]);
  }
  if (!fs.existsSync(path.join(stackDir, "cdk.tf.json")))
    throw new PromoteError(`${stackDir} holds no synthesized stack (cdk.tf.json): run cdktf synth`);
  const assets = path.join(stackDir, "assets");
  const specs = (fs.existsSync(assets) ? fs.readdirSync(assets) : []).flatMap((a) =>
    fs
      .readdirSync(path.join(assets, a))
      .map((h) => path.join(assets, a, h, PROMOTION_SPEC_FILE))
      .filter((f) => fs.existsSync(f)),
  );
  const named = specs.map((f) => ({ f, p: (JSON.parse(fs.readFileSync(f, "utf8")) as PromotionSpec).path }));
  const chosen = promotion ? named.filter((n) => n.p === promotion || n.p.endsWith(`/${promotion}`)) : named;
  if (chosen.length === 1) return { stackDir, specFile: chosen[0].f };
  if (!named.length) throw new PromoteError(`${stackDir} declares no TritonPromotion`);
  throw new PromoteError(
    `${promotion ? `no single promotion ${JSON.stringify(promotion)}` : "several promotions"} in ${stackDir}: choose with --promotion (${named.map((n) => n.p).join(", ")})`,
  );
}
