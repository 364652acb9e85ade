// The driver's side of the pair's lease (lease.ts): taking it, renewing it every 5 s, handing the
// requests written to it to the driver, and publishing the driver's progress and answers.
import * as os from "os";
import { randomBytes } from "crypto";
import {
  DriverAnswer,
  DriverRequest,
  heldUntil,
  holderText,
  Holder,
  LEASE_ANNOTATIONS,
  LEASE_DURATION_SECONDS,
  LEASE_RENEW_SECONDS,
  LeaseError,
  microTime,
  PairLease,
  Progress,
  who,
} from "./lease";

/** Another driver holds the lease: a second run refuses. */
export class LeaseHeld extends LeaseError {}

/** The driver's side: holding the lease, renewing it, reading requests, publishing progress. */
export class LeaseKeeper {
  public readonly identity: string;
  private holder!: Holder;
  private progress?: Progress;
  private answer?: DriverAnswer;
  private lastRenew = 0;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private lost?: string;
  /** The ids of requests already handed to the driver. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly lease: PairLease,
    private readonly onRequest: (r: DriverRequest) => void,
    private readonly onLost: (why: string) => void,
    private readonly warn: (line: string) => void,
  ) {
    this.identity = `${who()}/${process.pid}/${randomBytes(3).toString("hex")}`;
  }

  /**
   * Takes the lease: refuses (LeaseHeld) when another driver holds it live; takes over an expired
   * one, resolving to the previous holder's description. A request left in the lease by an earlier
   * driver is answered "refused" (it was for that driver).
   */
  async acquire(holder: Omit<Holder, "by" | "host" | "pid" | "since">): Promise<{ takenFrom?: string }> {
    this.holder = { by: who(), host: os.hostname(), pid: process.pid, since: new Date().toISOString(), ...holder };
    for (let attempt = 0; attempt < 10; attempt++) {
      const view = await this.lease.read();
      if (view.live && view.holderIdentity !== this.identity) {
        throw new LeaseHeld(
          `another driver promotes ${this.lease.app}: ${holderText(view.holder, view.holderIdentity)} holds Lease ${this.lease.namespace}/${this.lease.name} (renewed ${view.renewTime}, so held until ${heldUntil(view)} at least); nothing was applied`,
        );
      }
      const object = view.object ?? this.lease.blank();
      const now = microTime();
      const takenFrom = view.holderIdentity
        ? `${holderText(view.holder, view.holderIdentity)}; its lease expired (last renewed ${view.renewTime})`
        : undefined;
      object.spec = {
        ...object.spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: (object.spec.leaseTransitions ?? 0) + (view.exists ? 1 : 0),
      };
      const annotations: Record<string, string> = {
        ...(object.metadata.annotations ?? {}),
        [LEASE_ANNOTATIONS.holder]: JSON.stringify(this.holder),
      };
      delete annotations[LEASE_ANNOTATIONS.progress];
      if (view.request && view.request.id !== view.answer?.id) {
        this.seen.add(view.request.id);
        annotations[LEASE_ANNOTATIONS.answer] = JSON.stringify({
          ...view.request,
          outcome: "refused",
          detail: "the driver it was for was gone",
          at: new Date().toISOString(),
        });
      } else if (view.request) this.seen.add(view.request.id);
      object.metadata.annotations = annotations;
      if ((await this.lease.write(object, !view.exists)) === "conflict") continue;
      this.lastRenew = Date.now();
      this.timer = setInterval(() => void this.tick(), 1000);
      return { takenFrom };
    }
    throw new LeaseError(
      `could not take Lease ${this.lease.namespace}/${this.lease.name}: it kept changing under this run`,
    );
  }

  /**
   * What the driver publishes: written at the next look (within a second) when anything but the
   * bake left changed, else with the next renewal (readers count the bake down from `at`).
   */
  publish(progress: Omit<Progress, "at">, step?: string): void {
    const same = (p?: Omit<Progress, "at">) =>
      p ? JSON.stringify({ ...p, at: undefined, bakeLeftSeconds: undefined }) : "";
    const changed = same(this.progress) !== same(progress);
    this.progress = { ...progress, at: new Date().toISOString() };
    this.holder = { ...this.holder, promotion: progress.promotion, ...(step !== undefined ? { step } : {}) };
    if (changed) this.dirty = true;
  }

