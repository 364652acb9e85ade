// An Open Inference Protocol (KServe v2) client on undici: one keep-alive Pool per origin with a
// bounded number of connections, explicit connect / headers / body timeouts, a response-size cap,
// TLS and mTLS. Runtime code: imports nothing from cdktf.
import { Dispatcher, Pool } from "undici";
import { parsePrometheusText, Sample } from "../../core/prometheus-text";
import { decodeInferResponse, encodeInferRequest, HEADER_LENGTH, InferRequest, InferResponse } from "./binary";

export interface TlsOptions {
  /** PEM of the CA that signed the server's certificate. @default - Node's trusted CAs */
  readonly ca?: string | Buffer;
  /** PEM client certificate and key, for mTLS. @default - no client certificate */
  readonly cert?: string | Buffer;
  /** @default - no client key */
  readonly key?: string | Buffer;
  /** SNI / certificate name, when it differs from the URL's host. @default - the URL's host */
  readonly servername?: string;
}

export interface ClientOptions {
  /** Base URL of the server's HTTP endpoint, e.g. http://127.0.0.1:8000. */
  readonly url: string;
  /** Connections kept open to the server. @default 8 */
  readonly connections?: number;
  /** Seconds to connect. @default 5 */
  readonly connectTimeoutSeconds?: number;
  /** Seconds to the response's headers. @default 30 */
  readonly headersTimeoutSeconds?: number;
  /** Longest pause between two chunks of a response body, in seconds. @default 30 */
  readonly bodyTimeoutSeconds?: number;
  /** Larger responses are refused. @default 64 MiB */
  readonly maxResponseBytes?: number;
  /** @default - plain TLS with Node's trusted CAs for https:// */
  readonly tls?: TlsOptions;
  /** Sent on every request (e.g. Authorization). Never printed. @default {} */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What went wrong with a request. `unreachable`: no connection could be made at all; `not-oip`: something answers, but no inference server. */
export type FailureKind = "unreachable" | "not-oip" | "timeout" | "http" | "protocol" | "too-large" | "aborted";

export class OipError extends Error {
  constructor(
    public readonly kind: FailureKind,
    message: string,
    public readonly status?: number,
  ) {
    super(message);
    this.name = "OipError";
  }
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions?: readonly string[];
  readonly platform?: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

/**
 * A health or readiness answer: `ok` only on 200 whose body, if it says anything, says so too
 * (the protocol's `{"live": true}` / `{"ready": true}`; Triton answers 200 with an empty body).
 * `seen` is what came back, for messages.
 */
export interface HealthAnswer {
  readonly ok: boolean;
  readonly seen: string;
  /** The endpoint does not exist there (HTTP 404, gRPC UNIMPLEMENTED): whatever answers is no inference server. @default false */
  readonly missing?: boolean;
}

function healthOf(res: RawResponse, field: "live" | "ready"): HealthAnswer {
  const text = res.body.subarray(0, 200).toString("utf8").replace(/\s+/g, " ").trim();
  const seen = `${res.status}${text ? ` ${text}` : ""}`;
  if (res.status === 404) return { ok: false, seen, missing: true };
  if (res.status !== 200) return { ok: false, seen };
  if (!text) return { ok: true, seen };
  let doc: any;
  try {
    doc = JSON.parse(res.body.toString("utf8"));
  } catch {
    return { ok: false, seen: `${seen} (not JSON)` };
  }
  if (doc && typeof doc === "object" && field in doc && doc[field] !== true) return { ok: false, seen };
  return { ok: true, seen };
}

/** One Prometheus sample: metric name, labels, value. */
/** One sample of a metrics endpoint (the Prometheus text format's, core/prometheus-text). */
export type MetricSample = Sample;

/** A request encoded once, to be sent many times (the probe). */
export interface PreparedInfer {
  readonly model: string;
  readonly version?: string;
  /** The protocol's own encoding: an HTTP body and headers, or a gRPC request message. */
  readonly payload: unknown;
}

/** What the verifier needs of an Open Inference Protocol client, over HTTP/REST or gRPC. */
export interface InferenceClient {
  live(signal?: AbortSignal): Promise<HealthAnswer>;
  ready(signal?: AbortSignal): Promise<HealthAnswer>;
  modelReady(model: string, version?: string, signal?: AbortSignal): Promise<HealthAnswer>;
  modelMetadata(model: string, version?: string, signal?: AbortSignal): Promise<ModelMetadata>;
  infer(model: string, version: string | undefined, req: InferRequest, signal?: AbortSignal): Promise<InferResponse>;
  prepare(model: string, version: string | undefined, req: InferRequest): PreparedInfer;
  inferPrepared(prepared: PreparedInfer, signal?: AbortSignal): Promise<InferResponse>;
  /**
   * Sends a prepared request for the probe: succeeds on a whole answer with the protocol's OK,
   * keeping none of it, so memory does not grow with concurrency x response size.
   */
  probe(prepared: PreparedInfer, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The Open Inference Protocol over HTTP/REST (JSON, or Triton's binary tensor extension). */
export class OipClient implements InferenceClient {
  public readonly url: URL;
  private readonly pool: Pool;
  private readonly maxResponseBytes: number;
  private readonly headers: Record<string, string>;

  constructor(options: ClientOptions) {
    this.url = new URL(options.url);
    if (!["http:", "https:"].includes(this.url.protocol)) {
      throw new OipError("protocol", `unsupported URL scheme ${this.url.protocol} (http or https)`);
    }
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.headers = { ...(options.headers ?? {}) };
    this.pool = new Pool(this.url.origin, {
      connections: options.connections ?? 8,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: (options.headersTimeoutSeconds ?? 30) * 1000,
      bodyTimeout: (options.bodyTimeoutSeconds ?? 30) * 1000,
      connect: {
        timeout: (options.connectTimeoutSeconds ?? 5) * 1000,
        ...(options.tls ?? {}),
      },
    });
  }

  /** `/v2/health/live`: see {@link HealthAnswer}. */
  public async live(signal?: AbortSignal): Promise<HealthAnswer> {
    return healthOf(await this.request("GET", "/v2/health/live", undefined, signal), "live");
  }

  /** `/v2/health/ready`: see {@link HealthAnswer}. */
  public async ready(signal?: AbortSignal): Promise<HealthAnswer> {
    return healthOf(await this.request("GET", "/v2/health/ready", undefined, signal), "ready");
  }

  /** `/v2/models/{m}[/versions/{v}]/ready`. */
  public async modelReady(model: string, version?: string, signal?: AbortSignal): Promise<HealthAnswer> {
    return healthOf(await this.request("GET", `${modelPath(model, version)}/ready`, undefined, signal), "ready");
  }

  /** `/v2/models/{m}[/versions/{v}]`: the model's metadata, checked for shape. */
  public async modelMetadata(model: string, version?: string, signal?: AbortSignal): Promise<ModelMetadata> {
    const doc = this.json(await this.expectOk("GET", modelPath(model, version), undefined, signal));
    const tensors = (x: unknown, what: string): TensorMetadata[] => {
      if (!Array.isArray(x)) throw new OipError("protocol", `model metadata has no ${what} array`);
      return x.map((t: any, i) => {
        if (typeof t?.name !== "string" || typeof t?.datatype !== "string" || !Array.isArray(t?.shape)) {
          throw new OipError("protocol", `model metadata ${what}[${i}] lacks name, datatype or shape`);
        }
        return { name: t.name, datatype: t.datatype, shape: t.shape };
      });
    };
    if (typeof doc?.name !== "string") throw new OipError("protocol", "model metadata has no name");
    if (doc.name !== model)
      throw new OipError(
        "protocol",
        `the metadata is of model ${JSON.stringify(doc.name)}, not ${JSON.stringify(model)}`,
      );
    return {
      name: doc.name,
      versions: doc.versions,
      platform: doc.platform,
      inputs: tensors(doc.inputs, "inputs"),
      outputs: tensors(doc.outputs, "outputs"),
    };
  }

  /** `.../infer`, JSON or binary as the request asks. */
  public async infer(
    model: string,
    version: string | undefined,
    req: InferRequest,
    signal?: AbortSignal,
  ): Promise<InferResponse> {
    const encoded = encodeInferRequest(req);
    return this.inferEncoded(model, version, encoded.body, encoded.headers, signal);
  }

  public prepare(model: string, version: string | undefined, req: InferRequest): PreparedInfer {
    return { model, version, payload: encodeInferRequest(req) };
  }

  public inferPrepared(prepared: PreparedInfer, signal?: AbortSignal): Promise<InferResponse> {
    const { body, headers } = prepared.payload as { body: Buffer; headers: Record<string, string> };
    return this.inferEncoded(prepared.model, prepared.version, body, headers, signal);
  }

  public async probe(prepared: PreparedInfer, signal?: AbortSignal): Promise<void> {
    const { body, headers } = prepared.payload as { body: Buffer; headers: Record<string, string> };
    const res = await this.request(
      "POST",
      `${modelPath(prepared.model, prepared.version)}/infer`,
      { body, headers },
      signal,
      false,
    );
    if (res.status !== 200) throw new OipError("http", `POST .../infer answered ${res.status}`, res.status);
  }

  /** `.../infer` with a body encoded once (the probe sends the same request many times). */
  public async inferEncoded(
    model: string,
    version: string | undefined,
    body: Buffer,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<InferResponse> {
    const res = await this.expectOk("POST", `${modelPath(model, version)}/infer`, { body, headers }, signal);
    const header = res.headers[HEADER_LENGTH];
    try {
      return decodeInferResponse(res.body, header === undefined ? undefined : Number(header));
    } catch (e) {
      throw new OipError("protocol", (e as Error).message);
    }
  }

  /** Sends one request and reads its body up to the size cap. Transport failures become OipErrors. */
  /** `keepBody` false: the body is read to its end (within the cap) and dropped. */
  public async request(
    method: "GET" | "POST",
    path: string,
    payload?: { body: Buffer; headers: Record<string, string> },
    signal?: AbortSignal,
    keepBody = true,
  ): Promise<RawResponse> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method,
        path: this.url.pathname.replace(/\/$/, "") + path,
        headers: { ...this.headers, ...(payload?.headers ?? {}) },
        body: payload?.body,
        signal,
      });
    } catch (e) {
      throw classify(e);
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      res.body.destroy();
      throw new OipError("too-large", `response of ${declared} bytes is over the ${this.maxResponseBytes}-byte cap`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > this.maxResponseBytes) {
          res.body.destroy();
          throw new OipError("too-large", `response body passed the ${this.maxResponseBytes}-byte cap`);
        }
        if (keepBody) chunks.push(chunk);
      }
    } catch (e) {
      throw e instanceof OipError ? e : classify(e);
    }
    return {
      status: res.statusCode,
      headers: res.headers,
      body: keepBody ? Buffer.concat(chunks, size) : Buffer.alloc(0),
    };
  }

