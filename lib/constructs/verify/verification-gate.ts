// The gate: the verifier inside the Terraform graph. A `terraform_data` resource whose local-exec
// provisioner runs `cdktf-triton verify`; it is replaced (so verification runs again) whenever its
// triggers change, and a failed verification fails its creation, so anything that depends on it
// (the traffic switch) is not applied. Its command line is core/gate-flags' table, which the CLI
// parses.
import { TerraformAsset, TerraformResource } from "cdktf";
import { specAsset } from "../spec-asset";
import { Construct } from "constructs";
import { PropValidator, refuseUnknownKeys } from "../validation";
import { gateArgv, gateCommand, parsePortForwardTarget, VerifyFlags } from "../../core/gate-flags";
import { ClusterRunner, GATE_SPEC_DIR, GateJob, GateJobOptions, GateRunner, validateGateJob } from "./gate-job";
import { SpecError, validateSpec, VerifySpec } from "../../core/verify-spec";
import { DependableConstruct } from "../dependencies";
import { claimName } from "../names";
import { TerraformData } from "../terraform-data";
import { GateRole, Protocol, PROTOCOLS } from "../../core/closed-sets";

/** How the CLI, running where `terraform apply` runs, reaches a server. */
export abstract class GateTarget {
  /** A URL reachable from where apply runs (an ingress, a LoadBalancer, a VPN, loopback in tests). */
  public static url(url: string): GateTarget {
    return new UrlTarget(url);
  }

  /** A Service reached through `kubectl port-forward`, started and stopped by the verifier. */
  public static portForward(options: {
    service: string;
    port?: number;
    namespace?: string;
    kubeconfig?: string;
    context?: string;
  }): GateTarget {
    refuseUnknownKeys("GateTarget.portForward#0", options);
    return new PortForwardTarget(
      options.service,
      options.port ?? 8000,
      options.namespace,
      options.kubeconfig,
      options.context,
    );
  }

  /** @internal The CLI's flags that reach it, as the candidate or as the baseline. */
  public abstract _flags(role: GateRole): Partial<VerifyFlags>;
  /** @internal */
  public abstract _validate(v: PropValidator, field: string): void;
}

class UrlTarget extends GateTarget {
  constructor(private readonly url: string) {
    super();
  }
  public _flags(role: GateRole): Partial<VerifyFlags> {
    return role === "candidate" ? { url: this.url } : { baselineUrl: this.url };
  }
  public _validate(v: PropValidator, field: string): void {
    let ok: boolean;
    try {
      const u = new URL(this.url);
      ok = ["http:", "https:"].includes(u.protocol) && !u.username && !u.password;
    } catch {
      ok = this.url.includes("${"); // a Terraform expression: checked by the CLI at apply time
    }
    v.check(field, this.url, ok, "an http(s) URL without credentials (send them with headersFromEnv)");
  }
}

class PortForwardTarget extends GateTarget {
  constructor(
    private readonly service: string,
    private readonly port: number,
    private readonly namespace?: string,
    private readonly kubeconfig?: string,
    private readonly context?: string,
  ) {
    super();
  }
  public _flags(role: GateRole): Partial<VerifyFlags> {
    const target = `svc/${this.service}:${this.port}`;
    // Namespace, kubeconfig and context are shared by both port-forwards: the candidate's.
    if (role === "baseline") return { baselinePortForward: target };
    return {
      portForward: target,
      namespace: this.namespace || undefined,
      kubeconfig: this.kubeconfig || undefined,
      context: this.context || undefined,
    };
  }
  public _validate(v: PropValidator, field: string): void {
    v.port(`${field}.port`, this.port);
    if (!this.service.includes("${")) {
      let ok = true;
      try {
        parsePortForwardTarget(`svc/${this.service}:${this.port}`);
      } catch {
        ok = false;
      }
      v.check(`${field}.service`, this.service, ok, "a Service name (RFC 1123)");
    }
  }
}

