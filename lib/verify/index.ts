// The verifier's runtime half: nothing here imports cdktf or the providers.
export * from "./tensor";
export * from "./binary";
export * from "./client";
export * from "./spec";
export * from "./compare";
export * from "./probe";
export * from "./verifier";
