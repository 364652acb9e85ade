// Runs a VerifySpec against a candidate and decides: pass, fail (the candidate is bad) or error
// (could not verify: unreachable, or nothing answered). Never passes what it did not check, and
// never runs past the spec's deadline. Runtime code: imports nothing from cdktf.
import { setMaxListeners } from "events";
import { performance } from "perf_hooks";
import { InferResponse } from "./binary";
import {
  ClientOptions,
  HealthAnswer,
  InferenceClient,
  MetricSample,
  ModelMetadata,
  OipClient,
  OipError,
  scrapeMetrics,
} from "./client";
import { contractMismatch, inputsMismatch, outputMismatch, outputsAgree, responseMismatch } from "./compare";
import { ProbeResult, runProbe } from "./probe";
import { GoldenCase, ModelSpec, validateSpec, VerifySpec } from "../../core/verify-spec";
import { Protocol } from "../../core/closed-sets";
import { CheckResult, CheckStatus, Report, verdictOf, VerifyOptions, VerifyTarget } from "./types";
import { checkedUrl, redactUrl } from "./urls";

/** The client for a protocol. gRPC's libraries load only when asked for (the CLI starts faster). */
export function makeClient(protocol: Protocol | undefined, options: ClientOptions): InferenceClient {
  if (protocol !== "grpc") return new OipClient(options);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { GrpcOipClient } = require("./grpc-client") as typeof import("./grpc-client");
  return new GrpcOipClient(options);
}

/** How long the server's counters may lag its answers before they are judged as they stand. */
const COUNTER_SETTLE_MS = 5000;
const COUNTER_POLL_MS = 100;

/** Throws a SpecError for a spec that does not fit (a typed spec can still hold bad values). */
export async function verify(spec: VerifySpec, target: VerifyTarget, options: VerifyOptions = {}): Promise<Report> {
  validateSpec(spec);
  // The clients first: a URL they refuse throws here, before the deadline's timer exists (a timer
  // started first kept the process alive until the deadline after the error was printed).
  return new Verification(spec, target, options).run();
}

/**
 * One verification: the server's health, each model's readiness, contract and golden cases, the
 * probe and the baseline, the server's counters, in that order, within the spec's deadline. Each
 * step records its checks; a step that cannot run records them as skipped, with why.
 */
class Verification {
  private readonly client: InferenceClient;
  private readonly baseline?: InferenceClient;
  private readonly started = performance.now();
  private readonly startedAt = new Date().toISOString();
  private readonly deadlineMs: number;
  private readonly readyBy: number;
  private readonly poll: number;
  private readonly deadline = new AbortController();
  private readonly checks: CheckResult[] = [];
  /** The candidate's golden answers, by model/case: the baseline's are compared with them. */
  private readonly golden = new Map<string, InferResponse>();
  private probe?: ProbeResult;
  private baselineProbe?: ProbeResult;
  /** The server answered something: an unreachable server after that is a failure, not "could not verify". */
  private answered = false;
  /** Inferences sent: the server's counters must account for them. */
  private sent = 0;

  constructor(
    private readonly spec: VerifySpec,
    private readonly target: VerifyTarget,
    private readonly options: VerifyOptions,
  ) {
    this.client = makeClient(target.protocol, { ...target.client, url: checkedUrl("the candidate", target.url) });
    this.baseline = target.baselineUrl
      ? makeClient(target.protocol, { ...target.client, url: checkedUrl("the baseline", target.baselineUrl) })
      : undefined;
    if (target.metricsUrl !== undefined) checkedUrl("the metrics", target.metricsUrl);
    this.deadlineMs = (spec.deadlineSeconds ?? 600) * 1000;
    this.readyBy = this.started + Math.min(this.deadlineMs, (spec.waitForReadySeconds ?? 300) * 1000);
    this.poll = (options.pollIntervalSeconds ?? 1) * 1000;
  }

  private get signal(): AbortSignal {
    return this.deadline.signal;
  }