export interface VerificationGateProps {
  /** What the candidate must show. Embedded in the plan (it must hold no secrets). */
  readonly spec: VerifySpec;
  /** The candidate. */
  readonly target: GateTarget;
  /** The serving color, for relative latency budgets and output agreement. @default - none */
  readonly baseline?: GateTarget;
  /** The candidate's metrics endpoint. @default - server counters not checked */
  readonly metricsUrl?: string;
  /**
   * Values whose change makes the gate verify again (the candidate's identity: color, version,
   * values). The spec is always one of them.
   * @default {}
   */
  readonly triggers?: Record<string, string>;
  /**
   * Headers for the candidate: header name to the name of an environment variable that holds its
   * value where apply runs. Only the variable's name is in the plan.
   * @default {}
   */
  readonly headersFromEnv?: Record<string, string>;
  /**
   * How local-exec starts the CLI.
   * @default "npx --no-install cdktf-triton"
   */
  readonly command?: string;
  /** Write JSON and JUnit reports here (relative to the stack's folder). @default - no report files */
  readonly reportDir?: string;
  /**
   * Speak the Open Inference Protocol over HTTP/REST or gRPC. With gRPC, targets name the gRPC port
   * (a port-forward to Triton's 8001, or a URL of it).
   * @default "http"
   */
  readonly protocol?: Protocol;
  /**
   * The candidate's release fingerprint (a value or a Terraform expression), given to the CLI with
   * `--fingerprint` and recorded in its report.
   * @default - none
   */
  readonly fingerprint?: string;
  /**
   * Fast rollback: a record `<fingerprint> <spec hash> <time>` of an earlier pass (a Terraform
   * expression evaluated at plan). When it names this fingerprint and this spec, the CLI skips the
   * checks and reports "skipped: fingerprint X passed at T". Passed through the provisioner's
   * environment, so it never makes the gate run again by itself.
   * @default - every run verifies
   */
  readonly passedRecord?: string;
  /** A Terraform bool expression: the break-glass variable, recorded in the report when true. @default - not recorded */
  readonly allowServingChange?: string;
  /** When verification does not pass, point these Services back at the color that served before. @default - nothing is switched back */
  readonly switchBack?: GateSwitchBack;
  /**
   * Record each verdict in a pair's history ConfigMap (what `cdktf-triton history` prints), through
   * the Kubernetes API with the target's kubeconfig/context (or kubectl's defaults). A failed write
   * is reported and never changes the verdict.
   * @default - not recorded
   */
  readonly history?: GateHistory;
  /**
   * Where the verifier runs: `GateRunner.local()` (local-exec where apply runs) or
   * `GateRunner.cluster({ image })` (a Kubernetes Job; targets are then URLs reachable from inside
   * the cluster, such as a Service's DNS name).
   * @default GateRunner.local()
   */
  readonly runIn?: GateRunner;
  /** With `GateRunner.cluster`: where its Job, ServiceAccount, Role and spec ConfigMap go. @default - the construct id, in "default" */
  readonly job?: { readonly namespace?: string; readonly name?: string; readonly labels?: Record<string, string> };
}

/** Where a gate records its verdicts (Terraform expressions allowed). */
export interface GateHistory {
  readonly namespace: string;
  readonly configMap: string;
  readonly app: string;
  /** The color verified. */
  readonly color: string;
}

/** The Services a post-switch gate points back, and at what (Terraform expressions allowed). */
export interface GateSwitchBack {
  readonly activeService: string;
  /** @default - only the active Service */
  readonly previewService?: string;
  /** The color this apply switches to. */
  readonly from: string;
  /** The color that served before the apply ("" when none did). Read at plan: passed through the environment. */
  readonly to: string;
  /** The release fingerprint of `to`. @default - the serving fingerprint is left as it is */
  readonly toFingerprint?: string;
}

export class VerificationGate extends DependableConstruct {
  /** What the switch depends on: the terraform_data that runs it (local), or the Job (cluster). */
  public readonly resource: TerraformResource;
  /** A Terraform expression (no `${}`): when the current verification was started (RFC 3339). */
  public readonly passedAtExpression: string;
  /** The Job's objects, with `GateRunner.cluster`. */
  public readonly job?: GateJob;
  /** The command local-exec runs (local), or the Job's container arguments joined (cluster). */
  public readonly command: string;
  /** The spec, shipped into the synth output as a file (golden inputs can be large). */
  public readonly specAsset: TerraformAsset;
  /** sha256 of the spec file, 16 hex: part of the gate's triggers and of its pass records. */
  public readonly specHash: string;

  constructor(scope: Construct, id: string, props: VerificationGateProps) {
    super(scope, id);
    refuseUnknownKeys("VerificationGate#2", props, this.node.path);
    const { specText, cluster } = checked(this, id, props);

    // The spec travels as a file asset, not on the command line or in the environment.
    const { asset, hash: specHash } = specAsset(this, "spec", "cdktf-triton-specs", "verify.json", specText);
    this.specAsset = asset;
    const back = props.switchBack;
    // Values read at plan time (the pass record, the break glass, the color to switch back to) reach
    // the CLI through the environment: gate-flags' table says which.
    const flags = gateFlags(props, id, cluster ? `${GATE_SPEC_DIR}/verify.json` : this.specAsset.path);
    if (cluster) {
      // The namespace of the Services it may point back (the Job's own; kubectl in a pod defaults to it too).
      const { args, environment } = gateArgv({
        ...flags,
        namespace: flags.namespace ?? props.job?.namespace ?? "default",
      });
      this.command = args.join(" ");
      this.job = new GateJob(this, "job", {
        options: cluster,
        namespace: props.job?.namespace ?? "default",
        name: props.job?.name ?? id,
        specText,
        args,
        environment,
        triggers: { ...(props.triggers ?? {}), spec: specHash, command: this.command, image: cluster.image },
        deadlineSeconds: props.spec.deadlineSeconds ?? 600,
        historyConfigMap: props.history?.configMap,
        switchBackServices: back
          ? [back.activeService, back.previewService].filter((x): x is string => !!x)
          : undefined,
        labels: props.job?.labels ?? {},
      });
      this.resource = this.job.job;
      this.passedAtExpression = `terraform_data.${this.job.trigger.friendlyUniqueId}.output`;
    } else {
      const { args, environment } = gateCommand(flags);
      this.command = [props.command ?? "npx --no-install cdktf-triton", ...args].join(" ");
      const resource = new TerraformData(
        this,
        "verify",
        // `input` is the time of the run that created it (kept by ignore_changes): when it passed.
        {
          triggers_replace: { ...(props.triggers ?? {}), spec: specHash, command: this.command },
          input: "${timestamp()}",
        },
        {
          provisioners: [
            { type: "local-exec", command: this.command, ...(Object.keys(environment).length ? { environment } : {}) },
          ],
          lifecycle: { ignoreChanges: ["input"] },
        },
      );
      this.resource = resource;
      this.passedAtExpression = `terraform_data.${resource.friendlyUniqueId}.output`;
    }
    this.specHash = specHash;
  }

