// The package (`cdktf-triton`), what a stack imports: constructs, their props and the values they
// take, and the verification spec a gate checks. Every name is listed here by hand (no `export *`),
// and test/public-api.test.ts holds the same list: a new export is a decision, not an accident. It loads no run-time module (no HTTP or gRPC
// client, no kubectl): the verifier's API is `cdktf-triton/run` (lib/run/index.ts). Renderers,
// models and validators are internals (this repository's own tests import them from their modules).
export { TritonValidationError } from "./constructs/validation";
export type { PropProblem } from "./constructs/validation";
export { COLORS, DEFAULT_TRITON_IMAGE, RESTRICTABLE_APIS } from "./constructs/release/props";
export type {
  AutoscalingOptions,
  Color,
  DrainOptions,
  MonitoringOptions,
  ProbeOptions,
  ResourceOptions,
  RestrictedApiName,
  RestrictedApiOptions,
  Toleration,
  TritonColorProps,
  TritonReleaseProps,
} from "./constructs/release/props";
export { ModelRepository } from "./constructs/release/model-repository";
export type { ObjectStoreOptions, PersistentVolumeClaimOptions } from "./constructs/release/model-repository";
export { ModelControl } from "./constructs/release/model-control";
export type { PollOptions, ExplicitOptions } from "./constructs/release/model-control";
export { TRITON_PORTS } from "./constructs/release/values";
export { TritonRelease } from "./constructs/release/triton-release";
export { queueTimeAdapterRule } from "./constructs/release/autoscaling";
export { STANDBY_MODES } from "./constructs/bluegreen/standby";
export type { StandbyMode } from "./constructs/bluegreen/standby";
export { TritonBlueGreen } from "./constructs/bluegreen/triton-bluegreen";
export type {
  AfterSwitchVerification,
  BlueGreenVerification,
  TritonBlueGreenProps,
} from "./constructs/bluegreen/bluegreen-props";
export { summarizeApp } from "./constructs/summary";
export type { Datatype, Tensor, TensorData } from "./core/tensor";
export { loadSpec, SpecError, SPEC_SCHEMA_FILE } from "./core/verify-spec";
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
} from "./core/verify-spec";
export { GateTarget, VerificationGate } from "./constructs/verify/verification-gate";
export { GateRunner } from "./constructs/verify/gate-job";
export type { GateJobOptions } from "./constructs/verify/gate-job";
export type { VerificationGateProps, GateSwitchBack } from "./constructs/verify/verification-gate";
export { Backend } from "./constructs/traffic/backend";
export type {
  Protocol,
  HealthCheckProps,
  OutlierDetectionProps,
  RetryProps,
  CircuitBreakerProps,
  RateLimitProps,
  MatchProps,
  AccessLogProps,
} from "./constructs/traffic/envoy-model";
export type { WeightedBackend, RouteProps, WeightedRoutesProps } from "./constructs/traffic/weighted-routes";
export { DEFAULT_ENVOY_IMAGE, ENVOY_OPS_PORT } from "./constructs/traffic/envoy-deployment";
export type {
  DataPlaneProps,
  EnvoyDisruptionBudget,
  EnvoyResources,
  EnvoyTlsProps,
} from "./constructs/traffic/envoy-deployment";
export { WeightedService } from "./constructs/traffic/weighted-service";
export type { WeightedServiceProps } from "./constructs/traffic/weighted-service";
export type { PoolEndpoint, Tier, FailoverPoolProps } from "./constructs/failover/failover-pool-model";
export { FailoverPool } from "./constructs/failover/failover-pool";
export type { FailoverPoolServiceProps } from "./constructs/failover/failover-pool";
export { GatewayRoute } from "./constructs/traffic/gateway-route";
export type { GatewayRouteProps, ParentRef } from "./constructs/traffic/gateway-route";
export type { Dependency } from "./constructs/dependencies";
export { TritonCanary } from "./constructs/promote/triton-canary";
export type { TritonCanaryProps } from "./constructs/promote/triton-canary";
export { TritonModelCanary } from "./constructs/promote/triton-model-canary";
export type { TritonModelCanaryProps } from "./constructs/promote/triton-model-canary";
export { GatewayDataPlane, TritonGatewayCanary } from "./constructs/promote/triton-gateway-canary";
export type {
  GatewayEnvoy,
  GatewayImplementation,
  TritonGatewayCanaryProps,
} from "./constructs/promote/triton-gateway-canary";
export { TritonPromotion, PromotionMetric } from "./constructs/promote/triton-promotion";
export type {
  TritonPromotionProps,
  MetricOptions,
  MetricSpec,
  PromotionStep,
  MetricKind,
} from "./constructs/promote/triton-promotion";
export { TritonDashboard } from "./constructs/monitoring/triton-dashboard";
export type { TritonDashboardProps } from "./constructs/monitoring/triton-dashboard";
export { pairDashboard, dashboardQueries } from "./constructs/monitoring/dashboard";
export type { DashboardOptions, DashboardQuery } from "./constructs/monitoring/dashboard";
export { TritonAlerts } from "./constructs/monitoring/triton-alerts";
export type { TritonAlertsProps } from "./constructs/monitoring/triton-alerts";
export { pairAlertRules, envoyAlertRules } from "./constructs/monitoring/alerts";
export type { AlertRule, AlertThresholds, RuleGroup } from "./constructs/monitoring/alerts";
