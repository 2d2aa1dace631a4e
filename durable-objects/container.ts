import { DurableObject } from "cloudflare:workers";
import { textMessage, type RelayedRanges, type SizedRange } from "../domain/change-message";
import {
  decideManualClose,
  decideManualOpen,
  decidePartnerOpen,
  decideDeliveryCheck,
  decideDismiss,
  decideReading,
  isStale,
  decideSettings,
  type Actor,
  type ContainerChange,
  type ContainerEvent,
  type ContainerState,
  type Order,
  type OrderLine,
  type Reading,
  type Settings,
  type SettingsChanged,
} from "../domain/container";
import type { Anomaly } from "../domain/anomalies";
import {
  decideDeliveryCorrection,
  decideFulfilment,
  decideLines,
  type DeliveryCorrection,
  type FulfilmentCommand,
} from "../domain/fulfilment";
import { serves, type Partner } from "../domain/partners";
import { reconcileEveryMs } from "../domain/reconciliation";
import type { ReadingResult, StoredReading } from "../domain/schemas";
import { reportError } from "../platform/error-report";
import { count, countedSql, queueUnits } from "../platform/usage";
import { CommandStore, type CommandKey } from "./container-commands";
import { ContainerLog, SeenBefore, type ReadingRow } from "./container-log";
import { Outbox, type OutboxStatus } from "./container-outbox";
import { eventsPage, ordersPage, readingsPage, type Page, type ReadingPosition } from "./container-queries";
import { objectName, Startup } from "./startup";

export { CONTAINER_SCHEMA } from "./container-schema";
export { STATE_EVERY_EVENTS } from "./container-log";
export { RESEND_MAX } from "./container-outbox";
export type { Page, ReadingPosition } from "./container-queries";
export type { RelayedRanges, SizedRange } from "../domain/change-message";

export type OpenOrderResult =
  | { ok: true; order: Order }
  | { ok: false; reason: "conflict"; order: Order }
  | { ok: false; reason: "unknown_container" };

export type CloseOrderResult =
  { ok: true; order: Order } | { ok: false; reason: "not_found" } | { ok: false; reason: "not_active"; order: Order };

/** What a fulfilment or lines command answers; kept per idempotency key, so a repeat answers the same. */
export type OrderCommandResult =
  | { ok: true; order: Order; created?: true; changed?: true }
  | { ok: false; reason: "not_found" | "unknown_container" }
  | { ok: false; reason: "illegal" | "other_partner" | "conflict"; order: Order }
  | { ok: false; reason: "differs"; order: Order; what: string }
  | { ok: false; reason: "not_served" };

/** An order command's answer, or, for a key used before by a different command, the first answer. */
export type KeyedCommandResult = OrderCommandResult | { ok: false; reason: "key_reused"; first: OrderCommandResult };

/**
 * One container: its state, reading history, orders and event log. This object serialises the
 * commands and wires the pieces: the rules decide (domain/), the log commits (ContainerLog), the
 * outbox sends (Outbox), partners' repeated commands get their first answer (CommandStore). Every
 * command runs to completion without awaiting anything, so the runtime never interleaves two
 * commands on one container; each command's writes commit in one transaction before its answer
 * leaves the object.
 */
