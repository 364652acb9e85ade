// The CLI's `abort`, `pause`, `resume` and `skip`: requests to a running promotion's driver from any
// shell, through the pair's lease. `abort` with no live driver rolls the pair back itself when it is
// given the stack and the engine (as `promote` takes them).
import { OPERATE_EXIT, PROMOTE_EXIT } from "../core/exit-codes";
import { Command } from "commander";
import { addShared, Io } from "./common";
import { addEngineOptions } from "./promote";
import { exitCodesHelp } from "./exit-codes";

const WHAT = {
  abort:
    "Abort a running promotion: the candidate back to 0 % in every Envoy pod, then in the state. With no live driver (its lease expired), roll the pair back here through --engine and --stack",
  pause:
    "Pause a running promotion: the weights hold and the bake clock stops; analysis goes on, and a failed measurement still aborts",
  resume: "Resume a paused promotion: the bake clock runs again",
  skip: "End the current step's bake now (it is recorded as skipped); the next step, or the switch, follows",
} as const;

export function addOperateCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  for (const action of ["abort", "pause", "resume", "skip"] as const) {
    const command = addShared(program.command(action).description(WHAT[action]), ["app", "namespace"], {
      appRequired: true,
    });
    // abort's rollback with no live driver takes the stack and the engine as promote does
    // (--kubeconfig and --context among them); the other requests need only the cluster's access.
    if (action === "abort") addEngineOptions(command);
    else addShared(command, ["kubeconfig", "context"]);
    command.addHelpText("after", exitCodesHelp(action)).action(async (flags) => {
      const { sendRequest, noDriverText, NoDriver, LeaseError, OperateError } =
        await import("../run/promote/ask-driver");
      const target = {
        app: flags.app,
        namespace: flags.namespace,
        kube: { kubeconfig: flags.kubeconfig, context: flags.context },
        out: io.out,
      };
      const fail = (message: string) => {
        io.err.write(`cdktf-triton ${action}: ${message}\n`);
        setCode(OPERATE_EXIT.error);
      };
      try {
        setCode(await sendRequest(action, target));
      } catch (e) {
        if (!(e instanceof NoDriver)) {
          return fail(
            e instanceof LeaseError || e instanceof OperateError
              ? e.message
              : `could not ${action}: ${(e as Error).message}`,
          );
        }
        try {
          const { text, unfinished } = await noDriverText(e, target);
          if (!unfinished) {
            io.out.write(`${text}: nothing to ${action}\n`);
            return setCode(OPERATE_EXIT.refused);
          }
          if (action !== "abort") {
            io.out.write(`${text}: nothing to ${action} (cdktf-triton abort rolls it back; promote resumes it)\n`);
            return setCode(OPERATE_EXIT.refused);
          }
          if (!flags.engine)
            return fail(
              `${text}. To roll it back from here, give the stack and the engine as promote takes them: --engine (and --stack, --var, --var-file)`,
            );
          setCode(await rollBack(flags, io));
        } catch (e2) {
          fail((e2 as Error).message);
        }
      }
    });
  }
}

/** `abort` with no live driver: the driver's rollback of the unfinished promotion, and nothing else. */
async function rollBack(flags: Record<string, any>, io: Io): Promise<number> {
  const { promote, PromoteError, NothingToAbort } = await import("../run/promote/driver");
  const { EngineError } = await import("../run/promote/engine");
  const { PromotionSpecError } = await import("../core/promotion-spec");
  const { engineOptions } = await import("./promote");
  try {
    const report = await promote({
      ...(await engineOptions(flags, io)),
      rollbackOnly: true,
      onUnfinished: "rollback",
      app: flags.app,
    });
    return report.exitCode === PROMOTE_EXIT.rolledBack ? OPERATE_EXIT.done : OPERATE_EXIT.error;
  } catch (e) {
    if (e instanceof NothingToAbort) {
      io.out.write(`${e.message}\n`);
      return OPERATE_EXIT.refused;
    }
    if (e instanceof PromoteError || e instanceof EngineError) throw e;
    if (e instanceof PromotionSpecError) throw new Error(e.brief, { cause: e });
    throw new Error(`could not roll back: ${(e as Error).message}`, { cause: e });
  }
}
