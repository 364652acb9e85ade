// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, Triton's port 8001) on
// @grpc/grpc-js, with the protocol's proto shipped in the package (protos/grpc_predict_v2.proto).
// Tensors travel as typed contents, or as raw bytes (those of the HTTP binary extension) when a
// golden case says `binary` or a datatype has no typed form. Runtime code: imports nothing from cdktf.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { packageFile } from "../../core/package-file";
import { InferRequest, InferResponse } from "./binary";
import { ClientOptions, HealthAnswer, InferenceClient, ModelMetadata, OipError, PreparedInfer } from "./client";
import {
  DATATYPES,
  Datatype,
  decodeTensorData,
  elementCount,
  encodeTensorData,
  Tensor,
  TensorData,
} from "../../core/tensor";

/** The shipped proto. */
export const OIP_PROTO_FILE = packageFile(["protos", "grpc_predict_v2.proto"]);

let serviceConstructor: grpc.ServiceClientConstructor | undefined;
function service(): grpc.ServiceClientConstructor {
  if (!serviceConstructor) {
    const definition = protoLoader.loadSync(OIP_PROTO_FILE, {
      keepCase: true,
      longs: Number,
      defaults: true,
      oneofs: true,
    });
    serviceConstructor = (grpc.loadPackageDefinition(definition) as any).inference.GRPCInferenceService;
  }
  return serviceConstructor!;
}

type Method = "ServerLive" | "ServerReady" | "ModelReady" | "ModelMetadata" | "ModelInfer";

