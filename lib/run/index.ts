// `cdktf-triton/run`: the verifier's API for programs that verify a candidate themselves (the OIP
// clients, the probe, the spec, the report). Nothing here loads cdktf or the providers; a stack
// imports `cdktf-triton` instead. Listed by hand, as in lib/index.ts; the codecs, comparisons and
// percentiles behind it are internals.
export type { Datatype, Tensor, TensorData } from "../core/tensor";
export { loadSpec, SpecError, SPEC_SCHEMA_FILE } from "../core/verify-spec";
export type {
  BaselineSpec,
  ExpectedOutput,
  GoldenCase,
  MetricsSpec,
  ModelSpec,
  ProbeSpec,
  SpecProblem,
  TensorContract,
  VerifySpec,
} from "../core/verify-spec";
export type { InferRequest, InferResponse } from "./verify/binary";
export { OipClient, OipError, scrapeMetrics } from "./verify/client";
export type {
  ClientOptions,
  FailureKind,
  HealthAnswer,
  InferenceClient,
  MetricSample,
  ModelMetadata,
  TensorMetadata,
  TlsOptions,
} from "./verify/client";
export { runProbe } from "./verify/probe";
export type { ProbeResult } from "./verify/probe";
export { makeClient, verify } from "./verify/verifier";
export { TargetUrlError } from "./verify/urls";
export type {
  CheckResult,
  CheckStatus,
  ProgressEvent,
  Report,
  Verdict,
  VerifyOptions,
  VerifyTarget,
} from "./verify/types";
export type { Protocol } from "../core/closed-sets";
/** @deprecated since 0.3.0: the same type as {@link Protocol}, its one name now. */
export type OipProtocol = import("../core/closed-sets").Protocol;
