// Golden-output comparison: tolerances for numbers, exact for BYTES and BOOL, argmax / top-k for
// classifiers. Returns why an output does not match, or undefined when it does.
import { ExpectedOutput, TensorContract } from "../../core/verify-spec";
import { Tensor } from "../../core/tensor";

export function shapeMatches(expected: readonly number[], actual: readonly number[]): boolean {
  return expected.length === actual.length && expected.every((d, i) => d === -1 || d === actual[i]);
}

/** Why a model's declared tensors differ from the contract, or undefined. */
export function contractMismatch(
  kind: "input" | "output",
  expected: readonly TensorContract[],
  actual: readonly { name: string; datatype: string; shape: readonly number[] }[],
): string | undefined {
  const problems: string[] = [];
  const byName = new Map(actual.map((t) => [t.name, t]));
  for (const e of expected) {
    const a = byName.get(e.name);
    if (!a) problems.push(`${kind} ${e.name} is missing`);
    else {
      if (a.datatype !== e.datatype) problems.push(`${kind} ${e.name} is ${a.datatype}, expected ${e.datatype}`);
      if (!shapeMatches(e.shape, a.shape))
        problems.push(`${kind} ${e.name} has shape ${JSON.stringify(a.shape)}, expected ${JSON.stringify(e.shape)}`);
    }
  }
  const expectedNames = new Set(expected.map((t) => t.name));
  for (const a of actual) if (!expectedNames.has(a.name)) problems.push(`unexpected ${kind} ${a.name}`);
  return problems.length ? problems.join("; ") : undefined;
}

export function outputMismatch(expected: ExpectedOutput, actual: Tensor | undefined): string | undefined {
  if (!actual) return `no output named ${expected.name}`;
  if (expected.datatype && actual.datatype !== expected.datatype)
    return `${expected.name} is ${actual.datatype}, expected ${expected.datatype}`;
  if (expected.shape && !shapeMatches(expected.shape, actual.shape)) {
    return `${expected.name} has shape ${JSON.stringify(actual.shape)}, expected ${JSON.stringify(expected.shape)}`;
  }
  if (expected.argmax || expected.topK) {
    const k = expected.topK ?? 1;
    const width = actual.shape.length ? actual.shape[actual.shape.length - 1] : 1;
    const rows = width ? actual.data.length / width : 0;
    if (expected.data.length !== rows * k)
      return `${expected.name}: expected ${rows * k} class indices (${rows} rows x top ${k}), the spec has ${expected.data.length}`;
    for (let r = 0; r < rows; r++) {
      const row = actual.data.slice(r * width, (r + 1) * width).map(Number);
      if (row.some((v) => Number.isNaN(v))) return `${expected.name} row ${r} holds NaN`;
      const top = topIndices(row, k);
      const want = expected.data.slice(r * k, (r + 1) * k).map(Number);
      if (!sameSet(top, want))
        return `${expected.name} row ${r}: top ${k} classes ${JSON.stringify(top)}, expected ${JSON.stringify(want)}`;
    }
    return undefined;
  }
  if (actual.data.length !== expected.data.length)
    return `${expected.name} has ${actual.data.length} elements, expected ${expected.data.length}`;
  const atol = expected.atol ?? 1e-6;
  const rtol = expected.rtol ?? 1e-5;
  for (let i = 0; i < actual.data.length; i++) {
    const a = actual.data[i];
    const e = expected.data[i];
    if (typeof e === "number") {
      if (typeof a !== "number" || !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
        const tol = Number((atol + rtol * Math.abs(e)).toPrecision(3));
        return `${expected.name}[${i}] = ${Number.isNaN(a) ? "NaN" : JSON.stringify(a)}, expected ${e} ± ${tol}`;
      }
    } else if (a !== e) {
      return `${expected.name}[${i}] = ${JSON.stringify(a)}, expected ${JSON.stringify(e)}`;
    }
  }
  return undefined;
}

/** Two answers to the same input agree (candidate against baseline), within the same tolerances. */
export function outputsAgree(candidate: Tensor, baseline: Tensor, spec: ExpectedOutput): string | undefined {
  return outputMismatch(
    {
      ...spec,
      datatype: baseline.datatype,
      shape: baseline.shape,
      data: spec.argmax || spec.topK ? classIndices(baseline, spec.topK ?? 1) : baseline.data,
    },
    candidate,
  );
}

function classIndices(t: Tensor, k: number): number[] {
  const width = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  const out: number[] = [];
  for (let r = 0; r * width < t.data.length; r++)
    out.push(...topIndices(t.data.slice(r * width, (r + 1) * width).map(Number), k));
  return out;
}

function topIndices(row: number[], k: number): number[] {
  return row
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

function sameSet(a: number[], b: number[]): boolean {
  const s = new Set(a);
  return a.length === b.length && b.every((x) => s.has(x));
}

/** What a model published about itself (its metadata), as far as the checks need it. */
export interface PublishedContract {
  readonly inputs: readonly { name: string; datatype: string; shape: readonly number[] }[];
  readonly outputs: readonly { name: string; datatype: string; shape: readonly number[] }[];
}

/** Why a golden case's inputs do not fit the inputs the model published (none published: nothing to check). */
export function inputsMismatch(inputs: readonly Tensor[], published: PublishedContract): string | undefined {
  if (published.inputs.length === 0) return undefined;
  const byName = new Map(published.inputs.map((t) => [t.name, t]));
  for (const t of inputs) {
    const p = byName.get(t.name);
    if (!p)
      return `the golden input ${t.name} is not an input of the model (it takes ${[...byName.keys()].join(", ")})`;
    if (p.datatype !== t.datatype) return `the golden input ${t.name} is ${t.datatype}, the model takes ${p.datatype}`;
    if (!shapeMatches(p.shape, t.shape))
      return `the golden input ${t.name} has shape ${JSON.stringify(t.shape)}, the model takes ${JSON.stringify(p.shape)}`;
  }
  return undefined;
}

/**
 * Why an inference response does not answer what was asked: the model's name (and version, when
 * one was asked), output names that appear once each, and each output's datatype and shape as the
 * model itself published them.
 */
export function responseMismatch(
  res: { modelName?: string; modelVersion?: string; outputs: readonly Tensor[] },
  model: string,
  version: string | undefined,
  published: PublishedContract,
): string | undefined {
  if (res.modelName !== model)
    return `the response is from model ${JSON.stringify(res.modelName ?? null)}, not ${JSON.stringify(model)}`;
  if (version !== undefined && res.modelVersion !== undefined && res.modelVersion !== version) {
    return `the response is from version ${JSON.stringify(res.modelVersion)}, not ${JSON.stringify(version)}`;
  }
  const seen = new Set<string>();
  for (const o of res.outputs) {
    if (seen.has(o.name)) return `the response has output ${o.name} more than once`;
    seen.add(o.name);
  }
  if (published.outputs.length === 0) return undefined;
  const byName = new Map(published.outputs.map((t) => [t.name, t]));
  for (const o of res.outputs) {
    const p = byName.get(o.name);
    if (!p) return `the response has output ${o.name}, which the model does not publish`;
    if (p.datatype !== o.datatype) return `output ${o.name} is ${o.datatype}, the model publishes ${p.datatype}`;
    if (!shapeMatches(p.shape, o.shape))
      return `output ${o.name} has shape ${JSON.stringify(o.shape)}, the model publishes ${JSON.stringify(p.shape)}`;
  }
  return undefined;
}
