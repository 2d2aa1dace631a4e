import { DurableObject } from "cloudflare:workers";
import {
  closeOrder,
  decideManualClose,
  decideManualOpen,
  decidePartnerOpen,
  decideReading,
  decideSettings,
  emptyContainer,
  evolve,
  type Actor,
  type ContainerChange,
  type ContainerEvent,
  type ContainerState,
  type Order,
  type OrderLine,
  type Reading,
  type RecordedReading,
  type Settings,
  type SettingsChanged,
} from "../domain/container";
import { orderIdOf, RANGE_MAX_BYTES, utf8Length, type ChangeRange } from "../domain/change-message";
import { monotonicIds } from "../domain/ids";
import { reconcileEveryMs } from "../domain/reconciliation";
import { applyToOrder, decideFulfilment, decideLines, withOrderDefaults, type FulfilmentCommand } from "../domain/fulfilment";
import { serves, type Partner } from "../domain/partners";
import { reportError } from "../platform/error-report";
import { count, countedSql, queueUnits } from "../platform/usage";
import { ensureSchema } from "./schema";
import { objectName, Startup } from "./startup";

export type ReadingStatus = "applied" | "duplicate" | "stale";

export interface ReadingResult {
  readingId: string;
  containerId: string;
  status: ReadingStatus;
  /** On a duplicate whose payload differs from the original's: the original stands. */
  conflict?: true;
  orderOpened?: Order;
  orderClosed?: Order;
  /** For a duplicate: the answer the reading got when it was first applied. */
  original?: ReadingResult;
}

export interface StoredReading {
  readingId: string;
  fillPercent: number;
  contents: string | null;
  location: { lat: number; lon: number } | null;
  battery: number | null;
  measuredAt: string;
  receivedAt: string;
  /** How far ahead of the receiving clock the sensor's own time was (then measuredAt is the time received). */
  clockSkewMs: number;
  status: "applied" | "stale";
}

export interface Page<T, P> {
  items: T[];
  /** Where the next page starts, or null on the last page. */
  next: P | null;
}

export interface ReadingPosition {
  measuredAt: number;
  readingId: string;
}

export type OpenOrderResult =
  | { ok: true; order: Order }
  | { ok: false; reason: "conflict"; order: Order }
  | { ok: false; reason: "unknown_container" };

export type CloseOrderResult =
  | { ok: true; order: Order }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "not_active"; order: Order };

/** What a fulfilment or lines command answers; kept per idempotency key, so a repeat answers the same. */
export type OrderCommandResult =
  | { ok: true; order: Order; created?: true }
  | { ok: false; reason: "not_found" | "unknown_container" }
  | { ok: false; reason: "illegal" | "other_partner" | "conflict"; order: Order }
  | { ok: false; reason: "not_served" };

export const CONTAINER_SCHEMA = [
  `CREATE TABLE container (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
   CREATE TABLE readings (
     reading_id TEXT PRIMARY KEY,
     measured_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     body TEXT NOT NULL,
     result TEXT NOT NULL
   );
   CREATE INDEX readings_by_time ON readings (measured_at, reading_id);
   CREATE TABLE orders (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     at TEXT NOT NULL,
     body TEXT NOT NULL
   );`,
  // Transactional outbox: a row per event, written with the change, deleted once the queue has it.
  `CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);`,
  // What the sensor sent, to tell a retry (duplicate) from a different reading under the same key.
  `ALTER TABLE readings ADD COLUMN fingerprint TEXT;`,
  // The seq of the event that last changed each order (for sending it again), and whether the
  // container is in the index the projection's reconciliation walks.
  `ALTER TABLE orders ADD COLUMN version INTEGER;
   CREATE TABLE registration (id INTEGER PRIMARY KEY CHECK (id = 1), registered_at TEXT NOT NULL);`,
  // The first answer to each command that carries an idempotency key (a partner's eventId).
  `CREATE TABLE commands (key TEXT PRIMARY KEY, answer TEXT NOT NULL, at TEXT NOT NULL);`,
  // The event log is the outbox: a watermark on the container's row says up to which seq the queue
  // has every event (written with the state, so it costs no row of its own). Rows still in the old
  // outbox are sent from the log.
  `ALTER TABLE container ADD COLUMN sent_seq INTEGER NOT NULL DEFAULT 0;
   UPDATE container SET sent_seq = coalesce((SELECT min(seq) - 1 FROM outbox), (SELECT max(seq) FROM events), 0);
   DROP TABLE outbox;`,
  // Fewer rows written per reading (each index entry is a row written): events lose the unique
  // index on their id (ids are unique by construction and never looked up here), and readings keep
  // their rows in their primary key's tree (WITHOUT ROWID) instead of a table beside an index.
  `CREATE TABLE events_next (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL);
   INSERT INTO events_next (seq, id, type, at, body) SELECT seq, id, type, at, body FROM events;
   DROP TABLE events;
   ALTER TABLE events_next RENAME TO events;
   CREATE TABLE readings_next (
     reading_id TEXT PRIMARY KEY,
     measured_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     body TEXT NOT NULL,
     result TEXT NOT NULL,
     fingerprint TEXT
   ) WITHOUT ROWID;
   INSERT INTO readings_next (reading_id, measured_at, received_at, status, body, result, fingerprint)
     SELECT reading_id, measured_at, received_at, status, body, result, fingerprint FROM readings;
   DROP TABLE readings;
   ALTER TABLE readings_next RENAME TO readings;
   CREATE INDEX readings_by_time ON readings (measured_at, reading_id);`,
  // Whether the commit that wrote an event handed it to its caller to send (ingestRelayed): the
  // watermark runs on over such events at load, so the state row need not be written every commit.
  `ALTER TABLE events ADD COLUMN handed INTEGER NOT NULL DEFAULT 0;`,
];

