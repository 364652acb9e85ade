import { Token } from "cdktf";
import { Problem, ProblemsError } from "../core/problems";
import { unknownKeyExpected } from "../core/unknown-keys";
import { ROOTS, SHAPES } from "./props-shapes";

/** One rejected prop: which field, the value given, and what would have been accepted. */
export type PropProblem = Problem;

/**
 * Thrown at construction (so at synth) when props are invalid. The message names the construct
 * path, and for each problem the field, the bad value and what is valid.
 */
export class TritonValidationError extends ProblemsError {
  constructor(
    public readonly constructPath: string,
    problems: readonly Problem[],
  ) {
    super(
      `Invalid props for ${constructPath}`,
      problems,
      (p) => `${p.field} = ${propValue(p.value)} is invalid: expected ${p.expected}`,
    );
    this.name = "TritonValidationError";
  }
}

/** A prop's value in full, as JSON (a spec's "2 elements" stays a quoted value here). */
function propValue(value: unknown): string {
  if (value === undefined) return "undefined";
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/**
 * Collects every problem of one construct's props, so a user sees all of them in one synth run,
 * then throws once. Values that are unresolved tokens (Terraform variables, references) are known
 * only at apply time and are skipped here; Terraform validation covers those that we declare.
 */
export class PropValidator {
  private readonly problems: PropProblem[] = [];

  constructor(private readonly constructPath: string) {}

  /** Records a problem unless `ok`. Skips unresolved tokens. */
  public check(field: string, value: unknown, ok: boolean, expected: string): this {
    if (!ok && !isToken(value)) this.problems.push({ field, value, expected });
    return this;
  }

  /** Records a problem when `value` is a token: for props that must be known at synth. */
  public knownAtSynth(field: string, value: unknown, why: string): this {
    if (isToken(value))
      this.problems.push({ field, value: "<a Terraform expression>", expected: `a value known at synth: ${why}` });
    return this;
  }

  public integer(field: string, value: number | undefined, min: number, max: number): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      Number.isInteger(value) && value >= min && value <= max,
      `an integer from ${min} to ${max}`,
    );
  }

  /**
   * A duration: seconds (the one unit of every duration in props and specs), with a fraction down
   * to a millisecond, from `min` to `max` seconds.
   */
  public seconds(field: string, value: number | undefined, min: number, max: number): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      typeof value === "number" &&
        Number.isFinite(value) &&
        value >= min &&
        value <= max &&
        Math.abs(value * 1000 - Math.round(value * 1000)) < 1e-6,
      `seconds from ${min} to ${max}, to the millisecond at most (0.25 is 250 ms)`,
    );
  }

  public port(field: string, value: number | undefined): this {
    return this.integer(field, value, 1, 65535);
  }

  public dnsLabel(field: string, value: string | undefined, maxLength = 63): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      typeof value === "string" && value.length <= maxLength && DNS_LABEL.test(value),
      `an RFC 1123 label: at most ${maxLength} characters of a-z, 0-9 and '-', starting and ending with a letter or digit`,
    );
  }

  public dnsSubdomain(field: string, value: string | undefined): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      typeof value === "string" && value.length <= 253 && value.split(".").every((l) => DNS_LABEL.test(l)),
      "an RFC 1123 subdomain: at most 253 characters, dot-separated labels of a-z, 0-9 and '-'",
    );
  }

  public labelValue(field: string, value: string | undefined): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      typeof value === "string" && value.length > 0 && value.length <= 63 && LABEL_VALUE.test(value),
      "a Kubernetes label value: 1 to 63 characters of A-Z, a-z, 0-9, '-', '_' and '.', starting and ending with a letter or digit",
    );
  }

  public quantity(field: string, value: string | undefined): this {
    if (value === undefined) return this;
    return this.check(
      field,
      value,
      typeof value === "string" && QUANTITY.test(value),
      "a non-negative Kubernetes quantity such as 500m, 2, 4Gi or 512Mi",
    );
  }

  /**
   * Requests and limits: each a quantity, and no limit below its request (the API server would
   * refuse the pods at apply, after the plan passed). `defaults` are the values used when unset.
   */
  public resources(
    r:
      | {
          readonly cpuRequest?: string;
          readonly cpuLimit?: string;
          readonly memoryRequest?: string;
          readonly memoryLimit?: string;
        }
      | undefined,
    defaults: { readonly cpuRequest: string; readonly memoryRequest: string; readonly memoryLimit?: string },
  ): this {
    for (const k of ["cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const)
      this.quantity(`resources.${k}`, r?.[k]);
    const pairs = [
      ["cpu", r?.cpuRequest ?? defaults.cpuRequest, r?.cpuLimit],
      ["memory", r?.memoryRequest ?? defaults.memoryRequest, r?.memoryLimit ?? defaults.memoryLimit],
    ] as const;
    for (const [what, request, limit] of pairs) {
      const [q, l] = [quantityValue(request), quantityValue(limit)];
      if (q !== undefined && l !== undefined)
        this.check(`resources.${what}Limit`, limit, l >= q, `at least the ${what} request (${request})`);
    }
    return this;
  }

  public oneOf<T extends string>(field: string, value: T | undefined, valid: readonly T[]): this {
    if (value === undefined) return this;
    return this.check(field, value, valid.includes(value), `one of ${valid.map((v) => `"${v}"`).join(", ")}`);
  }

  public stringMap(field: string, value: Record<string, string> | undefined, what: "label" | "annotation"): this {
    if (value === undefined) return this;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return this.check(field, value, false, `an object of ${what} keys to string values`);
    }
    for (const [k, v] of Object.entries(value)) {
      this.check(
        `${field}["${k}"]`,
        k,
        QUALIFIED_KEY.test(k),
        `a Kubernetes ${what} key: an optional DNS prefix and '/', then a name of at most 63 characters`,
      );
      if (what === "label") this.labelValue(`${field}["${k}"]`, v);
      else this.check(`${field}["${k}"]`, v, typeof v === "string", "a string");
    }
    return this;
  }

  /** A map of the user's labels: valid keys and values, and none of the `reserved` keys our selectors use. */
  public userLabels(
    field: string,
    value: Record<string, string> | undefined,
    reserved: readonly string[],
    setter = "we do not set ourselves",
  ): this {
    this.stringMap(field, value, "label");
    for (const key of Object.keys(value ?? {}))
      this.check(`${field}["${key}"]`, key, !reserved.includes(key), `a key ${setter} (not ${reserved.join(", ")})`);
    return this;
  }

  /**
   * Refuses every key of `value` (and of the props objects inside it) that its type does not
   * declare, naming the nearest known key or the key's 0.2.0 name: TypeScript catches them, but a
   * JavaScript stack or props built from JSON or YAML would drop them without a word. `root` is a
   * parameter of the package's API as `scripts/props-shapes.ts` names it (`TritonRelease#2`, the
   * constructor's props). Maps of the user's own keys and class instances are not looked into.
   */
  public knownKeys(root: string, value: unknown, field = ""): this {
    const shape = ROOTS[root];
    if (!shape) throw new Error(`no props shape ${root}: run scripts/props-shapes.ts`);
    this.keysOf(shape, value, field);
    return this;
  }

  private keysOf(shapeName: string, value: unknown, field: string): void {
    if (Array.isArray(value)) {
      value.forEach((v, i) => this.keysOf(shapeName, v, `${field}[${i}]`));
      return;
    }
    if (!isPlainObject(value)) return;
    const shape = SHAPES[shapeName];
    const known = Object.keys(shape);
    for (const [key, v] of Object.entries(value)) {
      const at = field ? `${field}.${key}` : key;
      if (!(key in shape)) this.problems.push({ field: at, value: v, expected: unknownKeyExpected(key, known) });
      else if (shape[key]) this.keysOf(shape[key]!, v, at);
    }
  }

  /** Throws a {@link TritonValidationError} listing every problem recorded so far. */
  public throwIfInvalid(): void {
    if (this.problems.length > 0) throw new TritonValidationError(this.constructPath, this.problems);
  }
}