  /** The driver's answer to a request (written at the next look). */
  reply(answer: Omit<DriverAnswer, "at">): void {
    this.answer = { ...answer, at: new Date().toISOString() };
    this.dirty = true;
    void this.tick();
  }

  /**
   * Before every move: the lease is still this run's. `rollback`: a move that only takes traffic
   * from the candidate is stopped only by a lease seen taken (this keeper reads it every second),
   * never by a wait on an API server that does not answer.
   */
  async check(rollback = false): Promise<void> {
    if (this.lost) throw new LeaseError(this.lost);
    if (rollback) return;
    const view = await this.lease.read();
    if (view.holderIdentity !== this.identity) {
      this.lost = `the lease was taken by ${holderText(view.holder, view.holderIdentity)}`;
      throw new LeaseError(this.lost);
    }
    if (Date.now() - this.lastRenew > LEASE_DURATION_SECONDS * 1000)
      throw new LeaseError(
        `the lease was not renewed for ${Math.round((Date.now() - this.lastRenew) / 1000)} s (the API server did not answer): another run may have taken it`,
      );
  }

  /** One look (every second): a new request handed over; the lease renewed every 5 s, or at once when there is something to write. */
  private async tick(): Promise<void> {
    if (this.ticking || this.lost) return;
    this.ticking = true;
    try {
      const view = await this.lease.read();
      if (view.holderIdentity !== this.identity) {
        this.lost = `the lease was taken by ${holderText(view.holder, view.holderIdentity)}`;
        this.stop();
        this.onLost(this.lost);
        return;
      }
      if (view.request && !this.seen.has(view.request.id)) {
        this.seen.add(view.request.id);
        this.onRequest(view.request);
      }
      if (!this.dirty && Date.now() - this.lastRenew < LEASE_RENEW_SECONDS * 1000) return;
      const object = view.object!;
      object.spec.renewTime = microTime();
      object.metadata.annotations = {
        ...(object.metadata.annotations ?? {}),
        [LEASE_ANNOTATIONS.holder]: JSON.stringify(this.holder),
        ...(this.progress ? { [LEASE_ANNOTATIONS.progress]: JSON.stringify(this.progress) } : {}),
        ...(this.answer ? { [LEASE_ANNOTATIONS.answer]: JSON.stringify(this.answer) } : {}),
      };
      this.dirty = false;
      if ((await this.lease.write(object, false)) === "ok") this.lastRenew = Date.now();
      else this.dirty = true; // a request was written meanwhile: the next look sees it and writes again
    } catch (e) {
      this.dirty = true;
      this.warn(`the lease could not be renewed (retried each second): ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops renewing without releasing: the lease expires LEASE_DURATION_SECONDS after its last renewal (a driver that cannot finish). */
  abandon(): void {
    this.stop();
  }

  /** At the end: the lease freed (holder cleared), the last progress and answer kept for `status`. */
  async release(): Promise<void> {
    this.stop();
    if (this.lost) return;
    while (this.ticking) await new Promise((r) => setTimeout(r, 20));
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const view = await this.lease.read();
        if (view.holderIdentity !== this.identity || !view.object) return;
        const object = view.object;
        object.spec.holderIdentity = null;
        object.spec.renewTime = microTime();
        object.metadata.annotations = {
          ...(object.metadata.annotations ?? {}),
          [LEASE_ANNOTATIONS.holder]: JSON.stringify(this.holder),
          ...(this.progress
            ? {
                [LEASE_ANNOTATIONS.progress]: JSON.stringify({
                  ...this.progress,
                  phase: "ended",
                  at: new Date().toISOString(),
                }),
              }
            : {}),
          ...(this.answer ? { [LEASE_ANNOTATIONS.answer]: JSON.stringify(this.answer) } : {}),
        };
        // A request nobody will answer now is answered refused.
        if (
          view.request &&
          view.request.id !== this.answer?.id &&
          view.request.id !== view.answer?.id &&
          !this.seen.has(view.request.id)
        ) {
          object.metadata.annotations[LEASE_ANNOTATIONS.answer] = JSON.stringify({
            ...view.request,
            outcome: "refused",
            detail: "the promotion ended before the driver saw it",
            at: new Date().toISOString(),
          });
        }
        if ((await this.lease.write(object, false)) === "ok") return;
      } catch (e) {
        this.warn(`the lease was not released (it expires in ${LEASE_DURATION_SECONDS} s): ${(e as Error).message}`);
        return;
      }
    }
  }
}
