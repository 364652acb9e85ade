// The options several CLI commands take, declared once: a flag name means one thing in every
// command that has it. Core, not cli/: the gate's flag table (core/gate-flags) uses them too, so
// the verify command a gate writes and the one a person types share these rows.
import { historyConfigMap } from "./names";

/** One option, in commander's form. */
export interface OptionSpec {
  /** e.g. `-n, --namespace <ns>`. */
  readonly usage: string;
  readonly description: string;
  /** @default - none: the option is undefined when not given */
  readonly default?: string;
  /** Given more than once, its values collect into a list. @default - once */
  readonly repeatable?: true;
}

export const SHARED_OPTIONS = {
  kubeconfig: { usage: "--kubeconfig <file>", description: "kubeconfig (default: $KUBECONFIG, then ~/.kube/config)" },
  context: { usage: "--context <name>", description: "kubeconfig context (default: its current context)" },
  namespace: { usage: "-n, --namespace <ns>", description: "the pair's namespace", default: "default" },
  app: {
    usage: "--app <name>",
    description: `the pair's appName (its history ConfigMap is ${historyConfigMap("<app>")})`,
  },
  /** Printing JSON instead of text: a flag, never a file. */
  json: { usage: "--json", description: "print JSON on stdout instead of text" },
  /** Writing a report to a file: always this name. */
  jsonFile: { usage: "--json-file <file>", description: "also write the report as JSON to this file" },
  /** A promotions.jsonl file (a report folder's history) in place of the cluster's ConfigMap. */
  historyFile: {
    usage: "--history-file <promotions.jsonl>",
    description: "read this promotions.jsonl (a report folder's history) instead of the cluster (repeatable)",
    repeatable: true,
  },
  /** Seconds every Envoy pod's mounted file may take to carry the final weights. */
  rolloutTimeout: {
    usage: "--rollout-timeout <seconds>",
    description:
      "how long every Envoy pod's mounted file may take to carry the weights of the last apply (their runtime values stay in place meanwhile)",
    default: "300",
  },
} as const satisfies Record<string, OptionSpec>;

export type SharedOption = keyof typeof SHARED_OPTIONS;

/**
 * Flags that 0.1 had and 0.2.0 renamed, per command: the CLI answers an old name with the new one
 * (one line, exit 2) instead of commander's bare "unknown option".
 */
export const RENAMED_FLAGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  verify: { "--json": "--json-file", "--history": "--history-configmap" },
  promote: { "--json": "--json-file" },
  history: { "--file": "--history-file" },
  report: { "--history": "--history-file" },
  status: { "--history": "--history-count" },
};