  async run(): Promise<Report> {
    const timer = setTimeout(() => this.deadline.abort(), this.deadlineMs);
    // Every in-flight request listens on the deadline: as many as the probe's concurrency.
    setMaxListeners(Math.max(10, (this.spec.probe?.concurrency ?? 0) * 2 + 10), this.signal);
    try {
      await this.steps();
    } finally {
      clearTimeout(timer);
      await Promise.all([this.client, this.baseline].map((c) => c?.close().catch(() => undefined)));
    }
    return {
      verdict: verdictOf(this.checks),
      target: redactUrl(this.target.url),
      baseline: this.target.baselineUrl ? redactUrl(this.target.baselineUrl) : undefined,
      startedAt: this.startedAt,
      durationMs: Math.round(performance.now() - this.started),
      checks: this.checks,
      probe: this.probe,
      baselineProbe: this.baselineProbe,
    };
  }

  /** The checks in order; nothing that sends inference runs before the server and every model were ready. */
  private async steps(): Promise<void> {
    const { client, target } = this;
    const liveOk = await this.check("server live", () =>
      this.waitFor(
        "the server",
        "live",
        (s) => client.live(s),
        target.protocol === "grpc" ? "ServerLive" : "GET /v2/health/live",
      ),
    );
    if (!liveOk) return this.skip(plannedChecks(this.spec, target).slice(1), "server not live");
    const readyOk = await this.check("server ready", () => this.waitFor("the server", "ready", (s) => client.ready(s)));
    const countersBefore = target.metricsUrl && readyOk ? await this.scrapeCounters() : undefined;
    const notReady = readyOk
      ? await this.modelChecks()
      : (this.spec.models.forEach((m) => this.skip(modelChecks(m), "server not ready")), ["the server"]);
    const blocked = notReady.length === 0 ? undefined : `not run: ${notReady.join(", ")} not ready`;
    await this.probeChecks(blocked);
    if (!blocked) await this.agreementChecks();
    if (countersBefore) await this.counterCheck(countersBefore);
  }

  private record(name: string, status: CheckStatus, message: string, t0: number): boolean {
    const result = { name, status, message, durationMs: Math.round(performance.now() - t0) };
    this.checks.push(result);
    this.options.onProgress?.({ type: "check", result });
    return status === "pass";
  }

  private skip(names: readonly string[], why: string): void {
    names.forEach((n) => this.record(n, "skipped", why, performance.now()));
  }

  /** Runs one check; a thrown OipError becomes fail, or error when the server never answered. */
  private async check(name: string, body: () => Promise<string | { fail: string }>): Promise<boolean> {
    const t0 = performance.now();
    const late = `deadline of ${this.deadlineMs / 1000}s reached first`;
    if (this.signal.aborted) return this.record(name, "fail", late, t0);
    try {
      const out = await body();
      return typeof out === "string" ? this.record(name, "pass", out, t0) : this.record(name, "fail", out.fail, t0);
    } catch (e) {
      if (this.signal.aborted) return this.record(name, "fail", late, t0);
      const unreachable = e instanceof OipError && e.kind === "unreachable" && !this.answered;
      const notOip = e instanceof OipError && e.kind === "not-oip";
      return this.record(name, unreachable || notOip ? "error" : "fail", (e as Error).message, t0);
    }
  }

