import { measurementText, progressText, watchLine } from "../lib/run/observe/status-text";
import { PairStatus } from "../lib/run/observe/status-types";
import { Progress } from "../lib/run/promote/lease";

// `status --watch` without a cluster: what a driver's published progress reads as, and which changes
// print a new line (the e2e, test/e2e/operate.test.ts, follows a real promotion with it).
const at = "2026-12-05T20:00:00.000Z";
const progress = (over: Partial<Progress> = {}): Progress => ({
  promotion: "p1",
  from: { color: "blue", version: "v1" },
  to: { color: "green", version: "v2" },
  step: 2,
  steps: 3,
  weightPercent: 50,
  phase: "baking",
  bakeLeftSeconds: 30,
  measurements: [{ metric: "request-success-rate", value: 99.5, verdict: "pass", min: 99, at }],
  at,
  ...over,
});
const pair = (p: Progress): PairStatus => ({
  app: "fraud",
  namespace: "ml",
  driver: { live: true, progress: p },
  serving: "blue",
  colors: [],
  history: [],
  envoys: [
    {
      name: "fraud-canary",
      pods: ["a", "b"],
      weights: ["weights canary: blue=50, green=50", "weights canary: blue=50, green=50"],
      runtime: [],
      clusters: [{ cluster: "green-http", healthy: 2, total: 2, ejected: 0 }],
      hostsOut: [],
      events: [],
      problems: [],
    },
  ],
  problems: [],
});

test("the bake left counts down from when the driver published it; a pause shows who and what is left", () => {
  expect(progressText(progress(), Date.parse(at) + 12_000)).toBe(
    "blue v1 -> green v2: step 2/3 (50 %), baking, 18 s left",
  );
  expect(progressText(progress(), Date.parse(at) + 90_000)).toBe(
    "blue v1 -> green v2: step 2/3 (50 %), baking, 0 s left",
  );
  expect(
    progressText(progress({ phase: "paused", pausedBy: "alice@ops", pausedAt: at }), Date.parse(at) + 60_000),
  ).toBe(`blue v1 -> green v2: step 2/3 (50 %), paused by alice@ops since ${at}, 30 s of bake left when resumed`);
  expect(progressText(progress({ step: 0, phase: "starting", bakeLeftSeconds: undefined }))).toBe(
    "blue v1 -> green v2: before the first step, starting",
  );
  expect(progressText(progress({ step: 0, phase: "settling", status: "aborted", bakeLeftSeconds: undefined }))).toBe(
    "blue v1 -> green v2: aborted, settling",
  );
  expect(measurementText({ metric: "p99", value: 180, verdict: "fail", max: 150, at })).toBe(
    "p99 = 180 (max 150): fail",
  );
  expect(measurementText({ metric: "queue", verdict: "inconclusive", at })).toBe("queue = no data: inconclusive");
});

test("a new watch line when the step, a verdict or an Envoy's weights change, not when only the time left or a value moves", () => {
  const now = Date.parse(at);
  const base = watchLine(pair(progress()), now);
  expect(base.line).toBe(
    "fraud: blue v1 -> green v2: step 2/3 (50 %), baking, 30 s left · request-success-rate = 99.5 (min 99): pass · envoy fraud-canary: a blue=50, green=50, b blue=50, green=50; green-http 2/2",
  );
  const later = progress({
    bakeLeftSeconds: 20,
    measurements: [{ metric: "request-success-rate", value: 99.9, verdict: "pass", min: 99, at }],
  });
  expect(watchLine(pair(later), now + 10_000).key).toBe(base.key);
  expect(
    watchLine(
      pair(progress({ measurements: [{ metric: "request-success-rate", value: 90, verdict: "fail", min: 99, at }] })),
    ).key,
  ).not.toBe(base.key);
  expect(watchLine(pair(progress({ phase: "paused", pausedBy: "alice@ops", pausedAt: at }))).key).not.toBe(base.key);
  const moved = pair(progress());
  const envoy = {
    ...moved.envoys[0],
    weights: ["weights canary: blue=100, green=0", "weights canary: blue=50, green=50"],
  };
  expect(watchLine({ ...moved, envoys: [envoy] }).key).not.toBe(base.key);
});
