// Framing of inference requests and responses: JSON, or JSON plus Triton's binary tensor data
// extension (the JSON header's length in Inference-Header-Content-Length, then each binary tensor's
// bytes in order).
import {
  DATATYPES,
  Datatype,
  decodeTensorData,
  elementCount,
  encodeTensorData,
  Tensor,
  TensorData,
} from "../../core/tensor";

export const HEADER_LENGTH = "inference-header-content-length";

export interface InferRequest {
  readonly id?: string;
  readonly inputs: readonly Tensor[];
  /** Outputs to return; all when absent. */
  readonly outputs?: readonly string[];
  /** Send input tensors as binary data. */
  readonly binaryInputs?: boolean;
  /** Ask for output tensors as binary data. */
  readonly binaryOutputs?: boolean;
}

export interface EncodedRequest {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

export interface InferResponse {
  readonly modelName?: string;
  readonly modelVersion?: string;
  readonly id?: string;
  readonly outputs: Tensor[];
}

/**
 * Encodes a request. The JSON header has the key order and compact form of tritonclient's
 * `generate_request_body`, so the bytes match its vectors exactly.
 */
export function encodeInferRequest(req: InferRequest): EncodedRequest {
  const binary = Boolean(req.binaryInputs || req.binaryOutputs);
  const blobs: Buffer[] = [];
  const inputs = req.inputs.map((t) => {
    if (req.binaryInputs) {
      const raw = encodeTensorData(t.datatype, t.data);
      blobs.push(raw);
      return { name: t.name, shape: [...t.shape], datatype: t.datatype, parameters: { binary_data_size: raw.length } };
    }
    return { name: t.name, shape: [...t.shape], datatype: t.datatype, data: t.data };
  });
  const doc: Record<string, unknown> = {};
  if (req.id) doc.id = req.id;
  doc.inputs = inputs;
  const parameters: Record<string, unknown> = {};
  if (req.outputs && req.outputs.length > 0) {
    doc.outputs = req.outputs.map((name) =>
      req.binaryOutputs ? { name, parameters: { binary_data: true } } : { name },
    );
  } else if (req.binaryOutputs) {
    parameters.binary_data_output = true;
  }
  if (Object.keys(parameters).length > 0) doc.parameters = parameters;

  if (!binary) {
    return { body: Buffer.from(JSON.stringify(doc)), headers: { "content-type": "application/json" } };
  }
  const header = Buffer.from(JSON.stringify(doc), "utf8");
  return {
    body: Buffer.concat([header, ...blobs]),
    headers: { "content-type": "application/octet-stream", [HEADER_LENGTH]: String(header.length) },
  };
}

/**
 * Decodes a response body. `headerLength` is the Inference-Header-Content-Length header's value,
 * when the server sent one. Every inconsistency (bad JSON, unknown datatype, element count that
 * does not fit the shape, binary sizes that do not add up) throws: a malformed answer is never
 * taken as an answer.
 */
export function decodeInferResponse(body: Buffer, headerLength?: number): InferResponse {
  const jsonEnd = headerLength ?? body.length;
  if (!Number.isInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.length) {
    throw new Error(`Inference-Header-Content-Length ${headerLength} does not fit a ${body.length}-byte body`);
  }
  let doc: any;
  try {
    doc = JSON.parse(body.subarray(0, jsonEnd).toString("utf8"));
  } catch (e) {
    throw new Error(`response is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray(doc.outputs)) {
    throw new Error("response has no outputs array");
  }
  let offset = jsonEnd;
  const outputs = doc.outputs.map((o: any, i: number): Tensor => {
    const where = `output ${i} (${JSON.stringify(o?.name)})`;
    if (typeof o?.name !== "string") throw new Error(`${where}: no name`);
    if (!DATATYPES.includes(o.datatype)) throw new Error(`${where}: unknown datatype ${JSON.stringify(o.datatype)}`);
    if (!Array.isArray(o.shape) || !o.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0)) {
      throw new Error(`${where}: bad shape ${JSON.stringify(o.shape)}`);
    }
    const count = elementCount(o.shape);
    const size = o.parameters?.binary_data_size;
    let data: TensorData;
    if (size !== undefined) {
      if (!Number.isInteger(size) || size < 0 || offset + size > body.length) {
        throw new Error(`${where}: binary_data_size ${size} runs past the end of the body`);
      }
      data = decodeTensorData(o.datatype as Datatype, body.subarray(offset, offset + size), count);
      offset += size;
    } else {
      if (!Array.isArray(o.data)) throw new Error(`${where}: neither data nor binary_data_size`);
      data = flatten(o.data);
      if (data.length !== count)
        throw new Error(`${where}: ${data.length} elements where shape ${JSON.stringify(o.shape)} needs ${count}`);
      checkJsonElements(o.datatype, data, where);
    }
    return { name: o.name, datatype: o.datatype, shape: o.shape, data };
  });
  if (offset !== body.length) throw new Error(`${body.length - offset} bytes after the last binary output`);
  return { modelName: doc.model_name, modelVersion: doc.model_version, id: doc.id, outputs };
}

/** The JSON encoding of tensor data may nest; the protocol allows both forms. */
function flatten(data: unknown[]): TensorData {
  const out: TensorData = [];
  const walk = (x: unknown) => (Array.isArray(x) ? x.forEach(walk) : out.push(x as number | boolean | string));
  walk(data);
  return out;
}

function checkJsonElements(datatype: Datatype, data: TensorData, where: string): void {
  const ok =
    datatype === "BYTES"
      ? data.every((v) => typeof v === "string")
      : datatype === "BOOL"
        ? data.every((v) => typeof v === "boolean")
        : data.every((v) => typeof v === "number");
  if (!ok) throw new Error(`${where}: elements do not match datatype ${datatype}`);
}
