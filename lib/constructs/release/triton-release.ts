import { Annotations, Tokenization } from "cdktf";
import { Release } from "@cdktf/provider-helm/lib/release";
import { Construct } from "constructs";
import { tritonChartAsset } from "../chart";
import { isPinnedImage, isToken, PropValidator, refuseUnknownKeys } from "../validation";
import { COLORS } from "../../core/colors";
import { DEFAULT_TRITON_IMAGE, RESTRICTABLE_APIS, TritonReleaseProps } from "./props";
import { TRITON_FLAGS, TritonFlags } from "./triton-flags";
import { nearest } from "../../core/unknown-keys";
import {
  CHART_LABEL_KEYS,
  MANAGED_FLAGS,
  PinnedVersions,
  renderChartValues,
  ResolvedReleaseProps,
  resolveReleaseProps,
  TritonChartValues,
} from "./values";
import { DependableConstruct } from "../dependencies";
import { validatePodScheduling } from "../pod-scheduling";
import { claimName } from "../names";

/**
 * One Triton Inference Server release of one color: a `helm_release` of the chart bundled with
 * this package (Deployment, Service, ServiceAccount, PodDisruptionBudget, optional ServiceMonitor
 * and PrometheusRule). Props are validated here, at construction, so bad input fails at synth.
 */
export class TritonRelease extends DependableConstruct {
  /** Props with their defaults applied. */
  public readonly props: ResolvedReleaseProps;
  /** The values handed to the chart, but for the pinned versions (replicas aside, see `replicas`). */
  private readonly baseValues: TritonChartValues;
  private readonly pins: PinnedVersions[] = [];
  /** strictReadiness as given (undefined: not given). */
  private readonly strictReadinessGiven?: boolean;
  /** The helm_release resource. */
  public readonly helmRelease: Release;

  constructor(scope: Construct, id: string, props: TritonReleaseProps) {
    super(scope, id);
    refuseUnknownKeys("TritonRelease#2", props, this.node.path);
    validateReleaseProps(this.node.path, props);
    const unchecked = extraArgsWarning(props);
    if (unchecked) Annotations.of(this).addWarning(unchecked);
    this.props = resolveReleaseProps(props);
    const names = new PropValidator(this.node.path);
    for (const kind of ["Helm release", "Deployment", "Service"]) {
      claimName(
        this,
        names,
        "releaseName",
        this.props.releaseName,
        `${kind} ${this.props.namespace}/${this.props.releaseName}`,
      );
    }
    names.throwIfInvalid();
    this.baseValues = renderChartValues(this.props);
    this.strictReadinessGiven = props.strictReadiness;

    this.helmRelease = new Release(this, "release", {
      name: this.props.releaseName,
      namespace: this.props.namespace,
      chart: tritonChartAsset(this).path,
      // JSON is YAML: one values document, readable in the plan.
      values: [JSON.stringify(this.values, null, 2)],
      // Replicas go through `set` because blue/green makes them a Terraform expression.
      set: [{ name: "replicas", value: Tokenization.stringifyNumber(this.props.replicas), type: "auto" }],
      // Wait for pods to be ready so anything depending on this release (the switch) sees a
      // serving color; on failure roll the upgrade back instead of leaving it half-applied.
      wait: true,
      atomic: true,
      cleanupOnFail: true,
      timeout: this.props.helmTimeoutSeconds,
      maxHistory: 10,
    });
  }

  /** The values handed to the chart (replicas aside, see `replicas`). */
  public get values(): TritonChartValues {
    // A version loading beside the serving one makes Triton's strict readiness false on every pod
    // at once (measured: /v2/health/ready answers 400 during the load while inference goes on),
    // which would take them out of their Service and Envoy's rotation: not strict. A starting pod
    // is still held back until its models are loaded and pinned (the postStart hook).
    return this.pins.length
      ? {
          ...this.baseValues,
          server: { ...this.baseValues.server, strictReadiness: false },
          pinnedVersions: [...this.pins],
        }
      : this.baseValues;
  }