/** At most this many events are sent again per request; a longer gap is filled in rounds. */
export const RESEND_MAX = 1000;
/** The same range asked for again this soon is already on its way. */
const RESEND_REPEAT_MS = 5_000;

/** Durable Object SQL binds at most this many parameters to one statement. */
const SQL_PARAMETERS = 100;
/** At most this many events go in one range message (and RANGE_MAX_BYTES of them). */
const RANGE_EVENTS = 100;
/** A queue's sendBatch takes at most 256 KB in all; a little is left for the messages' framing. */
const SEND_BATCH_MAX_BYTES = 250 * 1024;
/**
 * If a drain dies with the object, this alarm picks the log up again. Long, because it is set once
 * per quiet spell and wakes the object when it fires: for a sensor reporting every minute a short
 * guard would wake its container about once per reading. A drain dying mid-send is rare, and
 * reconciliation (every 10 minutes) would find the same events.
 */
const OUTBOX_GUARD_MS = 10 * 60_000;
const OUTBOX_BACKOFF_MAX_MS = 5 * 60_000;
/**
 * The state row is written once this many events have been committed since it last was (and at a
 * container's first commit, and when the object is quiet); loading folds the events after it into
 * it with `evolve`, as every commit does. Writing it every commit was a statement and a row written
 * per reading — a sixth of the rows a reading costs — for a state the log already implies.
 */
export const STATE_EVERY_EVENTS = 32;

/** A reading taken to be new was there already: the commit is rolled back and done again with a look first. */
class SeenBefore extends Error {}

/** A range message and the bytes of its JSON. */
export interface SizedRange {
  range: ChangeRange;
  bytes: number;
}

/** The ranges a commit handed to its caller to send, from which seq on. */
export interface RelayedRanges {
  fromSeq: number;
  ranges: SizedRange[];
}


/**
 * One container: its state, reading history, orders and event log. Every command runs to completion
 * without awaiting anything, so the runtime never interleaves two commands on one container; each
 * command's writes commit in one transaction before its answer leaves the object.
 */
export class ContainerDO extends DurableObject<Env> {
  private readonly containerId: string;
  private readonly startup: Startup;
  private state: ContainerState | null = null;
  /** The time of the newest event in the log; the clock never reads earlier (see `clock`). */
  private lastEventAt = 0;
  /** Whether the container index knows this container (done once, after the first commit). */
  private registered = false;
  private lastResend: { from: number; to: number; at: number } | null = null;
  private readonly newId = monotonicIds();
  /** This object's SQL, its rows counted (platform/usage). */
  private readonly sql: SqlStorage;
  /** When the alarm is due, as far as this instance knows; null when none is set. */
  private alarmAt: number | null = null;
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  private failedSends = 0;