export class GrpcOipClient implements InferenceClient {
  public readonly url: URL;
  private readonly client: grpc.Client;
  private readonly callTimeoutMs: number;
  private readonly headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.url = new URL(options.url);
    if (!["http:", "https:"].includes(this.url.protocol)) {
      throw new OipError(
        "protocol",
        `unsupported URL scheme ${this.url.protocol} for gRPC (http for plaintext h2c, https for TLS)`,
      );
    }
    const tls = options.tls;
    const credentials =
      this.url.protocol === "https:"
        ? grpc.credentials.createSsl(
            tls?.ca ? Buffer.from(tls.ca) : null,
            tls?.key ? Buffer.from(tls.key) : null,
            tls?.cert ? Buffer.from(tls.cert) : null,
          )
        : grpc.credentials.createInsecure();
    const port = this.url.port || (this.url.protocol === "https:" ? "443" : "80");
    this.client = new (service())(`${this.url.hostname}:${port}`, credentials, {
      "grpc.max_receive_message_length": options.maxResponseBytes ?? 64 * 1024 * 1024,
      "grpc.max_send_message_length": -1,
      ...(tls?.servername
        ? { "grpc.ssl_target_name_override": tls.servername, "grpc.default_authority": tls.servername }
        : {}),
    });
    this.callTimeoutMs = ((options.connectTimeoutSeconds ?? 5) + (options.headersTimeoutSeconds ?? 30)) * 1000;
    this.headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  }

  public async live(signal?: AbortSignal): Promise<HealthAnswer> {
    return this.health("ServerLive", {}, "live", signal);
  }

  public async ready(signal?: AbortSignal): Promise<HealthAnswer> {
    return this.health("ServerReady", {}, "ready", signal);
  }

  public async modelReady(model: string, version?: string, signal?: AbortSignal): Promise<HealthAnswer> {
    return this.health("ModelReady", { name: model, version: version ?? "" }, "ready", signal);
  }

  public async modelMetadata(model: string, version?: string, signal?: AbortSignal): Promise<ModelMetadata> {
    const res = await this.call<any>("ModelMetadata", { name: model, version: version ?? "" }, signal);
    if (res.name !== model)
      throw new OipError(
        "protocol",
        `the metadata is of model ${JSON.stringify(res.name)}, not ${JSON.stringify(model)}`,
      );
    const tensors = (list: any[]) =>
      list.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
    return {
      name: res.name,
      versions: res.versions,
      platform: res.platform,
      inputs: tensors(res.inputs),
      outputs: tensors(res.outputs),
    };
  }

  public infer(
    model: string,
    version: string | undefined,
    req: InferRequest,
    signal?: AbortSignal,
  ): Promise<InferResponse> {
    return this.inferPrepared(this.prepare(model, version, req), signal);
  }

  /**
   * Inputs as the protocol's typed `contents`, or as `raw_input_contents` (the bytes of the HTTP
   * binary extension) when the request asks for binary inputs or a datatype has no typed field
   * (FP16, BF16). The protocol allows one form or the other for all inputs of a request.
   */
  public prepare(model: string, version: string | undefined, req: InferRequest): PreparedInfer {
    const raw = Boolean(req.binaryInputs) || req.inputs.some((t) => !CONTENTS_FIELD[t.datatype]);
    return {
      model,
      version,
      payload: {
        model_name: model,
        model_version: version ?? "",
        id: req.id ?? "",
        inputs: req.inputs.map((t) => ({
          name: t.name,
          datatype: t.datatype,
          shape: [...t.shape],
          ...(raw ? {} : { contents: toContents(t) }),
        })),
        outputs: (req.outputs ?? []).map((name) => ({ name })),
        raw_input_contents: raw ? req.inputs.map((t) => encodeTensorData(t.datatype, t.data)) : [],
      },
    };
  }

  public async inferPrepared(prepared: PreparedInfer, signal?: AbortSignal): Promise<InferResponse> {
    const res = await this.call<any>("ModelInfer", prepared.payload, signal);
    const raw: Buffer[] = res.raw_output_contents ?? [];
    if (raw.length > 0 && raw.length !== res.outputs.length) {
      throw new OipError("protocol", `${res.outputs.length} outputs but ${raw.length} raw_output_contents`);
    }
    const outputs: Tensor[] = res.outputs.map((o: any, i: number): Tensor => {
      if (!DATATYPES.includes(o.datatype))
        throw new OipError("protocol", `output ${o.name}: unknown datatype ${JSON.stringify(o.datatype)}`);
      const shape = o.shape.map(Number);
      const count = elementCount(shape);
      let data: TensorData;
      try {
        data =
          raw.length > 0 ? decodeTensorData(o.datatype, raw[i], count) : fromContents(o.datatype, o.contents, count);
      } catch (e) {
        throw new OipError("protocol", `output ${o.name}: ${(e as Error).message}`);
      }
      return { name: o.name, datatype: o.datatype as Datatype, shape, data };
    });
    return {
      modelName: res.model_name,
      modelVersion: res.model_version || undefined,
      id: res.id || undefined,
      outputs,
    };
  }

  /** gRPC delivers a message whole (up to the cap); nothing of it is kept. */
  public async probe(prepared: PreparedInfer, signal?: AbortSignal): Promise<void> {
    await this.call<unknown>("ModelInfer", prepared.payload, signal);
  }

  public async close(): Promise<void> {
    this.client.close();
  }

  /** A health call: ok when the field is true; a status other than a transport failure is an answer too. */
  private async health(
    method: Method,
    req: object,
    field: "live" | "ready",
    signal?: AbortSignal,
  ): Promise<HealthAnswer> {
    try {
      const res = await this.call<any>(method, req, signal);
      return { ok: res[field] === true, seen: `${field}: ${res[field]}` };
    } catch (e) {
      if (e instanceof OipError && e.kind === "http")
        return { ok: false, seen: e.message, ...(/UNIMPLEMENTED/.test(e.message) ? { missing: true } : {}) };
      throw e;
    }
  }

  private call<T>(method: Method, req: unknown, signal?: AbortSignal): Promise<T> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new OipError("aborted", "aborted at the deadline"));
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(this.headers)) metadata.set(k, v);
      const onAbort = () => call.cancel();
      const call = (this.client as any)[method](
        req,
        metadata,
        { deadline: Date.now() + this.callTimeoutMs },
        (err: grpc.ServiceError | null, res: T) => {
          signal?.removeEventListener("abort", onAbort);
          if (err) reject(signal?.aborted ? new OipError("aborted", "aborted at the deadline") : classify(err, method));
          else resolve(res);
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** A gRPC status as what it means for a verdict. */
function classify(err: grpc.ServiceError, method: Method): OipError {
  const name = grpc.status[err.code] ?? String(err.code);
  const message = `${method}: gRPC ${name}: ${err.details}`;
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return new OipError("unreachable", `cannot connect: ${message}`);
    case grpc.status.DEADLINE_EXCEEDED:
      return new OipError("timeout", message);
    case grpc.status.CANCELLED:
      return new OipError("aborted", message);
    case grpc.status.RESOURCE_EXHAUSTED:
      return /larger than max/i.test(err.details) ? new OipError("too-large", message) : new OipError("http", message);
    default:
      return new OipError("http", message);
  }
}

/** The typed `contents` field of each datatype; FP16 and BF16 have none (raw bytes only). */
const CONTENTS_FIELD: Record<Datatype, string | undefined> = {
  BOOL: "bool_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  FP16: undefined,
  BF16: undefined,
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
};

function toContents(t: Tensor): Record<string, unknown[]> {
  const field = CONTENTS_FIELD[t.datatype]!;
  const values =
    t.datatype === "BYTES"
      ? t.data.map((v) => Buffer.from(String(v), "utf8"))
      : t.datatype === "BOOL"
        ? t.data.map(Boolean)
        : t.data.map(Number);
  return { [field]: values };
}

/** Elements from the typed `contents` field (servers that do not answer with raw bytes). */
function fromContents(datatype: Datatype, contents: any, count: number): TensorData {
  const field = CONTENTS_FIELD[datatype];
  if (!field) throw new Error(`${datatype} has no typed contents in the protocol: raw_output_contents expected`);
  const values: unknown[] = (contents ?? {})[field] ?? [];
  const data =
    datatype === "BYTES"
      ? values.map((b) => Buffer.from(b as Buffer).toString("utf8"))
      : (values as (number | boolean)[]).map((v) => (typeof v === "boolean" ? v : Number(v)));
  if (data.length !== count) throw new Error(`${data.length} elements where its shape needs ${count}`);
  return data;
}
