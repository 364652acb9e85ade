// A promotion's records and notifications: every transition written to the pair's history ConfigMap
// first (the truth a re-run reads), then told (the webhook's message, a Kubernetes Event on the
// pair's active Service); at the end, the report's files. Runtime code: no cdktf here.
import * as fs from "fs";
import * as path from "path";
import { EventReason, EventTarget, recordEvent } from "../kube/events";
import { KubeAccess } from "../kube/kubectl";
import { PromoteReport } from "../records";
import { RunContext } from "./context";
import { appendHistoryFile, ClusterHistory } from "../records/history";
import { notify, Notification, PromotionEvent } from "./notify";
import { PromoteError } from "./options";

/** The Kubernetes Event's reason for each transition (docs/operating.md lists them). */
const EVENT_REASON: Readonly<Record<PromotionEvent, EventReason>> = {
  started: "PromotionStarted",
  resumed: "PromotionResumed",
  "lease-taken-over": "LeaseTakenOver",
  step: "StepStarted",
  "step-passed": "StepPassed",
  "step-skipped": "StepSkipped",
  paused: "Paused",
  unpaused: "Unpaused",
  "awaiting-confirmation": "AwaitingConfirmation",
  aborted: "PromotionAborted",
  promoted: "Promoted",
  interrupted: "PromotionInterrupted",
  "rolled-back": "RolledBack",
};

export class Recorder {
  readonly history: ClusterHistory;
  readonly notificationProblems: string[] = [];
  private readonly eventProblems = new Set<string>();
  private readonly webhook?: string;
  /** Where Events go: set once the run holds the pair's lease. */
  eventTarget?: EventTarget;

  constructor(
    private readonly c: RunContext,
    kube: KubeAccess,
    namespace: string,
  ) {
    const spec = c.spec;
    this.history = new ClusterHistory(kube, namespace, spec.history.configMap, spec.history.limit);
    this.webhook = process.env[spec.webhookUrlEnv] || undefined;
  }

  /**
   * Records the promotion in the cluster (first: the truth a re-run reads) and notifies. Before any
   * traffic moves ("started", "resumed") a history that cannot be written stops the run; later, it
   * is reported and the run goes on (stopping would leave traffic on a step unwatched).
   */
  async save(event: PromotionEvent, text: string, fields: Record<string, unknown> = {}): Promise<void> {
    const record = this.c.record;
    try {
      await this.c.during(`recording "${event}" in the pair's history`, () => this.history.put(record));
    } catch (e) {
      if (event === "started" || event === "resumed")
        throw new PromoteError(`cannot record the promotion, so nothing was applied: ${(e as Error).message}`);
      this.c.o.err.write(
        `promote: the history was not updated ("${event}"; the promotion goes on): ${(e as Error).message}\n`,
      );
    }
    await this.announce(event, text, { status: record.status, from: record.from, to: record.to, ...fields });
  }

  /**
   * Tells of a transition: the webhook's message, and a Kubernetes Event on the pair's active
   * Service. Neither failing blocks anything: a webhook problem is in the report, an Event that
   * cannot be written is said once per kind of problem.
   */
  async announce(event: PromotionEvent, text: string, fields: Record<string, unknown>): Promise<void> {
    const message: Notification = { text, event, app: this.c.spec.app, promotion: this.c.record?.id ?? "", ...fields };
    const [problem, eventProblem] = await this.c.during(`announcing "${event}" (webhook, Event)`, () =>
      Promise.all([
        notify(this.webhook, message),
        this.eventTarget ? recordEvent(this.eventTarget, EVENT_REASON[event], text) : Promise.resolve(undefined),
      ]),
    );
    if (problem) {
      this.notificationProblems.push(problem);
      this.c.o.err.write(`promote: notification not delivered (the promotion goes on): ${problem}\n`);
    }
    const kind = eventProblem?.replace(/^the Event \w+ /, "the Events ");
    if (kind && !this.eventProblems.has(kind)) {
      this.eventProblems.add(kind);
      this.c.o.err.write(`promote: ${eventProblem} (the promotion goes on; said once)\n`);
    }
  }

  /** The report's files: the reports folder's history line, JSON and HTML, and the --json file. */
  async writeReport(report: PromoteReport): Promise<void> {
    const { reportDir, json } = this.c.o;
    if (reportDir) {
      appendHistoryFile(reportDir, report.record);
      fs.writeFileSync(path.join(reportDir, `promotion-${report.record.id}.json`), JSON.stringify(report, null, 2));
      await this.writeHtml(report, reportDir);
    }
    if (json) {
      fs.mkdirSync(path.dirname(path.resolve(json)), { recursive: true });
      fs.writeFileSync(json, JSON.stringify(report, null, 2));
    }
  }

  /** This run's HTML report, `promotion-<id>-<time>.html` (each run its own file); a failure is reported, never fatal. */
  private async writeHtml(report: PromoteReport, dir: string): Promise<void> {
    if (!this.c.o.writeHtml) return;
    try {
      this.c.say(`HTML report: ${await this.c.o.writeHtml(report, dir)}`);
    } catch (e) {
      this.c.o.err.write(`promote: the HTML report was not written (${(e as Error).message})\n`);
    }
  }
}