  /** The events of the commit under way, as objects and as stored (for handing them over). */
  private committedEvents: { event: ContainerEvent; body: string }[] = [];
  /** The orders the commit under way saved, as saved, with the seq they are current as of. */
  private committedOrders = new Map<string, { order: Order; version: number }>();
  /** The state's JSON as the last commit stored it, for its size in range messages. */
  private stateJson: { version: number; bytes: number } | null = null;
  /** The version of the state as its row holds it (the events after it are folded in at load). */
  private storedStateVersion = 0;
  /** Whether the commit under way hands its events to its caller (see `commit`). */
  private handing = false;
  /**
   * Up to which seq a restart would know the events sent: the stored watermark, run on over the
   * handed events after it. Behind `sentSeq` once this object has sent events itself.
   */
  private markedSeq = 0;
  /** Whether readings were seen again lately: then commits look for them first (see applyReadings). */
  private repeatsLately = false;
  /** Rows a commit writes in bulk at its end: events and readings, many to a statement. */
  private eventRows: (string | number)[][] = [];
  private readingRows: (string | number | null)[][] = [];
  /** Up to which seq the queue has every event. */
  private sentSeq = 0;
  /**
   * The watermark as stored: it is written with the next commit's state (or by an idle alarm), so
   * after a restart the last range may be sent again; the projection takes repeats as they are.
   */
  private storedSentSeq = 0;
  /** Whether this object has its tables: from its first write on. */
  private stored = false;
  /** When this object last told the index its log moved (see `sayMoved`). */
  private movedSaidAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = countedSql(ctx.storage.sql);
    this.containerId = objectName(ctx, "ContainerDO");
    this.startup = new Startup(
      ctx,
      "ContainerDO",
      () => {
        // An object that was only ever asked about (a container that never reported) has no
        // tables and gets none: it answers "unknown" and stores nothing (see `store`).
        this.stored = hasTables(ctx.storage);
        if (!this.stored) return;
        ensureSchema(ctx.storage, CONTAINER_SCHEMA);
        this.state = this.loadState();
        const newest = this.sql.exec<{ at: string | null }>("SELECT at FROM events ORDER BY seq DESC LIMIT 1").toArray()[0];
        this.lastEventAt = newest?.at ? Date.parse(newest.at) : 0;
        this.registered = this.sql.exec("SELECT 1 FROM registration WHERE id = 1").toArray().length > 0;
        this.storedSentSeq = this.sql.exec<{ sent_seq: number }>("SELECT sent_seq FROM container WHERE id = 1").toArray()[0]?.sent_seq ?? 0;
        this.sentSeq = this.markedSeq = this.handedUpTo(this.storedSentSeq);
      },
      async () => {
        this.alarmAt = await ctx.storage.getAlarm();
      },
    );
  }

  /** Drains what an earlier drain left (the object was evicted, or sending failed: then with backoff). */
  override async alarm(): Promise<void> {
    count("objectRequests");
    this.startup.check();
    this.alarmAt = null;
    await this.drainOutbox();
    // Quiet now: store the watermark, so a restart sends nothing again, and the state, so a restart folds nothing in.
    if (this.pendingOutbox() === 0 && this.state !== null && (this.storedSentSeq < this.sentSeq || this.storedStateVersion < this.state.version)) {
      this.storeState(this.sentSeq);
    }
  }

  /** Events in the log not yet handed to the queue. */
  pendingOutbox(): number {
    this.startup.check();
    return Math.max(0, (this.state?.version ?? 0) - this.sentSeq);
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
  ingestRelayed(readings: Reading[], actor: Actor, receivedAt: number): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    this.startup.check();
    return this.applyReadings(readings, actor, receivedAt, true);
  }

  /** What was handed over from `fromSeq` on did not reach the queue: send it from the log. */
  relayFailed(fromSeq: number): void {
    this.startup.check();
    if (!this.stored || fromSeq - 1 >= this.sentSeq) return;
    this.sentSeq = fromSeq - 1;
    this.markedSeq = Math.min(this.markedSeq, this.sentSeq);
    // Not sent after all: a restart must not take them for sent.
    this.sql.exec("UPDATE events SET handed = 0 WHERE seq >= ? AND handed = 1", fromSeq);
    if (this.storedSentSeq > this.sentSeq) {
      this.sql.exec("UPDATE container SET sent_seq = ? WHERE id = 1", this.sentSeq);
      this.storedSentSeq = this.sentSeq;
    }
    if (this.alarmAt === null) this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    this.drainOutbox().catch((error: unknown) => this.report(error, "ContainerDO outbox"));
  }

  /**
   * Readings are taken to be new (their rows are written with ON CONFLICT DO NOTHING and counted);
   * should any turn out to have been seen before, the commit rolls back and runs again with a look
   * for them first, and so do this object's next commits until one finds none. A sensor's retry is
   * rare, and the look is a statement per commit saved.
   */
  private applyReadings(readings: Reading[], actor: Actor, receivedAt: number, relay: boolean): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    if (!this.repeatsLately) {
      try {
        return this.applyReadingsOnce(readings, actor, receivedAt, relay, false);
      } catch (error) {
        if (!(error instanceof SeenBefore)) throw error;
        this.repeatsLately = true;
      }
    }
    return this.applyReadingsOnce(readings, actor, receivedAt, relay, true);
  }

  private applyReadingsOnce(readings: Reading[], actor: Actor, receivedAt: number, relay: boolean, lookFirst: boolean): { results: ReadingResult[]; relayed: RelayedRanges | null } {
    const containerId = this.containerId;
    const order = readings
      .map((reading, index) => ({ reading, index }))
      .sort((a, b) => a.reading.measuredAt - b.reading.measuredAt || a.index - b.index);
    const results = new Array<ReadingResult>(readings.length);
    const now = this.clock();
    const relayed = this.commit((state) => {
      // Readings seen before, in one look for the whole group (and those earlier in this group).
      const seen = new Map<string, { result: string; fingerprint: string | null }>();
      const ids = lookFirst ? [...new Set(readings.map((r) => r.readingId))] : [];
      for (let i = 0; i < ids.length; i += SQL_PARAMETERS) {
        const chunk = ids.slice(i, i + SQL_PARAMETERS);
        for (const row of this.sql.exec<{ reading_id: string; result: string; fingerprint: string | null }>(
          `SELECT reading_id, result, fingerprint FROM readings WHERE reading_id IN (${chunk.map(() => "?").join(", ")})`,
          ...chunk,
        )) {
          seen.set(row.reading_id, { result: row.result, fingerprint: row.fingerprint });
        }
      }
      if (lookFirst && seen.size === 0) this.repeatsLately = false;
      for (const { reading, index } of order) {
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
        const changes = decideReading(state(), reading, {
          receivedAt,
          now,
          newOrderId: () => this.newId("ord_", now),
        });
        const result: ReadingResult = { readingId: reading.readingId, containerId, status: "applied" };
        let recorded: RecordedReading | null = null;
        for (const change of changes) {
          const { event, order } = this.append(change, actor, now, reading.readingId);
          if (event.type === "reading.recorded") {
            result.status = event.outcome;
            recorded = event.reading;
          }
          if (event.type === "order.opened") result.orderOpened = event.order;
          if (event.type === "order.closed" && order) result.orderClosed = order;
        }
        const resultJson = JSON.stringify(result);
        this.readingRows.push([
          reading.readingId,
          reading.measuredAt,
          receivedAt,
          result.status,
          JSON.stringify(storedReading(recorded!, result.status as "applied" | "stale")),
          resultJson,
          reading.fingerprint ?? null,
        ]);
        seen.set(reading.readingId, { result: resultJson, fingerprint: reading.fingerprint ?? null });
        results[index] = result;
      }
    }, { relay, readingsAreNew: !lookFirst });
    return { results, relayed };
  }

  openOrder(by: string): OpenOrderResult {
    this.startup.check();
    if (this.state === null) return { ok: false, reason: "unknown_container" };
    const now = this.clock();
    const decision = decideManualOpen(this.state, by, { now, newOrderId: () => this.newId("ord_", now) });
    if (!decision.ok) return { ok: false, reason: "conflict", order: decision.conflict };
    this.commit(() => this.append(decision.change, { kind: "user", id: by }, now, null));
    return { ok: true, order: decision.change.order };
  }

  closeOrder(orderId: string, by: string): CloseOrderResult {
    this.startup.check();
    const known = this.orderById(orderId);
    if (this.state === null || known === null) return { ok: false, reason: "not_found" };
    const now = this.clock();
    const decision = decideManualClose(this.state, orderId, known, by, now);
    if (!decision.ok) return { ok: false, reason: "not_active", order: known };
    let closed: Order | null = null;
    this.commit(() => (closed = this.append(decision.change, { kind: "user", id: by }, now, null).order));
    return { ok: true, order: closed! };
  }

  updateSettings(patch: Partial<Settings>, actor: Actor): { state: ContainerState; changed: SettingsChanged | null } {
    this.startup.check();
    const now = this.clock();
    let changed: SettingsChanged | null = null;
    this.commit((state) => {
      for (const change of decideSettings(state(), patch)) {
        this.append(change, actor, now, null);
        changed = change;
      }
    });
    return { state: this.state!, changed };
  }

  /**
   * A partner opens an order (`order.created`): the one-active-order rule holds, so with an order
   * active the answer is that order (conflict). `key` makes a repeat answer the same.
   */
  partnerOpenOrder(key: string, partner: Pick<Partner, "id" | "serves" | "disabled">, lines: OrderLine[] | null): OrderCommandResult {
    this.startup.check();
    const partnerId = partner.id;
    const seen = this.recalled(key);
    if (seen) return seen;
    if (this.state === null) return this.remembered(key, { ok: false, reason: "unknown_container" });
    if (!serves(partner, this.state.containerId, this.state.contents)) return this.remembered(key, { ok: false, reason: "not_served" });
    const now = this.clock();
    const decision = decidePartnerOpen(this.state, partnerId, lines, { now, newOrderId: () => this.newId("ord_", now) });
    if (!decision.ok) return this.remembered(key, { ok: false, reason: "conflict", order: decision.conflict });
    const result: OrderCommandResult = { ok: true, order: decision.change.order, created: true };
    this.commit(() => {
      this.append(decision.change, { kind: "partner", id: partnerId }, now, null);
      this.remember(key, result);
    });
    return result;
  }

  /** Move an order's fulfilment (partner, assembler or operator); see decideFulfilment. */
  /** `partner`: the partner asking (null for people); one that does not serve the container may not take its order. */
  moveFulfilment(key: string | null, orderId: string, command: Omit<FulfilmentCommand, "now">, actor: Actor, partner: Pick<Partner, "id" | "serves" | "disabled"> | null = null): OrderCommandResult {
    this.startup.check();
    const seen = this.recalled(key);
    if (seen) return seen;
    const known = this.orderById(orderId);
    if (this.state === null || known === null) return this.remembered(key, { ok: false, reason: "not_found" });
    if (partner && known.partnerId === null && !serves(partner, this.state.containerId, this.state.contents)) return this.remembered(key, { ok: false, reason: "not_served" });
    const now = this.clock();
    const decision = decideFulfilment(this.state, known, { ...command, now });
    if (!decision.ok) return this.remembered(key, decision.reason === "not_found" ? { ok: false, reason: "not_found" } : { ok: false, reason: decision.reason, order: known });
    if (decision.changes.length === 0) return this.remembered(key, { ok: true, order: known });
    let result: OrderCommandResult = { ok: true, order: known };
    this.commit(() => {
      let order = known;
      for (const change of decision.changes) order = this.append(change, actor, now, null).order ?? order;
      result = { ok: true, order };
      this.remember(key, result);
    });
    return result;
  }

  /** Set an order's lines (assemblers, until dispatched). */
  setLines(key: string | null, orderId: string, lines: OrderLine[], actor: Actor): OrderCommandResult {
    this.startup.check();
    const seen = this.recalled(key);
    if (seen) return seen;
    const known = this.orderById(orderId);
    if (this.state === null || known === null) return this.remembered(key, { ok: false, reason: "not_found" });
    const decision = decideLines(known, lines);
    if (!decision.ok) return this.remembered(key, { ok: false, reason: "illegal", order: known });
    if (decision.change === null) return this.remembered(key, { ok: true, order: known });
    const change = decision.change;
    const now = this.clock();
    let result: OrderCommandResult = { ok: true, order: known };
    this.commit(() => {
      result = { ok: true, order: this.append(change, actor, now, null).order ?? known };
      this.remember(key, result);
    });
    return result;
  }

  getState(): ContainerState | null {
    this.startup.check();
    return this.state;
  }

  /**
   * Send events `from..to` of the log to the projection again (at most RESEND_MAX), each with the
   * container's state and orders as they are now: a consumer that found a gap asks for it, and
   * reconciliation asks for what Postgres lacks. Returns how many were sent.
   */
  async resend(from: number, to: number, force = false): Promise<number> {
    this.startup.check();
    const state = this.state;
    if (state === null) return 0;
    const first = Math.max(1, from);
    const last = Math.min(to, state.version, first + RESEND_MAX - 1);
    if (first > last) return 0;
    const now = Date.now();
    const previous = this.lastResend;
    if (!force && previous && previous.from === first && previous.to >= last && now - previous.at < RESEND_REPEAT_MS) return 0;
    this.lastResend = { from: first, to: last, at: now };
    const events = this.sql
      .exec<{ body: string }>("SELECT body FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", first, last)
      .toArray()
      .map((r) => ({ event: JSON.parse(r.body) as ContainerEvent, body: r.body }));
    await this.sendRanges(this.rangesOf(events, true));
    return events.length;
  }

  /**
   * Reconciliation's question: Postgres holds every event up to `projectedSeq`; if this container has
   * more, they are sent again. Returns the live version and how many events were sent.
   */
  async projectionCheck(projectedSeq: number): Promise<{ version: number; resent: number }> {
    this.startup.check();
    const version = this.state?.version ?? 0;
    const resent = version > projectedSeq ? await this.resend(projectedSeq + 1, version, true) : 0;
    return { version, resent };
  }

  /** Reading history, newest `measuredAt` first, strictly after `before` in that order; null for a container that never was. */
  listReadings(limit: number, before: ReadingPosition | null): Page<StoredReading, ReadingPosition> | null {
    this.startup.check();
    if (this.state === null) return null;
    const time = before?.measuredAt ?? Number.MAX_SAFE_INTEGER;
    const rows = this.sql
      .exec<{ body: string; measured_at: number; reading_id: string }>(
        `SELECT body, measured_at, reading_id FROM readings
         WHERE measured_at < ? OR (measured_at = ? AND reading_id < ?)
         ORDER BY measured_at DESC, reading_id DESC LIMIT ?`,
        time,
        time,
        before?.readingId ?? "",
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => JSON.parse(r.body) as StoredReading),
      next: rows.length > limit && last ? { measuredAt: last.measured_at, readingId: last.reading_id } : null,
    };
  }

  /** Orders, newest first, those older than the order `before`; null for a container that never was. */
  listOrders(limit: number, before: string | null): Page<Order, string> | null {
    this.startup.check();
    if (this.state === null) return null;
    const rows = this.sql
      .exec<{ id: string; body: string }>(
        "SELECT id, body FROM orders WHERE id < ? ORDER BY id DESC LIMIT ?",
        before ?? "\uffff",
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => withOrderDefaults(JSON.parse(r.body) as Order)),
      next: rows.length > limit ? page[page.length - 1]!.id : null,
    };
  }

  /** The event log in order, from just after `afterSeq`; null for a container that never was. */
  listEvents(afterSeq: number, limit: number): ContainerEvent[] | null {
    this.startup.check();
    if (this.state === null) return null;
    return this.sql
      .exec<{ body: string }>("SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as ContainerEvent);
  }

  /**
   * Run `work` in one storage transaction. `work` reads the current state through the getter it is
   * handed and changes it only through `append`; if it throws, storage rolls back and the in-memory
   * state is reloaded so the two never disagree.
   */
  /**
   * With `relay`, returns the events committed when they are handed to the caller (see
   * `ingestRelayed`); with `readingsAreNew`, the readings' rows are checked as they are written
   * (see `applyReadings`).
   */
  private commit(work: (state: () => ContainerState) => void, { relay = false, readingsAreNew = false } = {}): RelayedRanges | null {
    const containerId = this.containerId;
    const before = this.state;
    let committed: { event: ContainerEvent; body: string }[] = [];
    let committedOrders = new Map<string, { order: Order; version: number }>();
    // This commit's events are handed to the caller when they are all there is to send: nothing
    // older waits or is on its way, sending has not been failing, and the index knows this container.
    // Their event rows say so (`handed`), so a restart does not send them again.
    const relaying = relay && this.registered && this.draining === null && this.failedSends === 0 && this.sentSeq === (before?.version ?? 0);
    this.handing = relaying;
    this.store();
    try {
      this.ctx.storage.transactionSync(() => {
        this.state ??= emptyContainer(containerId);
        work(() => this.state!);
        this.insertMany("events", ["seq", "id", "type", "at", "body", "handed"], this.eventRows);
        const written = this.insertMany("readings", ["reading_id", "measured_at", "received_at", "status", "body", "result", "fingerprint"], this.readingRows, readingsAreNew ? "reading_id" : null);
        if (written < this.readingRows.length) throw new SeenBefore();
        // Also when this object has sent events itself since the watermark was stored: the handed
        // events after them would not carry a restart's watermark past them.
        if (before === null || this.state.version - this.storedStateVersion >= STATE_EVERY_EVENTS || (relaying && this.markedSeq < before.version)) {
          this.storeState(relaying ? this.state.version : this.sentSeq);
        }
      });
    } catch (error) {
      this.state = this.loadState();
      if (!(error instanceof SeenBefore)) this.ctx.waitUntil(this.report(error, "ContainerDO commit"));
      throw error;
    } finally {
      committed = this.committedEvents;
      committedOrders = this.committedOrders;
      this.eventRows = [];
      this.readingRows = [];
      this.committedEvents = [];
      this.committedOrders = new Map();
    }
    if (this.state!.version === (before?.version ?? 0)) return null;
    this.sayMoved();
    if (relaying) {
      const relayed = { fromSeq: this.sentSeq + 1, ranges: this.rangesOf(committed, false, committedOrders) };
      this.sentSeq = this.markedSeq = this.state!.version;
      return relayed;
    }
    // The guard alarm retries whatever this drain does not finish, whatever the reason. It is set
    // once and left standing (not set and deleted around every commit): when it fires with nothing
    // left to send it is simply not set again.
    if (this.alarmAt === null) this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    this.drainOutbox().catch((error: unknown) => this.report(error, "ContainerDO outbox"));
    return null;
  }

  /**
   * The watermark after a start: the stored one, run on over the events after it that their commits
   * handed to the caller (those count as sent, as they did before the object stopped).
   */
  private handedUpTo(stored: number): number {
    let sent = stored;
    for (;;) {
      const rows = this.sql.exec<{ seq: number; handed: number }>("SELECT seq, handed FROM events WHERE seq > ? ORDER BY seq LIMIT 1000", sent).toArray();
      for (const row of rows) {
        if (row.handed !== 1 || row.seq !== sent + 1) return sent;
        sent = row.seq;
      }
      if (rows.length < 1000) return sent;
    }
  }

  /** The tables, made before this object's first write. */
  private store(): void {
    if (this.stored) return;
    ensureSchema(this.ctx.storage, CONTAINER_SCHEMA);
    this.stored = true;
  }

  /** The state's row, with the watermark `sentSeq` (inside the caller's transaction, if any). */
  private storeState(sentSeq: number): void {
    const state = this.state!;
    const json = JSON.stringify(state);
    this.sql.exec(
      "INSERT INTO container (id, state, sent_seq) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, sent_seq = excluded.sent_seq",
      json,
      sentSeq,
    );
    this.stateJson = { version: state.version, bytes: utf8Length(json) };
    this.storedStateVersion = state.version;
    this.storedSentSeq = this.markedSeq = sentSeq;
  }

  /**
   * Rows into `table`, as many to a statement as its 100 bound parameters allow (Durable Object SQL's
   * limit): each statement is a call into storage, and a group of readings makes hundreds of rows.
   */
  private insertMany(table: string, columns: string[], rows: unknown[][], skipExisting: string | null = null): number {
    const row = `(${columns.map(() => "?").join(", ")})`;
    const perStatement = Math.floor(SQL_PARAMETERS / columns.length);
    // With `skipExisting` (the key column): rows whose key is there already are left out, and the
    // count says how many went in.
    const tail = skipExisting ? ` ON CONFLICT (${skipExisting}) DO NOTHING RETURNING ${skipExisting}` : "";
    let written = 0;
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      const cursor = this.sql.exec(`INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => row).join(", ")}${tail}`, ...chunk.flat());
      written += skipExisting ? cursor.toArray().length : chunk.length;
    }
    return written;
  }

  /**
   * The time of a commit: now, but never earlier than the newest event, so a clock that steps back
   * cannot make the log run backwards; within a container time order is log order.
   */
  private clock(): number {
    return Math.max(Date.now(), this.lastEventAt);
  }

  private scheduleAlarm(at: number): void {
    this.alarmAt = at;
    this.ctx.storage.setAlarm(at).catch((error: unknown) => {
      this.alarmAt = null;
      return this.report(error, "ContainerDO alarm", { alarmAt: at });
    });
  }

  private report(error: unknown, where: string, context: Record<string, string | number> = {}): Promise<void> {
    return reportError(this.env, error, "durable-object", where, { object: "ContainerDO", containerId: this.containerId, ...context });
  }

  /**
   * Hand the outbox to the queue, oldest first, deleting rows only once sent. A failed send leaves the
   * rows and sets the alarm to try again later; a sensor's answer never waits for any of this.
   */
  private drainOutbox(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.drainAgain = false;
        if (!(await this.sendPending())) return;
      } while (this.drainAgain);
      this.failedSends = 0;
      await this.register();
      // Registration still owed, or events committed while this drain ended: the guard alarm stays.
      if (this.alarmAt === null && (!this.registered || this.pendingOutbox() > 0)) this.scheduleAlarm(Date.now() + OUTBOX_GUARD_MS);
    })().finally(() => (this.draining = null));
    return this.draining;
  }

  /**
   * Tell the index this container's log moved, at most once per reconciliation interval: a regular
   * reconciliation asks only the containers that did. Not awaited by the commit; should it fail,
   * the next commit says it again (and a full sweep asks every container anyway).
   */
  private sayMoved(): void {
    const now = Date.now();
    if (now - this.movedSaidAt < reconcileEveryMs(this.env.RECONCILE_EVERY_SECONDS)) return;
    this.movedSaidAt = now;
    count("objectRequests");
    this.ctx.waitUntil(
      this.env.CONTAINER_INDEX.getByName("containers")
        .moved(this.containerId)
        .catch((error: unknown) => {
          this.movedSaidAt = 0;
          return this.report(error, "ContainerDO moved");
        }),
    );
  }

  /** Enter this container in the index reconciliation walks; once, after its outbox first drains. */
  private async register(): Promise<void> {
    if (this.registered) return;
    try {
      count("objectRequests");
      await this.env.CONTAINER_INDEX.getByName("containers").register(this.containerId);
      this.sql.exec("INSERT INTO registration (id, registered_at) VALUES (1, ?) ON CONFLICT (id) DO NOTHING", new Date().toISOString());
      this.registered = true;
    } catch (error) {
      // Not fatal for the outbox: the guard alarm stays and registration is tried again.
      await this.report(error, "ContainerDO registration");
    }
  }

  /**
   * Hand the log past the watermark to the queue, a range message at a time: commits that happen
   * while one is on its way are sent together in the next (the drain coalesces).
   */
  private async sendPending(): Promise<boolean> {
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; body: string }>("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", this.sentSeq, RANGE_EVENTS)
        .toArray();
      if (rows.length === 0) return true;
      const [sized] = this.rangesOf(rows.map((r) => ({ event: JSON.parse(r.body) as ContainerEvent, body: r.body })), false) as [SizedRange];
      const last = sized.range.events[sized.range.events.length - 1]!.seq;
      try {
        await this.send([sized]);
      } catch (error) {
        this.failedSends++;
        const delay = Math.min(1000 * 2 ** (this.failedSends - 1), OUTBOX_BACKOFF_MAX_MS);
        this.scheduleAlarm(Date.now() + delay);
        await this.report(error, "ContainerDO outbox", { pending: this.pendingOutbox(), retryInMs: delay });
        return false;
      }
      this.sentSeq = Math.max(this.sentSeq, last);
    }
  }

  /**
   * Range messages for consecutive events (their stored JSON), each within RANGE_MAX_BYTES, with the
   * state as it is now and every order they touch as it is now.
   */
  private rangesOf(items: { event: ContainerEvent; body: string }[], resent: boolean, known: ReadonlyMap<string, { order: Order; version: number }> = new Map()): SizedRange[] {
    const state = this.state!;
    const stateBytes = this.stateJson?.version === state.version ? this.stateJson.bytes : utf8Length(JSON.stringify(state));
    const ranges: SizedRange[] = [];
    let events: ContainerEvent[] = [];
    let bytes = 0;
    const flush = () => {
      if (events.length === 0) return;
      const ids = [...new Set(events.map(orderIdOf).filter((id): id is string => id !== null))];
      const orders = ids.flatMap((id) => {
        // As this commit saved it, or as stored.
        const saved = known.get(id);
        if (saved) return [saved];
        const row = this.orderRow(id);
        return row ? [{ order: row.order, version: row.version ?? state.version }] : [];
      });
      const range: ChangeRange = { range: true, containerId: state.containerId, events, state, orders, ...(resent ? { resent: true as const } : {}) };
      // The JSON's size: the events as stored, the state, the orders, the framing.
      const orderBytes = orders.reduce((n, o) => n + utf8Length(JSON.stringify(o)) + 1, 0);
      ranges.push({ range, bytes: bytes + events.length + stateBytes + orderBytes + 128 + utf8Length(state.containerId) });
      events = [];
      bytes = 0;
    };
    for (const { event, body } of items) {
      // Bytes as the queue counts them (UTF-8), not characters: names may be in any script.
      const size = utf8Length(body);
      if (bytes + size > RANGE_MAX_BYTES || events.length === RANGE_EVENTS) flush();
      events.push(event);
      bytes += size;
    }
    flush();
    return ranges;
  }

  /** Range messages to the projection queue, in one send, counted (each message's size in bytes of JSON). */
  private async send(ranges: SizedRange[]): Promise<void> {
    await this.env.PROJECTION_QUEUE.sendBatch(ranges.map(({ range }) => ({ body: range, contentType: "json" })));
    count("queueMessagesSent", ranges.length);
    count("queueMessageUnits", ranges.reduce((n, r) => n + queueUnits(r.bytes), 0));
  }

  /**
   * Ranges to the queue in as few sends as its limits allow: at most 100 messages and 256 KB in one
   * sendBatch (resending a long run makes many ranges of up to 96 KB each).
   */
  private async sendRanges(ranges: SizedRange[]): Promise<void> {
    let batch: SizedRange[] = [];
    let bytes = 0;
    for (const sized of ranges) {
      const size = sized.bytes;
      if (batch.length > 0 && (batch.length === 100 || bytes + size > SEND_BATCH_MAX_BYTES)) {
        await this.send(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(sized);
      bytes += size;
    }
    if (batch.length > 0) await this.send(batch);
  }

  /** Log one change and apply it (the drain sends it from the log); returns the event and the order it touched. */
  private append(change: ContainerChange, actor: Actor, at: number, readingId: string | null): { event: ContainerEvent; order: Order | null } {
    const state = this.state!;
    const event = {
      ...change,
      id: this.newId("evt_", at),
      seq: state.version + 1,
      containerId: state.containerId,
      at: new Date(at).toISOString(),
      actor,
      readingId,
    } as ContainerEvent;
    this.lastEventAt = Math.max(this.lastEventAt, at);
    const body = JSON.stringify(event);
    this.eventRows.push([event.seq, event.id, event.type, event.at, body, this.handing ? 1 : 0]);
    this.committedEvents.push({ event, body });
    let order: Order | null = null;
    if (event.type === "order.opened") order = event.order;
    if (event.type === "order.closed") {
      // The active order is in the state (kept alike with its row); any other is read.
      const open = state.activeOrder?.id === event.orderId ? state.activeOrder : this.orderById(event.orderId);
      if (open) order = closeOrder(open, event);
    }
    if (event.type === "order.fulfilment_changed" || event.type === "order.lines_set") {
      const known = this.orderById(event.orderId);
      if (known) order = applyToOrder(known, event);
    }
    if (order) {
      this.saveOrder(order, event.seq);
      this.committedOrders.set(order.id, { order, version: event.seq });
    }
    this.state = evolve(state, event);
    return { event, order };
  }

  private recalled(key: string | null): OrderCommandResult | undefined {
    if (key === null || !this.stored) return undefined;
    const row = this.sql.exec<{ answer: string }>("SELECT answer FROM commands WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.answer) as OrderCommandResult) : undefined;
  }

  /** Keep the first answer to `key` (inside the command's own transaction when it changed anything). */
  private remember(key: string | null, answer: OrderCommandResult): void {
    if (key === null) return;
    this.store();
    this.sql.exec("INSERT INTO commands (key, answer, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING", key, JSON.stringify(answer), new Date().toISOString());
  }

  private remembered(key: string | null, answer: OrderCommandResult): OrderCommandResult {
    this.remember(key, answer);
    return answer;
  }

  private saveOrder(order: Order, version: number): void {
    this.sql.exec(
      `INSERT INTO orders (id, status, body, version) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body, version = excluded.version`,
      order.id,
      order.status,
      JSON.stringify(order),
      version,
    );
  }

  /** An order as stored, with the seq of the event that last changed it (null for orders kept before that was). */
  private orderRow(id: string): { order: Order; version: number | null } | null {
    if (!this.stored) return null;
    const row = this.sql
      .exec<{ body: string; version: number | null }>("SELECT body, version FROM orders WHERE id = ?", id)
      .toArray()[0];
    return row ? { order: withOrderDefaults(JSON.parse(row.body) as Order), version: row.version } : null;
  }

  private orderById(id: string): Order | null {
    if (!this.stored) return null;
    const row = this.sql.exec<{ body: string }>("SELECT body FROM orders WHERE id = ?", id).toArray()[0];
    return row ? withOrderDefaults(JSON.parse(row.body) as Order) : null;
  }

  /**
   * The stored state (fields added since it was written take their defaults) with the events
   * committed after it applied, as their commits applied them.
   */
  private loadState(): ContainerState | null {
    const row = this.sql.exec<{ state: string }>("SELECT state FROM container WHERE id = 1").toArray()[0];
    let state: ContainerState | null = row ? { ...emptyContainer(this.containerId), ...(JSON.parse(row.state) as Partial<ContainerState>) } : null;
    this.storedStateVersion = state?.version ?? 0;
    for (const event of this.sql.exec<{ body: string }>("SELECT body FROM events WHERE seq > ? ORDER BY seq", this.storedStateVersion)) {
      state = evolve(state ?? emptyContainer(this.containerId), JSON.parse(event.body) as ContainerEvent);
    }
    return state?.activeOrder ? { ...state, activeOrder: withOrderDefaults(state.activeOrder) } : state;
  }
}

/** Whether an object's storage has any table (none until its first write). */
function hasTables(storage: DurableObjectStorage): boolean {
  return storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").toArray().length > 0;
}

function storedReading(r: RecordedReading, status: "applied" | "stale"): StoredReading {
  return {
    readingId: r.readingId,
    fillPercent: r.fillPercent,
    contents: r.contents ?? null,
    location: r.location,
    battery: r.battery ?? null,
    measuredAt: r.measuredAt,
    receivedAt: r.receivedAt,
    clockSkewMs: r.clockSkewMs,
    status,
  };
}
