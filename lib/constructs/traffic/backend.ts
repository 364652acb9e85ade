// Where a route or a pool sends requests: one of our TritonReleases, another Service, an external
// URL (another cluster or region, over TLS with SNI), or a plain address.
import { TritonRelease } from "../release/triton-release";
import { TRITON_PORTS } from "../release/values";
import { PropValidator, refuseUnknownKeys } from "../validation";

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
    return new Fixed({
      name: p.releaseName,
      host: `${service.name}.${service.namespace}.svc.cluster.local`,
      httpPort: TRITON_PORTS.http,
      grpcPort: TRITON_PORTS.grpc,
      service,
    });
  }

  /** Any Service in the cluster serving the Open Inference Protocol. */
  public static service(
    name: string,
    options: { namespace?: string; httpPort?: number; grpcPort?: number } = {},
  ): Backend {
    refuseUnknownKeys("Backend.service#1", options);
    const ns = options.namespace ?? "default";
    const service = { name, namespace: ns };
    return new Fixed(
      {
        name: `${name}.${ns}`,
        host: `${name}.${ns}.svc.cluster.local`,
        httpPort: options.httpPort ?? TRITON_PORTS.http,
        grpcPort: options.grpcPort,
        service,
      },
      (v, at) => v.port(`${at}.httpPort`, options.httpPort).port(`${at}.grpcPort`, options.grpcPort),
    );
  }

  /**
   * An endpoint outside the cluster, e.g. https://triton.eu-west-1.example.com: TLS with SNI = its
   * host, its certificate verified against `caFile` (a path inside the Envoy container) and its name.
   */
  public static external(
    url: string,
    options: { name?: string; sni?: string; grpcPort?: number; caFile?: string } = {},
  ): Backend {
    refuseUnknownKeys("Backend.external#1", options);
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    const tls = u?.protocol === "https:";
    return new Fixed(
      {
        name: options.name ?? (u?.host ?? "invalid").replace(/[^A-Za-z0-9.-]/g, "-"),
        host: u?.hostname ?? "invalid",
        httpPort: Number(u?.port || (tls ? 443 : 80)),
        grpcPort: options.grpcPort,
        tls: tls
          ? { sni: options.sni ?? u!.hostname, caFile: options.caFile ?? "/etc/ssl/certs/ca-certificates.crt" }
          : undefined,
      },
      // Checked by the construct that uses the backend, under its path and field.
      (v, at) => {
        if (!u)
          v.check(
            `${at}.url`,
            url,
            false,
            "an absolute URL with a scheme and a host, e.g. https://triton.eu-west-1.example.com",
          );
        else {
          v.check(`${at}.url`, url, ["http:", "https:"].includes(u.protocol), "an http:// or https:// URL");
          v.check(
            `${at}.url`,
            url,
            u.pathname === "/" && !u.search && !u.hash,
            "a scheme, host and port only: Envoy sends each request's own path to the backend, so a path here would be dropped",
          );
          if (u.username || u.password)
            v.check(`${at}.url`, "(a URL with credentials)", false, "a URL without credentials");
          const tlsOption = options.caFile !== undefined ? "caFile" : options.sni !== undefined ? "sni" : undefined;
          if (!tls && tlsOption)
            v.check(
              `${at}.${tlsOption}`,
              options[tlsOption],
              false,
              `an https:// URL with it: ${url} is plain HTTP, and TLS would silently not be used`,
            );
        }
        v.port(`${at}.grpcPort`, options.grpcPort);
      },
    );
  }

  /** A host and ports as given (an IP, a DNS name): for tests on loopback and for static fleets. */
  public static address(name: string, host: string, httpPort: number, grpcPort?: number): Backend {
    return new Fixed({ name, host, httpPort, grpcPort }, (v, at) =>
      v.port(`${at}.httpPort`, httpPort).port(`${at}.grpcPort`, grpcPort),
    );
  }

  /** @internal */
  public abstract _target(): BackendTarget;
  /** @internal Checks how this backend was given, reported under the using construct's `field`. */
  public abstract _validate(v: PropValidator, field: string): void;
}

class Fixed extends Backend {
  constructor(
    private readonly target: BackendTarget,
    private readonly validate: (v: PropValidator, field: string) => void = () => undefined,
  ) {
    super();
  }
  public _target(): BackendTarget {
    return this.target;
  }
  public _validate(v: PropValidator, field: string): void {
    this.validate(v, field);
  }
}
