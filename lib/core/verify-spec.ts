// The verification spec: what a candidate must show before traffic moves to it. Typed in code,
// and read from a JSON or YAML file by the CLI. Runtime code: imports nothing from cdktf.
import * as fs from "fs";
import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import { packageFile } from "./package-file";
import { DATATYPES, Datatype, Tensor } from "./tensor";
import { Problem, ProblemsError, showValue } from "./problems";

export interface TensorContract {
  readonly name: string;
  readonly datatype: Datatype;
  /** Dimensions; -1 in the expected shape matches any size. */
  readonly shape: readonly number[];
}

export interface ExpectedOutput {
  readonly name: string;
  /** @default - not checked */
  readonly datatype?: Datatype;
  /** -1 matches any size. @default - not checked */
  readonly shape?: readonly number[];
  /** Expected elements, row-major. */
  readonly data: readonly (number | boolean | string)[];
  /** Numbers match when |actual - expected| <= atol + rtol * |expected|. @default 1e-6 */
  readonly atol?: number;
  /** @default 1e-5 */
  readonly rtol?: number;
  /** Compare only the argmax of each row (last axis): classifier labels. @default false */
  readonly argmax?: boolean;
  /** Compare only the set of the k largest of each row. @default - every element compared */
  readonly topK?: number;
}

export interface GoldenCase {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly ExpectedOutput[];
  /** Send and receive tensors with Triton's binary extension. @default false */
  readonly binary?: boolean;
}

export interface ModelSpec {
  readonly name: string;
  /** @default - the version Triton chooses */
  readonly version?: string;
  /** The input/output contract the model must keep. @default - not checked */
  readonly metadata?: { readonly inputs: readonly TensorContract[]; readonly outputs: readonly TensorContract[] };
  /** @default [] */
  readonly golden?: readonly GoldenCase[];
}

export interface ProbeSpec {
  readonly model: string;
  /** @default - the version Triton chooses */
  readonly version?: string;
  /** The golden case whose inputs the probe sends. */
  readonly case: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly budgets: {
    /** The probe's median latency must be at most this many seconds (0.05 is 50 ms). @default - not checked */
    readonly p50Seconds?: number;
    /** The 95th percentile, in seconds. @default - not checked */
    readonly p95Seconds?: number;
    /** The 99th percentile, in seconds. @default - not checked */
    readonly p99Seconds?: number;
    /** Share of failed requests allowed, 0..1. @default 0 */
    readonly maxErrorRate?: number;
  };
}

export interface BaselineSpec {
  /** The candidate's p99 may exceed the baseline's by at most this many percent. @default - latency not compared */
  readonly p99RegressionPercent?: number;
  /** Candidate and baseline outputs must agree on every golden case. @default true */
  readonly agreement?: boolean;
}

export interface MetricsSpec {
  /** @default "nv_inference_request_success" (Triton) */
  readonly successCounter?: string;
  /** @default "nv_inference_request_failure" (Triton) */
  readonly failureCounter?: string;
  /** The label that names the model. @default "model" */
  readonly modelLabel?: string;
  /** Server-side failures allowed during verification. @default 0 */
  readonly maxFailures?: number;
}

export interface VerifySpec {
  /** The whole verification must end by then, pass or not. @default 600 */
  readonly deadlineSeconds?: number;
  /** How long to wait for the server and models to become ready (model loads take minutes). @default 300 */
  readonly waitForReadySeconds?: number;
  /**
   * In a blue/green gate: skip the checks for a candidate whose exact release fingerprint passed
   * this exact spec before (a rollback to what served), and say so in the report.
   * @default true
   */
  readonly fastRollback?: boolean;
  readonly models: readonly ModelSpec[];
  /** @default - no probe */
  readonly probe?: ProbeSpec;
  /** Compared against the active color when a baseline URL is given. @default - no baseline comparison */
  readonly baseline?: BaselineSpec;
  /** Server counters before/after, when a metrics URL is given. @default - Triton's nv_inference_request_success/_failure, label model, no failure allowed */
  readonly metrics?: MetricsSpec;
}

/** One bad field of a spec. */
export type SpecProblem = Problem;

