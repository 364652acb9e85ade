// What `cdktf-triton status` tells of a namespace's pairs (its --json output).
import { HistoryRecord } from "../records";
import { FailoverEvent } from "./envoy-log";
import { Holder, Progress } from "../promote/lease";

export interface ColorStatus {
  readonly color: string;
  /** The Deployment (and Helm release) name. */
  readonly release: string;
  readonly version: string;
  /** The serving color's from the active Service; the other's from its last passed verification. */
  readonly fingerprint?: string;
  readonly fingerprintFrom?: "serving" | "last verified";
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly helmRevision?: number;
  readonly helmStatus?: string;
  readonly autoscaler?: { readonly min: number; readonly max: number; readonly current?: number };
}

export interface EnvoyClusterHealth {
  readonly cluster: string;
  readonly healthy: number;
  readonly total: number;
  /** Hosts ejected by outlier detection now. */
  readonly ejected: number;
}

export interface EnvoyStatus {
  readonly name: string;
  readonly pods: string[];
  /** The weights each pod serves (its runtime's where set, else its route tables'), one per pod and split route. */
  readonly weights: string[];
  /** Pods that serve weights from their runtime (a promotion's push), with their file's. */
  readonly runtime: string[];
  readonly clusters: EnvoyClusterHealth[];
  /** Hosts whose last health event took them out of rotation (ejected, or failed since). */
  readonly hostsOut: string[];
  /** The health checkers' events in the pods' logs, oldest first. */
  readonly events: FailoverEvent[];
  readonly problems: string[];
}

/** The pair's promotion driver, from its lease: who holds it and what it published. */
export interface DriverStatus {
  /** A driver holds the lease and renews it. */
  readonly live: boolean;
  readonly holder?: Holder;
  readonly renewTime?: string;
  /** What the driver last published (step, bake left, last measurements); phase "ended" after it let go. */
  readonly progress?: Progress;
}

export interface PairStatus {
  readonly app: string;
  /** The promotion driver's lease, when one ever ran for the pair. */
  readonly driver?: DriverStatus;
  readonly namespace: string;
  /** The color the active Service selects ("" when it selects none). */
  readonly serving: string;
  readonly colors: ColorStatus[];
  /** The newest history records, oldest first. */
  readonly history: HistoryRecord[];
  readonly envoys: EnvoyStatus[];
  readonly problems: string[];
}

export interface NamespaceStatus {
  readonly namespace: string;
  readonly at: string;
  readonly pairs: PairStatus[];
}
