// The verification spec: what a candidate must show before traffic moves to it. Typed in code,
// and read from a JSON or YAML file by the CLI. Runtime code: imports nothing from cdktf.
import * as fs from "fs";
import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import { packageFile } from "./package-file";
import { DATATYPES, Datatype, elementMisfit, Tensor } from "./tensor";
import { Problem, ProblemsError, showValue } from "./problems";
import { unknownKeyExpected } from "./unknown-keys";

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
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous and lazy: loadSpec is sync, and the CLI's start counts
    doc = /\.ya?ml$/i.test(file) ? (require("yaml") as typeof import("yaml")).parse(text) : JSON.parse(text);
  } catch (e) {
    throw new SpecError(file, [
      {
        field: "file",
        value: file,
        expected: `valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"} (${(e as Error).message})`,
      },
    ]);
  }
  return validateSpec(doc, file);
}

/** Checks a spec's shape and values; throws a SpecError naming each bad field. */
export function validateSpec(doc: unknown, source = "(in code)"): VerifySpec {
  if (!isObj(doc))
    throw new SpecError(source, [{ field: "the spec", value: doc, expected: "an object with a models list" }]);
  const c = new SpecChecker();
  // Unknown fields, from the published JSON Schema: a misspelled field must not switch a check off.
  c.problems.push(...unknownFields(doc));
  c.num("deadlineSeconds", doc.deadlineSeconds, 1, 86400);
  c.num("waitForReadySeconds", doc.waitForReadySeconds, 0, 86400);
  c.bool("fastRollback", doc.fastRollback);
  c.models(doc.models);
  if (doc.probe !== undefined) c.probe(doc.probe);
  if (doc.baseline !== undefined) c.baseline(doc.baseline);
  if (doc.metrics !== undefined) c.metrics(doc.metrics);
  if (c.problems.length > 0) throw new SpecError(source, c.problems);
  return doc as unknown as VerifySpec;
}

const isObj = (x: unknown): x is Record<string, any> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The spec's checks, part by part; each bad field becomes a problem with its path. */
class SpecChecker {
  readonly problems: SpecProblem[] = [];
  /** Golden cases by model/case: the probe names one. */
  private readonly cases = new Map<string, unknown>();

  bad(field: string, value: unknown, expected: string): void {
    this.problems.push({ field, value, expected });
  }