export class ContainerDO extends DurableObject<Env> {
  private readonly containerId: string;
  private readonly startup: Startup;
  /** This object's SQL, its rows counted (platform/usage). */
  private readonly sql: SqlStorage;
  private readonly log: ContainerLog;
  private readonly outbox: Outbox;
  private readonly commands: CommandStore<OrderCommandResult>;
  /** Whether readings were seen again lately: then commits look for them first (see applyReadings). */
  private repeatsLately = false;
  /** Reading rows measured before this (ms) were pruned by archival: such readings are answered "archived". */
  private prunedBefore = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = countedSql(ctx.storage.sql);
    this.containerId = objectName(ctx, "ContainerDO");
    this.log = new ContainerLog(ctx.storage, this.sql, this.containerId);
    this.outbox = new Outbox(this.log, {
      send: (ranges) => this.send(ranges),
      setAlarm: (at) => ctx.storage.setAlarm(at),
      register: () => this.register(),
      report: (error, where, context) => this.report(error, where, context),
    });
    this.commands = new CommandStore<OrderCommandResult>(
      this.sql,
      () => this.log.exists,
      () => this.log.ensureTables(),
    );
    this.startup = new Startup(
      ctx,
      "ContainerDO",
      () => {
        // An object only ever asked about (a container that never reported) has no tables and
        // gets none: it answers "unknown" and stores nothing.
        this.log.load();
        const marks = this.log.startMarks;
        this.prunedBefore = marks.prunedBefore;
        this.outbox.load(marks.registered);
      },
      async () => this.outbox.alarmSetFor(await ctx.storage.getAlarm()),
    );
  }

  /** Drains what an earlier drain left (the object was evicted, or sending failed: then with backoff). */
  override async alarm(): Promise<void> {
    count("objectRequests");
    this.startup.check();
    await this.outbox.alarm();
  }

  /** Events in the log not yet handed to the queue. */
  pendingOutbox(): number {
    this.startup.check();
    return this.outbox.pending();
  }

  /** Where the outbox stands (what waits, whether it can hand events over, its alarm). */
  outboxStatus(): OutboxStatus {
    this.startup.check();
    return this.outbox.status();
  }

  /**
   * Apply a group of readings for this container, oldest `measuredAt` first, and hand the events it
   * committed back as range messages (with their sizes) for the caller to send to the queue
   * together with other containers' (workers/projection/relay.ts): one queue message for a whole
   * request instead of one per container. They count as sent from here; a caller that cannot send
   * them says so (`relayFailed`) and this object sends them itself. Should the caller die before
   * either, the projection's gap check (at this container's next message) or reconciliation has
   * them sent again from the log. When anything else is still on its way from here, nothing is
   * handed back and this object sends them itself, through its outbox.
   */
  ingestRelayed(
    readings: Reading[],
    actor: Actor,
    receivedAt: number,
  ): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    this.startup.check();
    return this.applyReadings(readings, actor, receivedAt);
  }

  /**
   * A log from a backup, replayed into this object (npm run restore, POST /v1/backups/restore): the
   * events as they were — ids, seqs, times, actors — each applied as its commit applied it, with
   * the orders and readings they make (a reading's answer from the events of its commit). Only an
   * empty object takes a log, and only from seq 1; a long log comes in parts, each ending where a
   * commit ended, announced by `lastSeq` with the first: until it is all in, only the next part of
   * it may follow. The outbox then sends the events on, as any commit's, so Postgres is rebuilt by
   * the projection.
   */
  restoreEvents(
    events: ContainerEvent[],
    lastSeq: number,
  ): { ok: true; version: number; done: boolean } | { ok: false; reason: string } {
    this.startup.check();
    const first = events[0];
    if (!first) return { ok: false, reason: "no events" };
    const version = this.log.version;
    const restoring = this.log.exists
      ? this.sql.exec<{ last_seq: number }>("SELECT last_seq FROM restoring WHERE id = 1").toArray()[0]
      : undefined;
    if (version > 0 && !restoring)
      return { ok: false, reason: `holds ${version} events: a log is restored only into an empty container` };
    if (restoring && restoring.last_seq !== lastSeq)
      return { ok: false, reason: `a restore ending at seq ${restoring.last_seq} is under way` };
    // A restore run again after one that stopped part-way: what this object holds already is passed over.
    if (restoring && first.seq <= version) {
      const rest = events.filter((e) => e.seq > version);
      if (rest.length === 0) return { ok: true, version, done: false };
      return this.restoreEvents(rest, lastSeq);
    }
    if (first.seq !== version + 1) return { ok: false, reason: `the next event must be seq ${version + 1}` };
    const end = events.at(-1)!.seq;
    if (end > lastSeq) return { ok: false, reason: `events go past lastSeq ${lastSeq}` };
    this.commit((state) => {
      const applied = events.map((event) => this.log.record(event));
      for (const row of readingRowsOf(applied)) this.log.addReading(row);
      if (state().version !== end) throw new Error("restored events are not contiguous");
      if (end < lastSeq)
        this.sql.exec(
          "INSERT INTO restoring (id, last_seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq",
          lastSeq,
        );
      else this.sql.exec("DELETE FROM restoring");
    });
    return { ok: true, version: end, done: end === lastSeq };
  }

  /**
   * Archival (workers/archive/job.ts): the readings measured before `before` (ms) leave the history
   * and the look-up of readings seen before, once the backup holds every event of this container up
   * to `coveredSeq` and so every one of theirs. Their events stay in the log (a restore rebuilds
   * the readings from them); their rows lose what made them readings. Refused, with nothing
   * changed, while such a reading's row lies past `coveredSeq`: `needsSeq` says which the backup
   * must reach. One scan of the log, once a month.
   */
  pruneReadings(before: number, coveredSeq: number): { pruned: number; needsSeq: number | null } {
    this.startup.check();
    if (!this.log.exists) return { pruned: 0, needsSeq: null };
    const { newest, pruned } = this.sql
      .exec<{ newest: number | null; pruned: number }>(
        "SELECT max(last_seq) AS newest, count(*) AS pruned FROM log WHERE reading_id IS NOT NULL AND measured_at < ?",
        before,
      )
      .one();
    if (newest !== null && newest > coveredSeq) return { pruned: 0, needsSeq: newest };
    if (pruned > 0)
      this.sql.exec(
        `UPDATE log SET reading_id = NULL, measured_at = NULL, status = NULL, result = NULL, fingerprint = NULL
         WHERE reading_id IS NOT NULL AND measured_at < ?`,
        before,
      );
    if (before > this.prunedBefore) {
      this.sql.exec(
        "INSERT INTO pruned (id, before) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET before = excluded.before",
        before,
      );
      this.prunedBefore = before;
    }
    return { pruned, needsSeq: null };
  }

  /** What was handed over from `fromSeq` on did not reach the queue: send it from the log. */
  relayFailed(fromSeq: number): void {
    this.startup.check();
    this.outbox.relayFailed(fromSeq);
  }

  openOrder(by: string): OpenOrderResult {
    this.startup.check();
    const state = this.log.state;
    if (state === null) return { ok: false, reason: "unknown_container" };
    const now = this.log.clock();
    const decision = decideManualOpen(state, by, { now, newOrderId: () => this.log.newOrderId(now) });
    if (!decision.ok) return { ok: false, reason: "conflict", order: decision.conflict };
    this.commit(() => this.log.append(decision.change, { kind: "user", id: by }, now, null));
    return { ok: true, order: decision.change.order };
  }

  closeOrder(orderId: string, by: string, note?: string): CloseOrderResult {
    this.startup.check();
    const known = this.log.orderById(orderId);
    const state = this.log.state;
    if (state === null || known === null) return { ok: false, reason: "not_found" };
    const now = this.log.clock();
    const decision = decideManualClose(state, orderId, known, by, now, note);
    if (!decision.ok) return { ok: false, reason: "not_active", order: known };
    let closed: Order | null = null;
    this.commit(() => (closed = this.log.append(decision.change, { kind: "user", id: by }, now, null).order));
    return { ok: true, order: closed! };
  }

  updateSettings(patch: Partial<Settings>, actor: Actor): { state: ContainerState; changed: SettingsChanged | null } {
    this.startup.check();
    const now = this.log.clock();
    let changed: SettingsChanged | null = null;
    this.commit((state) => {
      for (const change of decideSettings(state(), patch)) {
        this.log.append(change, actor, now, null);
        changed = change;
      }
    });
    return { state: this.log.state!, changed };
  }

  /**
   * A partner opens an order (`order.created`): the one-active-order rule holds, so with an order
   * active the answer is that order (conflict). `key` makes a repeat answer the same.
   */
  partnerOpenOrder(
    key: CommandKey,
    partner: Pick<Partner, "id" | "serves" | "disabled">,
    lines: OrderLine[] | null,
  ): KeyedCommandResult {
    this.startup.check();
    const partnerId = partner.id;
    const seen = this.recall(key);
    if (seen) return seen;
    const state = this.log.state;
    if (state === null) return this.commands.remembered(key, { ok: false, reason: "unknown_container" });
    if (!serves(partner, state.containerId, state.contents))
      return this.commands.remembered(key, { ok: false, reason: "not_served" });
    const now = this.log.clock();
    const decision = decidePartnerOpen(state, partnerId, lines, { now, newOrderId: () => this.log.newOrderId(now) });
    if (!decision.ok) return this.commands.remembered(key, { ok: false, reason: "conflict", order: decision.conflict });
    const result: OrderCommandResult = { ok: true, order: decision.change.order, created: true };
    this.commit(() => {
      this.log.append(decision.change, { kind: "partner", id: partnerId }, now, null);
      this.commands.remember(key, result);
    });
    return result;
  }

  /**
   * Move an order's fulfilment (partner, assembler or operator); see decideFulfilment. `partner`:
   * the partner asking (null for people); one that does not serve the container may not take its order.
   */
  moveFulfilment(
    key: CommandKey | null,
    orderId: string,
    command: Omit<FulfilmentCommand, "now">,
    actor: Actor,
    partner: Pick<Partner, "id" | "serves" | "disabled"> | null = null,
  ): KeyedCommandResult {
    this.startup.check();
    const seen = this.recall(key);
    if (seen) return seen;
    const known = this.log.orderById(orderId);
    const state = this.log.state;
    if (state === null || known === null) return this.commands.remembered(key, { ok: false, reason: "not_found" });
    if (partner && known.partnerId === null && !serves(partner, state.containerId, state.contents))
      return this.commands.remembered(key, { ok: false, reason: "not_served" });
    const now = this.log.clock();
    const decision = decideFulfilment(state, known, { ...command, now });
    if (!decision.ok)
      return this.commands.remembered(
        key,
        decision.reason === "not_found"
          ? { ok: false, reason: "not_found" }
          : decision.reason === "differs"
            ? { ok: false, reason: "differs", order: known, what: decision.what }
            : { ok: false, reason: decision.reason, order: known },
      );
    if (decision.changes.length === 0) return this.commands.remembered(key, { ok: true, order: known });
    let result: OrderCommandResult = { ok: true, order: known };
    this.commit((current) => {
      let order = known;
      for (const change of decision.changes) order = this.log.append(change, actor, now, null).order ?? order;
      // Delivered after the level already rose: does the quantity match the rise?
      if (command.to === "delivered")
        for (const change of decideDeliveryCheck(current(), order, {
          now,
          newAnomalyId: () => this.log.newAnomalyId(now),
        }))
          this.log.append(change, { kind: "system", id: "anomalies" }, now, null);
      result = { ok: true, order };
      this.commands.remember(key, result);
    });
    return result;
  }

  /**
   * The serving partner's default lead time (workers/lead-times.ts), as a settings change by the
   * system; a container that does not exist yet is left alone (it gets it once it reports).
   */
  setPartnerLeadTime(hours: number | null): void {
    this.startup.check();
    if (this.log.state === null) return;
    this.updateSettings({ partnerLeadTimeHours: hours }, { kind: "system", id: "partner-defaults" });
  }

  /**
   * The fleet's usual reading noise (workers/fleet-noise.ts), as a settings change by the system; a
   * container that does not exist yet is left alone.
   */
  setFleetNoise(points: number | null): void {
    this.startup.check();
    if (this.log.state === null) return;
    this.updateSettings({ fleetNoise: points }, { kind: "system", id: "fleet-noise" });
  }

  /** An operator dismisses an open anomaly; false when the container has no open anomaly of that id. */
  dismissAnomaly(anomalyId: string, by: string): { ok: true; anomaly: Anomaly } | { ok: false } {
    this.startup.check();
    const state = this.log.state;
    if (state === null) return { ok: false };
    const now = this.log.clock();
    const decision = decideDismiss(state, anomalyId, by, now);
    if (!decision.ok) return { ok: false };
    const change = decision.change;
    this.commit(() => this.log.append(change, { kind: "user", id: by }, now, null));
    return { ok: true, anomaly: (change as Extract<ContainerChange, { type: "anomaly.closed" }>).anomaly };
  }

  /** A partner corrects a delivery it reported (see decideDeliveryCorrection); `key` makes a repeat answer the same. */
  correctDelivery(key: CommandKey, orderId: string, correction: Omit<DeliveryCorrection, "now">): KeyedCommandResult {
    this.startup.check();
    const seen = this.recall(key);
    if (seen) return seen;
    const known = this.log.orderById(orderId);
    if (this.log.state === null || known === null)
      return this.commands.remembered(key, { ok: false, reason: "not_found" });
    const now = this.log.clock();
    const decision = decideDeliveryCorrection(known, { ...correction, now });
    if (!decision.ok)
      return this.commands.remembered(
        key,
        decision.reason === "not_found"
          ? { ok: false, reason: "not_found" }
          : { ok: false, reason: decision.reason, order: known },
      );
    if (decision.change === null) return this.commands.remembered(key, { ok: true, order: known });
    const change = decision.change;
    let result: OrderCommandResult = { ok: true, order: known };
    this.commit(() => {
      // Remembered as a change, so that a retry of this event can finish what follows it (the audit).
      result = {
        ok: true,
        order: this.log.append(change, { kind: "partner", id: correction.partnerId }, now, null).order ?? known,
        changed: true,
      };
      this.commands.remember(key, result);
    });
    return result;
  }

  /** Set an order's lines (assemblers, until dispatched). */
  setLines(key: CommandKey | null, orderId: string, lines: OrderLine[], actor: Actor): KeyedCommandResult {
    this.startup.check();
    const seen = this.recall(key);
    if (seen) return seen;
    const known = this.log.orderById(orderId);
    if (this.log.state === null || known === null)
      return this.commands.remembered(key, { ok: false, reason: "not_found" });
    const decision = decideLines(known, lines);
    if (!decision.ok) return this.commands.remembered(key, { ok: false, reason: "illegal", order: known });
    if (decision.change === null) return this.commands.remembered(key, { ok: true, order: known });
    const change = decision.change;
    const now = this.log.clock();
    let result: OrderCommandResult = { ok: true, order: known };
    this.commit(() => {
      result = { ok: true, order: this.log.append(change, actor, now, null).order ?? known };
      this.commands.remember(key, result);
    });
    return result;
  }

  /** What was answered under `key` before, if anything (read only: a new key stores nothing here). */
  recalledCommand(key: CommandKey): KeyedCommandResult | undefined {
    this.startup.check();
    return this.recall(key);
  }

  /** The first answer under `key`; for a key used before by a different command, that it was reused. */
  private recall(key: CommandKey | null): KeyedCommandResult | undefined {
    const seen = this.commands.recalled(key);
    if (!seen) return undefined;
    return seen.sameCommand ? seen.answer : { ok: false, reason: "key_reused", first: seen.answer };
  }

  getState(): ContainerState | null {
    this.startup.check();
    return this.log.state;
  }

  /**
   * Send events `from..to` of the log to the projection again (at most RESEND_MAX), each with the
   * container's state and orders as they are now: a consumer that found a gap asks for it, and
   * reconciliation asks for what Postgres lacks. Returns how many were sent.
   */
  async resend(from: number, to: number, force = false): Promise<number> {
    this.startup.check();
    return this.outbox.resend(from, to, force);
  }

  /**
   * Reconciliation's question: Postgres holds every event up to `projectedSeq`; if this container has
   * more, they are sent again. Returns the live version and how many events were sent.
   */
  async projectionCheck(projectedSeq: number): Promise<{ version: number; resent: number }> {
    this.startup.check();
    const version = this.log.version;
    const resent = version > projectedSeq ? await this.outbox.resend(projectedSeq + 1, version, true) : 0;
    return { version, resent };
  }

  /** Reading history, newest `measuredAt` first, strictly after `before` in that order; null for a container that never was. */
  listReadings(limit: number, before: ReadingPosition | null): Page<StoredReading, ReadingPosition> | null {
    this.startup.check();
    return this.log.state === null ? null : readingsPage(this.sql, limit, before);
  }

  /** Orders, newest first, those older than the order `before`; null for a container that never was. */
  listOrders(limit: number, before: string | null): Page<Order, string> | null {
    this.startup.check();
    return this.log.state === null ? null : ordersPage(this.sql, limit, before, this.log.state.activeOrder);
  }

  /** The event log in order, from just after `afterSeq`; null for a container that never was. */
  listEvents(afterSeq: number, limit: number): ContainerEvent[] | null {
    this.startup.check();
    return this.log.state === null ? null : eventsPage(this.sql, afterSeq, limit);
  }

  /**
   * Readings are taken to be new (their rows are written with ON CONFLICT DO NOTHING and counted);
   * should any turn out to have been seen before, the commit rolls back and runs again with a look
   * for them first, and so do this object's next commits until one finds none. A sensor's retry is
   * rare, and the look is a statement per commit saved.
   */
  private applyReadings(
    readings: Reading[],
    actor: Actor,
    receivedAt: number,
  ): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    if (!this.repeatsLately) {
      try {
        return this.applyReadingsOnce(readings, actor, receivedAt, false);
      } catch (error) {
        if (!(error instanceof SeenBefore)) throw error;
        this.repeatsLately = true;
      }
    }
    return this.applyReadingsOnce(readings, actor, receivedAt, true);
  }

  private applyReadingsOnce(
    readings: Reading[],
    actor: Actor,
    receivedAt: number,
    lookFirst: boolean,
  ): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    const containerId = this.containerId;
    const order = readings
      .map((reading, index) => ({ reading, index }))
      .sort((a, b) => a.reading.measuredAt - b.reading.measuredAt || a.index - b.index);
    const results = new Array<ReadingResult>(readings.length);
    const now = this.log.clock();
    const relayed = this.commit(
      (state) => {
        // Readings seen before, in one look for the whole group (and those earlier in this group).
        const seen = lookFirst
          ? this.log.seenReadings([...new Set(readings.map((r) => r.readingId))])
          : new Map<string, { result: string; fingerprint: string | null }>();
        if (lookFirst && seen.size === 0) this.repeatsLately = false;
        for (const { reading, index } of order) {
          // Its month is archived here: whether it was seen before cannot be told any more.
          if (reading.measuredAt < this.prunedBefore) {
            results[index] = { readingId: reading.readingId, containerId, status: "archived" };
            continue;
          }
          const previous = seen.get(reading.readingId);
          if (previous) {
            // Readings stored before fingerprints were kept cannot be compared, so they never conflict.
            const conflict = previous.fingerprint !== null && previous.fingerprint !== reading.fingerprint;
            results[index] = {
              readingId: reading.readingId,
              containerId,
              status: "duplicate",
              ...(conflict ? { conflict: true as const } : {}),
              original: JSON.parse(previous.result) as ReadingResult,
            };
            continue;
          }
          const model = isStale(state(), reading.measuredAt)
            ? undefined
            : this.log.model(reading.measuredAt, reading.fillPercent);
          const changes = decideReading(state(), reading, {
            receivedAt,
            now,
            newOrderId: () => this.log.newOrderId(now),
            newAnomalyId: () => this.log.newAnomalyId(now),
            model,
          });
          const result: ReadingResult = { readingId: reading.readingId, containerId, status: "applied" };
          for (const change of changes) {
            const { event, order } = this.log.append(change, actor, now, reading.readingId);
            if (event.type === "reading.recorded") {
              result.status = event.outcome;
            }
            if (event.type === "order.opened") result.orderOpened = event.order;
            if (event.type === "order.closed" && order) result.orderClosed = order;
          }
          const resultJson = JSON.stringify(result);
          this.log.addReading({
            readingId: reading.readingId,
            measuredAt: reading.measuredAt,
            status: result.status as "applied" | "stale",
            result: resultJson,
            fingerprint: reading.fingerprint ?? null,
          });
          seen.set(reading.readingId, { result: resultJson, fingerprint: reading.fingerprint ?? null });
          results[index] = result;
        }
      },
      { relay: true, readingsAreNew: !lookFirst },
    );
    return { results, relayed };
  }

  /**
   * One command's changes, committed in one transaction (ContainerLog.commit); with `relay`, its
   * events are handed back for the caller to send when the outbox allows (see `ingestRelayed`),
   * otherwise the outbox drains them. A failure other than a reading seen before is an error record.
   */
  private commit(
    work: (state: () => ContainerState) => void,
    { relay = false, readingsAreNew = false } = {},
  ): RelayedRanges | null {
    const handing = relay && this.outbox.mayHandOver();
    // Whether the index is to be told the log moved, decided first: a state row this commit writes
    // keeps the time, and an object started again within the interval does not tell it again.
    const movedSaidBefore = this.log.movedSaidAt;
    const now = Date.now();
    const tellIndex = now - movedSaidBefore >= reconcileEveryMs(this.env.RECONCILE_EVERY_SECONDS);
    if (tellIndex) this.log.movedSaidAt = now;
    let committed;
    try {
      committed = this.log.commit(work, { handed: handing, readingsAreNew, watermark: this.outbox.watermark(handing) });
    } catch (error) {
      this.log.movedSaidAt = movedSaidBefore;
      if (!(error instanceof SeenBefore)) this.ctx.waitUntil(this.report(error, "ContainerDO commit"));
      throw error;
    }
    if (committed === null) {
      this.log.movedSaidAt = movedSaidBefore;
      return null;
    }
    if (tellIndex) this.sayMoved();
    return this.outbox.committed(committed, handing);
  }

  /** Range messages to the projection queue, in one send, as their JSON text, counted (each message's size in bytes). */
  private async send(ranges: SizedRange[]): Promise<void> {
    await this.env.PROJECTION_QUEUE.sendBatch(ranges.map(({ text }) => textMessage(text)));
    count("queueMessagesSent", ranges.length);
    count(
      "queueMessageUnits",
      ranges.reduce((n, r) => n + queueUnits(r.bytes), 0),
    );
  }

  /**
   * Tell the index this container's log moved (at most once per reconciliation interval, as `commit`
   * decides: a regular reconciliation asks only the containers that did). Not awaited by the commit;
   * should it fail, the next commit says it again (and a full sweep asks every container anyway).
   */
  private sayMoved(): void {
    count("objectRequests");
    this.ctx.waitUntil(
      this.env.CONTAINER_INDEX.getByName("containers")
        .moved(this.containerId)
        .catch((error: unknown) => {
          this.log.movedSaidAt = 0;
          return this.report(error, "ContainerDO moved");
        }),
    );
  }

  /** Enter this container in the index reconciliation walks (after its outbox first drains); false when that failed, to be tried again. */
  private async register(): Promise<boolean> {
    try {
      count("objectRequests");
      await this.env.CONTAINER_INDEX.getByName("containers").register(this.containerId);
      this.sql.exec(
        "INSERT INTO registration (id, registered_at) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
        new Date().toISOString(),
      );
      return true;
    } catch (error) {
      // Not fatal for the outbox: the guard alarm stays and registration is tried again.
      await this.report(error, "ContainerDO registration");
      return false;
    }
  }

  private report(error: unknown, where: string, context: Record<string, string | number> = {}): Promise<void> {
    return reportError(this.env, error, "durable-object", where, {
      object: "ContainerDO",
      containerId: this.containerId,
      ...context,
    });
  }
}

