import * as path from "path";
import * as ts from "typescript";

// The public API is exactly these names: what `import ... from "cdktf-triton"` (a stack's
// constructs, their props and factories, the verification spec) and `"cdktf-triton/run"` (the
// verifier for programs that run it themselves) give, types included. Renderers, models,
// validators, codecs and comparisons are internals and can change without a major version.
// Adding a name here is a decision about the public surface: say it in the CHANGELOG.
const SPEC_TYPES = [
  "BaselineSpec",
  "ExpectedOutput",
  "GoldenCase",
  "MetricsSpec",
  "ModelSpec",
  "ProbeSpec",
  "SpecProblem",
  "TensorContract",
  "VerifySpec",
  "Datatype",
  "Tensor",
  "TensorData",
];
const PACKAGE = [
  // constructs
  "TritonRelease",
  "TritonBlueGreen",
  "VerificationGate",
  "WeightedService",
  "FailoverPool",
  "GatewayRoute",
  "TritonCanary",
  "TritonGatewayCanary",
  "TritonModelCanary",
  "TritonPromotion",
  "TritonDashboard",
  "TritonAlerts",
  // factories and the values props take
  "Backend",
  "GateRunner",
  "GateTarget",
  "GatewayDataPlane",
  "ModelControl",
  "ModelRepository",
  "PromotionMetric",
  "COLORS",
  "DEFAULT_ENVOY_IMAGE",
  "DEFAULT_TRITON_IMAGE",
  "ENVOY_OPS_PORT",
  "RESTRICTABLE_APIS",
  "STANDBY_MODES",
  "TRITON_PORTS",
  // functions a platform team calls beside its stacks
  "dashboardQueries",
  "envoyAlertRules",
  "pairAlertRules",
  "pairDashboard",
  "queueTimeAdapterRule",
  "summarizeApp",
  "loadSpec",
  // errors
  "SpecError",
  "TritonValidationError",
  "SPEC_SCHEMA_FILE",
  // props and option types
  "AccessLogProps",
  "AfterSwitchVerification",
  "AlertRule",
  "AlertThresholds",
  "AutoscalingOptions",
  "BlueGreenVerification",
  "CircuitBreakerProps",
  "Color",
  "DashboardOptions",
  "DashboardQuery",
  "DataPlaneProps",
  "Dependency",
  "DrainOptions",
  "EnvoyDisruptionBudget",
  "EnvoyResources",
  "EnvoyTlsProps",
  "ExplicitOptions",
  "FailoverPoolProps",
  "FailoverPoolServiceProps",
  "GateJobOptions",
  "GateSwitchBack",
  "GatewayEnvoy",
  "GatewayImplementation",
  "GatewayRouteProps",
  "HealthCheckProps",
  "MatchProps",
  "MetricKind",
  "MetricOptions",
  "MetricSpec",
  "MonitoringOptions",
  "ObjectStoreOptions",
  "OutlierDetectionProps",
  "ParentRef",
  "PersistentVolumeClaimOptions",
  "PollOptions",
  "PoolEndpoint",
  "ProbeOptions",
  "PromotionStep",
  "PropProblem",
  "Protocol",
  "RateLimitProps",
  "ResourceOptions",
  "RestrictedApiName",
  "RestrictedApiOptions",
  "RetryProps",
  "RouteProps",
  "RuleGroup",
  "StandbyMode",
  "Tier",
  "Toleration",
  "TritonAlertsProps",
  "TritonBlueGreenProps",
  "TritonCanaryProps",
  "TritonColorProps",
  "TritonModelCanaryProps",
  "TritonDashboardProps",
  "TritonGatewayCanaryProps",
  "TritonPromotionProps",
  "TritonReleaseProps",
  "VerificationGateProps",
  "WeightedBackend",
  "WeightedRoutesProps",
  "WeightedServiceProps",
  ...SPEC_TYPES,
];
const RUN = [
  "verify",
  "makeClient",
  "OipClient",
  "OipError",
  "TargetUrlError",
  "runProbe",
  "scrapeMetrics",
  "loadSpec",
  "SpecError",
  "SPEC_SCHEMA_FILE",
  "CheckResult",
  "CheckStatus",
  "ClientOptions",
  "FailureKind",
  "HealthAnswer",
  "InferRequest",
  "InferResponse",
  "InferenceClient",
  "MetricSample",
  "ModelMetadata",
  "OipProtocol",
  "ProbeResult",
  "Protocol",
  "ProgressEvent",
  "Report",
  "TensorMetadata",
  "TlsOptions",
  "Verdict",
  "VerifyOptions",
  "VerifyTarget",
  ...SPEC_TYPES,
];

/** Every name a module exports, values and types, as the compiler sees it. */
function exportedNames(file: string): string[] {
  const program = ts.createProgram([file], {
    strict: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  return checker
    .getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!)
    .map((s) => s.name)
    .sort();
}

test("the package exports exactly the allow list: constructs, props, factories, the spec's types", () => {
  expect(exportedNames(path.join(__dirname, "..", "lib", "index.ts"))).toEqual([...PACKAGE].sort());
});

test("cdktf-triton/run exports exactly the verifier's allow list", () => {
  expect(exportedNames(path.join(__dirname, "..", "lib", "run", "index.ts"))).toEqual([...RUN].sort());
});

test("a stack that imports the package does not load the verifier", () => {
  expect(Object.keys(require("../lib"))).not.toContain("verify");
});
