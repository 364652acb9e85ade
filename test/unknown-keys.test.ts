import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import * as lib from "../lib";
import { ROOTS, SHAPES } from "../lib/constructs/props-shapes";
import { generateShapes, SHAPES_FILE } from "../scripts/props-shapes";
import { colorProps, newStack, thrownBy } from "./helpers";

// Keys a props object's type does not declare are refused at run time, in every props object and
// every option object the package's API takes: a JavaScript stack, or props built from JSON or YAML,
// would otherwise lose them without a word. The keys come from the TypeScript types
// (scripts/props-shapes.ts writes lib/constructs/props-shapes.ts).

const message = (fn: () => unknown) => String((thrownBy(fn) as Error)?.message);

test("lib/constructs/props-shapes.ts is what scripts/props-shapes.ts writes from the types today", () => {
  expect(fs.readFileSync(SHAPES_FILE, "utf8")).toBe(generateShapes());
}, 60_000);

// One call per parameter of the API that takes a props object, with one key too many: a new
// construct, factory or function taking options fails here until its check is in place.
const api = lib as unknown as Record<string, any>;
const calls: Record<string, (extra: object) => unknown> = {};
for (const root of Object.keys(ROOTS)) {
  const [callee, index] = root.split("#");
  const [owner, method] = callee.split(".");
  calls[root] = (extra) => {
    const args: unknown[] = ["x", "x", "x", "x"].slice(0, Number(index));
    args[Number(index)] = extra;
    if (method) return api[owner][method](...args);
    if (/^[A-Z]/.test(owner)) return new api[owner](newStack().stack, "it", extra);
    return api[owner](...args);
  };
}

describe("every props parameter of the package refuses a key its type does not have", () => {
  test.each(Object.keys(ROOTS))("%s", (root) => {
    const known = Object.keys(SHAPES[ROOTS[root]]);
    const fn = () => calls[root]({ [`${known[0]}x`]: 1 });
    expect(message(fn)).toContain(`${known[0]}x = 1 is invalid: expected no such field: did you mean "${known[0]}"?`);
  });
});

describe("what the answers say", () => {
  test("a 0.1 name is answered with its 0.2.0 name; a key far from any is answered with the known ones", () => {
    const { stack } = newStack();
    const m = message(
      () =>
        new lib.WeightedService(stack, "split", {
          routes: [{ backends: [{ backend: lib.Backend.service("a"), weightPercent: 100 }], timeoutMs: 30_000 }],
          healthCheck: { intervalMs: 1000 },
          zzz: true,
        } as never),
    );
    expect(m).toContain("Invalid props for test/split:");
    expect(m).toContain(
      'routes[0].timeoutMs = 30000 is invalid: expected no such field since 0.2.0: "timeoutSeconds", in seconds (every duration is seconds: 250 ms is 0.25)',
    );
    expect(m).toContain(
      'healthCheck.intervalMs = 1000 is invalid: expected no such field since 0.2.0: "intervalSeconds"',
    );
    expect(m).toMatch(/zzz = true is invalid: expected no such field \(known: .*routes/);
  });

  test("the pair's colors, nested options and arrays are looked into", () => {
    const { stack } = newStack();
    const m = message(
      () =>
        new lib.TritonBlueGreen(stack, "p", {
          active: "blue",
          blue: colorProps({ probes: { periodSecond: 5 } } as never),
          green: { ...colorProps(), monitoring: { p99LatencyMs: 500 } } as never,
        }),
    );
    expect(m).toContain(
      'blue.probes.periodSecond = 5 is invalid: expected no such field: did you mean "periodSeconds"?',
    );
    expect(m).toContain(
      'green.monitoring.p99LatencyMs = 500 is invalid: expected no such field since 0.2.0: "p99LatencySeconds"',
    );
  });

  test("the user's own maps (labels, annotations, env), class instances and the spec are not looked into by it", () => {
    const { stack } = newStack();
    expect(
      () =>
        new lib.TritonRelease(stack, "r", {
          appName: "r",
          color: "blue",
          version: "v1",
          modelRepository: lib.ModelRepository.objectStore("s3://m"),
          labels: { "team.example.com/anything": "x" },
          annotations: { "whatever-key": "y" },
          nodeSelector: { "cloud.example.com/gpu-type": "a100" },
        }),
    ).not.toThrow();
    // The verification spec has its own checker (its JSON Schema), with the same answer.
    const m = message(
      () =>
        new lib.VerificationGate(stack, "g", {
          spec: { models: [{ name: "m" }], probe: { budgets: { p99Ms: 20 } } } as never,
          target: lib.GateTarget.url("http://127.0.0.1:8000"),
        }),
    );
    expect(m).toContain('no such field since 0.2.0: "p99Seconds", in seconds');
  });

  test("props read from YAML are held to the same keys", () => {
    const { stack } = newStack();
    const props = parse(
      [
        "tiers:",
        "  - name: primary",
        "    endpoints: []",
        "healthCheck:",
        "  timeoutMs: 250",
        "loadbalancing: least-request",
      ].join("\n"),
    );
    const m = message(() => new lib.FailoverPool(stack, "pool", props));
    expect(m).toContain('healthCheck.timeoutMs = 250 is invalid: expected no such field since 0.2.0: "timeoutSeconds"');
    expect(m).toContain(
      'loadbalancing = "least-request" is invalid: expected no such field: did you mean "loadBalancing"?',
    );
  });
});

test("the runtime check and the docs name the same rule", () => {
  const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "invalid-props.md"), "utf8");
  expect(doc).toContain("## Unknown keys");
});
