// The gate's command line, written once: the flags of `cdktf-triton verify`. The VerificationGate
// renders its local-exec command from this table (gateCommand) and the CLI declares its options
// from it, so a flag the gate writes is always one the CLI parses, with the same meaning.
import { SHARED_OPTIONS } from "./cli-options";

/** What `cdktf-triton verify` is given, by commander's name for each flag. */
export interface VerifyFlags {
  spec: string;
  url?: string;
  portForward?: string;
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  baselineUrl?: string;
  baselinePortForward?: string;
  metricsUrl?: string;
  protocol: string;
  header: string[];
  jsonFile?: string;
  junit?: string;
  htmlDir?: string;
  fingerprint?: string;
  historyConfigmap?: string;
  historyApp?: string;
  historyColor?: string;
  passed?: string;
  allowServingChange?: string;
  switchBack?: string;
  switchBackFrom?: string;
  switchBackTo?: string;
  switchBackFingerprint?: string;
  scheme: string;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  connections: string;
  quiet?: boolean;
}

export interface VerifyFlag {
  readonly key: keyof VerifyFlags;
  /** e.g. `-n, --namespace <ns>`: commander's form. */
  readonly usage: string;
  readonly description: string;
  readonly required?: true;
  readonly repeatable?: true;
  readonly default?: string;
  /**
   * The gate passes this value through its provisioner's environment (a value read at plan): in
   * the command it would be a trigger, and the gate would run again whenever it changes.
   */
  readonly env?: string;
}

/** Every flag of `verify`, in the order the gate writes them (the CLI-only ones last). */
export const VERIFY_FLAGS: readonly VerifyFlag[] = [
  { key: "spec", usage: "--spec <file>", description: "verification spec (.json, .yaml)", required: true },
  { key: "url", usage: "--url <url>", description: "candidate base URL, e.g. http://127.0.0.1:8000" },
  {
    key: "portForward",
    usage: "--port-forward <svc/name:port>",
    description: "reach the candidate through kubectl port-forward instead of --url",
  },
  { key: "namespace", ...SHARED_OPTIONS.namespace },
  { key: "kubeconfig", ...SHARED_OPTIONS.kubeconfig },
  { key: "context", ...SHARED_OPTIONS.context },
  {
    key: "baselineUrl",
    usage: "--baseline-url <url>",
    description: "the active color, for relative budgets and output agreement",
  },
  {
    key: "baselinePortForward",
    usage: "--baseline-port-forward <svc/name:port>",
    description: "reach the baseline through kubectl port-forward",
  },
  {
    key: "metricsUrl",
    usage: "--metrics-url <url>",
    description: "Prometheus metrics of the candidate, e.g. http://127.0.0.1:8002/metrics",
  },
  {
    key: "protocol",
    usage: "--protocol <http|grpc>",
    description:
      "the Open Inference Protocol over HTTP/REST (Triton's 8000) or gRPC (8001; --url http://host:8001 for plaintext, https:// for TLS)",
    default: "http",
  },
  {
    key: "header",
    usage: "--header <Name=ENV_VAR>",
    description: "send header Name with the value of environment variable ENV_VAR (repeatable)",
    repeatable: true,
  },
  { key: "jsonFile", ...SHARED_OPTIONS.jsonFile },
  { key: "junit", usage: "--junit <file>", description: "write the report as JUnit XML" },
  {
    key: "htmlDir",
    usage: "--html-dir <dir>",
    description:
      "also write an HTML report, <dir>/verify-<time>.html (each run its own file); a failed write is reported, the verdict stands",
  },
  {
    key: "fingerprint",
    usage: "--fingerprint <fp>",
    description: "the candidate's release fingerprint, recorded in the report",
  },
  {
    key: "historyConfigmap",
    usage: "--history-configmap <namespace/configmap>",
    description:
      "record the verdict in this history ConfigMap (cdktf-triton history prints it); a failed write is reported, the verdict stands",
  },
  { key: "historyApp", usage: "--history-app <app>", description: "the pair the verdict is recorded for" },
  { key: "historyColor", usage: "--history-color <color>", description: "the color verified" },
  {
    key: "passed",
    usage: "--passed <record>",
    description:
      'an earlier pass, "<fingerprint> <spec hash> <time>": with the same fingerprint and spec, the checks are skipped (unless the spec sets fastRollback: false)',
    env: "CDKTF_TRITON_PASSED",
  },
  {
    key: "allowServingChange",
    usage: "--allow-serving-change <true|false>",
    description: "record that the serving color's release was allowed to change (break glass)",
    env: "CDKTF_TRITON_ALLOW_SERVING_CHANGE",
  },
  {
    key: "switchBack",
    usage: "--switch-back <svc/ACTIVE[,svc/PREVIEW]>",
    description:
      "when verification does not pass, point these Services back at --switch-back-to (and the preview at the other color)",
  },
  { key: "switchBackFrom", usage: "--switch-back-from <color>", description: "the color this apply switched to" },
  {
    key: "switchBackTo",
    usage: "--switch-back-to <color>",
    description: "the color that served before this apply (empty: none did)",
    env: "CDKTF_TRITON_SWITCH_BACK_TO",
  },
  {
    key: "switchBackFingerprint",
    usage: "--switch-back-fingerprint <fp>",
    description: "that color's release fingerprint",
    env: "CDKTF_TRITON_SWITCH_BACK_FINGERPRINT",
  },
  // Not written by the gate: for people and pipelines that run verify themselves.
  { key: "scheme", usage: "--scheme <http|https>", description: "scheme of port-forwarded URLs", default: "http" },
  { key: "ca", usage: "--ca <file>", description: "CA certificate (PEM) for TLS" },
  { key: "cert", usage: "--cert <file>", description: "client certificate (PEM) for mTLS" },
  { key: "key", usage: "--key <file>", description: "client key (PEM) for mTLS" },
  { key: "servername", usage: "--servername <name>", description: "TLS server name (SNI)" },
  { key: "connections", usage: "--connections <n>", description: "connections to the candidate", default: "8" },
  { key: "quiet", usage: "-q, --quiet", description: "print only the verdict" },
];