  /**
   * Pins a model's versions to what a ConfigMap's key holds (used by TritonModelCanary): the pods
   * load it as usual at startup, then a postStart hook re-loads it with those versions. Needs
   * explicit model control with the model loaded at startup; `by` (the caller's path) is named in
   * the error otherwise.
   */
  public pinModelVersions(pin: PinnedVersions, by: string): void {
    const v = new PropValidator(by);
    const control = this.props.modelControl;
    v.check(
      "model",
      pin.model,
      control.mode === "explicit" && control.loads(pin.model),
      `a model ${this.node.path} loads at startup in explicit model control (ModelControl.explicit({ loadModels: ["${pin.model}"] })): versions load through Triton's repository API, which only explicit mode opens (it has ${control.mode}${control.mode === "explicit" ? ` loading ${control.loadedModels.join(", ")}` : ""})`,
    );
    v.check(
      "model",
      pin.model,
      !this.pins.some((p) => p.model === pin.model),
      `a model whose versions nothing else pins on ${this.node.path}`,
    );
    v.check(
      "model",
      pin.model,
      this.strictReadinessGiven !== true,
      `a release without strictReadiness: true (${this.node.path} has it): a version loading beside the serving one makes Triton's strict readiness false on every pod at once, which would take them all out of rotation; a pinned model's pods run with --strict-readiness=false, and a starting pod is still held until its models are loaded (postStart)`,
    );
    v.throwIfInvalid();
    this.pins.push(pin);
    this.helmRelease.values = [JSON.stringify(this.values, null, 2)];
  }

  /** The name of the release's own Service (selects only this color's pods). */
  public get serviceName(): string {
    return this.props.releaseName;
  }
}

/** Throws a TritonValidationError listing every invalid prop, each with what is valid. */
export function validateReleaseProps(constructPath: string, props: TritonReleaseProps): void {
  const v = new PropValidator(constructPath);
  validateIdentity(v, props);
  validateModels(v, props);
  validateLifecycle(v, props);
  validatePodScheduling(props, v);
  validateMetadata(v, props);
  validateObservability(v, props);
  validateRestrictedApi(v, props.restrictedApi);
  validateExtraArgs(v, props.extraArgs, props.image ?? DEFAULT_TRITON_IMAGE);
  v.throwIfInvalid();
}

/** Names, image, size: what the release is and how big. */
function validateIdentity(v: PropValidator, props: TritonReleaseProps): void {
  v.dnsLabel("appName", props.appName, 47);
  v.oneOf("color", props.color, COLORS);
  v.labelValue("version", props.version);
  v.dnsLabel("namespace", props.namespace);
  v.dnsLabel("releaseName", props.releaseName, 53);
  if (props.releaseName === undefined && typeof props.appName === "string" && !isToken(props.appName)) {
    v.dnsLabel("releaseName", `${props.appName}-${props.color}`, 53);
  }
  if (props.image !== undefined) {
    v.check(
      "image",
      props.image,
      isPinnedImage(props.image),
      "an image reference with an explicit tag or digest, e.g. nvcr.io/nvidia/tritonserver:25.10-py3",
    );
  }
  v.integer("replicas", props.replicas, 0, 1000);
  v.integer("gpus", props.gpus, 0, 16);
  v.resources(props.resources, { cpuRequest: "1", memoryRequest: "4Gi" });
  v.quantity("shmSize", props.shmSize);
}

/** Where the models come from and how Triton loads them. */
function validateModels(v: PropValidator, props: TritonReleaseProps): void {
  if (!props.modelRepository || typeof props.modelRepository._validate !== "function") {
    v.check(
      "modelRepository",
      props.modelRepository,
      false,
      "ModelRepository.objectStore(...) or ModelRepository.persistentVolumeClaim(...)",
    );
  } else {
    props.modelRepository._validate(v, "modelRepository");
  }
  if (props.modelControl !== undefined) {
    if (typeof props.modelControl._validate !== "function") {
      v.check(
        "modelControl",
        props.modelControl,
        false,
        "ModelControl.none(), ModelControl.poll(...) or ModelControl.explicit(...)",
      );
    } else {
      props.modelControl._validate(v, "modelControl");
    }
  }
}

