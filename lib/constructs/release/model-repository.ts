import { PropValidator, refuseUnknownKeys } from "../validation";

/** Options for a model repository in an object store. */
export interface ObjectStoreOptions {
  /**
   * Name of an existing Secret in the release's namespace holding the store's credentials. Its
   * keys become environment variables of the Triton container (for S3: `AWS_ACCESS_KEY_ID`,
   * `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`; for Azure: `AZURE_STORAGE_ACCOUNT`,
   * `AZURE_STORAGE_KEY`). For `gs://` the Secret is mounted as a file instead, see
   * `credentialsKey`. Only the name is synthesized, never the credentials.
   * @default - no Secret: the pod's ServiceAccount identity (IRSA, Workload Identity) is used
   */
  readonly credentialsSecret?: string;
  /**
   * For `gs://` only: the key in `credentialsSecret` that holds the service-account JSON, mounted
   * and pointed to by `GOOGLE_APPLICATION_CREDENTIALS`.
   * @default "credentials.json"
   */
  readonly credentialsKey?: string;
}

/** Options for a model repository on a PersistentVolumeClaim. */
export interface PersistentVolumeClaimOptions {
  /**
   * Sub-path inside the volume that holds the model repository.
   * @default - the volume's root
   */
  readonly subPath?: string;
}

/** Chart values for the model repository (see charts/triton/values.yaml). */
export interface ModelRepositoryValues {
  readonly uri: string;
  readonly credentialsSecret: string;
  readonly credentialsKey: string;
  readonly pvc: { readonly claimName: string; readonly subPath: string };
}

const OBJECT_STORE_URI = /^(s3|gs|as):\/\/[^\s/]+(\/[^\s]*)?$/;
/** Where a PVC is mounted read-only in the Triton container. */
export const PVC_MOUNT_PATH = "/models";

/** Where Triton loads its models from: an object store, or a PersistentVolumeClaim. */
export abstract class ModelRepository {
  /**
   * A model repository in an object store: `s3://bucket/path` (or `s3://host:port/bucket/path`),
   * `gs://bucket/path` or `as://account/container/path`.
   */
  public static objectStore(uri: string, options: ObjectStoreOptions = {}): ModelRepository {
    refuseUnknownKeys("ModelRepository.objectStore#1", options);
    return new ObjectStoreRepository(uri, options);
  }

  /** A model repository on an existing PersistentVolumeClaim, mounted read-only. */
  public static persistentVolumeClaim(claimName: string, options: PersistentVolumeClaimOptions = {}): ModelRepository {
    refuseUnknownKeys("ModelRepository.persistentVolumeClaim#1", options);
    return new PvcRepository(claimName, options);
  }

  /** @internal */
  public abstract _validate(v: PropValidator, field: string): void;
  /** @internal */
  public abstract _toValues(): ModelRepositoryValues;
  /** A human description, for summaries. */
  public abstract toString(): string;
}

class ObjectStoreRepository extends ModelRepository {
  constructor(
    private readonly uri: string,
    private readonly options: ObjectStoreOptions,
  ) {
    super();
  }

  public _validate(v: PropValidator, field: string): void {
    const uri = this.uri;
    const leaksCredentials = typeof uri === "string" && hasUserInfo(uri);
    v.check(
      `${field}.uri`,
      // Never echo a credential back into logs: show the URI with its user-info masked.
      leaksCredentials ? maskUserInfo(uri) : uri,
      typeof uri === "string" && OBJECT_STORE_URI.test(uri) && !leaksCredentials,
      "an object-store URI s3://bucket/path, gs://bucket/path or as://account/container/path, without credentials in it (use credentialsSecret)",
    );
    v.dnsSubdomain(`${field}.credentialsSecret`, this.options.credentialsSecret);
    if (this.options.credentialsKey !== undefined) {
      v.check(
        `${field}.credentialsKey`,
        this.options.credentialsKey,
        typeof uri === "string" && uri.startsWith("gs://") && this.options.credentialsSecret !== undefined,
        "credentialsKey only together with credentialsSecret and a gs:// URI",
      );
      v.check(
        `${field}.credentialsKey`,
        this.options.credentialsKey,
        /^[-._a-zA-Z0-9]+$/.test(this.options.credentialsKey),
        "a Secret key of -, _, . and alphanumerics",
      );
    }
  }

  public _toValues(): ModelRepositoryValues {
    return {
      uri: this.uri,
      credentialsSecret: this.options.credentialsSecret ?? "",
      credentialsKey: this.options.credentialsKey ?? "credentials.json",
      pvc: { claimName: "", subPath: "" },
    };
  }

  public toString(): string {
    return this.uri;
  }
}

/** `s3://user:secret@host/bucket` would put a credential into the synthesized JSON. */
function hasUserInfo(uri: string): boolean {
  const authority = uri.replace(/^[a-z0-9]+:\/\//, "").split("/")[0];
  return authority.includes("@");
}

function maskUserInfo(uri: string): string {
  return uri.replace(/^([a-z0-9]+:\/\/)[^/]*@/, "$1***@");
}

class PvcRepository extends ModelRepository {
  constructor(
    private readonly claimName: string,
    private readonly options: PersistentVolumeClaimOptions,
  ) {
    super();
  }

  public _validate(v: PropValidator, field: string): void {
    v.dnsSubdomain(`${field}.claimName`, this.claimName);
    const sub = this.options.subPath;
    if (sub !== undefined) {
      v.check(
        `${field}.subPath`,
        sub,
        typeof sub === "string" && sub.length > 0 && !sub.startsWith("/") && !sub.split("/").includes(".."),
        "a relative path inside the volume, without '..'",
      );
    }
  }

  public _toValues(): ModelRepositoryValues {
    return {
      uri: PVC_MOUNT_PATH,
      credentialsSecret: "",
      credentialsKey: "",
      pvc: { claimName: this.claimName, subPath: this.options.subPath ?? "" },
    };
  }

  public toString(): string {
    return `pvc://${this.claimName}${this.options.subPath ? `/${this.options.subPath}` : ""}`;
  }
}
