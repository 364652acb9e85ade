// `cdktf-triton/run`: the verifier's API for programs that verify a candidate themselves (the OIP
// clients, the checks, the probe, the spec). Nothing here loads cdktf or the providers; a stack
// imports `cdktf-triton` instead.
export * from "../core/tensor";
export * from "./verify/binary";
export * from "./verify/client";
export * from "../core/verify-spec";
export * from "./verify/compare";
export * from "./verify/probe";
export * from "./verify/verifier";
