import { TerraformStack, TerraformVariable } from "cdktf";
import { Backend, FailoverPool, GatewayRoute, ModelControl, TritonAlerts, TritonBlueGreen, TritonDashboard, TritonRelease, TritonValidationError, VerificationGate, GateTarget, WeightedService } from "../lib";
import { colorProps, newStack, thrownBy, s3Models } from "./helpers";
import { gatewayDuration } from "../lib/constructs/traffic/gateway-route";

// Wrong inputs that used to synthesize, plan, and fail late (or never): each is refused at synth with
// the construct's path, the field, the value and what would be valid. A test double-free table: the
// constructs are the real ones, the error is theirs.
const one = (backend: Backend) => ({ routes: [{ backends: [{ backend, weightPercent: 100 }] }] });
const spec = (name = "classifier", extra: object = {}) => ({ models: [{ name, ...extra }] });

type Case = [name: string, build: (stack: TerraformStack) => void, path: string, field: string, value: string, expected: string];

const cases: Case[] = [
  ["a mirror percent from a Terraform variable (only weights may be)", (s) => new WeightedService(s, "split", { routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }], mirror: { backend: Backend.address("m", "10.0.0.2", 8000), percent: new TerraformVariable(s, "mirror", { type: "number" }).numberValue } }] }), "split", "routes[0].mirror.percent", '"<a Terraform expression>"', "only weights may come from Terraform variables"],
  ["literal weights summing to 90 (refused at synth; weights from Terraform variables are summed at plan)", (s) => new WeightedService(s, "split", { routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 70 }, { backend: Backend.address("b", "10.0.0.2", 8000), weightPercent: 20 }] }] }), "split", "routes[0].backends", '"weights summing to 90"', "weightPercent values summing to 100"],
  ["success-rate ejection with a negative stdev factor (Envoy rejects the cluster and /ready still says 200)", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }], outlierDetection: { successRate: { stdevFactor: -1 } } }), "pool", "outlierDetection.successRate.stdevFactor", "-1", "a number above 0"],
  ["a backend on port 70000", (s) => new WeightedService(s, "split", one(Backend.address("a", "10.0.0.1", 70000))), "split", "routes[0].backends[0].backend.httpPort", "70000", "an integer from 1 to 65535"],
  ["a service backend with a gRPC port 0", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.service("triton", { grpcPort: 0 }) }] }] }), "pool", "tiers[0].endpoints[0].backend.grpcPort", "0", "an integer from 1 to 65535"],
  ["httpPort on Envoy's ops port", (s) => new WeightedService(s, "split", { ...one(Backend.address("a", "10.0.0.1", 8000)), httpPort: 9902 }), "split", "httpPort", "9902", "Envoy's ops port"],
  ["httpPort on Envoy's admin port", (s) => new WeightedService(s, "split", { ...one(Backend.address("a", "10.0.0.1", 8000)), httpPort: 9901 }), "split", "httpPort", "9901", "Envoy's admin interface"],
  ["grpcPort equal to httpPort", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000, 8001) }] }], httpPort: 9000, grpcPort: 9000 }), "pool", "grpcPort", "9000", "a port other than httpPort (9000)"],
  ["an external backend without a scheme (was a bare TypeError)", (s) => new WeightedService(s, "split", one(Backend.external("triton.example.com:8000"))), "split", "routes[0].backends[0].backend.url", '"triton.example.com:8000"', "an http:// or https:// URL"],
  ["an external backend with no host at all", (s) => new WeightedService(s, "split", one(Backend.external("not a url"))), "split", "routes[0].backends[0].backend.url", '"not a url"', "an absolute URL with a scheme and a host"],
  ["an external backend with a path (silently dropped)", (s) => new WeightedService(s, "split", one(Backend.external("https://triton.example.com/v2/models"))), "split", "routes[0].backends[0].backend.url", '"https://triton.example.com/v2/models"', "a path here would be dropped"],
  ["caFile with an http:// URL (TLS silently dropped)", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.external("http://triton.example.com", { caFile: "/etc/ca.pem" }) }] }] }), "pool", "tiers[0].endpoints[0].backend.caFile", '"/etc/ca.pem"', "TLS would silently not be used"],
  ["a mirror to a backend on port 0", (s) => new WeightedService(s, "split", { routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }], mirror: { backend: Backend.address("m", "10.0.0.2", 0), percent: 10 } }] }), "split", "routes[0].mirror.backend.httpPort", "0", "an integer from 1 to 65535"],
  ["an unknown load-balancing policy (was round robin)", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }], loadBalancing: "random" as never }), "pool", "loadBalancing", '"random"', '"round-robin", "least-request"'],
  ["a memory limit below its request", (s) => new TritonRelease(s, "r", { appName: "r", color: "blue", version: "v1", modelRepository: s3Models, resources: { memoryRequest: "8Gi", memoryLimit: "4Gi" } }), "r", "resources.memoryLimit", '"4Gi"', "at least the memory request (8Gi)"],
  ["a cpu limit below the default request", (s) => new TritonRelease(s, "r", { appName: "r", color: "blue", version: "v1", modelRepository: s3Models, resources: { cpuLimit: "500m" } }), "r", "resources.cpuLimit", '"500m"', "at least the cpu request (1)"],
  ["two pairs writing the same report files", (s) => {
    new TritonBlueGreen(s, "a", { appName: "a", blue: colorProps(), green: colorProps(), active: "blue", verify: { spec: spec(), reportDir: "reports" } });
    new TritonBlueGreen(s, "b", { appName: "b", blue: colorProps(), green: colorProps(), active: "blue", verify: { spec: spec(), reportDir: "reports" } });
  }, "b/verify", "reportDir", '"reports"', "test/a/verify already renders the report reports/verify.json"],
  ["a WeightedService named like a pair's active Service", (s) => {
    const pair = new TritonBlueGreen(s, "fraud", { blue: colorProps(), green: colorProps(), active: "blue" });
    new WeightedService(s, "fraud-canary", { name: "fraud", ...one(Backend.release(pair.blue)) });
  }, "fraud-canary", "name", '"fraud"', "test/fraud already renders Service default/fraud"],
  ["two releases with one name in one namespace", (s) => {
    new TritonRelease(s, "one", { appName: "m", color: "blue", version: "v1", modelRepository: s3Models });
    new TritonRelease(s, "two", { appName: "m", color: "blue", version: "v2", modelRepository: s3Models });
  }, "two", "releaseName", '"m-blue"', "test/one already renders Helm release default/m-blue"],
  ["two GatewayRoutes with one name", (s) => {
    const r = { parentRefs: [{ name: "gw" }], ...one(Backend.service("triton")) };
    new GatewayRoute(s, "r1", { name: "route", ...r });
    new GatewayRoute(s, "r2", { name: "route", ...r });
  }, "r2", "name", '"route"', "test/r1 already renders Helm release default/route"],
  ["a verified model the candidate does not load (explicit mode)", (s) => new TritonBlueGreen(s, "p", { blue: colorProps({ modelControl: ModelControl.explicit({ loadModels: ["bert"] }) }), green: colorProps(), active: "blue", verify: { spec: spec("resnet50") } }), "p", "verify.spec.models[0].name", '"resnet50"', "a model the blue release loads (explicit model control: bert)"],
  ["a golden output whose data cannot fill its fixed shape", (s) => new VerificationGate(s, "g", { spec: spec("m", { golden: [{ name: "c", inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }], outputs: [{ name: "y", shape: [1, 3], data: [0.1, 0.9] }] }] }), target: GateTarget.url("http://127.0.0.1:8000") }), "g", "spec.models[0].golden[0].outputs[0].data", '"2 elements"', "3 (the elements of shape [1,3]): an answer of that shape can never match"],
  ["an argmax output with more labels than rows", (s) => new VerificationGate(s, "g", { spec: spec("m", { golden: [{ name: "c", inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }], outputs: [{ name: "y", shape: [2, 3], data: [0, 1, 2], argmax: true }] }] }), target: GateTarget.url("http://127.0.0.1:8000") }), "g", "spec.models[0].golden[0].outputs[0].data", '"3 elements"', "2 (one label per row of shape [2,3])"],
  ["a golden output shape the model's contract does not allow", (s) => new VerificationGate(s, "g", {
    spec: spec("m", { metadata: { inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }], outputs: [{ name: "y", datatype: "FP32", shape: [-1, 3] }] }, golden: [{ name: "c", inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }], outputs: [{ name: "y", shape: [1, 2], data: [0.5, 0.5] }] }] }),
    target: GateTarget.url("http://127.0.0.1:8000"),
  }), "g", "spec.models[0].golden[0].outputs[0].shape", "[1,2]", "a shape the model's contract allows ([-1,3] in metadata.outputs)"],
  ["an HPA whose maximum is below the color's replicas (the chart would fail at apply)", (s) => new TritonBlueGreen(s, "pair", { active: "blue", blue: colorProps({ replicas: 3, autoscaling: { maxReplicas: 2 } }), green: colorProps() }), "pair", "blue.autoscaling.maxReplicas", "2", "at least blue.replicas (3)"],
  ["an HPA metric name the adapter cannot serve", (s) => new TritonRelease(s, "r", { appName: "r", color: "blue", version: "v1", modelRepository: s3Models, autoscaling: { maxReplicas: 2, metricName: "queue time" } }), "r", "autoscaling.metricName", '"queue time"', "a metric name as the adapter serves it"],
  ["an alert failure ratio of 5 (meant 5 %)", (s) => new TritonRelease(s, "r", { appName: "r", color: "blue", version: "v1", modelRepository: s3Models, monitoring: { prometheusRule: true, failureRatio: 5 } }), "r", "monitoring.failureRatio", "5", "a share between 0 and 1"],
  ["an access log sampling 0 % (nothing would be logged)", (s) => new FailoverPool(s, "pool", { tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }], accessLog: { sampledPercent: 0 } }), "pool", "accessLog.sampledPercent", "0", "an integer from 1 to 100"],
  ["TritonAlerts with nothing to alert on", (s) => new TritonAlerts(s, "alerts", {}), "alerts", "pair", "undefined", "a pair, envoys, or both"],
  ["a dashboard whose Envoy is not one of ours", (s) => new TritonDashboard(s, "dash", { pair: new TritonBlueGreen(s, "pair", { active: "blue", blue: colorProps(), green: colorProps() }), envoys: [{} as never] }), "dash", "envoys[0]", "undefined", "a TritonCanary, WeightedService or FailoverPool"],
];

describe("wrong inputs are refused at synth, naming the construct path, the field, the value and what is valid", () => {
  test.each(cases)("%s", (_name, build, path, field, value, expected) => {
    const { stack } = newStack();
    const error = thrownBy(() => build(stack));
    expect(error).toBeInstanceOf(TritonValidationError);
    const message = (error as Error).message;
    expect(message).toContain(`Invalid props for test/${path}:`);
    expect(message).toContain(`${field} = ${value} is invalid: expected`);
    expect(message).toContain(expected);
  });
});

test("Gateway API durations: 1500 ms is 1s500ms (the HTTPRoute CRD refuses 1.5s)", () => {
  expect([1500, 5000, 30000, 90_000, 3_600_000, 3_723_004, 250].map(gatewayDuration)).toEqual(["1s500ms", "5s", "30s", "1m30s", "1h", "1h2m3s4ms", "250ms"]);
  for (const d of [1500, 3_723_004].map(gatewayDuration)) expect(d).toMatch(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/);
});
