import * as fs from "fs";
import * as path from "path";
import { Backend, FailoverPool, TritonValidationError, WeightedService } from "../lib";
import { ENVOY_ADMIN_PORT } from "../lib/core/envoy";
import { failoverPoolModel, FailoverPoolProps } from "../lib/constructs/failover/failover-pool-model";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { ENVOY_OPS_PORT } from "../lib/constructs/traffic/envoy-deployment";
import { weightedRoutesModel, WeightedRoutesProps } from "../lib/constructs/traffic/weighted-routes";
import { PropValidator } from "../lib/constructs/validation";
import { newStack, thrownBy } from "./helpers";
import { validateEnvoy } from "./peers/envoy";

// The wrong inputs of the Envoy data plane, each asked twice: of our check (refused at synth, naming
// the field) and of Envoy itself, with our check bypassed (the configuration rendered anyway and
// given to the real Envoy 1.40's `--mode validate`). A row Envoy accepts is the reason our check
// exists: Envoy would have run it. docs/invalid-props.md's table "What Envoy alone does" is this list.

/** Records problems and lets the renderer go on: our check bypassed. */
class Bypass extends PropValidator {
  public throwIfInvalid(): void {
    /* bypassed */
  }
}

type Row = {
  readonly name: string;
  readonly field: string;
  readonly envoy: "refuses" | "accepts";
} & (
  | {
      readonly kind: "routes";
      readonly props: WeightedRoutesProps;
      readonly httpPort?: number;
      readonly grpcPort?: number;
    }
  | { readonly kind: "pool"; readonly props: FailoverPoolProps }
);

const a = Backend.address("a", "10.0.0.1", 8000);
const b = Backend.address("b", "10.0.0.2", 8000);
const route = (extra: object = {}) => ({ backends: [{ backend: a, weightPercent: 100 }], ...extra });
const pool = (extra: Partial<FailoverPoolProps> = {}): FailoverPoolProps => ({
  tiers: [{ name: "primary", endpoints: [{ backend: a }] }],
  ...extra,
});

