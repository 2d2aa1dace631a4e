import { RANGE_EVENTS, sendBatchesOf, type RelayedRanges, type SizedRange } from "../domain/change-message";
import type { Committed, ContainerLog, Watermark } from "./container-log";

/**
 * If a drain dies with the object, this alarm picks the log up again. Long, because it is set once
 * per quiet spell and wakes the object when it fires: for a sensor reporting every minute a short
 * guard would wake its container about once per reading. A drain dying mid-send is rare, and
 * reconciliation would find the same events.
 */
export const OUTBOX_GUARD_MS = 10 * 60_000;
/** A send that fails is tried again after 1 s, doubling, at most this long apart. */
export const OUTBOX_BACKOFF_MAX_MS = 5 * 60_000;
/** At most this many events are sent again per request; a longer gap is filled in rounds. */
export const RESEND_MAX = 1000;
/** The same range asked for again this soon is already on its way. */
const RESEND_REPEAT_MS = 5_000;

export interface OutboxStatus {
  pending: number;
  sentSeq: number;
  registered: boolean;
  draining: boolean;
  failedSends: number;
  alarmAt: number | null;
}

/** What the outbox needs from its object. */
export interface OutboxPorts {
  /** Range messages to the projection queue, in one send. */
  send(ranges: SizedRange[]): Promise<void>;
  /** Set the object's alarm (which calls `alarm`). */
  setAlarm(at: number): Promise<void>;
  /** Enter the container in the index reconciliation walks; true once it is. */
  register(): Promise<boolean>;
  report(error: unknown, where: string, context?: Record<string, string | number>): Promise<void>;
}

/**
 * A container's outbox: its event log is the outbox, and a watermark says up to which seq the
 * projection queue has every event. A commit's events are either handed to its caller to send
 * (the ingest worker's relay, many containers to a message; they count as sent) or drained from
 * the log by the object itself, a range message at a time, commits made meanwhile going together
 * in the next. A failed send sets the alarm to try again (1 s, doubling, up to 5 minutes); a guard
 * alarm, set once per quiet spell, picks the log up if the object was evicted mid-drain.
 *
 * Three watermarks: `sentSeq`, what the queue has as far as this instance knows; `storedSentSeq`,
 * what the state row holds (written with the state, so it costs no row of its own); `markedSeq`,
 * what a restart would know (the stored one run on over the handed events after it).
 */
export class Outbox {
  private sentSeq = 0;
  private storedSentSeq = 0;
  private markedSeq = 0;
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  private failedSends = 0;
  /** When the alarm is due, as far as this instance knows; null when none is set. */
  private alarmAt: number | null = null;
  /** Whether the index knows this container (relaying waits for that: reconciliation walks the index). */
  private registered = false;
  private lastResend: { from: number; to: number; at: number } | null = null;

  constructor(
    private readonly log: ContainerLog,
    private readonly ports: OutboxPorts,
  ) {}

  /** At start: the watermarks from the log, whether the index knows the container, the alarm as set. */
  load(registered: boolean): void {
    this.registered = registered;
    this.storedSentSeq = this.log.storedWatermark();
    this.sentSeq = this.markedSeq = this.log.exists ? this.log.handedUpTo(this.storedSentSeq) : 0;
  }

  alarmSetFor(at: number | null): void {
    this.alarmAt = at;
  }

  /** Events in the log not yet handed to the queue. */
  pending(): number {
    return Math.max(0, this.log.version - this.sentSeq);
  }

  /** Where the outbox stands: what waits, whether the index knows the container, whether a drain runs, sends failed in a row, the alarm. */
  status(): OutboxStatus {
    return {
      pending: this.pending(),
      sentSeq: this.sentSeq,
      registered: this.registered,
      draining: this.draining !== null,
      failedSends: this.failedSends,
      alarmAt: this.alarmAt,
    };
  }

  /**
   * Whether the commit about to run may hand its events to its caller: when they are all there is
   * to send (nothing older waits or is on its way), sending has not been failing, and the index
   * knows this container.
   */
  mayHandOver(): boolean {
    return this.registered && this.draining === null && this.failedSends === 0 && this.sentSeq === this.log.version;
  }

  /**
   * The watermark a commit stores with the state row, should it write it: the commit's own version
   * when it hands its events over, else what has been sent. It must write it when this object has
   * sent events itself since the watermark was stored: the handed events after them would not carry
   * a restart's watermark past them.
   */
  watermark(handing: boolean): Watermark {
    return (before, version) =>
      handing ? { sentSeq: version, force: this.markedSeq < before } : { sentSeq: this.sentSeq, force: false };
  }

