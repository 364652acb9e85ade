// The versions of one model that one Triton serves, read and set through Triton's model repository
// API (explicit model control): a load whose configuration is the model's own, as Triton serves
// it, with `version_policy: specific` set to the versions wanted. Loading [N, N+1] adds N+1 beside
// N; loading [N+1] then unloads N. What the chart's postStart hook does at a pod's start
// (charts/triton/files/pin-versions.py), done by the promotion driver on running pods. Runtime
// code: no cdktf here.
import { request } from "undici";

export interface TritonAdmin {
  /** The Triton's HTTP endpoint, e.g. http://127.0.0.1:8000 (a port-forward to one pod). */
  readonly url: string;
  /** The restricted API's header and key, where the chart restricts the repository API. @default - none */
  readonly restricted?: { readonly header: string; readonly key: string };
  /** Per call. @default 120: a load on a GPU can take minutes, and the answer comes when it is done */
  readonly timeoutSeconds?: number;
}

export class ModelVersionsError extends Error {}

async function call(admin: TritonAdmin, method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
  const ms = (admin.timeoutSeconds ?? 120) * 1000;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(admin.restricted ? { [admin.restricted.header]: admin.restricted.key } : {}),
  };
  const res = await request(`${admin.url.replace(/\/$/, "")}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: ms,
    bodyTimeout: ms,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    const hint =
      res.statusCode === 403 ? " (the repository API is restricted: the driver needs the restricted API's key)" : "";
    throw new ModelVersionsError(`${method} ${path} answered ${res.statusCode}${hint}: ${text.slice(0, 300)}`);
  }
  return text ? JSON.parse(text) : undefined;
}

/** The versions of `model` this Triton has READY, ascending. */
export async function servedVersions(admin: TritonAdmin, model: string): Promise<number[]> {
  const index = (await call(admin, "POST", "/v2/repository/index", {})) as {
    name?: string;
    version?: string;
    state?: string;
  }[];
  return index
    .filter((m) => m.name === model && m.state === "READY")
    .map((m) => Number(m.version))
    .sort((a, b) => a - b);
}

/**
 * Has this Triton serve exactly `versions` of `model`: its configuration as Triton serves it now,
 * with the version policy replaced (a load's `config` replaces the model's configuration whole,
 * so it must be the model's own). Returns the versions it serves after the load, checked.
 */
export async function pinVersions(admin: TritonAdmin, model: string, versions: readonly number[]): Promise<number[]> {
  const wanted = [...new Set(versions)].sort((a, b) => a - b);
  if (wanted.length === 0 || wanted.some((v) => !Number.isInteger(v) || v < 1))
    throw new ModelVersionsError(`versions of ${model} must be whole numbers from 1: ${JSON.stringify(versions)}`);
  const path = `/v2/models/${encodeURIComponent(model)}`;
  const config = (await call(admin, "GET", `${path}/config`)) as Record<string, unknown>;
  const current = JSON.stringify(
    (config.version_policy as { specific?: { versions?: unknown[] } })?.specific?.versions?.map(Number),
  );
  if (
    current === JSON.stringify(wanted) &&
    JSON.stringify(await servedVersions(admin, model)) === JSON.stringify(wanted)
  )
    return wanted;
  await call(admin, "POST", `/v2/repository/models/${encodeURIComponent(model)}/load`, {
    parameters: { config: JSON.stringify({ ...config, version_policy: { specific: { versions: wanted } } }) },
  });
  const served = await servedVersions(admin, model);
  if (JSON.stringify(served) !== JSON.stringify(wanted))
    throw new ModelVersionsError(`${model} serves versions [${served}] after a load of [${wanted}]`);
  return served;
}
