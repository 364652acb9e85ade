import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

// Every optional field a user gives (props, options, the verification spec) documents its default
// with @default, so the generated docs and editors say what leaving it out means. Interfaces that
// describe results or internal models are listed here by name; anything new is held to the rule.
const NOT_INPUT = new Set([
  // the promotion driver's own: the stack output it reads, and what its preparation found
  "PairState",
  "Prepared",
  "BackendTarget",
  "RouteModel",
  "ListenerModel",
  "EndpointModel",
  "ClusterModel",
  "EnvoyModel",
  "RenderOptions",
  "InferRequest",
  "InferResponse",
  "ModelMetadata",
  "PreparedInfer",
  "Report",
  "Measurement",
  "MetricSummary",
  "StepRecord",
  "PromotionRecord",
  "VerificationRecord",
  "KubectlRun",
  "DashboardQuery",
  "FailoverEvent",
  "AccessLine",
  "VersionRow",
  "ColorStatus",
  "EnvoyStatus",
  "PairStatus",
  "NamespaceStatus",
  "EnvoyClusterHealth",
  "LatencyBucket",
  "ObservedData",
  "EnvoyLog",
  "AlertRule",
  "RuleGroup",
  "VersionFigures",
  "VerifyFlags",
  "VerifyFlag",
  "ServedWeights",
  "EnvoyPod",
  "WeightMove",
  "EnvoyCounters",
  "EnvoySnapshot",
  "DriverStatus",
  "Holder",
  "Progress",
  "LeaseView",
  "CanaryWeights",
  "GatewayServed",
  "PodScheduling",
  "EnvoyFiles",
]);

function exportedInterfaces(dir: string): { file: string; iface: ts.InterfaceDeclaration; sf: ts.SourceFile }[] {
  const out: { file: string; iface: ts.InterfaceDeclaration; sf: ts.SourceFile }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...exportedInterfaces(p));
    else if (p.endsWith(".ts")) {
      const sf = ts.createSourceFile(p, fs.readFileSync(p, "utf8"), ts.ScriptTarget.ES2022, true);
      sf.forEachChild((n) => {
        if (ts.isInterfaceDeclaration(n) && n.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
          out.push({ file: p, iface: n, sf });
      });
    }
  }
  return out;
}

test("every optional field of every exported input interface has a @default", () => {
  const lib = path.resolve(__dirname, "..", "lib");
  const interfaces = exportedInterfaces(lib);
  expect(interfaces.length).toBeGreaterThan(40);
  const missing = interfaces
    .filter(({ iface }) => !NOT_INPUT.has(iface.name.text))
    .flatMap(({ file, iface, sf }) =>
      iface.members
        .filter((m): m is ts.PropertySignature => ts.isPropertySignature(m) && m.questionToken !== undefined)
        .filter((m) => !ts.getJSDocTags(m).some((t) => t.tagName.text === "default"))
        .map((m) => `${path.relative(lib, file)}: ${iface.name.text}.${m.name.getText(sf)}`),
    );
  expect(missing).toEqual([]);
  // the exclusions are real interfaces (a renamed one would silently escape the rule)
  const names = new Set(interfaces.map(({ iface }) => iface.name.text));
  expect([...NOT_INPUT].filter((n) => !names.has(n))).toEqual([]);
});