/**
 * The reading rows a run of logged events makes (each with the order it touched, as applied), as
 * their commits wrote them: each recorded reading
 * with the answer it got (its outcome, and the order its commit opened or closed) and the
 * fingerprint the log kept of what the sensor sent (none for readings logged before it was kept).
 */
export function readingRowsOf(applied: readonly { event: ContainerEvent; order: Order | null }[]): ReadingRow[] {
  const rows: ReadingRow[] = [];
  const results = new Map<string, ReadingResult>();
  for (const { event, order } of applied) {
    if (event.type === "reading.recorded") {
      const result: ReadingResult = {
        readingId: event.reading.readingId,
        containerId: event.containerId,
        status: event.outcome,
      };
      results.set(event.reading.readingId, result);
      rows.push({
        readingId: event.reading.readingId,
        measuredAt: Date.parse(event.reading.measuredAt),
        status: event.outcome,
        result: "",
        fingerprint: event.fingerprint ?? null,
      });
      continue;
    }
    const result = event.readingId === null ? undefined : results.get(event.readingId);
    if (!result) continue;
    if (event.type === "order.opened") result.orderOpened = event.order;
    if (event.type === "order.closed" && order) result.orderClosed = order;
  }
  for (const row of rows) row.result = JSON.stringify(results.get(row.readingId));
  return rows;
}
