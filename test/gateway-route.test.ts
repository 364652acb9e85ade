import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformVariable } from "cdktf";
import { parse } from "yaml";
import { Backend, GatewayRoute, TritonBlueGreen, TritonValidationError } from "../lib";
import { colorProps, newStack, releaseByName, synthJson, valuesOf } from "./helpers";
import { chartDir } from "../lib/constructs/chart";

const helm = process.env.HELM_BIN ?? path.resolve(__dirname, "..", ".tools", "bin", "helm");
const haveHelm = fs.existsSync(helm);
if (!haveHelm && process.env.CI) throw new Error(`helm not found at ${helm}: run scripts/setup-tools.sh`);

describe("GatewayRoute (Gateway API HTTPRoute with weighted backendRefs)", () => {
  const build = () => {
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: "ml",
      blue: colorProps(),
      green: colorProps({ version: "v2" }),
      active: "blue",
    });
    new GatewayRoute(stack, "clf-route", {
      namespace: "ml",
      parentRefs: [{ name: "inference-gateway", namespace: "gateways" }],
      hostnames: ["clf.ml.example.com"],
      routes: [
        {
          match: { cookies: { variant: "green" } },
          backends: [{ backend: Backend.release(bg.green), weightPercent: 100 }],
        },
        {
          backends: [
            { backend: Backend.release(bg.blue), weightPercent: 80 },
            { backend: Backend.release(bg.green), weightPercent: 20 },
          ],
          mirror: { backend: Backend.service("clf-shadow", { namespace: "ml" }), percent: 10 },
          timeoutSeconds: 5,
        },
      ],
    });
    return synthJson(stack);
  };

  test("is a helm_release of the bundled chart (no CRDs needed at plan) with weighted backendRefs", () => {
    const release = releaseByName(build(), "clf-route");
    expect(release.chart).toMatch(/^assets\/cdktf-triton-gateway-route-chart\/[0-9A-F]+$/);
    expect(valuesOf(release).spec.rules[1]).toEqual({
      filters: [
        {
          type: "RequestMirror",
          requestMirror: { backendRef: { name: "clf-shadow", namespace: "ml", port: 8000 }, percent: 10 },
        },
      ],
      backendRefs: [
        { name: "clf-blue", namespace: "ml", port: 8000, weight: 80 },
        { name: "clf-green", namespace: "ml", port: 8000, weight: 20 },
      ],
      timeouts: { request: "5s" },
    });
  });

  (haveHelm ? test : test.skip)(
    `renders a valid HTTPRoute through helm${haveHelm ? "" : " (skipped: helm not installed)"}`,
    () => {
      const values = valuesOf(releaseByName(build(), "clf-route"));
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "route-"));
      fs.writeFileSync(path.join(dir, "v.json"), JSON.stringify(values));
      const out = execFileSync(
        helm,
        ["template", "clf-route", chartDir("gateway-route"), "-n", "ml", "-f", path.join(dir, "v.json")],
        { encoding: "utf8" },
      );
      fs.rmSync(dir, { recursive: true, force: true });
      const route = parse(out);
      expect(route).toMatchObject({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "clf-route", namespace: "ml" },
      });
      expect(route.spec.parentRefs).toEqual([{ name: "inference-gateway", namespace: "gateways" }]);
      expect(route.spec.rules[0].matches[0].headers[0]).toEqual({
        type: "RegularExpression",
        name: "Cookie",
        value: "(^|.*;\\s*)variant=green(;.*|$)",
      });
      expect(route.spec.rules[1].backendRefs.map((b: any) => b.weight)).toEqual([80, 20]);
      expect(() =>
        execFileSync(helm, ["lint", "--strict", chartDir("gateway-route")], { stdio: "pipe" }),
      ).not.toThrow();
    },
  );

  test("refuses backends outside the cluster, naming the field", () => {
    const { stack } = newStack();
    expect(
      () =>
        new GatewayRoute(stack, "r", {
          parentRefs: [{ name: "gw" }],
          routes: [{ backends: [{ backend: Backend.external("https://triton.example.com"), weightPercent: 100 }] }],
        }),
    ).toThrow(TritonValidationError);
    expect(() => new GatewayRoute(newStack().stack, "r", { parentRefs: [], routes: [] })).toThrow(
      /parentRefs = \[\] is invalid: expected at least one Gateway/,
    );
  });

  test("a namespace given as a Terraform expression reaches backendRefs whole (found on a real API server)", () => {
    const { stack } = newStack();
    const ns = new TerraformVariable(stack, "ns", { type: "string" });
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: ns.stringValue,
      blue: colorProps(),
      green: colorProps({ version: "v2" }),
      active: "blue",
    });
    new GatewayRoute(stack, "clf-route", {
      namespace: "ml",
      parentRefs: [{ name: "gw" }],
      routes: [
        {
          backends: [
            { backend: Backend.release(bg.blue), weightPercent: 50 },
            { backend: Backend.release(bg.green), weightPercent: 50 },
          ],
        },
      ],
    });
    const values = valuesOf(releaseByName(synthJson(stack), "clf-route"));
    expect(values.spec.rules[0].backendRefs.map((b: any) => [b.name, b.namespace])).toEqual([
      ["clf-blue", "${var.ns}"],
      ["clf-green", "${var.ns}"],
    ]);
  });
});
