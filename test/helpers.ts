import { App, TerraformStack, Testing } from "cdktf";
import { ModelRepository, TritonColorProps } from "../lib";

/** A fresh app and stack per test (Testing.app gives a temp outdir and stable ids). */
export function newStack(id = "test"): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, id);
  return { app, stack };
}

/** The synthesized Terraform JSON of a stack, parsed. */
export function synthJson(stack: TerraformStack): any {
  return JSON.parse(Testing.synth(stack));
}

/** The only (or named) resource of a type in synthesized JSON. */
export function resourcesOf(json: any, type: string): any[] {
  return Object.values(json.resource?.[type] ?? {});
}

export function releaseByName(json: any, name: string): any {
  const r = resourcesOf(json, "helm_release").find((x) => x.name === name);
  if (!r) throw new Error(`no helm_release named ${name}`);
  return r;
}

export function serviceByName(json: any, name: string): any {
  const s = resourcesOf(json, "kubernetes_service_v1").find((x) => x.metadata.name === name);
  if (!s) throw new Error(`no kubernetes_service_v1 named ${name}`);
  return s;
}

/** The chart values a helm_release carries. */
export function valuesOf(release: any): any {
  return JSON.parse(release.values[0]);
}

export const s3Models = ModelRepository.objectStore("s3://models/classifier");

export function colorProps(overrides: Partial<TritonColorProps> = {}): TritonColorProps {
  return { version: "v1", modelRepository: s3Models, ...overrides };
}

/** What `fn` throws (undefined when it does not). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
