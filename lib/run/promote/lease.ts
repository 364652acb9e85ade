// The lease that makes one promotion driver the only one of a pair, and the channel to it: a
// `coordination.k8s.io` Lease per pair (`<app>-promotion`, in the pair's namespace). The driver
// holds it (15 s, renewed every 5 s) and checks it before every apply; its annotations carry who
// holds it, what the driver is doing (the step, the bake left, the last measurements: what `status
// --watch` shows), the last request written to it (`cdktf-triton abort | pause | resume | skip`,
// `promote --full`) and the driver's answer. Written with optimistic concurrency (resourceVersion),
// so a request and a renewal never overwrite each other. Runtime code: no cdktf here.
import { promotionLease } from "../../core/names";
import * as os from "os";
import { randomBytes } from "crypto";
import { KubeAccess, kubectlFailure, runKubectl } from "../kube/kubectl";
import { RequestOutcome } from "../../core/closed-sets";

/** How long a lease lasts without renewal, and how often the driver renews it. */
export const LEASE_DURATION_SECONDS = 15;
export const LEASE_RENEW_SECONDS = 5;

export const LEASE_ANNOTATIONS = {
  holder: "cdktf-triton.io/holder",
  progress: "cdktf-triton.io/progress",
  request: "cdktf-triton.io/request",
  answer: "cdktf-triton.io/answer",
} as const;

export const REQUEST_ACTIONS = ["abort", "pause", "resume", "skip", "full"] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];

/** Who holds (or last held) the lease. */
export interface Holder {
  /** user@host of the run (the CI's actor where one is set). */
  readonly by: string;
  readonly host: string;
  readonly pid: number;
  /** When this run took the lease. */
  readonly since: string;
  readonly promotion?: string;
  /** e.g. "step 2 of 3 (50 %)". */
  readonly step?: string;
}

/** A request to the driver, written by `cdktf-triton abort | pause | resume | skip` or `promote --full`. */
export interface DriverRequest {
  readonly id: string;
  readonly action: RequestAction;
  readonly by: string;
  readonly at: string;
}

/** The driver's answer to a request. */
export interface DriverAnswer {
  readonly id: string;
  readonly action: RequestAction;
  /** "done": acted on; "refused": not possible now (e.g. resume when not paused). */
  readonly outcome: RequestOutcome;
  readonly detail: string;
  readonly at: string;
}

/** What the driver publishes for `status --watch` (only it knows the bake left and the last measurements). */
export interface Progress {
  readonly promotion: string;
  readonly from: { color: string; version: string };
  readonly to: { color: string; version: string };
  /** 1-based; 0 before the first step. */
  readonly step: number;
  readonly steps: number;
  readonly weightPercent: number;
  /** The promotion record's status ("running", then "aborted", "promoted"...). @default - not given */
  readonly status?: string;
  /** What the driver does now. */
  readonly phase: "starting" | "applying" | "baking" | "paused" | "switching" | "aborting" | "settling" | "ended";
  /** Seconds of bake left (the bake clock stops while paused). */
  readonly bakeLeftSeconds?: number;
  readonly pausedBy?: string;
  readonly pausedAt?: string;
  /** The last value of each metric, with its verdict and threshold. */
  readonly measurements: readonly {
    metric: string;
    value?: number;
    verdict: string;
    min?: number;
    max?: number;
    at: string;
  }[];
  readonly at: string;
}

export interface LeaseView {
  readonly exists: boolean;
  readonly holderIdentity?: string;
  /** The lease is held and was renewed within its duration (by this machine's clock). */
  readonly live: boolean;
  readonly renewTime?: string;
  readonly holder?: Holder;
  readonly progress?: Progress;
  readonly request?: DriverRequest;
  readonly answer?: DriverAnswer;
  readonly resourceVersion?: string;
  /** The object as read, for a replace. */
  readonly object?: LeaseObject;
}

interface LeaseObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** A Kubernetes MicroTime: RFC 3339 with 6 fractional digits. */
export const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

const parse = <T>(text: string | undefined): T | undefined => {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
};

/** user@host: $USER, or the CI's actor, on this host. */
export function who(): string {
  const user = process.env.GITHUB_ACTOR ?? process.env.GITLAB_USER_LOGIN ?? process.env.USER ?? os.userInfo().username;
  return `${user}@${os.hostname()}`;
}

/** "alice@ci-runner-7 (pid 4711), since 2026-12-05T20:01:02Z, step 2 of 3 (50 %), promotion X". */
export function holderText(h: Holder | undefined, identity?: string): string {
  if (!h) return identity ?? "an unknown holder";
  return `${h.by} (pid ${h.pid}), since ${h.since}${h.step ? `, at ${h.step}` : ""}${h.promotion ? `, promotion ${h.promotion}` : ""}`;
}

export class LeaseError extends Error {}

/** When a live lease expires unless renewed. */
export function heldUntil(view: LeaseView): string {
  const renewed = Date.parse(view.renewTime ?? "");
  const seconds = view.object?.spec.leaseDurationSeconds ?? LEASE_DURATION_SECONDS;
  return Number.isFinite(renewed) ? new Date(renewed + seconds * 1000).toISOString() : "?";
}

