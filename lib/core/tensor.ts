// Tensors of the Open Inference Protocol (KServe v2) and Triton's binary tensor data extension.
// Runtime code: imports nothing from cdktf.

/** The protocol's tensor datatypes. */
export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BF16",
  "BYTES",
] as const;
export type Datatype = (typeof DATATYPES)[number];

const INTEGER_RANGES: Readonly<Partial<Record<Datatype, readonly [number, number]>>> = {
  UINT8: [0, 255],
  UINT16: [0, 65_535],
  UINT32: [0, 4_294_967_295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32_768, 32_767],
  INT32: [-2_147_483_648, 2_147_483_647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const FLOAT_MAX: Readonly<Partial<Record<Datatype, number>>> = {
  FP16: 65_504,
  BF16: 3.3895313892515355e38,
  FP32: 3.4028234663852886e38,
  FP64: Number.MAX_VALUE,
};

/**
 * What an element of `datatype` must be, when `x` is not one (else undefined): the server would
 * refuse the request, or (a float beyond FP16's range, an integer cut to 8 bits) answer another question.
 */
export function elementMisfit(datatype: Datatype, x: unknown): string | undefined {
  if (datatype === "BOOL") return typeof x === "boolean" ? undefined : "true or false (BOOL)";
  if (datatype === "BYTES") return typeof x === "string" ? undefined : "a string (BYTES)";
  const range = INTEGER_RANGES[datatype];
  if (range)
    return typeof x === "number" && Number.isInteger(x) && x >= range[0] && x <= range[1]
      ? undefined
      : `an integer from ${range[0]} to ${range[1]} (${datatype})`;
  const max = FLOAT_MAX[datatype];
  if (max !== undefined)
    return typeof x === "number" && Number.isFinite(x) && Math.abs(x) <= max
      ? undefined
      : `a finite number within ${datatype}'s range (±${max})`;
  return undefined;
}

/** A tensor's elements, flattened in row-major order. 64-bit integers beyond 2^53 lose precision. */
export type TensorData = (number | boolean | string)[];

export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

const ELEMENT_BYTES: Record<Exclude<Datatype, "BYTES">, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  BF16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Raw little-endian bytes of a tensor, as the binary extension carries them. */
export function encodeTensorData(datatype: Datatype, data: TensorData): Buffer {
  if (datatype === "BYTES") {
    const parts: Buffer[] = [];
    for (const v of data) {
      const bytes = Buffer.from(String(v), "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      parts.push(len, bytes);
    }
    return Buffer.concat(parts);
  }
  const size = ELEMENT_BYTES[datatype];
  const buf = Buffer.alloc(size * data.length);
  data.forEach((raw, i) => {
    const v = typeof raw === "boolean" ? Number(raw) : Number(raw);
    const o = i * size;
    switch (datatype) {
      case "BOOL":
        buf.writeUInt8(v ? 1 : 0, o);
        break;
      case "UINT8":
        buf.writeUInt8(v, o);
        break;
      case "INT8":
        buf.writeInt8(v, o);
        break;
      case "UINT16":
        buf.writeUInt16LE(v, o);
        break;
      case "INT16":
        buf.writeInt16LE(v, o);
        break;
      case "UINT32":
        buf.writeUInt32LE(v, o);
        break;
      case "INT32":
        buf.writeInt32LE(v, o);
        break;
      case "UINT64":
        buf.writeBigUInt64LE(BigInt(Math.trunc(v)), o);
        break;
      case "INT64":
        buf.writeBigInt64LE(BigInt(Math.trunc(v)), o);
        break;
      case "FP32":
        buf.writeFloatLE(v, o);
        break;
      case "FP64":
        buf.writeDoubleLE(v, o);
        break;
      case "FP16":
        buf.writeUInt16LE(toHalf(v), o);
        break;
      case "BF16":
        buf.writeUInt16LE(toBfloat16(v), o);
        break;
    }
  });
  return buf;
}

/** Decodes raw little-endian bytes into elements; throws when the size does not fit the type. */
export function decodeTensorData(datatype: Datatype, bytes: Buffer, expectedElements?: number): TensorData {
  const out: TensorData = [];
  if (datatype === "BYTES") {
    let o = 0;
    while (o < bytes.length) {
      if (o + 4 > bytes.length) throw new Error("BYTES tensor: truncated length prefix");
      const len = bytes.readUInt32LE(o);
      o += 4;
      if (o + len > bytes.length) throw new Error("BYTES tensor: element runs past the end of the data");
      out.push(bytes.subarray(o, o + len).toString("utf8"));
      o += len;
    }
  } else {
    const size = ELEMENT_BYTES[datatype];
    if (bytes.length % size !== 0)
      throw new Error(`${datatype} tensor: ${bytes.length} bytes is not a multiple of ${size}`);
    for (let o = 0; o < bytes.length; o += size) {
      switch (datatype) {
        case "BOOL":
          out.push(bytes.readUInt8(o) !== 0);
          break;
        case "UINT8":
          out.push(bytes.readUInt8(o));
          break;
        case "INT8":
          out.push(bytes.readInt8(o));
          break;
        case "UINT16":
          out.push(bytes.readUInt16LE(o));
          break;
        case "INT16":
          out.push(bytes.readInt16LE(o));
          break;
        case "UINT32":
          out.push(bytes.readUInt32LE(o));
          break;
        case "INT32":
          out.push(bytes.readInt32LE(o));
          break;
        case "UINT64":
          out.push(Number(bytes.readBigUInt64LE(o)));
          break;
        case "INT64":
          out.push(Number(bytes.readBigInt64LE(o)));
          break;
        case "FP32":
          out.push(bytes.readFloatLE(o));
          break;
        case "FP64":
          out.push(bytes.readDoubleLE(o));
          break;
        case "FP16":
          out.push(fromHalf(bytes.readUInt16LE(o)));
          break;
        case "BF16": {
          const f = Buffer.alloc(4);
          f.writeUInt16LE(bytes.readUInt16LE(o), 2);
          out.push(f.readFloatLE(0));
          break;
        }
      }
    }
  }
  if (expectedElements !== undefined && out.length !== expectedElements) {
    throw new Error(`${datatype} tensor: ${out.length} elements where its shape needs ${expectedElements}`);
  }
  return out;
}

/** IEEE 754 binary16 from a number, rounding to nearest even (as numpy's float16 does). */
export function toHalf(value: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = value;
  const x = u[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
  return sign | half;
}

/**
 * bfloat16 bits from a number: the upper half of its float32, rounded to nearest even (as
 * ml_dtypes.bfloat16, which tritonclient uses since r26.06, converts).
 */
export function toBfloat16(value: number): number {
  const f = new Float32Array([value]);
  const bits = new Uint32Array(f.buffer)[0];
  if (Number.isNaN(value)) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A number from IEEE 754 binary16 bits. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
