import { TerraformStack, TerraformVariable } from "cdktf";
import {
  Backend,
  FailoverPool,
  GateRunner,
  GatewayRoute,
  ModelControl,
  PromotionMetric,
  TritonAlerts,
  TritonBlueGreen,
  TritonCanary,
  TritonDashboard,
  TritonPromotion,
  TritonRelease,
  TritonValidationError,
  VerificationGate,
  GateTarget,
  WeightedService,
} from "../lib";
import { colorProps, newStack, thrownBy, s3Models } from "./helpers";
import { gatewayDuration } from "../lib/constructs/traffic/gateway-route";

// Wrong inputs that used to synthesize, plan, and fail late (or never): each is refused at synth with
// the construct's path, the field, the value and what would be valid. A test double-free table: the
// constructs are the real ones, the error is theirs.
const one = (backend: Backend) => ({ routes: [{ backends: [{ backend, weightPercent: 100 }] }] });
const spec = (name = "classifier", extra: object = {}) => ({ models: [{ name, ...extra }] });

const envoy = (s: TerraformStack, extra: object) =>
  new WeightedService(s, "split", { ...one(Backend.address("a", "10.0.0.1", 8000)), ...extra });
const release = (s: TerraformStack, extra: object) =>
  new TritonRelease(s, "r", { appName: "r", color: "blue", version: "v1", modelRepository: s3Models, ...extra });
const pair = (s: TerraformStack, extra: object = {}) =>
  new TritonBlueGreen(s, "pair", {
    active: "blue",
    blue: colorProps(),
    green: colorProps(),
    standby: "warm",
    ...extra,
  });
const promotion = (s: TerraformStack, extra: object) =>
  new TritonPromotion(s, "promo", {
    canary: new TritonCanary(s, "fraud-canary", { pair: pair(s), canaryPercent: TritonCanary.percentVariable(s) }),
    steps: [{ weightPercent: 10, bakeSeconds: 300 }],
    analysis: { metrics: [PromotionMetric.successRate({ minPercent: 99 })] },
    ...extra,
  });

type Case = [
  name: string,
  build: (stack: TerraformStack) => void,
  path: string,
  field: string,
  value: string,
  expected: string,
];

