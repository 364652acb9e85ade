// What every command of the CLI shares: where it writes, how a repeatable flag collects, and the
// shared options (core/cli-options), declared on a command from their one definition.
import { Command } from "commander";
import { OptionSpec, SHARED_OPTIONS, SharedOption } from "../core/cli-options";

export type Io = { out: NodeJS.WritableStream & { isTTY?: boolean }; err: NodeJS.WritableStream };

/** commander's argument parser for a repeatable flag: each value appended. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Declares one option from its spec (required: commander refuses the command without it). */
export function addOption(command: Command, spec: OptionSpec, options: { required?: boolean } = {}): Command {
  if (options.required) return command.requiredOption(spec.usage, spec.description);
  if (spec.repeatable) return command.option(spec.usage, spec.description, collect, [] as string[]);
  return spec.default !== undefined
    ? command.option(spec.usage, spec.description, spec.default)
    : command.option(spec.usage, spec.description);
}

/** Declares shared options by name; `appRequired` makes `--app` required. */
export function addShared(
  command: Command,
  names: readonly SharedOption[],
  options: { appRequired?: boolean } = {},
): Command {
  for (const name of names)
    addOption(command, SHARED_OPTIONS[name], { required: name === "app" && options.appRequired });
  return command;
}

/** The cluster's access and the pair: `--app`, `-n`, `--kubeconfig`, `--context`. */
export const CLUSTER: readonly SharedOption[] = ["app", "namespace", "kubeconfig", "context"];
