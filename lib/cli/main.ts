// The CLI's root (bin/cdktf-triton.js calls main): the commands, above every run-time module, each
// in its file (verify.ts, promote.ts, operate.ts, observe.ts). Loads nothing from cdktf, so `verify`
// starts fast inside a local-exec provisioner; the other commands load their modules when they run.
import * as fs from "fs";
import { Command, CommanderError } from "commander";
import { RENAMED_FLAGS } from "../core/cli-options";
import { CLI_EXIT } from "../core/exit-codes";
import { packageFile } from "../core/package-file";
import { Io } from "./common";
import { addObserveCommands } from "./observe";
import { addOperateCommands } from "./operate";
import { addPromoteCommands } from "./promote";
import { addVerifyCommand } from "./verify";

/** Runs the CLI; resolves to the exit code (never calls process.exit itself). */
export async function main(
  argv: readonly string[],
  io: Io = { out: process.stdout, err: process.stderr },
): Promise<number> {
  let code: number = CLI_EXIT.badArguments;
  const program = new Command("cdktf-triton")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .version(packageVersion(), "--version", "print the version of cdktf-triton");
  addVerifyCommand(program, io, (c) => (code = c));
  addPromoteCommands(program, io, (c) => (code = c));
  addOperateCommands(program, io, (c) => (code = c));
  addObserveCommands(program, io, (c) => (code = c));
  const renamed = renamedFlag(argv.slice(2));
  if (renamed) {
    io.err.write(
      `cdktf-triton ${renamed.command}: ${renamed.flag} is ${renamed.now} since 0.2.0 (see the CHANGELOG)\n`,
    );
    return CLI_EXIT.badArguments;
  }
  try {
    await program.parseAsync(argv as string[]);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? CLI_EXIT.help : CLI_EXIT.badArguments;
    io.err.write(`cdktf-triton: ${(e as Error).message}\n`);
    return CLI_EXIT.badArguments;
  }
  return code;
}

/** A flag 0.1 had that this command now names otherwise (core/cli-options' RENAMED_FLAGS). */
function renamedFlag(args: readonly string[]): { command: string; flag: string; now: string } | undefined {
  const [command, ...rest] = args;
  const renames = RENAMED_FLAGS[command ?? ""];
  if (!renames) return undefined;
  for (const arg of rest) {
    if (arg === "--") return undefined;
    const flag = arg.split("=")[0];
    if (renames[flag]) return { command, flag, now: renames[flag] };
  }
  return undefined;
}

/** This package's version, from its package.json (beside lib/ in a checkout, beside dist/ when installed). */
function packageVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(packageFile(["package.json"]), "utf8")).version as string;
  } catch {
    return "unknown";
  }
}