  public async close(): Promise<void> {
    await this.pool.close();
  }

  private async expectOk(
    method: "GET" | "POST",
    path: string,
    payload?: { body: Buffer; headers: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<RawResponse> {
    const res = await this.request(method, path, payload, signal);
    if (res.status !== 200) {
      const text = res.body.subarray(0, 300).toString("utf8").replace(/\s+/g, " ");
      throw new OipError("http", `${method} ${path} answered ${res.status}: ${text}`, res.status);
    }
    return res;
  }

  private json(res: RawResponse): any {
    try {
      return JSON.parse(res.body.toString("utf8"));
    } catch (e) {
      throw new OipError("protocol", `response is not valid JSON: ${(e as Error).message}`);
    }
  }
}

/** Scrapes a Prometheus text endpoint (Triton's :8002/metrics) into flat samples. */
export async function scrapeMetrics(
  url: string,
  options: Omit<ClientOptions, "url"> = {},
  signal?: AbortSignal,
): Promise<MetricSample[]> {
  const u = new URL(url);
  const client = new OipClient({ ...options, url: u.origin, connections: 1 });
  try {
    const res = await client.request("GET", u.pathname + u.search, undefined, signal);
    if (res.status !== 200) throw new OipError("http", `GET ${url} answered ${res.status}`, res.status);
    try {
      return parsePrometheusText(res.body.toString("utf8"));
    } catch (e) {
      throw new OipError("protocol", `metrics are not Prometheus text: ${(e as Error).message}`);
    }
  } finally {
    await client.close();
  }
}

function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ""}`;
}

/** Maps undici and socket errors onto what they mean for a verdict. */
function classify(e: unknown): OipError {
  const err = e as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code ?? "";
  const msg = err?.message ?? String(e);
  if (err?.name === "AbortError" || err?.name === "TimeoutError" || code === "ABORT_ERR")
    return new OipError("aborted", "aborted at the deadline");
  if (
    ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"].includes(code)
  ) {
    return new OipError("unreachable", `cannot connect: ${code} ${msg}`);
  }
  // An untrusted or mismatched certificate: we cannot tell a good candidate from a bad one.
  if (/^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_TLS_CERT)/.test(code)) {
    return new OipError("unreachable", `TLS: ${code} ${msg}`);
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT")
    return new OipError("timeout", `${code}: ${msg}`);
  return new OipError("protocol", code ? `${code}: ${msg}` : msg);
}
