import { Testing } from "cdktf";
import type { ChildProcess, SpawnOptions } from "child_process";
import type { ChildRegistry } from "./environment";

// cdktf's custom matchers (toHaveResource, toHaveResourceWithProperties, ...).
Testing.setupJest();

// Every child a test's modules spawn (ours, the library's, the peers') runs in a process group of
// its own and is registered with the test environment (test/environment.ts), which ends the groups
// still running when their test (or, for those started in beforeAll, the file) ends. The run's
// marker (CDKTF_TRITON_TEST_RUN, set by scripts/test.sh) is kept in an environment a test replaces,
// so that scripts/test.sh finds what outlived jest itself. Only the asynchronous `spawn` starts
// processes in our tests; the *Sync calls end before they return.
jest.mock("child_process", () => {
  const real = jest.requireActual<typeof import("child_process")>("child_process");
  const registry = (globalThis as Record<string, unknown>).__cdktfTritonChildren as ChildRegistry | undefined;
  const marker = process.env.CDKTF_TRITON_TEST_RUN;
  function spawn(command: string, ...rest: unknown[]): ChildProcess {
    const args = Array.isArray(rest[0]) ? (rest[0] as string[]) : [];
    const given = (Array.isArray(rest[0]) ? rest[1] : rest[0]) as SpawnOptions | undefined;
    const options: SpawnOptions = { ...given, detached: true };
    if (marker && options.env && options.env.CDKTF_TRITON_TEST_RUN === undefined)
      options.env = { ...options.env, CDKTF_TRITON_TEST_RUN: marker };
    const child = real.spawn(command, args, options);
    if (registry && child.pid !== undefined)
      registry.children.push({
        pid: child.pid,
        command: [command, ...args].join(" ").slice(0, 160),
        test: registry.test,
      });
    return child;
  }
  return { ...real, spawn };
});