  /**
   * Polls until the answer is ok, up to the readiness window: the last poll is at its end, and a
   * poll that gets no answer is cut there too. Fails with what was seen last.
   */
  private async waitFor(
    subject: string,
    what: string,
    probeOnce: (s: AbortSignal) => Promise<HealthAnswer>,
    endpoint?: string,
  ): Promise<string | { fail: string }> {
    const { signal, target } = this;
    let last: unknown;
    let seen: string | undefined;
    const window = `${Math.round((this.readyBy - this.started) / 1000)}s`;
    let toldAt = -Infinity;
    while (true) {
      try {
        const answer = await this.pollOnce(probeOnce);
        this.answered = true;
        if (answer.ok) return `${what} after ${Math.round((performance.now() - this.started) / 100) / 10}s`;
        // The server's own health endpoint is missing: nothing to wait for, this is no inference server.
        if (answer.missing && endpoint)
          throw new OipError(
            "not-oip",
            `${redactUrl(target.url)} answers, but is no Open Inference Protocol server: ${endpoint} answered ${answer.seen.split(" ")[0]} (give the inference server's ${target.protocol === "grpc" ? "gRPC port, Triton's 8001" : "HTTP port, Triton's 8000"})`,
          );
        seen = answer.seen;
        last = undefined;
      } catch (e) {
        if (signal.aborted || (e instanceof OipError && e.kind === "not-oip")) throw e;
        if (e instanceof OipError && e.kind === "aborted") {
          // the readiness window ended while a request hung
          last = seen
            ? undefined
            : new OipError(
                this.answered ? "timeout" : "unreachable",
                `no answer to ${what} within the ${window} readiness window`,
              );
        } else {
          if (!(e instanceof OipError && e.kind === "unreachable")) this.answered = true;
          last = e;
        }
      }
      const left = this.readyBy - performance.now();
      if (left <= 0 || signal.aborted) {
        if (last) throw last;
        return { fail: `not ${what} within ${window}: the last answer was ${seen}` };
      }
      // Say so at once, then every 10 s: a wait of minutes is never silent.
      if (performance.now() - toldAt >= 10_000) {
        toldAt = performance.now();
        this.options.onProgress?.({
          type: "waiting",
          what: `${subject} ${what}`,
          seen: seen ?? (last as Error)?.message ?? "no answer",
          leftSeconds: Math.ceil(left / 1000),
        });
      }
      await sleep(Math.min(this.poll, left), signal);
    }
  }

  /**
   * One poll, cut at the readiness window's end (the last one, at the end, gets a second) or the
   * deadline. A controller and a timer of our own: Node 20's AbortSignal.any() composite of
   * AbortSignal.timeout() can be garbage-collected before it fires, and then a poll to a server
   * that accepts and never answers outlives the readiness window (seen in CI under load).
   */
  private async pollOnce(probeOnce: (s: AbortSignal) => Promise<HealthAnswer>): Promise<HealthAnswer> {
    const windowLeft = Math.max(1000, Math.ceil(this.readyBy - performance.now()));
    const pollAbort = new AbortController();
    const onDeadline = () => pollAbort.abort(this.signal.reason);
    this.signal.addEventListener("abort", onDeadline, { once: true });
    const pollTimer = setTimeout(() => pollAbort.abort(), windowLeft);
    return probeOnce(pollAbort.signal).finally(() => {
      clearTimeout(pollTimer);
      this.signal.removeEventListener("abort", onDeadline);
    });
  }

  private async scrapeCounters(): Promise<MetricSample[] | undefined> {
    let before: MetricSample[] | undefined;
    await this.check("metrics scraped before", async () => {
      before = await scrapeMetrics(this.target.metricsUrl!, this.target.client, this.signal);
      return `${before.length} samples`;
    });
    return before;
  }

  /** Each model's readiness, contract and golden cases; the labels of the models that were not ready. */
  private async modelChecks(): Promise<string[]> {
    const notReady: string[] = [];
    for (const m of this.spec.models) {
      const label = modelLabel(m);
      const modelOk = await this.check(`model ${label} ready`, () =>
        this.waitFor(`model ${label}`, "ready", (s) => this.client.modelReady(m.name, m.version, s)),
      );
      if (!modelOk) {
        this.skip(modelChecks(m).slice(1), `model ${label} not ready`);
        notReady.push(label);
        continue;
      }
      // The model's metadata, fetched once: the contract check and the golden cases both read it.
      let published: Promise<ModelMetadata> | undefined;
      const metadataOf = () => (published ??= this.client.modelMetadata(m.name, m.version, this.signal));
      if (m.metadata) {
        await this.check(`model ${label} metadata`, async () => {
          const md = await metadataOf();
          const why =
            contractMismatch("input", m.metadata!.inputs, md.inputs) ??
            contractMismatch("output", m.metadata!.outputs, md.outputs);
          return why ? { fail: why } : `${md.inputs.length} inputs, ${md.outputs.length} outputs as expected`;
        });
      }
      for (const g of m.golden ?? [])
        await this.check(`model ${label} golden ${g.name}`, () => this.goldenCase(m, g, metadataOf));
    }
    return notReady;
  }