/** The pair's lease: read it, write requests to it, and (the driver) hold it. */
export class PairLease {
  public readonly name: string;

  constructor(
    private readonly access: KubeAccess,
    public readonly namespace: string,
    public readonly app: string,
  ) {
    this.name = promotionLease(app);
  }

  async read(): Promise<LeaseView> {
    const r = await runKubectl(this.access, [
      "get",
      "lease",
      this.name,
      "-n",
      this.namespace,
      "-o",
      "json",
      "--ignore-not-found",
    ]);
    if (r.code !== 0)
      throw new LeaseError(`could not read Lease ${this.namespace}/${this.name}: ${kubectlFailure(r, this.access)}`);
    if (!r.stdout.trim()) return { exists: false, live: false };
    const object = JSON.parse(r.stdout) as LeaseObject;
    const a = object.metadata.annotations ?? {};
    const spec = object.spec ?? {};
    const renewed = Date.parse(spec.renewTime ?? "");
    const live =
      Boolean(spec.holderIdentity) &&
      Number.isFinite(renewed) &&
      renewed + (spec.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000 > Date.now();
    return {
      exists: true,
      holderIdentity: spec.holderIdentity ?? undefined,
      live,
      renewTime: spec.renewTime ?? undefined,
      holder: parse<Holder>(a[LEASE_ANNOTATIONS.holder]),
      progress: parse<Progress>(a[LEASE_ANNOTATIONS.progress]),
      request: parse<DriverRequest>(a[LEASE_ANNOTATIONS.request]),
      answer: parse<DriverAnswer>(a[LEASE_ANNOTATIONS.answer]),
      resourceVersion: object.metadata.resourceVersion,
      object,
    };
  }

  /** Writes the object (create when new, else replace at its resourceVersion); "conflict" when someone wrote first. */
  async write(object: LeaseObject, create: boolean): Promise<"ok" | "conflict"> {
    const r = await runKubectl(
      this.access,
      [create ? "create" : "replace", "-f", "-", "-o", "name"],
      JSON.stringify(object),
    );
    if (r.code === 0) return "ok";
    if (/Conflict|AlreadyExists|the object has been modified|already exists/i.test(r.stderr)) return "conflict";
    throw new LeaseError(`could not write Lease ${this.namespace}/${this.name}: ${kubectlFailure(r, this.access)}`);
  }

  /** A new Lease object for this pair. */
  blank(): LeaseObject {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: {
          "app.kubernetes.io/managed-by": "cdktf-triton",
          app: this.app,
          "cdktf-triton/role": "promotion-lease",
        },
        annotations: {},
      },
      spec: { leaseDurationSeconds: LEASE_DURATION_SECONDS, leaseTransitions: 0 },
    };
  }

  /**
   * Writes a request for the driver that holds the lease and waits for its answer (the driver looks
   * every second). An earlier request not answered yet is waited for first (up to 5 s), so two
   * requests in a row are both seen. Resolves to the answer, or throws when the lease is not live
   * or no answer came within `answerMs`.
   */
  async request(action: RequestAction, answerMs = 10_000): Promise<{ answer: DriverAnswer; holder?: Holder }> {
    const request: DriverRequest = {
      id: randomBytes(6).toString("hex"),
      action,
      by: who(),
      at: new Date().toISOString(),
    };
    const pendingUntil = Date.now() + 5_000;
    for (;;) {
      const view = await this.read();
      if (!view.live || !view.object) throw new NoDriver(view);
      const pending = view.request && view.request.id !== view.answer?.id;
      if (pending && Date.now() < pendingUntil) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      const object = view.object;
      object.metadata.annotations = {
        ...(object.metadata.annotations ?? {}),
        [LEASE_ANNOTATIONS.request]: JSON.stringify(request),
      };
      if ((await this.write(object, false)) === "conflict") continue;
      break;
    }
    const deadline = Date.now() + answerMs;
    for (;;) {
      const view = await this.read();
      if (view.answer?.id === request.id) return { answer: view.answer, holder: view.holder };
      if (!view.live)
        throw new LeaseError(
          `the driver (${holderText(view.holder, view.holderIdentity)}) stopped before it answered the ${action} request`,
        );
      if (Date.now() > deadline)
        throw new LeaseError(
          `the driver (${holderText(view.holder, view.holderIdentity)}) did not answer the ${action} request within ${answerMs / 1000} s`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** No live driver holds the lease: what the lease says of the last one. */
export class NoDriver extends LeaseError {
  constructor(public readonly view: LeaseView) {
    super(
      !view.exists
        ? "no promotion driver has held this pair's lease"
        : view.holderIdentity
          ? `the driver ${holderText(view.holder, view.holderIdentity)} is gone: its lease expired (last renewed ${view.renewTime})`
          : `no driver holds the lease (the last, ${holderText(view.holder)}, released it)`,
    );
  }
}
