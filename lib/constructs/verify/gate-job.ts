// The gate inside the cluster: the verifier as a Kubernetes Job that Terraform creates and waits for
// (`kubernetes_job_v1`, wait_for_completion), so the machine that applies needs neither Node nor
// kubectl nor a route to the candidate. The spec is a ConfigMap mounted into the Job's pod, the
// candidate is reached by its Service's DNS name, and a ServiceAccount with a Role holds the least
// the verifier writes: the pair's history ConfigMap and Events, and (after the switch) the two
// Services it may point back.
import { ConfigMapV1 } from "@cdktf/provider-kubernetes/lib/config-map-v1";
import {
  JobV1,
  JobV1SpecTemplateSpecContainer,
  JobV1SpecTemplateSpecContainerEnv,
} from "@cdktf/provider-kubernetes/lib/job-v1";
import { RoleV1 } from "@cdktf/provider-kubernetes/lib/role-v1";
import { RoleBindingV1 } from "@cdktf/provider-kubernetes/lib/role-binding-v1";
import { ServiceAccountV1 } from "@cdktf/provider-kubernetes/lib/service-account-v1";
import { Construct } from "constructs";
import { dependable } from "cdktf/lib/tfExpression";
import { isPinnedImage, PropValidator, refuseUnknownKeys } from "../validation";
import { TerraformData } from "../terraform-data";

/** Where the Job's pod mounts the spec. */
export const GATE_SPEC_DIR = "/etc/cdktf-triton";

/** How the Job runs, as the user gives it to `GateRunner.cluster`. */
export interface GateJobOptions {
  /**
   * The verifier's image, built from this package's Dockerfile (its entrypoint is `cdktf-triton`),
   * with an explicit tag or digest.
   */
  readonly image: string;
  /** Secrets to pull the image with. @default [] */
  readonly imagePullSecrets?: readonly string[];
  /**
   * Environment variables of the Job's container from Secrets, by variable name: what
   * `headersFromEnv` names (e.g. `{ TRITON_TOKEN: { secretName: "triton-auth", key: "token" } }`).
   * @default {}
   */
  readonly secretEnv?: Readonly<Record<string, { readonly secretName: string; readonly key: string }>>;
  /** Seconds the apply waits for the Job beyond the spec's deadline (scheduling, image pull). @default 300 */
  readonly startupSeconds?: number;
}

/** Where a gate runs: where `apply` runs (local-exec), or in the cluster as a Job. */
export abstract class GateRunner {
  /** `local-exec` on the machine that applies: Node, this package, kubectl, a route to the API server. */
  public static local(): GateRunner {
    return new LocalRunner();
  }

  /** A Kubernetes Job in the pair's namespace, in an image built from this package's Dockerfile. */
  public static cluster(options: GateJobOptions): GateRunner {
    refuseUnknownKeys("GateRunner.cluster#0", options);
    return new ClusterRunner(options);
  }
}

class LocalRunner extends GateRunner {}

export class ClusterRunner extends GateRunner {
  constructor(public readonly options: GateJobOptions) {
    super();
  }
}

export function validateGateJob(o: GateJobOptions, v: PropValidator, field: string): void {
  v.check(
    `${field}.image`,
    o.image,
    typeof o.image === "string" && isPinnedImage(o.image),
    "an image reference with an explicit tag or digest (built from this package's Dockerfile)",
  );
  (o.imagePullSecrets ?? []).forEach((n, i) => v.dnsSubdomain(`${field}.imagePullSecrets[${i}]`, n));
  for (const [env, ref] of Object.entries(o.secretEnv ?? {})) {
    v.check(
      `${field}.secretEnv["${env}"]`,
      env,
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(env),
      "the name of an environment variable",
    );
    v.dnsSubdomain(`${field}.secretEnv["${env}"].secretName`, ref?.secretName);
    v.check(
      `${field}.secretEnv["${env}"].key`,
      ref?.key,
      typeof ref?.key === "string" && /^[-._a-zA-Z0-9]+$/.test(ref.key),
      "a key of the Secret",
    );
  }
  v.integer(`${field}.startupSeconds`, o.startupSeconds, 0, 86_400);
}

