import { App, Op, TerraformStack, TerraformVariable } from "cdktf";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { HelmProvider } from "@cdktf/provider-helm/lib/provider";
import { Backend, GatewayRoute, WeightedService } from "../../lib";
import { kubeconfig } from "./engine";

// The stack of test/e2e/weights.test.ts (its own module for scripts/synth-fingerprint.ts).
export function weightsStack(app: App, id: string): TerraformStack {
  const s = new TerraformStack(app, id);
  new KubernetesProvider(s, "kubernetes", { configPath: kubeconfig });
  const stable = new TerraformVariable(s, "stable", { type: "number", default: 100 });
  const canary = new TerraformVariable(s, "canary", { type: "number", default: 0 });
  const blue = Backend.address("blue", "blue.ml.svc.cluster.local", 8000, 8001);
  const green = Backend.address("green", "green.ml.svc.cluster.local", 8000, 8001);
  // Two independent variables (the sum can be wrong), and the usual form (it cannot be).
  new WeightedService(s, "split", {
    namespace: "ml",
    routes: [
      {
        backends: [
          { backend: blue, weightPercent: stable.numberValue },
          { backend: green, weightPercent: canary.numberValue },
        ],
      },
    ],
  });
  new HelmProvider(s, "helm", { kubernetes: { configPath: kubeconfig } });
  const svc = (name: string) => Backend.service(name, { namespace: "ml" });
  new GatewayRoute(s, "route", {
    namespace: "ml",
    parentRefs: [{ name: "gw" }],
    routes: [
      {
        backends: [
          { backend: svc("blue"), weightPercent: stable.numberValue },
          { backend: svc("green"), weightPercent: canary.numberValue },
        ],
      },
    ],
  });
  new WeightedService(s, "complement", {
    namespace: "ml",
    routes: [
      {
        backends: [
          { backend: blue, weightPercent: Op.sub(100, canary.numberValue) },
          { backend: green, weightPercent: canary.numberValue },
        ],
      },
    ],
  });
  return s;
}