export function isToken(value: unknown): boolean {
  if (typeof value === "string" || typeof value === "number") return Token.isUnresolved(value);
  return typeof value === "object" && value !== null && Token.isUnresolved(value);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const QUALIFIED_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE]\d+)?$/;

/**
 * An OCI image reference with an explicit tag or digest: `[registry[:port]/]path[:tag][@sha256:hex]`.
 * An implicit `latest` is refused: a release must name exactly what it runs.
 */
export function isPinnedImage(ref: string): boolean {
  if (typeof ref !== "string" || ref.length > 512) return false;
  const m = IMAGE_REF.exec(ref);
  return m !== null && (m[2] !== undefined || m[3] !== undefined);
}
const IMAGE_REF =
  /^((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

const QUANTITY_SUFFIX: Record<string, number> = {
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity's value (500m = 0.5, 4Gi = 4 * 2^30), or undefined when it is not one. */
export function quantityValue(q: string | undefined): number | undefined {
  if (typeof q !== "string" || !QUANTITY.test(q)) return undefined;
  const m = /^([0-9.]+)(?:[eE](\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$/.exec(q);
  if (!m) return undefined;
  return Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2]) : QUANTITY_SUFFIX[m[3] ?? ""]);
}

/** An object literal's kind (from code, JSON or YAML), not a class instance such as a Backend or a token. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws a {@link TritonValidationError} when `value`, the API parameter `root` (`TritonRelease#2`,
 * `Backend.service#1`), has keys its type does not declare, reported for `where` (a construct's
 * path; a factory's or function's own name by default): before any other check, since a misspelt
 * key's value is missing to them.
 */
export function refuseUnknownKeys(root: string, value: unknown, where = root.replace(/#\d+$/, "")): void {
  new PropValidator(where).knownKeys(root, value).throwIfInvalid();
}