/** Probes, drain and rollout timing (each bounded by the ones it depends on). */
function validateLifecycle(v: PropValidator, props: TritonReleaseProps): void {
  const probes = props.probes ?? {};
  v.integer("probes.startupBudgetSeconds", probes.startupBudgetSeconds, 10, 7200);
  v.integer("probes.periodSeconds", probes.periodSeconds, 1, 300);
  v.integer("probes.timeoutSeconds", probes.timeoutSeconds, 1, 300);
  v.integer("probes.failureThreshold", probes.failureThreshold, 1, 100);
  const period = probes.periodSeconds ?? 10;
  if (probes.timeoutSeconds !== undefined && Number.isInteger(period)) {
    v.check(
      "probes.timeoutSeconds",
      probes.timeoutSeconds,
      probes.timeoutSeconds <= period,
      `at most probes.periodSeconds (${period})`,
    );
  }
  if (probes.startupBudgetSeconds !== undefined && Number.isInteger(period)) {
    v.check(
      "probes.startupBudgetSeconds",
      probes.startupBudgetSeconds,
      probes.startupBudgetSeconds >= period,
      `at least probes.periodSeconds (${period})`,
    );
  }

  v.integer("drain.preStopSeconds", props.drain?.preStopSeconds, 0, 600);
  v.integer("drain.exitTimeoutSeconds", props.drain?.exitTimeoutSeconds, 0, 3600);
  v.integer("maxUnavailable", props.maxUnavailable, 1, 1000);
  v.integer("helmTimeoutSeconds", props.helmTimeoutSeconds, 60, 86400);
  const budget = probes.startupBudgetSeconds ?? 900;
  if (props.helmTimeoutSeconds !== undefined && Number.isInteger(budget)) {
    v.check(
      "helmTimeoutSeconds",
      props.helmTimeoutSeconds,
      props.helmTimeoutSeconds > budget,
      `more than probes.startupBudgetSeconds (${budget}), or the apply gives up while models still load`,
    );
  }
}

function validateMetadata(v: PropValidator, props: TritonReleaseProps): void {
  v.stringMap("serviceAccountAnnotations", props.serviceAccountAnnotations, "annotation");
  v.stringMap("podAnnotations", props.podAnnotations, "annotation");
  v.userLabels("labels", props.labels, CHART_LABEL_KEYS, "the chart does not set itself");
  v.userLabels("podLabels", props.podLabels, CHART_LABEL_KEYS, "the chart does not set itself");
  v.stringMap("annotations", props.annotations, "annotation");
}

/** The chart's alerts and the HorizontalPodAutoscaler. */
function validateObservability(v: PropValidator, props: TritonReleaseProps): void {
  v.stringMap("monitoring.labels", props.monitoring?.labels, "label");
  const ratio = props.monitoring?.failureRatio;
  if (ratio !== undefined)
    v.check(
      "monitoring.failureRatio",
      ratio,
      typeof ratio === "number" && ratio > 0 && ratio < 1,
      "a share between 0 and 1, e.g. 0.05",
    );
  v.seconds("monitoring.p99LatencySeconds", props.monitoring?.p99LatencySeconds, 0.001, 3600);
  const hpa = props.autoscaling;
  if (hpa !== undefined) {
    v.integer("autoscaling.maxReplicas", hpa.maxReplicas, 1, 1000);
    if (typeof props.replicas === "number" && Number.isInteger(hpa.maxReplicas)) {
      v.check(
        "autoscaling.maxReplicas",
        hpa.maxReplicas,
        hpa.maxReplicas >= props.replicas,
        `at least replicas (${props.replicas}), the HPA's minimum`,
      );
    }
    v.seconds("autoscaling.targetQueueTimeSeconds", hpa.targetQueueTimeSeconds, 0.001, 3600);
    if (hpa.metricName !== undefined)
      v.check(
        "autoscaling.metricName",
        hpa.metricName,
        typeof hpa.metricName === "string" && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(hpa.metricName),
        "a metric name as the adapter serves it, e.g. triton_queue_time_us",
      );
  }
}