  num(where: string, v: unknown, min: number, max: number, integer = false): void {
    if (v === undefined) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      this.bad(where, v, `${integer ? "an integer" : "a number"} from ${min} to ${max}`);
    }
  }

  str(where: string, v: unknown, optional = false): void {
    if (optional && v === undefined) return;
    if (typeof v !== "string" || v.length === 0) this.bad(where, v, "a non-empty string");
  }

  bool(where: string, v: unknown): void {
    if (v !== undefined && typeof v !== "boolean") this.bad(where, v, "true or false");
  }

  dtype(where: string, v: unknown, optional = false): void {
    if (optional && v === undefined) return;
    if (!DATATYPES.includes(v as Datatype)) this.bad(where, v, `one of ${DATATYPES.join(", ")}`);
  }

  shape(where: string, v: unknown, wildcards: boolean, optional = false): void {
    if (optional && v === undefined) return;
    if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && (d >= 0 || (wildcards && d === -1)))) {
      this.bad(
        where,
        v,
        wildcards ? "a list of sizes (integers >= 0, or -1 for any)" : "a list of sizes (integers >= 0)",
      );
    }
  }

  /** The first element of `data` that is not one of `datatype` (a datatype known; the others are reported as such). */
  elementsFit(where: string, datatype: unknown, data: unknown[]): void {
    if (!(DATATYPES as readonly unknown[]).includes(datatype)) return;
    const i = data.findIndex((x) => elementMisfit(datatype as Datatype, x) !== undefined);
    if (i >= 0) this.bad(`${where}[${i}]`, data[i], elementMisfit(datatype as Datatype, data[i])!);
  }

  models(models: unknown): void {
    if (!Array.isArray(models) || models.length === 0) this.bad("models", models, "a non-empty list of models");
    (Array.isArray(models) ? models : []).forEach((m: any, i: number) => this.model(m, `models[${i}]`));
  }

  private model(m: any, at: string): void {
    if (!isObj(m)) return this.bad(at, m, "an object with name");
    this.str(`${at}.name`, m.name);
    this.str(`${at}.version`, m.version, true);
    if (m.metadata !== undefined) {
      for (const side of ["inputs", "outputs"] as const) {
        const list = m.metadata?.[side];
        if (!Array.isArray(list)) this.bad(`${at}.metadata.${side}`, list, "a list of {name, datatype, shape}");
        else
          list.forEach((t: any, j: number) => {
            this.str(`${at}.metadata.${side}[${j}].name`, t?.name);
            this.dtype(`${at}.metadata.${side}[${j}].datatype`, t?.datatype);
            this.shape(`${at}.metadata.${side}[${j}].shape`, t?.shape, true);
          });
      }
    }
    if (m.golden !== undefined && !Array.isArray(m.golden))
      this.bad(`${at}.golden`, m.golden, "a list of golden cases");
    (Array.isArray(m.golden) ? m.golden : []).forEach((g: any, j: number) =>
      this.goldenCase(m, g, `${at}.golden[${j}]`),
    );
  }

  private goldenCase(m: any, g: any, at: string): void {
    if (!isObj(g)) return this.bad(at, g, "an object with name, inputs, outputs");
    this.str(`${at}.name`, g.name);
    if (typeof g.name === "string") {
      const key = `${m.name}/${g.name}`;
      if (this.cases.has(key)) this.bad(`${at}.name`, g.name, "a name unique within its model");
      this.cases.set(key, g);
    }
    if (!Array.isArray(g.inputs) || g.inputs.length === 0)
      this.bad(`${at}.inputs`, g.inputs, "a non-empty list of tensors");
    (Array.isArray(g.inputs) ? g.inputs : []).forEach((t: any, k: number) => this.goldenInput(t, `${at}.inputs[${k}]`));
    if (!Array.isArray(g.outputs) || g.outputs.length === 0)
      this.bad(`${at}.outputs`, g.outputs, "a non-empty list of expected outputs");
    (Array.isArray(g.outputs) ? g.outputs : []).forEach((o: any, k: number) =>
      this.goldenOutput(m, o, `${at}.outputs[${k}]`),
    );
    this.bool(`${at}.binary`, g.binary);
  }

  private goldenInput(t: any, at: string): void {
    this.str(`${at}.name`, t?.name);
    this.dtype(`${at}.datatype`, t?.datatype);
    this.shape(`${at}.shape`, t?.shape, false);
    if (!Array.isArray(t?.data)) return this.bad(`${at}.data`, t?.data, "a list of elements");
    this.elementsFit(`${at}.data`, t.datatype, t.data);
    if (Array.isArray(t?.shape) && t.shape.reduce((a: number, b: number) => a * b, 1) !== t.data.length) {
      this.bad(`${at}.data`, `${t.data.length} elements`, `as many elements as shape ${JSON.stringify(t.shape)} holds`);
    }
  }

  private goldenOutput(m: any, o: any, at: string): void {
    this.str(`${at}.name`, o?.name);
    this.dtype(`${at}.datatype`, o?.datatype, true);
    this.shape(`${at}.shape`, o?.shape, true, true);
    if (!Array.isArray(o?.data)) this.bad(`${at}.data`, o?.data, "a list of expected elements");
    // argmax and topK data are labels (row indexes), not elements of the output's datatype.
    else if (!o.argmax && o.topK === undefined) this.elementsFit(`${at}.data`, o.datatype, o.data);
    this.num(`${at}.atol`, o?.atol, 0, Number.MAX_VALUE);
    this.num(`${at}.rtol`, o?.rtol, 0, Number.MAX_VALUE);
    this.num(`${at}.topK`, o?.topK, 1, 1_000_000, true);
    this.bool(`${at}.argmax`, o?.argmax);
    if (o?.argmax && o?.topK !== undefined) this.bad(`${at}.topK`, o.topK, "either argmax or topK, not both");
    // A fixed shape decides how many elements an answer has: other data can never match.
    if (
      Array.isArray(o?.shape) &&
      o.shape.length > 0 &&
      o.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) &&
      Array.isArray(o?.data)
    ) {
      const all = o.shape.reduce((a: number, b: number) => a * b, 1);
      const rows = all / (o.shape[o.shape.length - 1] || 1);
      const want = o.argmax ? rows : typeof o.topK === "number" ? rows * o.topK : all;
      const what = o.argmax
        ? "one label per row"
        : typeof o.topK === "number"
          ? `${o.topK} labels per row`
          : "the elements";
      if (o.data.length !== want)
        this.bad(
          `${at}.data`,
          `${o.data.length} elements`,
          `${want} (${what} of shape ${JSON.stringify(o.shape)}): an answer of that shape can never match`,
        );
    }
    const contract =
      isObj(m.metadata) && Array.isArray(m.metadata.outputs)
        ? m.metadata.outputs.find((c: any) => c?.name === o?.name)
        : undefined;
    if (contract && Array.isArray(contract.shape) && Array.isArray(o?.shape)) {
      const fits =
        contract.shape.length === o.shape.length &&
        contract.shape.every((d: number, x: number) => d === -1 || o.shape[x] === -1 || d === o.shape[x]);
      if (!fits)
        this.bad(
          `${at}.shape`,
          o.shape,
          `a shape the model's contract allows (${JSON.stringify(contract.shape)} in metadata.outputs)`,
        );
    }
  }

  probe(p: any): void {
    if (!isObj(p)) return this.bad("probe", p, "an object");
    this.str("probe.model", p.model);
    this.str("probe.case", p.case);
    if (typeof p.model === "string" && typeof p.case === "string" && !this.cases.has(`${p.model}/${p.case}`)) {
      this.bad(
        "probe.case",
        p.case,
        `the name of a golden case of model ${showValue(p.model)} (${[...this.cases.keys()].join(", ") || "none declared"})`,
      );
    }
    this.num("probe.requests", p.requests, 1, 10_000_000, true);
    if (p.requests === undefined) this.bad("probe.requests", p.requests, "an integer from 1 to 10000000");
    this.num("probe.concurrency", p.concurrency, 1, 1024, true);
    if (p.concurrency === undefined) this.bad("probe.concurrency", p.concurrency, "an integer from 1 to 1024");
    if (!isObj(p.budgets))
      return this.bad(
        "probe.budgets",
        p.budgets,
        "an object with p50Seconds, p95Seconds, p99Seconds and/or maxErrorRate",
      );
    for (const k of ["p50Seconds", "p95Seconds", "p99Seconds"]) this.num(`probe.budgets.${k}`, p.budgets[k], 0, 3600);
    this.num("probe.budgets.maxErrorRate", p.budgets.maxErrorRate, 0, 1);
  }

  baseline(b: any): void {
    if (!isObj(b)) return this.bad("baseline", b, "an object");
    this.num("baseline.p99RegressionPercent", b.p99RegressionPercent, 0, 100_000);
    this.bool("baseline.agreement", b.agreement);
  }

  metrics(m: any): void {
    if (!isObj(m)) return this.bad("metrics", m, "an object");
    for (const k of ["successCounter", "failureCounter", "modelLabel"]) this.str(`metrics.${k}`, m[k], true);
    this.num("metrics.maxFailures", m.maxFailures, 0, Number.MAX_SAFE_INTEGER, true);
  }
}

/** The spec's JSON Schema, published in the package (`schemas/verify-spec.schema.json`) for editors. */
export const SPEC_SCHEMA_FILE = packageFile(["schemas", "verify-spec.schema.json"]);

let schemaValidator: ValidateFunction | undefined;

/** Each field the schema does not know, with its path and the nearest known name. */
function unknownFields(doc: unknown): SpecProblem[] {
  schemaValidator ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(
    JSON.parse(fs.readFileSync(SPEC_SCHEMA_FILE, "utf8")),
  );
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
      const known = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).filter(
        (k) => k !== "$schema",
      );
      return {
        field: at ? `${at}.${name}` : name,
        value: (e.data as Record<string, unknown>)?.[name],
        expected: unknownKeyExpected(name, known),
      };
    });
}
