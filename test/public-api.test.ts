import * as api from "../lib";

// What `require("cdktf-triton")` gives: the constructs, their factories and constants, the
// verifier's runtime API. Renderers, models and validators stay internal, so they can change.
test("the package exports the constructs and the verifier, not the renderers, models and validators", () => {
  const names = Object.keys(api);
  expect(names).toEqual(expect.arrayContaining(["TritonRelease", "TritonBlueGreen", "VerificationGate", "GateTarget", "WeightedService", "FailoverPool", "GatewayRoute", "Backend", "ModelRepository", "ModelControl", "TritonValidationError", "TerraformData", "summarizeApp", "verify", "loadSpec", "TRITON_PORTS", "DEFAULT_TRITON_IMAGE", "DEFAULT_ENVOY_IMAGE"]));
  const internals = ["renderEnvoy", "renderChartValues", "resolveReleaseProps", "weightedRoutesModel", "failoverPoolModel", "validateWeightedRoutes", "validateFailoverPool", "PropValidator", "EnvoyDeployment", "deployEnvoy", "colorReplicas", "chartAsset", "addDependencies", "claimName", "renderHttpRouteSpec", "validateReleaseProps"];
  expect(names.filter((n) => internals.includes(n))).toEqual([]);
});