  /** After a commit: its ranges for the caller when it hands them over; otherwise its events are drained from here. */
  committed(committed: Committed, handing: boolean): RelayedRanges | null {
    if (committed.storedWatermark !== null) this.storedSentSeq = this.markedSeq = committed.storedWatermark;
    if (handing) {
      const relayed = {
        fromSeq: this.sentSeq + 1,
        // Text alone crosses to the caller: the range objects stay here.
        ranges: this.log
          .rangesOf(committed.events, false, committed.orders)
          .map(({ text, bytes }) => ({ text, bytes })),
      };
      this.sentSeq = this.markedSeq = this.log.version;
      return relayed;
    }
    // The guard alarm retries whatever this drain does not finish, whatever the reason. It is set
    // once and left standing (not set and deleted around every commit): when it fires with nothing
    // left to send it is simply not set again.
    if (this.alarmAt === null) this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    this.drain().catch((error: unknown) => this.ports.report(error, "ContainerDO outbox"));
    return null;
  }

  /** What was handed over from `fromSeq` on did not reach the queue: send it from the log. */
  relayFailed(fromSeq: number): void {
    if (!this.log.exists || fromSeq - 1 >= this.sentSeq) return;
    this.sentSeq = fromSeq - 1;
    this.markedSeq = Math.min(this.markedSeq, this.sentSeq);
    this.log.unhand(fromSeq);
    if (this.storedSentSeq > this.sentSeq) {
      this.log.storeWatermark(this.sentSeq);
      this.storedSentSeq = this.sentSeq;
    }
    if (this.alarmAt === null) this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    this.drain().catch((error: unknown) => this.ports.report(error, "ContainerDO outbox"));
  }

  /** The alarm: drain what an earlier drain left; once quiet, store the watermark and the state, so a restart sends and folds nothing again. */
  async alarm(): Promise<void> {
    this.alarmAt = null;
    await this.drain();
    if (
      this.pending() === 0 &&
      this.log.state !== null &&
      (this.storedSentSeq < this.sentSeq || this.log.stateRowBehind)
    ) {
      this.log.storeState(this.sentSeq);
      this.storedSentSeq = this.markedSeq = this.sentSeq;
    }
  }

  /**
   * Send events `from..to` of the log to the projection again (at most RESEND_MAX), each with the
   * container's state and orders as they are now. A range asked for again within RESEND_REPEAT_MS
   * is on its way already, unless `force`. Returns how many were sent.
   */
  async resend(from: number, to: number, force = false): Promise<number> {
    if (this.log.state === null) return 0;
    const first = Math.max(1, from);
    const last = Math.min(to, this.log.version, first + RESEND_MAX - 1);
    if (first > last) return 0;
    const now = Date.now();
    const previous = this.lastResend;
    if (!force && previous && previous.from === first && previous.to >= last && now - previous.at < RESEND_REPEAT_MS)
      return 0;
    this.lastResend = { from: first, to: last, at: now };
    const events = this.log.eventsBetween(first, last);
    for (const call of sendBatchesOf(this.log.rangesOf(events, true))) await this.ports.send(call);
    return events.length;
  }

  /** Hand the log past the watermark to the queue, oldest first; a failed send leaves it for the alarm. */
  private drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      for (;;) {
        do {
          this.drainAgain = false;
          if (!(await this.sendPending())) return;
        } while (this.drainAgain);
        this.failedSends = 0;
        if (this.registered) break;
        this.registered = await this.ports.register();
        // Commits made while it registered could not be handed over (it was draining): this drain
        // sends them too, rather than leaving them to the guard alarm.
        if (!this.registered || this.pending() === 0) break;
      }
      // What this drain sent is stored as sent (one column of the state row): an object started
      // again would otherwise take it for unsent, send it again and drain its next commit itself
      // rather than hand it over.
      if (this.pending() === 0 && this.storedSentSeq < this.sentSeq) {
        this.log.storeWatermark(this.sentSeq);
        this.storedSentSeq = this.markedSeq = this.sentSeq;
      }
      // Registration still owed, or events committed while this drain ended: the guard alarm stays.
      if (this.alarmAt === null && (!this.registered || this.pending() > 0))
        this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    })().finally(() => (this.draining = null));
    return this.draining;
  }

  /**
   * The log past the watermark, a range message at a time: commits that happen while one is on its
   * way are sent together in the next (the drain coalesces). False when a send failed.
   */
  private async sendPending(): Promise<boolean> {
    for (;;) {
      const events = this.log.eventsAfter(this.sentSeq, RANGE_EVENTS);
      if (events.length === 0) return true;
      const [sized] = this.log.rangesOf(events, false) as [SizedRange];
      const last = sized.range.events[sized.range.events.length - 1]!.seq;
      try {
        await this.ports.send([sized]);
      } catch (error) {
        this.failedSends++;
        const delay = Math.min(1000 * 2 ** (this.failedSends - 1), OUTBOX_BACKOFF_MAX_MS);
        this.scheduleAlarm(Date.now() + delay);
        await this.ports.report(error, "ContainerDO outbox", { pending: this.pending(), retryInMs: delay });
        return false;
      }
      this.sentSeq = Math.max(this.sentSeq, last);
    }
  }

  private scheduleAlarm(at: number): void {
    this.alarmAt = at;
    this.ports.setAlarm(at).catch((error: unknown) => {
      this.alarmAt = null;
      return this.ports.report(error, "ContainerDO alarm", { alarmAt: at });
    });
  }
}
