import "cdktf/lib/testing/adapters/jest";
import { Op, TerraformVariable } from "cdktf";
import { parse } from "yaml";
import { Backend, FailoverPool, TritonBlueGreen, TritonValidationError, WeightedService } from "../lib";
import { colorProps, newStack, resourcesOf, synthJson } from "./helpers";

describe("WeightedService and FailoverPool in the cluster", () => {
  test("a canary between the two colors of a TritonBlueGreen: ConfigMap, hardened Deployment, Service, PDB", () => {
    // Given a blue/green pair and a 90/10 canary across its releases
    const { stack } = newStack();
    const bg = new TritonBlueGreen(stack, "clf", {
      namespace: "ml",
      blue: colorProps(),
      green: colorProps({ version: "v2" }),
      active: "blue",
    });
    new WeightedService(stack, "clf-canary", {
      namespace: "ml",
      routes: [
        {
          backends: [
            { backend: Backend.release(bg.blue), weightPercent: 90 },
            { backend: Backend.release(bg.green), weightPercent: 10 },
          ],
        },
      ],
    });
    const json = synthJson(stack);

    // Then the ConfigMap carries Envoy's files, with clusters pointing at each color's Service
    const [cm] = resourcesOf(json, "kubernetes_config_map_v1");
    expect(cm.metadata).toMatchObject({ name: "clf-canary", namespace: "ml" });
    const cds = parse(cm.data["cds.yaml"]);
    expect(
      cds.resources.map((c: any) => [
        c.name,
        c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address,
      ]),
    ).toEqual([
      ["clf-blue-http", { address: "clf-blue.ml.svc.cluster.local", port_value: 8000 }],
      ["clf-blue-grpc", { address: "clf-blue.ml.svc.cluster.local", port_value: 8001 }],
      ["clf-green-http", { address: "clf-green.ml.svc.cluster.local", port_value: 8000 }],
      ["clf-green-grpc", { address: "clf-green.ml.svc.cluster.local", port_value: 8001 }],
    ]);
    const lds = parse(cm.data["lds.yaml"]);
    // Each listener takes its routes from the watched route tables (RDS): a weight change reaches open connections too
    expect(lds.resources[0].filter_chains[0].filters[0].typed_config.rds).toEqual({
      route_config_name: "clf-canary-http",
      config_source: {
        resource_api_version: "V3",
        path_config_source: { path: "/etc/envoy/rds-0.yaml", watched_directory: { path: "/etc/envoy" } },
      },
    });
    // One route table per file (Envoy's file subscription wants one), each with the weights as its version
    const rds = ["rds-0.yaml", "rds-1.yaml"].map((f) => parse(cm.data[f]));
    expect(rds.map((r) => [r.version_info, r.resources.map((t: any) => t.name)])).toEqual([
      ["weights route-0: clf-blue=90, clf-green=10", ["clf-canary-http"]],
      ["weights route-0: clf-blue=90, clf-green=10", ["clf-canary-grpc"]],
    ]);
    const routes = rds[0].resources[0].virtual_hosts[0].routes;
    // The readiness chain's hop to the gRPC listener, then Triton's administrative APIs refused, before any weighted route
    expect(routes[0]).toEqual({ match: { path: "/.cdktf-triton/ready" }, route: { cluster: "ready-listener-1" } });
    expect(routes.slice(1, 4)).toEqual(
      ["/v2/repository", "/v2/trace", "/v2/logging"].map((prefix) => ({
        match: { prefix },
        direct_response: { status: 403, body: { inline_string: expect.stringContaining("administrative API") } },
      })),
    );
    const route = routes[4];
    // The weights, and the runtime keys that can move them at once (`weights.<route>.<cluster>`).
    expect(route.route.weighted_clusters).toEqual({
      runtime_key_prefix: "weights.route-0",
      clusters: [
        { name: "clf-blue-http", weight: 90 },
        { name: "clf-green-http", weight: 10 },
      ],
    });
    const bootstrap = parse(cm.data["envoy.yaml"]);
    expect(bootstrap.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 9901 });
    // One runtime layer, the admin's: what /runtime_modify writes.
    expect(bootstrap.layered_runtime).toEqual({ layers: [{ name: "admin", admin_layer: {} }] });
    expect(bootstrap.dynamic_resources.lds_config.path_config_source).toEqual({
      path: "/etc/envoy/lds.yaml",
      watched_directory: { path: "/etc/envoy" },
    });

    // And the Deployment is hardened, probed on the ops port, and mounts the ConfigMap
    const [dep] = resourcesOf(json, "kubernetes_deployment_v1");
    const pod = dep.spec.template.spec;
    const c = pod.container[0];
    expect(c.image).toBe("envoyproxy/envoy:v1.40.0");
    expect(c.security_context).toEqual({
      allow_privilege_escalation: false,
      read_only_root_filesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.security_context).toMatchObject({ run_as_non_root: true });
    expect(c.readiness_probe.http_get).toEqual({ path: "/ready", port: "9902" });
    expect(c.liveness_probe.http_get).toEqual({ path: "/live", port: "9902" });
    // The last listener answers the readiness chain: every cluster loaded
    const grpcFilters = lds.resources[1].filter_chains[0].filters[0].typed_config.http_filters;
    expect(grpcFilters[0].typed_config).toMatchObject({
      pass_through_mode: false,
      headers: [{ name: ":path", string_match: { exact: "/.cdktf-triton/ready" } }],
      cluster_min_healthy_percentages: {
        "clf-blue-http": { value: 0 },
        "clf-blue-grpc": { value: 0 },
        "clf-green-http": { value: 0 },
        "clf-green-grpc": { value: 0 },
      },
    });
    expect(c.volume_mount).toContainEqual({ name: "config", mount_path: "/etc/envoy", read_only: true });
    expect(pod.volume).toContainEqual({ name: "config", config_map: { name: "clf-canary" } });
    expect(dep.spec.template.metadata.annotations["prometheus.io/path"]).toBe("/stats/prometheus");
    const svc = resourcesOf(json, "kubernetes_service_v1").find((s) => s.metadata.name === "clf-canary");
    expect(svc.spec.port.map((p: any) => [p.name, p.port])).toEqual([
      ["http", 8000],
      ["grpc", 8001],
      ["metrics", 9902],
    ]);
    expect(resourcesOf(json, "kubernetes_pod_disruption_budget_v1")[0].spec.max_unavailable).toBe("1");
  });

  test("weights from Terraform variables: interpolated into Envoy's file, summed by a precondition at plan (test/e2e/weights.test.ts runs it)", () => {
    const { stack } = newStack();
    const canary = new TerraformVariable(stack, "canary", { type: "number", default: 10 });
    const a = Backend.address("a", "a.ml", 8000);
    const b = Backend.address("b", "b.ml", 8000);
    new WeightedService(stack, "split", {
      routes: [
        {
          backends: [
            { backend: a, weightPercent: Op.sub(100, canary.numberValue) },
            { backend: b, weightPercent: canary.numberValue },
          ],
        },
      ],
    });
    new WeightedService(stack, "fixed", {
      name: "fixed",
      routes: [{ backends: [{ backend: a, weightPercent: 100 }] }],
    });
    const json = synthJson(stack);
    const maps = resourcesOf(json, "kubernetes_config_map_v1");
    const [split, fixed] = ["split", "fixed"].map((n) => maps.find((m) => m.metadata.name === n));
    const route = parse(split.data["rds-0.yaml"]).resources[0].virtual_hosts[0].routes.find(
      (r: any) => r.name === "route-0",
    );
    expect(route.route.weighted_clusters.clusters).toEqual([
      { name: "a-http", weight: "${(100 - var.canary)}" },
      { name: "b-http", weight: "${var.canary}" },
    ]);
    expect(split.lifecycle.precondition).toEqual([
      {
        condition:
          "${(((((0 + (100 - var.canary)) + var.canary) == 100) && ((((100 - var.canary) > -1) && ((100 - var.canary) <= 100)) && (floor((100 - var.canary)) == (100 - var.canary)))) && (((var.canary > -1) && (var.canary <= 100)) && (floor(var.canary) == var.canary)))}",
        error_message:
          "test/split: routes[0].backends: the weightPercent values are ${(100 - var.canary)}, ${var.canary} (sum ${((0 + (100 - var.canary)) + var.canary)}): each must be a whole number from 0 to 100 and they must sum to 100.",
      },
    ]);
    expect(fixed.lifecycle).toBeUndefined(); // literal weights are checked at synth
  });

  test("a weight change touches only the watched files, so Envoy reloads instead of restarting", () => {
    const annotations = (blue: number) => {
      const { stack } = newStack();
      new WeightedService(stack, "w", {
        routes: [
          {
            backends: [
              { backend: Backend.service("a"), weightPercent: blue },
              { backend: Backend.service("b"), weightPercent: 100 - blue },
            ],
          },
        ],
      });
      const json = synthJson(stack);
      return [
        resourcesOf(json, "kubernetes_deployment_v1")[0].spec.template.metadata.annotations,
        resourcesOf(json, "kubernetes_config_map_v1")[0].data["rds-0.yaml"],
      ];
    };
    const [a1, lds1] = annotations(100);
    const [a2, lds2] = annotations(0);
    expect(a1).toEqual(a2);
    expect(lds1).not.toEqual(lds2);
  });

  test("a failover pool renders tiers as priorities with health checks, ejection, retries on another host and tier", () => {
    const { stack } = newStack();
    new FailoverPool(stack, "pool", {
      tiers: [
        {
          name: "primary",
          endpoints: [{ backend: Backend.service("triton-a", { namespace: "ml" }), region: "eu-west-1", zone: "a" }],
        },
        {
          name: "backup",
          endpoints: [
            {
              backend: Backend.external("https://triton.us-east-1.example.com", { name: "us-east" }),
              weight: 2,
              region: "us-east-1",
            },
          ],
        },
      ],
      healthCheck: { intervalSeconds: 2, unhealthyThreshold: 3, healthyThreshold: 2 },
      outlierDetection: { consecutive5xx: 5, baseEjectionTimeSeconds: 60 },
      rateLimit: { maxTokens: 200, tokensPerFill: 100, fillIntervalSeconds: 1 },
    });
    const files = resourcesOf(synthJson(stack), "kubernetes_config_map_v1")[0].data;
    const [cluster] = parse(files["cds.yaml"]).resources;
    expect(
      cluster.load_assignment.endpoints.map((e: any) => [
        e.priority,
        e.locality,
        e.lb_endpoints[0].endpoint.address.socket_address.address,
        e.lb_endpoints[0].load_balancing_weight,
      ]),
    ).toEqual([
      [0, { region: "eu-west-1", zone: "a" }, "triton-a.ml.svc.cluster.local", 1],
      [1, { region: "us-east-1", zone: "" }, "triton.us-east-1.example.com", 2],
    ]);
    expect(cluster.health_checks[0]).toMatchObject({
      interval: "2s",
      unhealthy_threshold: 3,
      healthy_threshold: 2,
      http_health_check: { path: "/v2/health/ready" },
    });
    expect(cluster.outlier_detection).toMatchObject({ consecutive_5xx: 5, base_ejection_time: "60s" });
    expect(cluster.common_lb_config.healthy_panic_threshold).toEqual({ value: 0 });
    // The in-cluster endpoint is plaintext; the other region's speaks TLS with its SNI
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].metadata).toBeUndefined();
    expect(cluster.load_assignment.endpoints[1].lb_endpoints[0].metadata).toEqual({
      filter_metadata: { "envoy.transport_socket_match": { tls: "triton.us-east-1.example.com" } },
    });
    expect(cluster.transport_socket_matches).toEqual([
      {
        name: "tls-triton.us-east-1.example.com",
        match: { tls: "triton.us-east-1.example.com" },
        transport_socket: {
          name: "envoy.transport_sockets.tls",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            sni: "triton.us-east-1.example.com",
            common_tls_context: {
              validation_context: {
                trusted_ca: { filename: "/etc/ssl/certs/ca-certificates.crt" },
                match_typed_subject_alt_names: [
                  { san_type: "DNS", matcher: { exact: "triton.us-east-1.example.com" } },
                ],
              },
            },
          },
        },
      },
    ]);
    const listener = parse(files["lds.yaml"]).resources[0];
    const hcm = listener.filter_chains[0].filters[0].typed_config;
    const table = parse(files["rds-0.yaml"]).resources[0];
    // Readiness first (never rate limited), then the rate limit
    expect(hcm.http_filters.map((f: any) => f.name)).toEqual([
      "envoy.filters.http.health_check",
      "envoy.filters.http.local_ratelimit",
      "envoy.filters.http.router",
    ]);
    const retry = table.virtual_hosts[0].routes.find((r: any) => r.route).route.retry_policy;
    expect(retry.retry_host_predicate[0].name).toBe("envoy.retry_host_predicates.previous_hosts");
    expect(retry.retry_priority.name).toBe("envoy.retry_priorities.previous_priorities");
  });

  type Case = [string, () => void, string];
  const service =
    (routes: any, extra: any = {}) =>
    () =>
      new WeightedService(newStack().stack, "w", { routes, ...extra });
  const pool =
    (tiers: any, extra: any = {}) =>
    () =>
      new FailoverPool(newStack().stack, "p", { tiers, ...extra });
  const a = Backend.service("a");
  const b = Backend.service("b");
  const cases: Case[] = [
    [
      "weights not summing to 100",
      service([
        {
          backends: [
            { backend: a, weightPercent: 60 },
            { backend: b, weightPercent: 30 },
          ],
        },
      ]),
      'routes[0].backends = "weights summing to 90" is invalid: expected weightPercent values summing to 100',
    ],
    [
      "a weight over 100",
      service([{ backends: [{ backend: a, weightPercent: 120 }] }]),
      "routes[0].backends[0].weightPercent = 120 is invalid: expected an integer from 0 to 100",
    ],
    [
      "a route without backends",
      service([{ backends: [] }]),
      "routes[0].backends = [] is invalid: expected at least one backend",
    ],
    ["no routes", service([]), "routes = [] is invalid: expected at least one route"],
    [
      "the same backend twice",
      service([
        {
          backends: [
            { backend: a, weightPercent: 50 },
            { backend: a, weightPercent: 50 },
          ],
        },
      ]),
      'routes[0].backends[1].backend = "a.default" is invalid: expected a backend not already in this route',
    ],
    [
      "a catch-all route before others",
      service([
        { backends: [{ backend: a, weightPercent: 100 }] },
        { match: { headers: { x: "1" } }, backends: [{ backend: b, weightPercent: 100 }] },
      ]),
      "routes[0].match = undefined is invalid: expected a match",
    ],
    [
      "mirroring to a route's own backend",
      service([{ backends: [{ backend: a, weightPercent: 100 }], mirror: { backend: a, percent: 10 } }]),
      'routes[0].mirror.backend = "a.default" is invalid: expected a shadow backend',
    ],
    [
      "a mirror percent of 0",
      service([{ backends: [{ backend: a, weightPercent: 100 }], mirror: { backend: b, percent: 0 } }]),
      "routes[0].mirror.percent = 0 is invalid: expected an integer from 1 to 100",
    ],
    [
      "a cookie value with a semicolon",
      service([
        { match: { cookies: { v: "a;b" } }, backends: [{ backend: a, weightPercent: 100 }] },
        { backends: [{ backend: b, weightPercent: 100 }] },
      ]),
      'routes[0].match.cookies["v"] = "a;b" is invalid',
    ],
    [
      "a zero health-check threshold",
      service([{ backends: [{ backend: a, weightPercent: 100 }] }], { healthCheck: { unhealthyThreshold: 0 } }),
      "healthCheck.unhealthyThreshold = 0 is invalid: expected an integer from 1 to 100",
    ],
    [
      "a bad Envoy image",
      service([{ backends: [{ backend: a, weightPercent: 100 }] }], { image: "envoyproxy/envoy" }),
      'image = "envoyproxy/envoy" is invalid: expected an image reference with an explicit tag or digest',
    ],
    [
      "zero replicas of Envoy",
      service([{ backends: [{ backend: a, weightPercent: 100 }] }], { replicas: 0 }),
      "replicas = 0 is invalid: expected an integer from 1 to 100",
    ],
    ["a pool without tiers", pool([]), "tiers = [] is invalid: expected at least one tier"],
    [
      "a tier without endpoints",
      pool([{ name: "primary", endpoints: [] }]),
      "tiers[0].endpoints = [] is invalid: expected at least one endpoint per tier",
    ],
    [
      "the same endpoint in two tiers",
      pool([
        { name: "p", endpoints: [{ backend: a }] },
        { name: "s", endpoints: [{ backend: a }] },
      ]),
      'tiers[1].endpoints[0] = "a.default.svc.cluster.local:8000" is invalid: expected an endpoint that appears once in the pool',
    ],
    [
      "an endpoint weight of 0",
      pool([{ name: "p", endpoints: [{ backend: a, weight: 0 }] }]),
      "tiers[0].endpoints[0].weight = 0 is invalid: expected an integer from 1 to 128",
    ],
    [
      "negative retries",
      pool([{ name: "p", endpoints: [{ backend: a }] }], { retries: { numRetries: -1 } }),
      "retries.numRetries = -1 is invalid: expected an integer from 0 to 10",
    ],
    [
      "allowAdminApis not a boolean (service)",
      service([{ backends: [{ backend: a, weightPercent: 100 }] }], { allowAdminApis: "yes" }),
      'allowAdminApis = "yes" is invalid: expected true or false',
    ],
    [
      "allowAdminApis not a boolean (pool)",
      pool([{ name: "p", endpoints: [{ backend: a }] }], { allowAdminApis: 1 }),
      "allowAdminApis = 1 is invalid: expected true or false",
    ],
    [
      "a zero rate-limit bucket",
      pool([{ name: "p", endpoints: [{ backend: a }] }], {
        rateLimit: { maxTokens: 0, tokensPerFill: 1, fillIntervalSeconds: 1 },
      }),
      "rateLimit.maxTokens = 0 is invalid: expected an integer from 1 to 1000000000",
    ],
  ];
  test.each(cases)("fails at synth on %s, naming the construct path and field", (_name, construct, message) => {
    let error: unknown;
    try {
      construct();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TritonValidationError);
    expect((error as Error).message).toMatch(/^Invalid props for test\/[wp]:/);
    expect((error as Error).message).toContain(message);
  });
});

