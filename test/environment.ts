// The tests' jest environment: Node's, plus two rules every test file gets without asking.
// 1. Every process a test starts is ended when the test ends, passed or failed. test/setup.ts
//    wraps child_process for the test's modules (ours and the library's): each child runs in a
//    process group of its own and is registered here with the phase it started in. When a test
//    ends, the groups it started that still run are ended (SIGTERM, then SIGKILL after 5 s) and
//    named on stderr; the groups started outside a test (beforeAll) are ended when the file ends.
// 2. An end-to-end file (test/e2e/) stops at its first failure and says so: its tests share a
//    rig and a pair whose state the next test starts from, so after a failure each later test
//    fails at once, naming the test that failed first, instead of waiting minutes on a state the
//    failure left behind.
import NodeEnvironment from "jest-environment-node";
import type { EnvironmentContext, JestEnvironmentConfig } from "@jest/environment";
import type { Circus } from "@jest/types";
import { groupAlive } from "./peers/processes";

/** A child process as test/setup.ts registers it. */
export interface TrackedChild {
  readonly pid: number;
  readonly command: string;
  /** The test that started it, or undefined outside a test (beforeAll, the module's top level) or when the rig owns it (test/peers/processes.ts). */
  test?: string;
}

/** What test/setup.ts and this environment share, on the test context's global. */
export interface ChildRegistry {
  children: TrackedChild[];
  /** The running test's full name, or undefined between tests. */
  test?: string;
}

export const REGISTRY = "__cdktfTritonChildren";

/** How long a group has after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 5_000;

export default class TestEnvironment extends NodeEnvironment {
  private readonly e2e: boolean;
  private firstFailure?: string;

  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    this.e2e = /[\\/]test[\\/]e2e[\\/]/.test(context.testPath);
    const registry: ChildRegistry = { children: [] };
    this.global[REGISTRY] = registry;
  }

  private get registry(): ChildRegistry {
    return this.global[REGISTRY] as ChildRegistry;
  }

  async handleTestEvent(event: Circus.Event): Promise<void> {
    if (event.name === "test_start") {
      this.registry.test = fullName(event.test);
    } else if (event.name === "test_started") {
      // Dispatched once the test is known to run (not skipped, not filtered out), before its hooks.
      if (this.e2e && this.firstFailure !== undefined) {
        // An error before its hooks: circus then runs neither its beforeEach hooks nor its body.
        const error = new Error(
          `not run: "${this.firstFailure}" failed before it in this file, and the tests of an e2e file start from the state the one before left (the file stops at its first failure)`,
        );
        error.stack = `Error: ${error.message}`; // no frame of ours: the message is the whole story
        event.test.errors.push([error, error]);
      }
    } else if (event.name === "test_done") {
      const name = fullName(event.test);
      await endChildren(this.registry, (c) => c.test === name, `test "${name}"`);
      this.registry.test = undefined;
      if (event.test.errors.length && this.firstFailure === undefined) this.firstFailure = name;
    }
  }

  async teardown(): Promise<void> {
    await endChildren(this.registry, () => true, "the file");
    await super.teardown();
  }
}

function fullName(test: Circus.TestEntry): string {
  const names: string[] = [];
  for (let block: Circus.TestEntry | Circus.DescribeBlock | undefined = test; block; block = block.parent) {
    if (block.name !== "ROOT_DESCRIBE_BLOCK") names.unshift(block.name);
  }
  return names.join(" ");
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/** Ends the groups of the children `which` selects that still run, named on stderr; drops them from the registry. */
async function endChildren(
  registry: ChildRegistry | undefined,
  which: (c: TrackedChild) => boolean,
  owner: string,
): Promise<void> {
  if (!registry) return;
  const chosen = registry.children.filter(which);
  registry.children = registry.children.filter((c) => !which(c));
  const left = chosen.filter((c) => groupAlive(c.pid));
  if (!left.length) return;
  process.stderr.write(
    `${owner} ended with ${left.length} process group${left.length > 1 ? "s" : ""} it started still running; ending them: ${left.map((c) => `${c.command} (pid ${c.pid})`).join("; ")}\n`,
  );
  left.forEach((c) => signalGroup(c.pid, "SIGTERM"));
  const deadline = Date.now() + TERM_GRACE_MS;
  while (left.some((c) => groupAlive(c.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  left.filter((c) => groupAlive(c.pid)).forEach((c) => signalGroup(c.pid, "SIGKILL"));
}