const ENVOY_ROWS: readonly Row[] = [
  {
    name: "success-rate ejection with a negative stdev factor",
    field: "outlierDetection.successRate.stdevFactor",
    envoy: "refuses",
    kind: "pool",
    props: pool({ outlierDetection: { successRate: { stdevFactor: -1 } } }),
  },
  {
    name: "a route timeout in milliseconds as 0.1 wrote it (30000)",
    field: "routes[0].timeoutSeconds",
    envoy: "accepts",
    kind: "routes",
    props: { routes: [route({ timeoutSeconds: 30000 })] },
  },
  {
    name: "literal weights summing to 90",
    field: "routes[0].backends",
    envoy: "accepts",
    kind: "routes",
    props: {
      routes: [
        {
          backends: [
            { backend: a, weightPercent: 70 },
            { backend: b, weightPercent: 20 },
          ],
        },
      ],
    },
  },
  {
    name: "a backend on port 70000",
    field: "routes[0].backends[0].backend.httpPort",
    envoy: "refuses",
    kind: "routes",
    props: { routes: [{ backends: [{ backend: Backend.address("far", "10.0.0.9", 70000), weightPercent: 100 }] }] },
  },
  {
    name: "a mirror to a backend on port 0",
    field: "routes[0].mirror.backend.httpPort",
    envoy: "accepts",
    kind: "routes",
    props: { routes: [route({ mirror: { backend: Backend.address("m", "10.0.0.8", 0), percent: 10 } })] },
  },
  {
    name: "httpPort on Envoy's ops port",
    field: "httpPort",
    envoy: "refuses",
    kind: "routes",
    props: { routes: [route()] },
    httpPort: ENVOY_OPS_PORT,
  },
  {
    name: "httpPort on Envoy's admin port",
    field: "httpPort",
    envoy: "accepts",
    kind: "routes",
    props: { routes: [route()] },
    httpPort: ENVOY_ADMIN_PORT,
  },
  {
    name: "an access log sampling 0 %",
    field: "accessLog.sampledPercent",
    envoy: "accepts",
    kind: "routes",
    props: { routes: [route()], accessLog: { sampledPercent: 0 } },
  },
  {
    name: "two routes with one name (one runtime key for both)",
    field: "routes[1].name",
    envoy: "accepts",
    kind: "routes",
    props: {
      routes: [route({ name: "scores", match: { headers: { "x-team": "a" } } }), route({ name: "scores" })],
    },
  },
  {
    name: "a route name with a dot (a nested runtime key)",
    field: "routes[0].name",
    envoy: "accepts",
    kind: "routes",
    props: { routes: [route({ name: "scores.v2" })] },
  },
  {
    name: "a retry condition Envoy does not have (5xx, timeout)",
    field: "retries.retryOn",
    envoy: "accepts",
    kind: "pool",
    props: pool({ retries: { retryOn: "5xx,timeout" } }),
  },
  {
    name: "two failover tiers with one name",
    field: "tiers[1].name",
    envoy: "accepts",
    kind: "pool",
    props: pool({
      tiers: [
        { name: "primary", endpoints: [{ backend: a }] },
        { name: "primary", endpoints: [{ backend: b }] },
      ],
    }),
  },
  {
    name: "a health-check interval finer than a millisecond",
    field: "healthCheck.intervalSeconds",
    envoy: "accepts",
    kind: "pool",
    props: pool({ healthCheck: { intervalSeconds: 0.0005 } }),
  },
  {
    name: "grpcPort equal to httpPort",
    field: "grpcPort",
    envoy: "refuses",
    kind: "routes",
    props: {
      routes: [{ backends: [{ backend: Backend.address("g", "10.0.0.5", 8000, 8001), weightPercent: 100 }] }],
    },
    httpPort: 8000,
    grpcPort: 8000,
  },
  {
    name: "an external backend with a path (silently dropped)",
    field: "routes[0].backends[0].backend.url",
    envoy: "accepts",
    kind: "routes",
    props: {
      routes: [{ backends: [{ backend: Backend.external("https://triton.example.com/v2"), weightPercent: 100 }] }],
    },
  },
  {
    name: "caFile with an http:// URL (TLS silently dropped)",
    field: "routes[0].backends[0].backend.caFile",
    envoy: "accepts",
    kind: "routes",
    props: {
      routes: [
        {
          backends: [
            { backend: Backend.external("http://triton.example.com", { caFile: "/etc/ca.pem" }), weightPercent: 100 },
          ],
        },
      ],
    },
  },
  {
    name: "an unknown load-balancing policy",
    field: "loadBalancing",
    envoy: "accepts",
    kind: "pool",
    props: pool({ loadBalancing: "random" as never }),
  },
];

/** The configuration `row` renders with our check bypassed. */
function renderBypassed(row: Row) {
  const v = new Bypass("bypassed");
  const model =
    row.kind === "routes" ? weightedRoutesModel("split", row.props, v) : failoverPoolModel("pool", row.props, v);
  return renderEnvoy(model, {
    configDir: "/etc/envoy",
    opsPort: ENVOY_OPS_PORT,
    portOverrides:
      row.kind === "routes" && row.httpPort
        ? { "split-http": row.httpPort, ...(row.grpcPort ? { "split-grpc": row.grpcPort } : {}) }
        : undefined,
  });
}

describe("each wrong Envoy input: our check refuses it; Envoy alone refuses or takes it, as the docs say", () => {
  test.each(ENVOY_ROWS.map((r) => [r.name, r] as const))("%s", (_name, row) => {
    // Ours: the construct a stack would use refuses it at synth, naming the field.
    const { stack } = newStack();
    const error = thrownBy(() =>
      row.kind === "routes"
        ? new WeightedService(stack, "split", { ...row.props, httpPort: row.httpPort, grpcPort: row.grpcPort })
        : new FailoverPool(stack, "pool", row.props),
    );
    expect(error).toBeInstanceOf(TritonValidationError);
    expect((error as Error).message).toContain(`${row.field} = `);
    // Envoy's own verdict on the configuration our check would have refused.
    const r = validateEnvoy(renderBypassed(row));
    expect({ row: row.name, envoy: r.ok ? "accepts" : "refuses" }).toEqual({ row: row.name, envoy: row.envoy });
  });

  test("docs/invalid-props.md lists every row with Envoy's verdict", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "docs", "invalid-props.md"), "utf8");
    for (const row of ENVOY_ROWS)
      expect(doc).toContain(
        `| ${row.name} | \`${row.field}\` | Envoy ${row.envoy} it${row.envoy === "refuses" ? "" : " (our check is the only one)"} |`,
      );
  });
});