export interface GateJobProps {
  readonly options: GateJobOptions;
  readonly namespace: string;
  /** Name of the ServiceAccount, Role, RoleBinding and spec ConfigMap; the Jobs are named `<name>-<random>`. */
  readonly name: string;
  readonly specText: string;
  /** `verify` and its arguments, as the container runs them (the image's entrypoint is `cdktf-triton`). */
  readonly args: readonly string[];
  /** Values read at plan, passed through the container's environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** What makes the gate run again (a new Job). */
  readonly triggers: Readonly<Record<string, string>>;
  readonly deadlineSeconds: number;
  /** The history ConfigMap the verifier writes. @default - none: no history write allowed */
  readonly historyConfigMap?: string;
  /** The Services the verifier may point back. @default - none: no Service patch allowed */
  readonly switchBackServices?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export class GateJob extends Construct {
  public readonly job: JobV1;
  /** Replaced when the gate's triggers change; the Job is replaced with it. Its output is when. */
  public readonly trigger: TerraformData;

  constructor(scope: Construct, id: string, props: GateJobProps) {
    super(scope, id);
    const { namespace, name, options } = props;
    const labels = { ...props.labels, "cdktf-triton/role": "verify" };
    const metadata = { name, namespace, labels };
    const spec = new ConfigMapV1(this, "spec", {
      metadata: { ...metadata, name: `${name}-spec` },
      data: { "verify.json": props.specText },
    });
    const account = new ServiceAccountV1(this, "account", { metadata, automountServiceAccountToken: false });
    const role = new RoleV1(this, "role", { metadata, rule: gateRules(props) });
    const binding = new RoleBindingV1(this, "binding", {
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subject: [{ kind: "ServiceAccount", name, namespace }],
    });
    this.trigger = new TerraformData(
      this,
      "trigger",
      { triggers_replace: { ...props.triggers }, input: "${timestamp()}" },
      { lifecycle: { ignoreChanges: ["input"] } },
    );
    const env = [
      // kubectl's cache and anything else the CLI writes: the root filesystem is read-only.
      { name: "HOME", value: "/tmp" },
      ...Object.entries(props.environment).map(([n, value]) => ({ name: n, value })),
      ...Object.entries(options.secretEnv ?? {}).map(([n, ref]) => ({
        name: n,
        valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } },
      })),
    ];
    const waitSeconds = props.deadlineSeconds + (options.startupSeconds ?? 300);
    this.job = new JobV1(this, "job", {
      metadata: { generateName: `${name}-`, namespace, labels },
      waitForCompletion: true,
      timeouts: { create: `${waitSeconds}s`, update: `${waitSeconds}s` },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: waitSeconds,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            serviceAccountName: name,
            // The token only for the verifier's writes (history, Events, switch back).
            automountServiceAccountToken: true,
            imagePullSecrets: options.imagePullSecrets?.length
              ? options.imagePullSecrets.map((n) => ({ name: n }))
              : undefined,
            securityContext: { runAsNonRoot: true, runAsUser: "1000", seccompProfile: { type: "RuntimeDefault" } },
            container: [gateContainer(options.image, props.args, env)],
            volume: [
              { name: "spec", configMap: { name: `${name}-spec` } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
      // A new Job (a new name) each time the triggers change; values read at plan that are not
      // triggers (an earlier pass, the color to switch back to) are taken as the Job is created.
      lifecycle: { ignoreChanges: ["spec", "metadata"], createBeforeDestroy: true },
    });
    // A bare reference, as Terraform wants it in JSON (cdktf's replaceTriggeredBy renders "${...}").
    this.job.addOverride("lifecycle.replace_triggered_by", [`terraform_data.${this.trigger.friendlyUniqueId}`]);
    this.job.dependsOn = [dependable(spec), dependable(account), dependable(role), dependable(binding)];
  }
}

/** What the verifier may do with the Job's token: the verdict's Event, the history's ConfigMap, the Services it may point back. */
function gateRules(props: GateJobProps) {
  return [
    // The verdict's Event on the pair's Service.
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ...(props.historyConfigMap
      ? [
          {
            apiGroups: [""],
            resources: ["configmaps"],
            resourceNames: [props.historyConfigMap],
            verbs: ["get", "update"],
          },
          // Kubernetes cannot limit `create` to a name: the first verdict creates the history.
          { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
        ]
      : []),
    ...(props.switchBackServices?.length
      ? [
          {
            apiGroups: [""],
            resources: ["services"],
            resourceNames: [...props.switchBackServices],
            verbs: ["get", "patch"],
          },
        ]
      : []),
  ];
}

/** The verifier's container: the image's entrypoint with the gate's arguments, non-root, read-only. */
function gateContainer(
  image: string,
  args: readonly string[],
  env: JobV1SpecTemplateSpecContainerEnv[],
): JobV1SpecTemplateSpecContainer {
  return {
    name: "verify",
    image,
    args: [...args],
    env,
    volumeMount: [
      { name: "spec", mountPath: GATE_SPEC_DIR, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
  };
}