  /** When the current verification ran (RFC 3339, known after apply). */
  public get passedAt(): string {
    return `\${${this.passedAtExpression}}`;
  }
}

/** The props checked, every problem named at once; the spec as it ships, and the Job's options when it runs in the cluster. */
function checked(
  scope: Construct,
  id: string,
  props: VerificationGateProps,
): { specText: string; cluster?: GateJobOptions } {
  const v = new PropValidator(scope.node.path);
  let specText = "";
  try {
    specText = JSON.stringify(validateSpec(props.spec, "spec"));
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    e.problems.forEach((p) => v.check(`spec.${p.field}`, p.value, false, p.expected));
  }
  if (props.protocol !== undefined) v.oneOf("protocol", props.protocol, PROTOCOLS);
  const cluster = props.runIn instanceof ClusterRunner ? props.runIn.options : undefined;
  if (cluster) {
    validateGateJob(cluster, v, "runIn");
    const inPod = "not in the cluster: the Job's report is its log (kubectl logs job/<name>)";
    v.check(
      "reportDir",
      props.reportDir,
      props.reportDir === undefined,
      `no reportDir with GateRunner.cluster: report files would stay in the Job's pod (${inPod})`,
    );
    v.check(
      "command",
      props.command,
      props.command === undefined,
      "no command with GateRunner.cluster: the Job runs the image's entrypoint",
    );
    for (const [field, t] of [
      ["target", props.target],
      ["baseline", props.baseline],
    ] as const) {
      if (t instanceof PortForwardTarget)
        v.check(
          field,
          "port-forward",
          false,
          "a URL the Job reaches inside the cluster, e.g. http://<service>.<namespace>.svc.cluster.local:8000 (port-forwards run only where apply runs)",
        );
    }
    v.dnsLabel("job.name", props.job?.name ?? id, 52);
    v.dnsLabel("job.namespace", props.job?.namespace);
  } else if (props.runIn !== undefined)
    v.check(
      "runIn",
      props.runIn,
      props.runIn instanceof GateRunner,
      "GateRunner.local() or GateRunner.cluster({ image })",
    );
  props.target._validate(v, "target");
  props.baseline?._validate(v, "baseline");
  if (props.metricsUrl !== undefined) new UrlTarget(props.metricsUrl)._validate(v, "metricsUrl");
  if (props.reportDir !== undefined)
    claimName(scope, v, "reportDir", props.reportDir, `the report ${props.reportDir}/${id}.json`);
  for (const [name, env] of Object.entries(props.headersFromEnv ?? {})) {
    v.check(`headersFromEnv["${name}"]`, name, /^[A-Za-z0-9-]+$/.test(name), "an HTTP header name");
    v.check(
      `headersFromEnv["${name}"]`,
      env,
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(env),
      "the name of an environment variable",
    );
  }
  v.throwIfInvalid();
  return { specText, cluster };
}

/** The CLI's flags for this gate (values read at plan time reach it through the environment: gate-flags' table says which). */
function gateFlags(props: VerificationGateProps, id: string, spec: string): Partial<VerifyFlags> {
  const back = props.switchBack;
  return {
    spec,
    ...props.target._flags("candidate"),
    ...props.baseline?._flags("baseline"),
    metricsUrl: props.metricsUrl || undefined,
    protocol: props.protocol === "grpc" ? "grpc" : undefined,
    header: Object.entries(props.headersFromEnv ?? {}).map(([name, env]) => `${name}=${env}`),
    ...(props.reportDir
      ? { jsonFile: `${props.reportDir}/${id}.json`, junit: `${props.reportDir}/${id}.xml`, htmlDir: props.reportDir }
      : {}),
    fingerprint: props.fingerprint || undefined,
    ...(props.history
      ? {
          historyConfigmap: `${props.history.namespace}/${props.history.configMap}`,
          historyApp: props.history.app,
          historyColor: props.history.color,
        }
      : {}),
    passed: props.passedRecord || undefined,
    allowServingChange: props.allowServingChange || undefined,
    ...(back
      ? {
          switchBack: [back.activeService, back.previewService]
            .filter(Boolean)
            .map((s) => `svc/${s}`)
            .join(","),
          switchBackFrom: back.from,
          switchBackTo: back.to,
          switchBackFingerprint: back.toFingerprint || undefined,
        }
      : {}),
  };
}