/** A spec that does not fit; exit code 2 ("could not verify"). */
export class SpecError extends ProblemsError {
  constructor(
    public readonly source: string,
    problems: readonly Problem[],
  ) {
    super(`Invalid verification spec ${source}`, problems);
    this.name = "SpecError";
  }
}

/** Reads a spec file (.json, .yaml or .yml). */
export function loadSpec(file: string): VerifySpec {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new SpecError(file, [{ field: "file", value: file, expected: `a readable file (${(e as Error).message})` }]);
  }
  let doc: unknown;
  try {
    // yaml loads only for YAML specs: the gate's specs are JSON, and the CLI's start counts.
    doc = /\.ya?ml$/i.test(file) ? (require("yaml") as typeof import("yaml")).parse(text) : JSON.parse(text);
  } catch (e) {
    throw new SpecError(file, [{ field: "file", value: file, expected: `valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"} (${(e as Error).message})` }]);
  }
  return validateSpec(doc, file);
}

/** Checks a spec's shape and values; throws a SpecError naming each bad field. */
export function validateSpec(doc: unknown, source = "(in code)"): VerifySpec {
  const problems: SpecProblem[] = [];
  const bad = (field: string, value: unknown, expected: string) => problems.push({ field, value, expected });
  const isObj = (x: unknown): x is Record<string, any> => typeof x === "object" && x !== null && !Array.isArray(x);
  const num = (where: string, v: unknown, min: number, max: number, integer = false) => {
    if (v === undefined) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      bad(where, v, `${integer ? "an integer" : "a number"} from ${min} to ${max}`);
    }
  };
  const str = (where: string, v: unknown, optional = false) => {
    if (optional && v === undefined) return;
    if (typeof v !== "string" || v.length === 0) bad(where, v, "a non-empty string");
  };
  const dtype = (where: string, v: unknown, optional = false) => {
    if (optional && v === undefined) return;
    if (!DATATYPES.includes(v as Datatype)) bad(where, v, `one of ${DATATYPES.join(", ")}`);
  };
  const shape = (where: string, v: unknown, wildcards: boolean, optional = false) => {
    if (optional && v === undefined) return;
    if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && (d >= 0 || (wildcards && d === -1)))) {
      bad(where, v, wildcards ? "a list of sizes (integers >= 0, or -1 for any)" : "a list of sizes (integers >= 0)");
    }
  };

  if (!isObj(doc)) {
    throw new SpecError(source, [{ field: "the spec", value: doc, expected: "an object with a models list" }]);
  }
  // Unknown fields, from the published JSON Schema: a misspelled field must not switch a check off.
  problems.push(...unknownFields(doc));
  num("deadlineSeconds", doc.deadlineSeconds, 1, 86400);
  num("waitForReadySeconds", doc.waitForReadySeconds, 0, 86400);
  if (doc.fastRollback !== undefined && typeof doc.fastRollback !== "boolean") bad("fastRollback", doc.fastRollback, "true or false");
  if (!Array.isArray(doc.models) || doc.models.length === 0) bad("models", doc.models, "a non-empty list of models");
  const cases = new Map<string, any>();
  (Array.isArray(doc.models) ? doc.models : []).forEach((m: any, i: number) => {
    const at = `models[${i}]`;
    if (!isObj(m)) {
      bad(at, m, "an object with name");
      return;
    }
    str(`${at}.name`, m.name);
    str(`${at}.version`, m.version, true);
    if (m.metadata !== undefined) {
      for (const side of ["inputs", "outputs"] as const) {
        const list = m.metadata?.[side];
        if (!Array.isArray(list)) bad(`${at}.metadata.${side}`, list, "a list of {name, datatype, shape}");
        else
          list.forEach((t: any, j: number) => {
            str(`${at}.metadata.${side}[${j}].name`, t?.name);
            dtype(`${at}.metadata.${side}[${j}].datatype`, t?.datatype);
            shape(`${at}.metadata.${side}[${j}].shape`, t?.shape, true);
          });
      }
    }
    if (m.golden !== undefined && !Array.isArray(m.golden)) bad(`${at}.golden`, m.golden, "a list of golden cases");
    (Array.isArray(m.golden) ? m.golden : []).forEach((g: any, j: number) => {
      const gat = `${at}.golden[${j}]`;
      if (!isObj(g)) {
        bad(gat, g, "an object with name, inputs, outputs");
        return;
      }
      str(`${gat}.name`, g.name);
      if (typeof g.name === "string") {
        const key = `${m.name}/${g.name}`;
        if (cases.has(key)) bad(`${gat}.name`, g.name, "a name unique within its model");
        cases.set(key, g);
      }
      if (!Array.isArray(g.inputs) || g.inputs.length === 0) bad(`${gat}.inputs`, g.inputs, "a non-empty list of tensors");
      (Array.isArray(g.inputs) ? g.inputs : []).forEach((t: any, k: number) => {
        const tat = `${gat}.inputs[${k}]`;
        str(`${tat}.name`, t?.name);
        dtype(`${tat}.datatype`, t?.datatype);
        shape(`${tat}.shape`, t?.shape, false);
        if (!Array.isArray(t?.data)) bad(`${tat}.data`, t?.data, "a list of elements");
        else if (Array.isArray(t?.shape) && t.shape.reduce((a: number, b: number) => a * b, 1) !== t.data.length) {
          bad(`${tat}.data`, `${t.data.length} elements`, `as many elements as shape ${JSON.stringify(t.shape)} holds`);
        }
      });
      if (!Array.isArray(g.outputs) || g.outputs.length === 0) bad(`${gat}.outputs`, g.outputs, "a non-empty list of expected outputs");
      (Array.isArray(g.outputs) ? g.outputs : []).forEach((o: any, k: number) => {
        const oat = `${gat}.outputs[${k}]`;
        str(`${oat}.name`, o?.name);
        dtype(`${oat}.datatype`, o?.datatype, true);
        shape(`${oat}.shape`, o?.shape, true, true);
        if (!Array.isArray(o?.data)) bad(`${oat}.data`, o?.data, "a list of expected elements");
        num(`${oat}.atol`, o?.atol, 0, Number.MAX_VALUE);
        num(`${oat}.rtol`, o?.rtol, 0, Number.MAX_VALUE);
        num(`${oat}.topK`, o?.topK, 1, 1_000_000, true);
        if (o?.argmax !== undefined && typeof o.argmax !== "boolean") bad(`${oat}.argmax`, o.argmax, "true or false");
        if (o?.argmax && o?.topK !== undefined) bad(`${oat}.topK`, o.topK, "either argmax or topK, not both");
        // A fixed shape decides how many elements an answer has: other data can never match.
        if (Array.isArray(o?.shape) && o.shape.length > 0 && o.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) && Array.isArray(o?.data)) {
          const all = o.shape.reduce((a: number, b: number) => a * b, 1);
          const rows = all / (o.shape[o.shape.length - 1] || 1);
          const want = o.argmax ? rows : typeof o.topK === "number" ? rows * o.topK : all;
          const what = o.argmax ? "one label per row" : typeof o.topK === "number" ? `${o.topK} labels per row` : "the elements";
          if (o.data.length !== want) bad(`${oat}.data`, `${o.data.length} elements`, `${want} (${what} of shape ${JSON.stringify(o.shape)}): an answer of that shape can never match`);
        }
        const contract = isObj(m.metadata) && Array.isArray(m.metadata.outputs) ? m.metadata.outputs.find((c: any) => c?.name === o?.name) : undefined;
        if (contract && Array.isArray(contract.shape) && Array.isArray(o?.shape)) {
          const fits = contract.shape.length === o.shape.length && contract.shape.every((d: number, x: number) => d === -1 || o.shape[x] === -1 || d === o.shape[x]);
          if (!fits) bad(`${oat}.shape`, o.shape, `a shape the model's contract allows (${JSON.stringify(contract.shape)} in metadata.outputs)`);
        }
      });
      if (g.binary !== undefined && typeof g.binary !== "boolean") bad(`${gat}.binary`, g.binary, "true or false");
    });
  });
  if (doc.probe !== undefined) {
    const p = doc.probe;
    if (!isObj(p)) bad("probe", p, "an object");
    else {
      str("probe.model", p.model);
      str("probe.case", p.case);
      if (typeof p.model === "string" && typeof p.case === "string" && !cases.has(`${p.model}/${p.case}`)) {
        bad("probe.case", p.case, `the name of a golden case of model ${showValue(p.model)} (${[...cases.keys()].join(", ") || "none declared"})`);
      }
      num("probe.requests", p.requests, 1, 10_000_000, true);
      if (p.requests === undefined) bad("probe.requests", p.requests, "an integer from 1 to 10000000");
      num("probe.concurrency", p.concurrency, 1, 1024, true);
      if (p.concurrency === undefined) bad("probe.concurrency", p.concurrency, "an integer from 1 to 1024");
      if (!isObj(p.budgets)) bad("probe.budgets", p.budgets, "an object with p50Seconds, p95Seconds, p99Seconds and/or maxErrorRate");
      else {
        for (const k of ["p50Seconds", "p95Seconds", "p99Seconds"]) num(`probe.budgets.${k}`, p.budgets[k], 0, 3600);
        num("probe.budgets.maxErrorRate", p.budgets.maxErrorRate, 0, 1);
      }
    }
  }
  if (doc.baseline !== undefined) {
    if (!isObj(doc.baseline)) bad("baseline", doc.baseline, "an object");
    else {
      num("baseline.p99RegressionPercent", doc.baseline.p99RegressionPercent, 0, 100_000);
      if (doc.baseline.agreement !== undefined && typeof doc.baseline.agreement !== "boolean") bad("baseline.agreement", doc.baseline.agreement, "true or false");
    }
  }
  if (doc.metrics !== undefined) {
    if (!isObj(doc.metrics)) bad("metrics", doc.metrics, "an object");
    else {
      for (const k of ["successCounter", "failureCounter", "modelLabel"]) str(`metrics.${k}`, doc.metrics[k], true);
      num("metrics.maxFailures", doc.metrics.maxFailures, 0, Number.MAX_SAFE_INTEGER, true);
    }
  }
  if (problems.length > 0) throw new SpecError(source, problems);
  return doc as unknown as VerifySpec;
}

