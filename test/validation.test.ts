import { TerraformVariable } from "cdktf";
import {
  ModelControl,
  ModelRepository,
  TritonBlueGreen,
  TritonBlueGreenProps,
  TritonRelease,
  TritonReleaseProps,
  TritonValidationError,
} from "../lib";
import { colorProps, newStack, s3Models } from "./helpers";

const validRelease: TritonReleaseProps = {
  appName: "classifier",
  color: "blue",
  version: "v1",
  modelRepository: s3Models,
};
const validPair: TritonBlueGreenProps = { blue: colorProps(), green: colorProps(), active: "blue" };

type Case = [
  name: string,
  kind: "release" | "bluegreen",
  props: Record<string, unknown>,
  field: string,
  value: string,
  expected: string,
];

// Each case: the bad props (merged over valid ones), then the field, the value as printed and a
// piece of the "what is valid" text that the error must carry.
const cases: Case[] = [
  ["appName with upper case", "release", { appName: "Classifier" }, "appName", '"Classifier"', "RFC 1123 label"],
  [
    "appName too long",
    "release",
    { appName: "a".repeat(48) },
    "appName",
    `"${"a".repeat(48)}"`,
    "at most 47 characters",
  ],
  ["unknown color", "release", { color: "red" }, "color", '"red"', '"blue", "green"'],
  ["empty version", "release", { version: "" }, "version", '""', "label value"],
  ["version with a slash", "release", { version: "v1/beta" }, "version", '"v1/beta"', "label value"],
  ["namespace with underscore", "release", { namespace: "ml_serving" }, "namespace", '"ml_serving"', "RFC 1123 label"],
  [
    "release name too long",
    "release",
    { releaseName: "r".repeat(54) },
    "releaseName",
    `"${"r".repeat(54)}"`,
    "at most 53",
  ],
  [
    "image without tag",
    "release",
    { image: "nvcr.io/nvidia/tritonserver" },
    "image",
    '"nvcr.io/nvidia/tritonserver"',
    "explicit tag or digest",
  ],
  [
    "image with spaces",
    "release",
    { image: "triton server:1" },
    "image",
    '"triton server:1"',
    "explicit tag or digest",
  ],
  ["negative replicas", "release", { replicas: -1 }, "replicas", "-1", "integer from 0 to 1000"],
  ["fractional replicas", "release", { replicas: 1.5 }, "replicas", "1.5", "integer from 0 to 1000"],
  ["too many GPUs", "release", { gpus: 17 }, "gpus", "17", "integer from 0 to 16"],
  ["negative GPUs", "release", { gpus: -1 }, "gpus", "-1", "integer from 0 to 16"],
  [
    "cpu request not a quantity",
    "release",
    { resources: { cpuRequest: "two" } },
    "resources.cpuRequest",
    '"two"',
    "Kubernetes quantity",
  ],
  [
    "memory limit not a quantity",
    "release",
    { resources: { memoryLimit: "16GB" } },
    "resources.memoryLimit",
    '"16GB"',
    "Kubernetes quantity",
  ],
  ["shm size negative", "release", { shmSize: "-1Gi" }, "shmSize", '"-1Gi"', "Kubernetes quantity"],
  [
    "http model repository",
    "release",
    { modelRepository: ModelRepository.objectStore("http://models/x") },
    "modelRepository.uri",
    '"http://models/x"',
    "s3://bucket/path",
  ],
  [
    "credentials inside the URI",
    "release",
    { modelRepository: ModelRepository.objectStore("s3://AKIA:secret@host/bucket") },
    "modelRepository.uri",
    '"s3://***@host/bucket"',
    "without credentials in it",
  ],
  [
    "bad credentials Secret name",
    "release",
    { modelRepository: ModelRepository.objectStore("s3://b/p", { credentialsSecret: "My_Secret" }) },
    "modelRepository.credentialsSecret",
    '"My_Secret"',
    "RFC 1123 subdomain",
  ],
  [
    "credentialsKey on s3",
    "release",
    { modelRepository: ModelRepository.objectStore("s3://b/p", { credentialsSecret: "s", credentialsKey: "k.json" }) },
    "modelRepository.credentialsKey",
    '"k.json"',
    "gs:// URI",
  ],
  [
    "PVC name invalid",
    "release",
    { modelRepository: ModelRepository.persistentVolumeClaim("Models!") },
    "modelRepository.claimName",
    '"Models!"',
    "RFC 1123 subdomain",
  ],
  [
    "PVC sub-path escaping the volume",
    "release",
    { modelRepository: ModelRepository.persistentVolumeClaim("models", { subPath: "../etc" }) },
    "modelRepository.subPath",
    '"../etc"',
    "without '..'",
  ],
  [
    "missing model repository",
    "release",
    { modelRepository: undefined },
    "modelRepository",
    "undefined",
    "ModelRepository.objectStore",
  ],
  [
    "poll interval zero",
    "release",
    { modelControl: ModelControl.poll({ intervalSeconds: 0 }) },
    "modelControl.intervalSeconds",
    "0",
    "integer from 1 to 86400",
  ],
  [
    "explicit with no models",
    "release",
    { modelControl: ModelControl.explicit({ loadModels: [] }) },
    "modelControl.loadModels",
    "[]",
    "non-empty list",
  ],
  [
    "explicit with duplicate models",
    "release",
    { modelControl: ModelControl.explicit({ loadModels: ["a", "a"] }) },
    "modelControl.loadModels",
    '["a","a"]',
    "distinct model names",
  ],
  [
    "startup budget too small",
    "release",
    { probes: { startupBudgetSeconds: 5 } },
    "probes.startupBudgetSeconds",
    "5",
    "integer from 10 to 7200",
  ],
  [
    "probe timeout above period",
    "release",
    { probes: { periodSeconds: 5, timeoutSeconds: 10 } },
    "probes.timeoutSeconds",
    "10",
    "at most probes.periodSeconds (5)",
  ],
  [
    "failure threshold zero",
    "release",
    { probes: { failureThreshold: 0 } },
    "probes.failureThreshold",
    "0",
    "integer from 1 to 100",
  ],
  [
    "negative preStop",
    "release",
    { drain: { preStopSeconds: -5 } },
    "drain.preStopSeconds",
    "-5",
    "integer from 0 to 600",
  ],
  [
    "exit timeout too long",
    "release",
    { drain: { exitTimeoutSeconds: 4000 } },
    "drain.exitTimeoutSeconds",
    "4000",
    "integer from 0 to 3600",
  ],
  ["maxUnavailable zero", "release", { maxUnavailable: 0 }, "maxUnavailable", "0", "integer from 1 to 1000"],
  [
    "helm timeout below the startup budget",
    "release",
    { helmTimeoutSeconds: 600 },
    "helmTimeoutSeconds",
    "600",
    "more than probes.startupBudgetSeconds (900)",
  ],
  [
    "node selector value with spaces",
    "release",
    { nodeSelector: { pool: "gpu pool" } },
    'nodeSelector["pool"]',
    '"gpu pool"',
    "label value",
  ],
  [
    "annotation key invalid",
    "release",
    { podAnnotations: { "bad key!": "x" } },
    'podAnnotations["bad key!"]',
    '"bad key!"',
    "annotation key",
  ],
  [
    "a label the chart sets itself",
    "release",
    { labels: { color: "red" } },
    'labels["color"]',
    '"color"',
    "a key the chart does not set itself",
  ],
  [
    "a pod label the chart sets itself",
    "release",
    { podLabels: { "app.kubernetes.io/instance": "x" } },
    'podLabels["app.kubernetes.io/instance"]',
    '"app.kubernetes.io/instance"',
    "a key the chart does not set itself",
  ],
  [
    "a label value too long",
    "release",
    { labels: { team: "x".repeat(64) } },
    'labels["team"]',
    `"${"x".repeat(64)}"`,
    "label value",
  ],
  [
    "an annotation key invalid",
    "release",
    { annotations: { "two//slashes": "x" } },
    'annotations["two//slashes"]',
    '"two//slashes"',
    "annotation key",
  ],
  [
    "an image pull secret that is no name",
    "release",
    { imagePullSecrets: ["Registry_Creds"] },
    "imagePullSecrets[0]",
    '"Registry_Creds"',
    "RFC 1123 subdomain",
  ],
  [
    "a priority class that is no name",
    "release",
    { priorityClassName: "High Priority" },
    "priorityClassName",
    '"High Priority"',
    "RFC 1123 subdomain",
  ],
  [
    "an affinity with an unknown field",
    "release",
    { affinity: { podAntiAfinity: {} } },
    "affinity.podAntiAfinity",
    '"podAntiAfinity"',
    "one of the fields nodeAffinity, podAffinity, podAntiAffinity",
  ],
  [
    "a spread constraint without maxSkew",
    "release",
    { topologySpreadConstraints: [{ topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway" }] },
    "topologySpreadConstraints[0].maxSkew",
    "undefined",
    "an integer of at least 1",
  ],
  [
    "toleration operator unknown",
    "release",
    { tolerations: [{ key: "k", operator: "In" }] },
    "tolerations[0].operator",
    '"In"',
    '"Equal", "Exists"',
  ],
  [
    "toleration Exists with a value",
    "release",
    { tolerations: [{ key: "k", operator: "Exists", value: "v" }] },
    "tolerations[0].value",
    '"v"',
    "no value with operator Exists",
  ],
  [
    "extra arg overriding a managed flag",
    "release",
    { extraArgs: ["--model-repository=/other"] },
    "extraArgs[0]",
    '"--model-repository=/other"',
    "a flag the chart does not manage",
  ],
  ["extra arg not a flag", "release", { extraArgs: ["verbose"] }, "extraArgs[0]", '"verbose"', "--name=value"],
  [
    "extra arg setting the restricted API",
    "release",
    { extraArgs: ["--http-restricted-api=trace:k=v"] },
    "extraArgs[0]",
    '"--http-restricted-api=trace:k=v"',
    "a flag the chart does not manage",
  ],
  [
    "restricted API unknown",
    "release",
    { restrictedApi: { apis: ["repository"] } },
    "restrictedApi.apis",
    '["repository"]',
    "model-repository",
  ],
  [
    "restricted API empty list",
    "release",
    { restrictedApi: { apis: [] } },
    "restrictedApi.apis",
    "[]",
    "a non-empty list",
  ],
  [
    "restricted API header with upper case",
    "release",
    { restrictedApi: { header: "X-Admin" } },
    "restrictedApi.header",
    '"X-Admin"',
    "lower-case header name",
  ],
  [
    "restricted API Secret name",
    "release",
    { restrictedApi: { secretName: "Keys!" } },
    "restrictedApi.secretName",
    '"Keys!"',
    "RFC 1123",
  ],
  [
    "restricted API Secret key",
    "release",
    { restrictedApi: { secretKey: "a/b" } },
    "restrictedApi.secretKey",
    '"a/b"',
    "a Secret key",
  ],
  ["active color unknown", "bluegreen", { active: "purple" }, "active", '"purple"', '"blue", "green"'],
  ["standby mode unknown", "bluegreen", { standby: "cold" }, "standby", '"cold"', '"preview", "warm", "scaled-down"'],
  ["preview replicas zero", "bluegreen", { previewReplicas: 0 }, "previewReplicas", "0", "integer from 1 to 1000"],
  [
    "service type unknown",
    "bluegreen",
    { serviceType: "Ingress" },
    "serviceType",
    '"Ingress"',
    '"ClusterIP", "NodePort", "LoadBalancer"',
  ],
  ["appName with a dot", "bluegreen", { appName: "my.app" }, "appName", '"my.app"', "RFC 1123 label"],
  [
    "green replicas out of range",
    "bluegreen",
    { green: colorProps({ replicas: 2000 }) },
    "green.replicas",
    "2000",
    "integer from 0 to 1000",
  ],
  [
    "green release invalid, path names the color",
    "bluegreen",
    { green: colorProps({ gpus: 20 }) },
    "gpus",
    "20",
    "integer from 0 to 16",
  ],
];

function construct(kind: Case[1], props: Record<string, unknown>): string {
  const { stack } = newStack("validation");
  if (kind === "release") new TritonRelease(stack, "model", { ...validRelease, ...props } as TritonReleaseProps);
  else new TritonBlueGreen(stack, "model", { ...validPair, ...props } as TritonBlueGreenProps);
  return "validation/model";
}

describe("invalid props fail at synth with the construct path, field, value and what is valid", () => {
  test.each(cases)("fails on %s", (_name, kind, props, field, value, expected) => {
    let error: unknown;
    try {
      construct(kind, props);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TritonValidationError);
    const message = (error as Error).message;
    const path = kind === "bluegreen" && field === "gpus" ? "validation/model/green" : "validation/model";
    expect(message).toContain(`Invalid props for ${path}:`);
    expect(message).toContain(`${field} = ${value} is invalid: expected`);
    expect(message).toContain(expected);
    expect(message).not.toContain("secret@");
  });

  test("the table covers at least 25 invalid props", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  test("reports every problem of a construct at once", () => {
    const { stack } = newStack();
    expect(() => new TritonRelease(stack, "r", { ...validRelease, replicas: -1, gpus: 99, version: "" })).toThrow(
      /replicas = -1[\s\S]*gpus = 99|gpus = 99[\s\S]*replicas = -1/,
    );
    try {
      new TritonRelease(stack, "r2", { ...validRelease, replicas: -1, gpus: 99, version: "" });
    } catch (e) {
      expect((e as TritonValidationError).problems.map((p) => p.field)).toEqual(["version", "replicas", "gpus"]);
    }
  });

  test("valid props, edge values included, construct without error", () => {
    const { stack } = newStack();
    expect(
      () =>
        new TritonRelease(stack, "r", {
          ...validRelease,
          appName: "a".repeat(47),
          replicas: 0,
          gpus: 16,
          image: "localhost:5000/triton:dev",
          probes: { startupBudgetSeconds: 10, periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 1 },
          modelRepository: ModelRepository.objectStore("as://account/container/models"),
          modelControl: ModelControl.explicit(),
          resources: { cpuRequest: "500m", memoryRequest: "1.5Gi" },
          extraArgs: ["--log-verbose=1", "--backend-config=python,shm-default-byte-size=1048576"],
        }),
    ).not.toThrow();
  });

  test("a blue/green color's replicas must be known at synth: they enter the replica rule", () => {
    const { stack } = newStack();
    const replicas = new TerraformVariable(stack, "replicas", { type: "number", default: 2 });
    expect(
      () => new TritonBlueGreen(stack, "bg", { ...validPair, blue: colorProps({ replicas: replicas.numberValue }) }),
    ).toThrow(
      'blue.replicas = "<a Terraform expression>" is invalid: expected a value known at synth: it enters the replica rule',
    );
  });

  test("values only known at apply time (tokens) are left to Terraform, not rejected", () => {
    const { stack } = newStack();
    const replicas = new TerraformVariable(stack, "replicas", { type: "number", default: 2 });
    const ns = new TerraformVariable(stack, "ns", { type: "string", default: "ml" });
    expect(
      () =>
        new TritonRelease(stack, "r", { ...validRelease, replicas: replicas.numberValue, namespace: ns.stringValue }),
    ).not.toThrow();
  });
});
