// Where a route or a pool sends requests: one of our TritonReleases, another Service, an external
// URL (another cluster or region, over TLS with SNI), or a plain address.
import { TritonRelease } from "../release/triton-release";
import { TRITON_PORTS } from "../release/values";

export interface BackendTarget {
  /** Unique, Envoy-safe name: the cluster's name. */
  readonly name: string;
  readonly host: string;
  /** Triton's HTTP port on this backend. */
  readonly httpPort: number;
  /** Triton's gRPC port; undefined when the backend serves no gRPC. */
  readonly grpcPort?: number;
  /** TLS to the backend: SNI, and the CA bundle (a path where Envoy runs) that must sign its certificate. */
  readonly tls?: { readonly sni: string; readonly caFile: string };
  /**
   * The Service behind an in-cluster backend, as given (never parsed back out of `host`: a namespace
   * may be a Terraform token, which contains dots).
   */
  readonly service?: { readonly name: string; readonly namespace: string };
}

export abstract class Backend {
  /** A TritonRelease of this app, through its own Service (one color). */
  public static release(release: TritonRelease): Backend {
    const p = release.props;
    const service = { name: p.releaseName, namespace: p.namespace ?? "default" };
    return new Fixed({ name: p.releaseName, host: `${service.name}.${service.namespace}.svc.cluster.local`, httpPort: TRITON_PORTS.http, grpcPort: TRITON_PORTS.grpc, service });
  }

  /** Any Service in the cluster serving the Open Inference Protocol. */
  public static service(name: string, options: { namespace?: string; httpPort?: number; grpcPort?: number } = {}): Backend {
    const ns = options.namespace ?? "default";
    const service = { name, namespace: ns };
    return new Fixed(
      { name: `${name}.${ns}`, host: `${name}.${ns}.svc.cluster.local`, httpPort: options.httpPort ?? TRITON_PORTS.http, grpcPort: options.grpcPort, service },
      portProblems(options.httpPort, options.grpcPort),
    );
  }

  /**
   * An endpoint outside the cluster, e.g. https://triton.eu-west-1.example.com: TLS with SNI = its
   * host, its certificate verified against `caFile` (a path inside the Envoy container) and its name.
   */
  public static external(url: string, options: { name?: string; sni?: string; grpcPort?: number; caFile?: string } = {}): Backend {
    // Problems are reported by the construct that uses the backend, with its path and the field.
    const problems: BackendProblem[] = [];
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      problems.push({ field: "url", value: url, expected: "an absolute URL with a scheme and a host, e.g. https://triton.eu-west-1.example.com" });
    }
    if (u && !["http:", "https:"].includes(u.protocol)) problems.push({ field: "url", value: url, expected: "an http:// or https:// URL" });
    if (u && (u.pathname !== "/" || u.search || u.hash)) {
      problems.push({ field: "url", value: url, expected: "a scheme, host and port only: Envoy sends each request's own path to the backend, so a path here would be dropped" });
    }
    if (u && (u.username || u.password)) problems.push({ field: "url", value: "(a URL with credentials)", expected: "a URL without credentials" });
    const tls = u?.protocol === "https:";
    if (u && !tls && (options.caFile !== undefined || options.sni !== undefined)) {
      problems.push({ field: options.caFile !== undefined ? "caFile" : "sni", value: options.caFile ?? options.sni, expected: `an https:// URL with it: ${url} is plain HTTP, and TLS would silently not be used` });
    }
    if (options.grpcPort !== undefined && !isPort(options.grpcPort)) problems.push({ field: "grpcPort", value: options.grpcPort, expected: "an integer from 1 to 65535" });
    return new Fixed(
      {
        name: options.name ?? (u?.host ?? "invalid").replace(/[^A-Za-z0-9.-]/g, "-"),
        host: u?.hostname ?? "invalid",
        httpPort: Number(u?.port || (tls ? 443 : 80)),
        grpcPort: options.grpcPort,
        tls: tls ? { sni: options.sni ?? u!.hostname, caFile: options.caFile ?? "/etc/ssl/certs/ca-certificates.crt" } : undefined,
      },
      problems,
    );
  }

  /** A host and ports as given (an IP, a DNS name): for tests on loopback and for static fleets. */
  public static address(name: string, host: string, httpPort: number, grpcPort?: number): Backend {
    return new Fixed({ name, host, httpPort, grpcPort }, portProblems(httpPort, grpcPort));
  }

  /** @internal */
  public abstract _target(): BackendTarget;
  /** @internal What is wrong with how this backend was given (reported by the construct using it). */
  public abstract _problems(): readonly BackendProblem[];
}

/** One bad argument of a Backend factory. */
export interface BackendProblem {
  readonly field: string;
  readonly value: unknown;
  readonly expected: string;
}

/** Reports a backend's problems under `at` (e.g. "routes[0].backends[1].backend"). */
export function validateBackend(backend: Backend, at: string, v: { check(field: string, value: unknown, ok: boolean, expected: string): unknown }): void {
  for (const p of backend._problems()) v.check(`${at}.${p.field}`, p.value, false, p.expected);
}

function isPort(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

function portProblems(httpPort?: number, grpcPort?: number): BackendProblem[] {
  const problems: BackendProblem[] = [];
  if (httpPort !== undefined && !isPort(httpPort)) problems.push({ field: "httpPort", value: httpPort, expected: "an integer from 1 to 65535" });
  if (grpcPort !== undefined && !isPort(grpcPort)) problems.push({ field: "grpcPort", value: grpcPort, expected: "an integer from 1 to 65535" });
  return problems;
}

class Fixed extends Backend {
  constructor(
    private readonly target: BackendTarget,
    private readonly problems: readonly BackendProblem[] = [],
  ) {
    super();
  }
  public _target(): BackendTarget {
    return this.target;
  }
  public _problems(): readonly BackendProblem[] {
    return this.problems;
  }
}