/** The long flag of a table row, e.g. `--namespace`. */
export function longFlag(f: VerifyFlag): string {
  return /--[a-z-]+/.exec(f.usage)![0];
}

/**
 * The gate's `verify` arguments (shell words, quoted where needed) and the environment its
 * provisioner sets, from the values it has: every flag in the table's order.
 */
export function gateCommand(values: Partial<VerifyFlags>): { args: string[]; environment: Record<string, string> } {
  return verifyArguments(values, shellQuote, (env) => `"$${env}"`);
}

/**
 * The same for a container (the gate as a Kubernetes Job): the argument vector, unquoted, with each
 * environment-passed value as Kubernetes' `$(VAR)` reference, expanded from the container's env.
 */
export function gateArgv(values: Partial<VerifyFlags>): { args: string[]; environment: Record<string, string> } {
  return verifyArguments(
    values,
    (word) => word,
    (env) => `$(${env})`,
  );
}

function verifyArguments(
  values: Partial<VerifyFlags>,
  word: (w: string) => string,
  fromEnv: (env: string) => string,
): { args: string[]; environment: Record<string, string> } {
  const args = ["verify"];
  const environment: Record<string, string> = {};
  for (const f of VERIFY_FLAGS) {
    const value = values[f.key];
    if (value === undefined || value === false) continue;
    const flag = longFlag(f);
    if (value === true) {
      args.push(flag);
    } else if (Array.isArray(value)) {
      for (const v of value) args.push(flag, word(v));
    } else if (f.env) {
      environment[f.env] = value;
      args.push(flag, fromEnv(f.env));
    } else {
      args.push(flag, word(value));
    }
  }
  return { args, environment };
}

/** Single-quotes a word for sh unless it is plain; Terraform expressions `${...}` stay outside quotes' effect. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./${}-]+$/.test(word) && !/[$]\(/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** A `--port-forward` value: `svc/NAME:PORT` (or pod/, deployment/). Throws naming the flag. */
export function parsePortForwardTarget(target: string, flag = "--port-forward"): { resource: string; port: number } {
  const m = /^((?:svc|service|pod|deployment|deploy)\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?):([0-9]{1,5})$/.exec(target);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
    throw new Error(`${flag} ${JSON.stringify(target)}: expected svc/NAME:PORT (or pod/, deployment/)`);
  }
  return { resource: m[1], port: Number(m[3]) };
}
