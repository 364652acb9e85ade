import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// scripts/setup-tools.sh's Triton step, into a folder of its own (SETUP_TOOLS_DIR): installed from
// the pinned wheel, reused when present, and a clear one-line error for a wheel that is not the one
// pinned. Downloads from PyPI (pip's cache serves repeats).
const script = path.resolve(__dirname, "..", "scripts", "setup-tools.sh");

function setup(dir: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", [script, "triton"], {
    encoding: "utf8",
    env: { ...process.env, SETUP_TOOLS_DIR: dir, ...env },
    timeout: 600_000,
  });
  return { code: r.status, out: r.stdout + r.stderr, lastError: r.stderr.trim().split("\n").pop() ?? "" };
}

describe("setup-tools: Triton from the nvidia-pytriton wheel", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "setup-tools-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("a wheel that does not match the pinned sha256: exit non-zero at once (not retried), one line naming the wheel and the fix, nothing installed", () => {
    const r = setup(dir, { TRITON_WHEEL_SHA256: "0".repeat(64) });
    expect(r.out).not.toContain("retrying");
    expect(r.code).not.toBe(0);
    expect(r.lastError).toBe(
      `setup-tools: the wheel nvidia-pytriton==0.7.0 from PyPI is not the pinned one (sha256 ${"0".repeat(64)}): check TRITON_WHEEL_SHA256 in scripts/setup-tools.sh, or clear pip's cache (pip cache remove nvidia_pytriton)`,
    );
    expect(fs.existsSync(path.join(dir, "triton"))).toBe(false);
  }, 600_000);

  test("the pinned wheel: a runnable layout (server, Python backend and its stub), then reused", () => {
    const first = setup(dir);
    expect(first.code).toBe(0);
    const home = path.join(dir, "triton", "pytriton", "tritonserver");
    for (const f of [
      "bin/tritonserver",
      "backends/python/libtriton_python.so",
      "backends/python/triton_python_backend_stub",
    ]) {
      expect(fs.existsSync(path.join(home, f))).toBe(true);
    }
    expect(first.out).toMatch(/setup-tools: Triton ready in \d+s/);
    const second = setup(dir);
    expect(second.code).toBe(0);
    expect(second.out).toContain("setup-tools: Triton (nvidia-pytriton==0.7.0) already in");
  }, 600_000);
});
