// The verifier's runtime half: nothing here imports cdktf or the providers.
export * from "../core/tensor";
export * from "./verify/binary";
export * from "./verify/client";
export * from "../core/verify-spec";
export * from "./verify/compare";
export * from "./verify/probe";
export * from "./verify/verifier";
