// The other side of test/environment.ts's rule "every process a test starts ends with it": a
// process a test's rig starts on the rig's behalf (a stand-in kubelet restarting a pod while a test
// runs) belongs to the rig, which stops it in afterAll; it is ended with the file, not the test.
import type { ChildRegistry } from "../environment";

/** Marks the child `pid` (started in the running test) as the file's: ended when the file ends. */
export function ownedByFile(pid: number | undefined): void {
  const registry = (globalThis as Record<string, unknown>).__cdktfTritonChildren as ChildRegistry | undefined;
  const child = registry?.children.find((c) => c.pid === pid);
  if (child) child.test = undefined;
}

/** Whether any process of group `pgid` is still there. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