const cases: Case[] = [
  [
    "a mirror percent from a Terraform variable (only weights may be)",
    (s) =>
      new WeightedService(s, "split", {
        routes: [
          {
            backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }],
            mirror: {
              backend: Backend.address("m", "10.0.0.2", 8000),
              percent: new TerraformVariable(s, "mirror", { type: "number" }).numberValue,
            },
          },
        ],
      }),
    "split",
    "routes[0].mirror.percent",
    '"<a Terraform expression>"',
    "only weights may come from Terraform variables",
  ],
  [
    "literal weights summing to 90 (refused at synth; weights from Terraform variables are summed at plan)",
    (s) =>
      new WeightedService(s, "split", {
        routes: [
          {
            backends: [
              { backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 70 },
              { backend: Backend.address("b", "10.0.0.2", 8000), weightPercent: 20 },
            ],
          },
        ],
      }),
    "split",
    "routes[0].backends",
    '"weights summing to 90"',
    "weightPercent values summing to 100",
  ],
  [
    "success-rate ejection with a negative stdev factor (Envoy rejects the cluster and /ready still says 200)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        outlierDetection: { successRate: { stdevFactor: -1 } },
      }),
    "pool",
    "outlierDetection.successRate.stdevFactor",
    "-1",
    "a number above 0",
  ],
  [
    "a route timeout in milliseconds as 0.1 wrote it (30000 s is over the hour allowed)",
    (s) =>
      new WeightedService(s, "split", {
        routes: [{ ...one(Backend.address("a", "10.0.0.1", 8000)).routes[0], timeoutSeconds: 30000 }],
      }),
    "split",
    "routes[0].timeoutSeconds",
    "30000",
    "seconds from 0.001 to 3600, to the millisecond at most (0.25 is 250 ms)",
  ],
  [
    "a health-check interval finer than a millisecond",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        healthCheck: { intervalSeconds: 0.0005 },
      }),
    "pool",
    "healthCheck.intervalSeconds",
    "0.0005",
    "seconds from 0.01 to 3600, to the millisecond at most (0.25 is 250 ms)",
  ],
  [
    "an autoscaling target in microseconds as 0.1 wrote it",
    (s) => release(s, { replicas: 2, autoscaling: { maxReplicas: 4, targetQueueTimeSeconds: 50000 } }),
    "r",
    "autoscaling.targetQueueTimeSeconds",
    "50000",
    "seconds from 0.001 to 3600, to the millisecond at most (0.25 is 250 ms)",
  ],
  [
    "a canary on another variable than the one its pair's capacity follows",
    (s) => {
      const followed = TritonCanary.percentVariable(s, "followed");
      const p = new TritonBlueGreen(s, "pair", {
        active: "blue",
        blue: colorProps(),
        green: colorProps(),
        followCanary: { canaryPercent: followed },
      });
      new TritonCanary(s, "fraud-canary", { pair: p, canaryPercent: TritonCanary.percentVariable(s, "other") });
    },
    "fraud-canary",
    "canaryPercent",
    '"var.other"',
    "var.followed, the variable test/pair's followCanary names",
  ],
  [
    "a negative surge",
    (s) => pair(s, { standby: "preview", followCanary: { canaryPercent: TritonCanary.percentVariable(s), surge: -1 } }),
    "pair",
    "followCanary.surge",
    "-1",
    "an integer from 0 to 1000",
  ],
  [
    "a backend on port 70000",
    (s) => new WeightedService(s, "split", one(Backend.address("a", "10.0.0.1", 70000))),
    "split",
    "routes[0].backends[0].backend.httpPort",
    "70000",
    "an integer from 1 to 65535",
  ],
  [
    "a service backend with a gRPC port 0",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.service("triton", { grpcPort: 0 }) }] }],
      }),
    "pool",
    "tiers[0].endpoints[0].backend.grpcPort",
    "0",
    "an integer from 1 to 65535",
  ],
  [
    "httpPort on Envoy's ops port",
    (s) => new WeightedService(s, "split", { ...one(Backend.address("a", "10.0.0.1", 8000)), httpPort: 9902 }),
    "split",
    "httpPort",
    "9902",
    "Envoy's ops port",
  ],
  [
    "httpPort on Envoy's admin port",
    (s) => new WeightedService(s, "split", { ...one(Backend.address("a", "10.0.0.1", 8000)), httpPort: 9901 }),
    "split",
    "httpPort",
    "9901",
    "Envoy's admin interface",
  ],
  [
    "grpcPort equal to httpPort",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000, 8001) }] }],
        httpPort: 9000,
        grpcPort: 9000,
      }),
    "pool",
    "grpcPort",
    "9000",
    "a port other than httpPort (9000)",
  ],
  [
    "an external backend without a scheme (was a bare TypeError)",
    (s) => new WeightedService(s, "split", one(Backend.external("triton.example.com:8000"))),
    "split",
    "routes[0].backends[0].backend.url",
    '"triton.example.com:8000"',
    "an http:// or https:// URL",
  ],
  [
    "an external backend with no host at all",
    (s) => new WeightedService(s, "split", one(Backend.external("not a url"))),
    "split",
    "routes[0].backends[0].backend.url",
    '"not a url"',
    "an absolute URL with a scheme and a host",
  ],
  [
    "an external backend with a path (silently dropped)",
    (s) => new WeightedService(s, "split", one(Backend.external("https://triton.example.com/v2/models"))),
    "split",
    "routes[0].backends[0].backend.url",
    '"https://triton.example.com/v2/models"',
    "a path here would be dropped",
  ],
  [
    "caFile with an http:// URL (TLS silently dropped)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [
          {
            name: "a",
            endpoints: [{ backend: Backend.external("http://triton.example.com", { caFile: "/etc/ca.pem" }) }],
          },
        ],
      }),
    "pool",
    "tiers[0].endpoints[0].backend.caFile",
    '"/etc/ca.pem"',
    "TLS would silently not be used",
  ],
  [
    "a mirror to a backend on port 0",
    (s) =>
      new WeightedService(s, "split", {
        routes: [
          {
            backends: [{ backend: Backend.address("a", "10.0.0.1", 8000), weightPercent: 100 }],
            mirror: { backend: Backend.address("m", "10.0.0.2", 0), percent: 10 },
          },
        ],
      }),
    "split",
    "routes[0].mirror.backend.httpPort",
    "0",
    "an integer from 1 to 65535",
  ],
  [
    "an unknown load-balancing policy (was round robin)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        loadBalancing: "random" as never,
      }),
    "pool",
    "loadBalancing",
    '"random"',
    '"round-robin", "least-request"',
  ],
  [
    "a memory limit below its request",
    (s) =>
      new TritonRelease(s, "r", {
        appName: "r",
        color: "blue",
        version: "v1",
        modelRepository: s3Models,
        resources: { memoryRequest: "8Gi", memoryLimit: "4Gi" },
      }),
    "r",
    "resources.memoryLimit",
    '"4Gi"',
    "at least the memory request (8Gi)",
  ],
  [
    "a cpu limit below the default request",
    (s) =>
      new TritonRelease(s, "r", {
        appName: "r",
        color: "blue",
        version: "v1",
        modelRepository: s3Models,
        resources: { cpuLimit: "500m" },
      }),
    "r",
    "resources.cpuLimit",
    '"500m"',
    "at least the cpu request (1)",
  ],
  [
    "two pairs writing the same report files",
    (s) => {
      new TritonBlueGreen(s, "a", {
        appName: "a",
        blue: colorProps(),
        green: colorProps(),
        active: "blue",
        verify: { spec: spec(), reportDir: "reports" },
      });
      new TritonBlueGreen(s, "b", {
        appName: "b",
        blue: colorProps(),
        green: colorProps(),
        active: "blue",
        verify: { spec: spec(), reportDir: "reports" },
      });
    },
    "b/verify",
    "reportDir",
    '"reports"',
    "test/a/verify already renders the report reports/verify.json",
  ],
  [
    "a WeightedService named like a pair's active Service",
    (s) => {
      const pair = new TritonBlueGreen(s, "fraud", { blue: colorProps(), green: colorProps(), active: "blue" });
      new WeightedService(s, "fraud-canary", { name: "fraud", ...one(Backend.release(pair.blue)) });
    },
    "fraud-canary",
    "name",
    '"fraud"',
    "test/fraud already renders Service default/fraud",
  ],
  [
    "two releases with one name in one namespace",
    (s) => {
      new TritonRelease(s, "one", { appName: "m", color: "blue", version: "v1", modelRepository: s3Models });
      new TritonRelease(s, "two", { appName: "m", color: "blue", version: "v2", modelRepository: s3Models });
    },
    "two",
    "releaseName",
    '"m-blue"',
    "test/one already renders Helm release default/m-blue",
  ],
  [
    "two GatewayRoutes with one name",
    (s) => {
      const r = { parentRefs: [{ name: "gw" }], ...one(Backend.service("triton")) };
      new GatewayRoute(s, "r1", { name: "route", ...r });
      new GatewayRoute(s, "r2", { name: "route", ...r });
    },
    "r2",
    "name",
    '"route"',
    "test/r1 already renders Helm release default/route",
  ],
  [
    "a verified model the candidate does not load (explicit mode)",
    (s) =>
      new TritonBlueGreen(s, "p", {
        blue: colorProps({ modelControl: ModelControl.explicit({ loadModels: ["bert"] }) }),
        green: colorProps(),
        active: "blue",
        verify: { spec: spec("resnet50") },
      }),
    "p",
    "verify.spec.models[0].name",
    '"resnet50"',
    "a model the blue release loads (explicit model control: bert)",
  ],
  [
    "a golden output whose data cannot fill its fixed shape",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec("m", {
          golden: [
            {
              name: "c",
              inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
              outputs: [{ name: "y", shape: [1, 3], data: [0.1, 0.9] }],
            },
          ],
        }),
        target: GateTarget.url("http://127.0.0.1:8000"),
      }),
    "g",
    "spec.models[0].golden[0].outputs[0].data",
    '"2 elements"',
    "3 (the elements of shape [1,3]): an answer of that shape can never match",
  ],
  [
    "an argmax output with more labels than rows",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec("m", {
          golden: [
            {
              name: "c",
              inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
              outputs: [{ name: "y", shape: [2, 3], data: [0, 1, 2], argmax: true }],
            },
          ],
        }),
        target: GateTarget.url("http://127.0.0.1:8000"),
      }),
    "g",
    "spec.models[0].golden[0].outputs[0].data",
    '"3 elements"',
    "2 (one label per row of shape [2,3])",
  ],
  [
    "a golden output shape the model's contract does not allow",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec("m", {
          metadata: {
            inputs: [{ name: "x", datatype: "FP32", shape: [-1, 4] }],
            outputs: [{ name: "y", datatype: "FP32", shape: [-1, 3] }],
          },
          golden: [
            {
              name: "c",
              inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }],
              outputs: [{ name: "y", shape: [1, 2], data: [0.5, 0.5] }],
            },
          ],
        }),
        target: GateTarget.url("http://127.0.0.1:8000"),
      }),
    "g",
    "spec.models[0].golden[0].outputs[0].shape",
    "[1,2]",
    "a shape the model's contract allows ([-1,3] in metadata.outputs)",
  ],
  [
    "an HPA whose maximum is below the color's replicas (the chart would fail at apply)",
    (s) =>
      new TritonBlueGreen(s, "pair", {
        active: "blue",
        blue: colorProps({ replicas: 3, autoscaling: { maxReplicas: 2 } }),
        green: colorProps(),
      }),
    "pair",
    "blue.autoscaling.maxReplicas",
    "2",
    "at least blue.replicas (3)",
  ],
  [
    "an HPA metric name the adapter cannot serve",
    (s) =>
      new TritonRelease(s, "r", {
        appName: "r",
        color: "blue",
        version: "v1",
        modelRepository: s3Models,
        autoscaling: { maxReplicas: 2, metricName: "queue time" },
      }),
    "r",
    "autoscaling.metricName",
    '"queue time"',
    "a metric name as the adapter serves it",
  ],
  [
    "an alert failure ratio of 5 (meant 5 %)",
    (s) =>
      new TritonRelease(s, "r", {
        appName: "r",
        color: "blue",
        version: "v1",
        modelRepository: s3Models,
        monitoring: { prometheusRule: true, failureRatio: 5 },
      }),
    "r",
    "monitoring.failureRatio",
    "5",
    "a share between 0 and 1",
  ],
  [
    "an access log sampling 0 % (nothing would be logged)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        accessLog: { sampledPercent: 0 },
      }),
    "pool",
    "accessLog.sampledPercent",
    "0",
    "an integer from 1 to 100",
  ],
  [
    "TritonAlerts with nothing to alert on",
    (s) => new TritonAlerts(s, "alerts", {}),
    "alerts",
    "pair",
    "undefined",
    "a pair, envoys, or both",
  ],
  [
    "a dashboard whose Envoy is not one of ours",
    (s) =>
      new TritonDashboard(s, "dash", {
        pair: new TritonBlueGreen(s, "pair", { active: "blue", blue: colorProps(), green: colorProps() }),
        envoys: [{} as never],
      }),
    "dash",
    "envoys[0]",
    "undefined",
    "a TritonCanary, WeightedService or FailoverPool",
  ],
  // Issue 25: accepted at synth, meaningless at run.
  [
    "a step that bakes 30 s while its metric measures every 60 s (no measurement fits: every run aborts)",
    (s) =>
      promotion(s, {
        steps: [{ weightPercent: 10, bakeSeconds: 30 }],
        analysis: { intervalSeconds: 60, metrics: [PromotionMetric.successRate({ minPercent: 99 })] },
      }),
    "promo",
    "steps[0].bakeSeconds",
    "30",
    'at least 60 s: metric "request-success-rate" needs 1 passing measurement(s) of 60 s',
  ],
  [
    "a step too short for a metric's three measurements",
    (s) =>
      promotion(s, {
        steps: [{ weightPercent: 10, bakeSeconds: 100 }],
        analysis: {
          intervalSeconds: 60,
          metrics: [PromotionMetric.latency({ maxSeconds: 0.1, count: 3, intervalSeconds: 40 })],
        },
      }),
    "promo",
    "steps[0].bakeSeconds",
    "100",
    "at least 120 s",
  ],
  [
    "replicas 0 on a color that may serve",
    (s) => pair(s, { green: colorProps({ replicas: 0 }) }),
    "pair",
    "green.replicas",
    "0",
    "at least 1: green serves once active names it",
  ],
  [
    "previewReplicas with a literal warm standby (silently ignored)",
    (s) => pair(s, { standby: "warm", previewReplicas: 2 }),
    "pair",
    "previewReplicas",
    "2",
    'no previewReplicas with standby "warm"',
  ],
  [
    "previewReplicas with a literal scaled-down standby",
    (s) => pair(s, { standby: "scaled-down", previewReplicas: 1 }),
    "pair",
    "previewReplicas",
    "1",
    'no previewReplicas with standby "scaled-down"',
  ],
  [
    "an active variable of type number",
    (s) => pair(s, { active: new TerraformVariable(s, "active", { type: "number" }) }),
    "pair",
    "active",
    '"var.active of type number"',
    'a variable of type "string"',
  ],
  [
    "a standby variable of type bool",
    (s) => pair(s, { standby: new TerraformVariable(s, "standby", { type: "bool" }) }),
    "pair",
    "standby",
    '"var.standby of type bool"',
    'a variable of type "string"',
  ],
  [
    "a preview Service type that does not exist",
    (s) => pair(s, { previewServiceType: "Internal" as never }),
    "pair",
    "previewServiceType",
    '"Internal"',
    '"ClusterIP", "NodePort", "LoadBalancer"',
  ],
  // Envoy for production: what a platform team could get wrong.
  [
    "an image pull secret with capitals",
    (s) => envoy(s, { imagePullSecrets: ["Registry-Creds"] }),
    "split",
    "imagePullSecrets[0]",
    '"Registry-Creds"',
    "an RFC 1123 subdomain",
  ],
  [
    "image pull secrets as one string (a list expected)",
    (s) => envoy(s, { imagePullSecrets: "regcred" as never }),
    "split",
    "imagePullSecrets",
    '"regcred"',
    "a list of Secret names",
  ],
  [
    "a node selector value with a space",
    (s) => envoy(s, { nodeSelector: { "node-role.kubernetes.io/ingress": "edge nodes" } }),
    "split",
    'nodeSelector["node-role.kubernetes.io/ingress"]',
    '"edge nodes"',
    "a Kubernetes label value",
  ],
  [
    "a node selector key with two slashes",
    (s) => envoy(s, { nodeSelector: { "a/b/c": "x" } }),
    "split",
    'nodeSelector["a/b/c"]',
    '"a/b/c"',
    "a Kubernetes label key",
  ],
  [
    "a toleration with operator In",
    (s) => envoy(s, { tolerations: [{ key: "dedicated", operator: "In" as never, value: "ingress" }] }),
    "split",
    "tolerations[0].operator",
    '"In"',
    '"Equal", "Exists"',
  ],
  [
    "a toleration with effect NoExec (a typo)",
    (s) => envoy(s, { tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoExec" as never }] }),
    "split",
    "tolerations[0].effect",
    '"NoExec"',
    '"NoSchedule", "PreferNoSchedule", "NoExecute"',
  ],
  [
    "a toleration without a key but with a value",
    (s) => envoy(s, { tolerations: [{ value: "ingress", effect: "NoSchedule" }] }),
    "split",
    "tolerations[0].value",
    '"ingress"',
    "a toleration without a key",
  ],
  [
    "tolerationSeconds on a NoSchedule toleration (Kubernetes ignores it)",
    (s) => envoy(s, { tolerations: [{ key: "k", operator: "Exists", effect: "NoSchedule", tolerationSeconds: 60 }] }),
    "split",
    "tolerations[0].tolerationSeconds",
    "60",
    'effect "NoExecute"',
  ],
  [
    "an affinity with a misspelt nodeSelectorTerms",
    (s) =>
      envoy(s, {
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerm: [] } } },
      }),
    "split",
    "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerm",
    '"nodeSelectorTerm"',
    "one of the fields nodeSelectorTerms",
  ],
  [
    "a pod anti-affinity term whose topologyKey is a number",
    (s) =>
      envoy(s, {
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 1 }] } },
      }),
    "split",
    "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
    "1",
    "a non-empty string",
  ],
  [
    "a preferred node affinity whose weight is a string",
    (s) =>
      envoy(s, {
        affinity: {
          nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: "50", preference: {} }] },
        },
      }),
    "split",
    "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
    '"50"',
    "an integer",
  ],
  [
    "pod affinity required terms as one object (a list expected)",
    (s) =>
      envoy(s, {
        affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { topologyKey: "zone" } } },
      }),
    "split",
    "affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution",
    '{"topologyKey":"zone"}',
    "a list",
  ],
  [
    "a spread constraint with maxSkew 0",
    (s) =>
      envoy(s, {
        topologySpreadConstraints: [
          { maxSkew: 0, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" },
        ],
      }),
    "split",
    "topologySpreadConstraints[0].maxSkew",
    "0",
    "an integer of at least 1",
  ],
  [
    "a spread constraint that says ScheduleAnyWay",
    (s) =>
      envoy(s, {
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyWay" }],
      }),
    "split",
    "topologySpreadConstraints[0].whenUnsatisfiable",
    '"ScheduleAnyWay"',
    '"DoNotSchedule", "ScheduleAnyway"',
  ],
  [
    "a spread constraint with an unknown field (dropped in silence by the provider)",
    (s) =>
      envoy(s, {
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule", labelSelectors: {} },
        ],
      }),
    "split",
    "topologySpreadConstraints[0].labelSelectors",
    '"labelSelectors"',
    "one of the fields maxSkew",
  ],
  [
    "a priority class name with an underscore",
    (s) => envoy(s, { priorityClassName: "system_critical" }),
    "split",
    "priorityClassName",
    '"system_critical"',
    "an RFC 1123 subdomain",
  ],
  [
    "a CPU limit below its request",
    (s) => envoy(s, { resources: { cpuRequest: "1", cpuLimit: "500m" } }),
    "split",
    "resources.cpuLimit",
    '"500m"',
    "at least the cpu request (1)",
  ],
  [
    "a memory limit below the default request",
    (s) => envoy(s, { resources: { memoryLimit: "64Mi" } }),
    "split",
    "resources.memoryLimit",
    '"64Mi"',
    "at least the memory request (128Mi)",
  ],
  [
    "a CPU limit in cores with a unit Kubernetes does not have",
    (s) => envoy(s, { resources: { cpuLimit: "2cores" } }),
    "split",
    "resources.cpuLimit",
    '"2cores"',
    "a non-negative Kubernetes quantity",
  ],
  [
    "source ranges on a ClusterIP Service (ignored by Kubernetes)",
    (s) => envoy(s, { loadBalancerSourceRanges: ["10.0.0.0/8"] }),
    "split",
    "loadBalancerSourceRanges",
    '["10.0.0.0/8"]',
    'no source ranges with serviceType "ClusterIP"',
  ],
  [
    "a source range without a prefix length",
    (s) => envoy(s, { serviceType: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.1"] }),
    "split",
    "loadBalancerSourceRanges[0]",
    '"10.0.0.1"',
    "a CIDR",
  ],
  [
    "a source range with a /33",
    (s) => envoy(s, { serviceType: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.0/33"] }),
    "split",
    "loadBalancerSourceRanges[0]",
    '"10.0.0.0/33"',
    "a CIDR",
  ],
  [
    "a PDB with both maxUnavailable and minAvailable",
    (s) => envoy(s, { podDisruptionBudget: { maxUnavailable: 1, minAvailable: 1 } }),
    "split",
    "podDisruptionBudget",
    '"{\\"maxUnavailable\\":1,\\"minAvailable\\":1}"',
    "exactly one of maxUnavailable and minAvailable",
  ],
  [
    "a PDB with maxUnavailable 0 (no node with an Envoy pod can ever be drained)",
    (s) => envoy(s, { podDisruptionBudget: { maxUnavailable: 0 } }),
    "split",
    "podDisruptionBudget.maxUnavailable",
    "0",
    "otherwise no node holding an Envoy pod can be drained",
  ],
  [
    "a PDB whose minAvailable equals the replicas",
    (s) => envoy(s, { replicas: 3, podDisruptionBudget: { minAvailable: 3 } }),
    "split",
    "podDisruptionBudget.minAvailable",
    "3",
    "lets one of the 3 replicas go",
  ],
  [
    "a PDB percentage above 100",
    (s) => envoy(s, { podDisruptionBudget: { maxUnavailable: "150%" } }),
    "split",
    "podDisruptionBudget.maxUnavailable",
    '"150%"',
    'a percentage such as "25%"',
  ],
  [
    "TLS without a Secret name",
    (s) => envoy(s, { tls: {} }),
    "split",
    "tls.secretName",
    "undefined",
    "a kubernetes.io/tls Secret",
  ],
  [
    "a TLS Secret name with a slash (a namespace/name)",
    (s) => envoy(s, { tls: { secretName: "certs/ingress-tls" } }),
    "split",
    "tls.secretName",
    '"certs/ingress-tls"',
    "an RFC 1123 subdomain",
  ],
  [
    "a client CA Secret name with capitals",
    (s) => envoy(s, { tls: { secretName: "ingress-tls", clientCaSecretName: "Client-CA" } }),
    "split",
    "tls.clientCaSecretName",
    '"Client-CA"',
    "an RFC 1123 subdomain",
  ],
  [
    "a Triton color's toleration without a key but operator Equal",
    (s) => release(s, { tolerations: [{ operator: "Equal", value: "gpu" }] }),
    "r",
    "tolerations[0].value",
    '"gpu"',
    "a toleration without a key",
  ],
  [
    "a Triton color's affinity with a misspelt podAntiAffinity field",
    (s) => release(s, { affinity: { podAntiAffinity: { preferredDuringScheduling: [] } } }),
    "r",
    "affinity.podAntiAffinity.preferredDuringScheduling",
    '"preferredDuringScheduling"',
    "one of the fields requiredDuringSchedulingIgnoredDuringExecution",
  ],
  // The gate in the cluster (issue 26).
  [
    "a gate image without a tag",
    (s) =>
      pair(s, {
        verify: { spec: spec(), runIn: GateRunner.cluster({ image: "registry.example.com/cdktf-triton-gate" }) },
      }),
    "pair/verify",
    "runIn.image",
    '"registry.example.com/cdktf-triton-gate"',
    "an explicit tag or digest",
  ],
  [
    "report files from a gate in the cluster (they would stay in its pod)",
    (s) => pair(s, { verify: { spec: spec(), reportDir: "reports", runIn: GateRunner.cluster({ image: "gate:1" }) } }),
    "pair/verify",
    "reportDir",
    '"reports"',
    "the Job's report is its log",
  ],
  [
    "a local command for a gate in the cluster",
    (s) =>
      pair(s, {
        verify: { spec: spec(), command: "npx cdktf-triton", runIn: GateRunner.cluster({ image: "gate:1" }) },
      }),
    "pair/verify",
    "command",
    '"npx cdktf-triton"',
    "the Job runs the image's entrypoint",
  ],
  [
    "a port-forward target for a gate in the cluster",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec(),
        target: GateTarget.portForward({ service: "triton" }),
        runIn: GateRunner.cluster({ image: "gate:1" }),
      }),
    "g",
    "target",
    '"port-forward"',
    "a URL the Job reaches inside the cluster",
  ],
  [
    "a Secret env var whose name is not one",
    (s) =>
      pair(s, {
        verify: {
          spec: spec(),
          runIn: GateRunner.cluster({
            image: "gate:1",
            secretEnv: { "TRITON-TOKEN": { secretName: "auth", key: "token" } },
          }),
        },
      }),
    "pair/verify",
    'runIn.secretEnv["TRITON-TOKEN"]',
    '"TRITON-TOKEN"',
    "the name of an environment variable",
  ],
  [
    "a golden input of 300 for a UINT8 tensor (the server would refuse it, or read 44)",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec("m", {
          golden: [
            {
              name: "c",
              inputs: [{ name: "pixels", datatype: "UINT8", shape: [2], data: [12, 300] }],
              outputs: [{ name: "y", data: [1] }],
            },
          ],
        }),
        target: GateTarget.url("http://127.0.0.1:8000"),
      }),
    "g",
    "spec.models[0].golden[0].inputs[0].data[1]",
    "300",
    "an integer from 0 to 255 (UINT8)",
  ],
  [
    "an expected BOOL output written as a string",
    (s) =>
      new VerificationGate(s, "g", {
        spec: spec("m", {
          golden: [
            {
              name: "c",
              inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }],
              outputs: [{ name: "fraud", datatype: "BOOL", data: ["false"] }],
            },
          ],
        }),
        target: GateTarget.url("http://127.0.0.1:8000"),
      }),
    "g",
    "spec.models[0].golden[0].outputs[0].data[0]",
    '"false"',
    "true or false (BOOL)",
  ],
  [
    "two routes with one name (one runtime key: a weight pushed to one moves the other)",
    (s) =>
      envoy(s, {
        routes: [
          {
            ...one(Backend.address("a", "10.0.0.1", 8000)).routes[0],
            name: "scores",
            match: { pathPrefix: "/v2/models/a" },
          },
          { ...one(Backend.address("b", "10.0.0.2", 8000)).routes[0], name: "scores" },
        ],
      }),
    "split",
    "routes[1].name",
    '"scores"',
    'a name no other route has (routes[0] is "scores")',
  ],
  [
    "a route named like another route's default name",
    (s) =>
      envoy(s, {
        routes: [
          { ...one(Backend.address("a", "10.0.0.1", 8000)).routes[0], match: { pathPrefix: "/a" } },
          { ...one(Backend.address("b", "10.0.0.2", 8000)).routes[0], name: "route-0" },
        ],
      }),
    "split",
    "routes[1].name",
    '"route-0"',
    'a name no other route has (routes[0] is "route-0")',
  ],
  [
    "a route name with a dot (it would nest the runtime key)",
    (s) => envoy(s, { routes: [{ ...one(Backend.address("a", "10.0.0.1", 8000)).routes[0], name: "scores.v2" }] }),
    "split",
    "routes[0].name",
    '"scores.v2"',
    "a name of at most 63 characters of a-z, 0-9, '-' and '_'",
  ],
  [
    "two failover tiers with one name (their alerts could not be told apart)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [
          { name: "primary", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] },
          { name: "primary", endpoints: [{ backend: Backend.address("b", "10.0.0.2", 8000) }] },
        ],
      }),
    "pool",
    "tiers[1].name",
    '"primary"',
    'a name no other tier has (tiers[0] is "primary")',
  ],
  [
    "a retry condition Envoy does not have (Envoy ignores it in silence)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        retries: { retryOn: "5xx,timeout" },
      }),
    "pool",
    "retries.retryOn",
    '"5xx,timeout"',
    "a comma-separated list of Envoy's retry conditions (5xx, gateway-error, reset",
  ],
  [
    "a tritonserver flag Triton 2.51 does not have (a crash loop, then Helm's rollback)",
    (s) => release(s, { image: "nvcr.io/nvidia/tritonserver:24.10-py3", extraArgs: ["--log-verbos=1"] }),
    "r",
    "extraArgs[0]",
    '"--log-verbos=1"',
    "a flag Triton 2.51.0 (nvcr.io/nvidia/tritonserver:24.10-py3) has: did you mean --log-verbose?",
  ],
  [
    "a 0.1 name in props built from YAML (healthCheck.intervalMs)",
    (s) =>
      new FailoverPool(s, "pool", {
        tiers: [{ name: "a", endpoints: [{ backend: Backend.address("a", "10.0.0.1", 8000) }] }],
        healthCheck: { intervalMs: 500 },
      } as never),
    "pool",
    "healthCheck.intervalMs",
    "500",
    'no such field since 0.2.0: "intervalSeconds", in seconds',
  ],
  [
    "a misspelt prop in a JavaScript stack (replica)",
    (s) => release(s, { replica: 2 }),
    "r",
    "replica",
    "2",
    'no such field: did you mean "replicas"?',
  ],
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

test("Gateway API durations: 1.5 s is 1s500ms (the HTTPRoute CRD refuses 1.5s)", () => {
  expect([1.5, 5, 30, 90, 3600, 3723.004, 0.25].map(gatewayDuration)).toEqual([
    "1s500ms",
    "5s",
    "30s",
    "1m30s",
    "1h",
    "1h2m3s4ms",
    "250ms",
  ]);
  for (const d of [1.5, 3723.004].map(gatewayDuration)) expect(d).toMatch(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/);
});