  private async goldenCase(
    m: ModelSpec,
    g: GoldenCase,
    metadataOf: () => Promise<ModelMetadata>,
  ): Promise<string | { fail: string }> {
    // what the model says it takes and gives: golden inputs are checked before they are sent
    const contract = await metadataOf();
    const badInput = inputsMismatch(g.inputs, contract);
    if (badInput) return { fail: badInput };
    this.sent++;
    const res = await this.client.infer(m.name, m.version, requestOf(g), this.signal);
    const badResponse = responseMismatch(res, m.name, m.version, contract);
    if (badResponse) return { fail: badResponse };
    this.golden.set(`${m.name}/${g.name}`, res);
    for (const expected of g.outputs) {
      const why = outputMismatch(
        expected,
        res.outputs.find((o) => o.name === expected.name),
      );
      if (why) return { fail: why };
    }
    return `${g.outputs.length} outputs match`;
  }

  /** The probe against its budgets, then the baseline's p99 beside it. */
  private async probeChecks(blocked: string | undefined): Promise<void> {
    const { spec, client, baseline, options } = this;
    const p = spec.probe;
    if (!p) return;
    const comparesP99 = Boolean(baseline && spec.baseline?.p99RegressionPercent !== undefined);
    if (blocked) return this.skip([`probe ${p.model}/${p.case}`, ...(comparesP99 ? ["baseline p99"] : [])], blocked);
    const g = spec.models.find((m) => m.name === p.model)?.golden?.find((c) => c.name === p.case);
    const probeTarget = client.prepare(p.model, p.version, requestOf(g!));
    await this.check(`probe ${p.model}/${p.case}`, async () => {
      const probe = (this.probe = await runProbe(
        client,
        probeTarget,
        p.requests,
        p.concurrency,
        this.signal,
        (done, total) => options.onProgress?.({ type: "probe", label: "candidate", done, total }),
      ));
      this.sent += probe.completed;
      if (probe.completed < p.requests)
        return { fail: `only ${probe.completed} of ${p.requests} requests done by the deadline` };
      const b = p.budgets;
      const over: string[] = [];
      if (probe.errorRate > (b.maxErrorRate ?? 0))
        over.push(`error rate ${pct(probe.errorRate)} > ${pct(b.maxErrorRate ?? 0)} (${probe.errorSamples[0] ?? ""})`);
      // Budgets are seconds (the spec's one unit for durations); the probe measures milliseconds.
      for (const [q, measured, budget] of [
        ["p50", probe.p50Ms, b.p50Seconds],
        ["p95", probe.p95Ms, b.p95Seconds],
        ["p99", probe.p99Ms, b.p99Seconds],
      ] as const) {
        if (budget !== undefined && !(measured <= budget * 1000))
          over.push(`${q} ${ms(measured)} > the budget's ${budget} s`);
      }
      const line = `${probe.completed} requests at ${p.concurrency}: p50 ${ms(probe.p50Ms)}, p95 ${ms(probe.p95Ms)}, p99 ${ms(probe.p99Ms)}, errors ${pct(probe.errorRate)}`;
      return over.length ? { fail: `${over.join("; ")} (${line})` } : line;
    });
    if (!comparesP99) return;
    await this.check("baseline p99", async () => {
      const theirs = (this.baselineProbe = await runProbe(
        baseline!,
        baseline!.prepare(p.model, p.version, requestOf(g!)),
        p.requests,
        p.concurrency,
        this.signal,
        (done, total) => options.onProgress?.({ type: "probe", label: "baseline", done, total }),
      ));
      if (theirs.errors > 0) return { fail: `the baseline failed ${theirs.errors} requests: cannot compare` };
      const limit = theirs.p99Ms * (1 + spec.baseline!.p99RegressionPercent! / 100);
      const line = `candidate p99 ${ms(this.probe?.p99Ms ?? NaN)}, baseline p99 ${ms(theirs.p99Ms)}, limit ${ms(limit)}`;
      return this.probe && this.probe.p99Ms <= limit ? line : { fail: line };
    });
  }