/** The spec's JSON Schema, published in the package (`schemas/verify-spec.schema.json`) for editors. */
export const SPEC_SCHEMA_FILE = packageFile(["schemas", "verify-spec.schema.json"]);

let schemaValidator: ValidateFunction | undefined;

/** Fields renamed in 0.2.0, when every duration became seconds: a spec written for 0.1 is told the new name. */
const RENAMED_IN_0_2: Readonly<Record<string, string>> = { p50Ms: "p50Seconds", p95Ms: "p95Seconds", p99Ms: "p99Seconds" };

/** Each field the schema does not know, with its path and the nearest known name. */
function unknownFields(doc: unknown): SpecProblem[] {
  schemaValidator ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(JSON.parse(fs.readFileSync(SPEC_SCHEMA_FILE, "utf8")));
  if (schemaValidator(doc)) return [];
  return (schemaValidator.errors ?? [])
    .filter((e: ErrorObject) => e.keyword === "additionalProperties")
    .map((e: ErrorObject) => {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      const at = e.instancePath
        .split("/")
        .slice(1)
        .map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k.replace(/~1/g, "/").replace(/~0/g, "~")}`))
        .join("")
        .replace(/^\./, "");
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).filter((k) => k !== "$schema");
      const near = nearest(name, known);
      const renamed = RENAMED_IN_0_2[name];
      return {
        field: at ? `${at}.${name}` : name,
        value: (e.data as Record<string, unknown>)?.[name],
        expected: renamed ? `no such field since 0.2.0: "${renamed}", in seconds (every duration is seconds: 250 ms is 0.25)` : near ? `no such field: did you mean "${near}"?` : `no such field (known: ${known.join(", ")})`,
      };
    });
}

/** The known name closest to `name` (case-insensitive edit distance), if close enough to be a typo. */
function nearest(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  const scored = known.map((k) => [k, distance(name.toLowerCase(), k.toLowerCase())] as const).sort((a, b) => a[1] - b[1]);
  return scored.length && scored[0][1] <= Math.max(2, Math.floor(name.length / 3)) ? scored[0][0] : undefined;
}