function validateRestrictedApi(v: PropValidator, restricted: TritonReleaseProps["restrictedApi"]): void {
  if (restricted !== undefined && restricted !== false) {
    if (typeof restricted !== "object" || restricted === null) {
      v.check("restrictedApi", restricted, false, "false, or an object with apis, header, secretName, secretKey");
    } else {
      const apis = restricted.apis;
      if (apis !== undefined) {
        v.check(
          "restrictedApi.apis",
          apis,
          Array.isArray(apis) &&
            apis.length > 0 &&
            apis.every((a) => RESTRICTABLE_APIS.includes(a)) &&
            new Set(apis).size === apis.length,
          `a non-empty list of distinct API names from ${RESTRICTABLE_APIS.join(", ")}`,
        );
      }
      if (restricted.header !== undefined) {
        v.check(
          "restrictedApi.header",
          restricted.header,
          typeof restricted.header === "string" && /^[a-z0-9][a-z0-9-]{0,62}$/.test(restricted.header),
          'a lower-case header name (letters, digits, "-"), e.g. "triton-admin-key"',
        );
      }
      v.dnsSubdomain("restrictedApi.secretName", restricted.secretName);
      if (restricted.secretKey !== undefined) {
        v.check(
          "restrictedApi.secretKey",
          restricted.secretKey,
          typeof restricted.secretKey === "string" && /^[-._a-zA-Z0-9]{1,253}$/.test(restricted.secretKey),
          'a Secret key (letters, digits, "-", "_", ".")',
        );
      }
    }
  }
}

function validateExtraArgs(v: PropValidator, extraArgs: TritonReleaseProps["extraArgs"], image: string): void {
  const triton = tritonOfImage(image);
  (extraArgs ?? []).forEach((arg, i) => {
    const flag = typeof arg === "string" ? arg.split("=")[0] : "";
    v.check(
      `extraArgs[${i}]`,
      arg,
      typeof arg === "string" && /^--[a-z][a-z0-9-]*(=.*)?$/.test(arg),
      "a flag of the form --name=value",
    );
    v.check(
      `extraArgs[${i}]`,
      arg,
      !MANAGED_FLAGS.includes(flag),
      `a flag the chart does not manage (it sets ${MANAGED_FLAGS.join(", ")})`,
    );
    // A flag the image's Triton does not have stops it at start: a crash loop, then Helm's atomic
    // rollback many minutes later.
    if (triton && flag && !MANAGED_FLAGS.includes(flag)) {
      const near = nearest(flag, triton.flags.flags);
      v.check(
        `extraArgs[${i}]`,
        arg,
        triton.flags.flags.includes(flag),
        `a flag Triton ${triton.version} (${image}) has${near ? `: did you mean ${near}?` : ""} (from ${triton.flags.source})`,
      );
    }
  });
}

/** The Triton version an NGC image's tag carries, when its flags are in the table. */
function tritonOfImage(image: string): { version: string; flags: TritonFlags } | undefined {
  const tag = /\/tritonserver:(\d{2}\.\d{2})(-|$)/.exec(image)?.[1];
  const found = Object.entries(TRITON_FLAGS).find(([, f]) => tag !== undefined && f.ngcTags.includes(tag));
  return found && { version: found[0], flags: found[1] };
}

/**
 * A synth warning when `extraArgs` cannot be checked: the image's Triton version has no flags in
 * the table (a tag not known, a digest). Not a refusal: the flags may well be right.
 */
export function extraArgsWarning(props: TritonReleaseProps): string | undefined {
  const image = props.image ?? DEFAULT_TRITON_IMAGE;
  if (!props.extraArgs?.length || isToken(image) || tritonOfImage(image)) return undefined;
  const known = Object.entries(TRITON_FLAGS)
    .map(([version, f]) => `Triton ${version} (NGC ${f.ngcTags.join(", ")})`)
    .join(", ");
  return `extraArgs not checked against the image's Triton: no flags table for ${image} (tables: ${known})`;
}