  /** Every golden case's outputs, the candidate's beside the baseline's. */
  private async agreementChecks(): Promise<void> {
    const { spec, baseline } = this;
    if (!baseline || !spec.baseline || spec.baseline.agreement === false) return;
    for (const m of spec.models) {
      for (const g of m.golden ?? []) {
        await this.check(`baseline agreement ${modelLabel(m)} ${g.name}`, async () => {
          const mine = this.golden.get(`${m.name}/${g.name}`);
          if (!mine) return { fail: "the candidate gave no answer to compare" };
          const theirs = await baseline.infer(m.name, m.version, requestOf(g), this.signal);
          for (const expected of g.outputs) {
            const b = theirs.outputs.find((o) => o.name === expected.name);
            const c = mine.outputs.find((o) => o.name === expected.name);
            if (!b) return { fail: `the baseline has no output ${expected.name}` };
            const why = c ? outputsAgree(c, b, expected) : `the candidate has no output ${expected.name}`;
            if (why) return { fail: `differs from the baseline: ${why}` };
          }
          return "agrees with the baseline";
        });
      }
    }
  }

  /** The server's own success and failure counters account for every inference this run sent. */
  private async counterCheck(before: MetricSample[]): Promise<void> {
    const { spec, target, signal } = this;
    await this.check("server counters", async () => {
      const ms_ = spec.metrics ?? {};
      const names = new Set(spec.models.map((m) => m.name));
      const sum = (samples: MetricSample[], metric: string) =>
        samples
          .filter((s) => s.name === metric && names.has(s.labels[ms_.modelLabel ?? "model"]))
          .reduce((n, s) => n + s.value, 0);
      const successName = ms_.successCounter ?? "nv_inference_request_success";
      const failureName = ms_.failureCounter ?? "nv_inference_request_failure";
      const answered = this.sent - (this.probe?.errors ?? 0);
      // Triton counts a request after it has sent the response (measured: over gRPC the client can
      // read /metrics before the last success is counted), so the counters are read until they
      // account for every answer, for at most COUNTER_SETTLE_MS, and then judged as they stand.
      const settleBy = performance.now() + COUNTER_SETTLE_MS;
      let success: number;
      let failure: number;
      for (;;) {
        const after = await scrapeMetrics(target.metricsUrl!, target.client, signal);
        success = sum(after, successName) - sum(before, successName);
        failure = sum(after, failureName) - sum(before, failureName);
        if (success >= answered || failure > (ms_.maxFailures ?? 0) || performance.now() >= settleBy || signal.aborted)
          break;
        await sleep(COUNTER_POLL_MS, signal);
      }
      const line = `${successName} +${success}, ${failureName} +${failure} (we sent ${this.sent} inferences)`;
      if (failure > (ms_.maxFailures ?? 0)) return { fail: line };
      if (success < answered) return { fail: `${line}: the server counted fewer successes than it answered` };
      return line;
    });
  }
}

function requestOf(g: GoldenCase) {
  return {
    inputs: g.inputs,
    outputs: g.outputs.map((o) => o.name),
    binaryInputs: g.binary ?? false,
    binaryOutputs: g.binary ?? false,
  };
}

function modelLabel(m: ModelSpec): string {
  return m.version ? `${m.name}/${m.version}` : m.name;
}

function modelChecks(m: ModelSpec): string[] {
  const l = modelLabel(m);
  return [
    `model ${l} ready`,
    ...(m.metadata ? [`model ${l} metadata`] : []),
    ...(m.golden ?? []).map((g) => `model ${l} golden ${g.name}`),
  ];
}

/** The checks a spec plans, in order, so that skipped ones are still reported. */
export function plannedChecks(spec: VerifySpec, target: VerifyTarget): string[] {
  return [
    "server live",
    "server ready",
    ...spec.models.flatMap(modelChecks),
    ...(spec.probe ? [`probe ${spec.probe.model}/${spec.probe.case}`] : []),
  ].concat(target.metricsUrl ? ["server counters"] : []);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

const ms = (x: number) => `${Number.isFinite(x) ? x.toFixed(1) : "n/a"} ms`;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