describe("Envoy's Deployment on a production cluster", () => {
  const one = {
    routes: [{ backends: [{ backend: Backend.address("a", "10.0.0.1", 8000, 8001), weightPercent: 100 }] }],
  };
  const synth = (extra: object) => {
    const { stack } = newStack();
    new WeightedService(stack, "edge", { ...one, ...extra });
    const json = synthJson(stack);
    return {
      pod: resourcesOf(json, "kubernetes_deployment_v1")[0].spec.template.spec,
      service: resourcesOf(json, "kubernetes_service_v1")[0].spec,
      pdbs: resourcesOf(json, "kubernetes_pod_disruption_budget_v1"),
      files: resourcesOf(json, "kubernetes_config_map_v1")[0].data,
    };
  };

  test("by default: spread across nodes, a PDB of maxUnavailable 1, no pull secret, selector, toleration, priority or CPU limit; plain text", () => {
    const { pod, service, pdbs, files } = synth({});
    expect(pod.topology_spread_constraint).toEqual([
      {
        label_selector: [{ match_labels: { app: "edge", "app.kubernetes.io/instance": "edge" } }],
        max_skew: 1,
        topology_key: "kubernetes.io/hostname",
        when_unsatisfiable: "ScheduleAnyway",
      },
    ]);
    for (const k of ["image_pull_secrets", "node_selector", "toleration", "affinity", "priority_class_name"])
      expect([k, pod[k]]).toEqual([k, undefined]);
    expect(pod.container[0].resources.limits).toEqual({ memory: "512Mi" });
    expect(pdbs.map((p: any) => [p.spec.max_unavailable, p.spec.min_available])).toEqual([["1", undefined]]);
    expect(service.port.find((p: any) => p.name === "grpc").app_protocol).toBe("kubernetes.io/h2c");
    expect(Object.keys(files).filter((f) => f.startsWith("sds-"))).toEqual([]);
    expect(files["lds.yaml"]).not.toContain("transport_socket");
  });

  test("a pod-spec affinity and spread constraints land in the provider's schema; a PDB by minAvailable or none; TLS mounts its Secrets and files", () => {
    const { pod, service, pdbs, files } = synth({
      imagePullSecrets: ["regcred"],
      nodeSelector: { pool: "ingress" },
      tolerations: [
        { key: "dedicated", operator: "Equal", value: "ingress", effect: "NoExecute", tolerationSeconds: 30 },
      ],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["ingress"] }] }],
          },
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                topologyKey: "topology.kubernetes.io/zone",
                labelSelector: { matchLabels: { app: "edge" } },
              },
            },
          ],
        },
      },
      topologySpreadConstraints: [],
      priorityClassName: "ingress-critical",
      resources: { cpuLimit: "2" },
      serviceType: "LoadBalancer",
      loadBalancerSourceRanges: ["203.0.113.0/24"],
      podDisruptionBudget: { minAvailable: "50%" },
      tls: { secretName: "edge-tls", clientCaSecretName: "edge-ca" },
    });
    expect(pod.image_pull_secrets).toEqual([{ name: "regcred" }]);
    expect(pod.toleration).toEqual([
      { key: "dedicated", operator: "Equal", value: "ingress", effect: "NoExecute", toleration_seconds: "30" },
    ]);
    expect(pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_term).toEqual([
      { match_expressions: [{ key: "pool", operator: "In", values: ["ingress"] }] },
    ]);
    expect(pod.affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution).toEqual([
      {
        weight: 100,
        pod_affinity_term: {
          topology_key: "topology.kubernetes.io/zone",
          label_selector: [{ match_labels: { app: "edge" } }],
        },
      },
    ]);
    expect(pod.topology_spread_constraint).toBeUndefined();
    expect(pod.priority_class_name).toBe("ingress-critical");
    expect(pod.container[0].resources.limits).toEqual({ cpu: "2", memory: "512Mi" });
    expect([service.type, service.load_balancer_source_ranges]).toEqual(["LoadBalancer", ["203.0.113.0/24"]]);
    expect(service.port.find((p: any) => p.name === "grpc").app_protocol).toBeUndefined();
    expect(pdbs.map((p: any) => [p.spec.max_unavailable, p.spec.min_available])).toEqual([[undefined, "50%"]]);
    expect(pod.volume.filter((v: any) => v.secret).map((v: any) => [v.name, v.secret.secret_name])).toEqual([
      ["tls-certificate", "edge-tls"],
      ["tls-client-ca", "edge-ca"],
    ]);
    expect(parse(files["sds-certificate.yaml"]).resources[0].tls_certificate.watched_directory).toEqual({
      path: "/etc/envoy-tls/certificate",
    });
    expect(parse(files["sds-client-ca.yaml"]).resources[0].validation_context.trusted_ca).toEqual({
      filename: "/etc/envoy-tls/client-ca/ca.crt",
    });
    const chains = parse(files["lds.yaml"]).resources[0].filter_chains;
    expect(
      chains.map((c: any) => [
        c.filter_chain_match?.server_names,
        c.transport_socket.typed_config.require_client_certificate,
      ]),
    ).toEqual([
      [["ready.cdktf-triton.internal"], undefined],
      [undefined, true],
    ]);
    expect(synth({ podDisruptionBudget: false }).pdbs).toEqual([]);
  });
});
