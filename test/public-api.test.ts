import * as api from "../lib";
import * as run from "../lib/run";

// What `require("cdktf-triton")` gives: the constructs, their factories and constants, the
// verification spec. What `require("cdktf-triton/run")` gives: the verifier's runtime API.
// Renderers, models and validators stay internal, so they can change.
test("the package exports the constructs and the verifier, not the renderers, models and validators", () => {
  const names = Object.keys(api);
  expect(names).toEqual(expect.arrayContaining(["TritonRelease", "TritonBlueGreen", "VerificationGate", "GateTarget", "WeightedService", "FailoverPool", "GatewayRoute", "TritonGatewayCanary", "GatewayDataPlane", "Backend", "ModelRepository", "ModelControl", "TritonValidationError", "TerraformData", "summarizeApp", "loadSpec", "TRITON_PORTS", "DEFAULT_TRITON_IMAGE", "DEFAULT_ENVOY_IMAGE"]));
  expect(Object.keys(run)).toEqual(expect.arrayContaining(["verify", "loadSpec", "OipClient", "scrapeMetrics"]));
  const internals = ["renderEnvoy", "renderChartValues", "resolveReleaseProps", "weightedRoutesModel", "failoverPoolModel", "validateWeightedRoutes", "validateFailoverPool", "PropValidator", "EnvoyDeployment", "deployEnvoy", "colorReplicas", "chartAsset", "addDependencies", "claimName", "renderHttpRouteSpec", "validateReleaseProps"];
  expect([...names, ...Object.keys(run)].filter((n) => internals.includes(n))).toEqual([]);
  // the verifier itself is the run side's: a stack that imports the package does not load it
  expect(names).not.toContain("verify");
});
