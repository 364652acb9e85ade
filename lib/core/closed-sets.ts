// The closed sets of values that props, specs and flags take, each declared once: the type is
// derived from the list, and validation (props, specs, CLI flags) checks against the same list.
// Colors are in core/colors, standby modes in constructs/bluegreen/standby.

/** The Open Inference Protocol's transports: HTTP/REST (Triton's 8000) and gRPC (8001). */
export const PROTOCOLS = ["http", "grpc"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** The Kubernetes Service types a Service of ours may take. */
export const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** What `promote` does with a promotion an earlier run left unfinished. */
export const ON_UNFINISHED = ["resume", "rollback"] as const;
export type OnUnfinished = (typeof ON_UNFINISHED)[number];

/** What applies a stack for the promotion driver. */
export const ENGINE_KINDS = ["tofu", "terraform", "cdktf"] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** How Envoy spreads a cluster's requests over its hosts. */
export const LOAD_BALANCING = ["round-robin", "least-request"] as const;
export type LoadBalancing = (typeof LOAD_BALANCING)[number];

/** A gate's two targets: the candidate it verifies, the baseline it compares with. */
export type GateRole = "candidate" | "baseline";

/** A driver's answer to a request from another shell. */
export type RequestOutcome = "done" | "refused";

/**
 * The conditions of Envoy's router `retry_on` (x-envoy-retry-on and x-envoy-retry-grpc-on, Envoy
 * 1.40's router filter docs). Envoy takes any other word and ignores it: a retry policy with a typo
 * in it never retries on what was meant.
 */
export const RETRY_ON = [
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "envoy-ratelimited",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
] as const;
