import { rangesOf, utf8Length, type OrderAsOf, type SizedRange, type StoredEvent } from "../domain/change-message";
import {
  closeOrder,
  emptyContainer,
  evolve,
  modelSees,
  type Actor,
  type ContainerChange,
  type ContainerEvent,
  type ContainerState,
  type ModelView,
  type Order,
} from "../domain/container";
import {
  DAY_MS,
  emptyWindow,
  estimate,
  LOOKBACK_DAYS,
  windowAfter,
  windowFromText,
  windowOf,
  windowText,
  type ConsumptionWindow,
} from "../domain/forecast";
import { applyToOrder, withOrderDefaults } from "../domain/fulfilment";
import { monotonicIds } from "../domain/ids";
import { CONTAINER_SCHEMA, insertMany, SQL_PARAMETERS } from "./container-schema";
import { ensureSchema, schemaVersion } from "./schema";

/**
 * The state row is written once this many events have been committed since it last was (and at a
 * container's first commit, and when the object is quiet); loading folds the events after it into
 * it with `evolve`, as every commit does. Written every commit it would cost a statement and a row
 * per reading (a sixth of the rows a reading costs) for a state the log already implies.
 */
export const STATE_EVERY_EVENTS = 32;

/** A window rebuilt from the log reads at most this many readings: a month at one every 15 minutes. */
const REBUILD_READINGS = 3000;

/** A reading taken to be new was there already: the commit is rolled back and done again with a look first. */
export class SeenBefore extends Error {}

/** What a reading adds to its row of the log: its answer, and what the sensor sent. */
export interface ReadingRow {
  readingId: string;
  measuredAt: number;
  status: "applied" | "stale";
  /** The answer it got, as JSON. */
  result: string;
  fingerprint: string | null;
}

/**
 * A row of the log as a commit writes it: a reading's events (its own and those it caused) with
 * the reading's columns, or an event without a reading on its own.
 */
interface LogRow {
  lastSeq: number;
  events: string[];
  readingId: string | null;
  reading: ReadingRow | null;
}

/** The events of a log row, each with its JSON as stored (one event per line). */
export function eventsOfRow(text: string): StoredEvent[] {
  return text.split("\n").map((body) => ({ event: JSON.parse(body) as ContainerEvent, body }));
}

/** The log's rows that hold events after `seq`, oldest first, at most `limit` rows. */
const ROWS_AFTER = "SELECT events FROM log WHERE last_seq > ? ORDER BY last_seq LIMIT ?";

/** What a commit wrote: its events (as stored), the orders it saved, and the watermark stored with the state row, if it was written. */
export interface Committed {
  events: StoredEvent[];
  orders: ReadonlyMap<string, OrderAsOf>;
  /** The version before the commit. */
  before: number;
  storedWatermark: number | null;
}

/**
 * The sent watermark a commit stores with the state row when it writes it, and whether the row must
 * be written this commit whatever the interval (the outbox's to say: see Outbox.watermark).
 */
export type Watermark = (before: number, version: number) => { sentSeq: number; force: boolean };

/**
 * One container's event log and the state it folds into: every change is an event appended in the
 * commit that makes it, the state follows each event by `evolve`, and orders are kept as they are
 * after their latest event. The state row (with the outbox's watermark) is written every
 * STATE_EVERY_EVENTS events, and loading folds the events after it. An object only ever asked about
 * has no tables and gets none until its first commit.
 */
export class ContainerLog {
  private current: ContainerState | null = null;
  /** The time of the newest event; the clock never reads earlier (see `clock`). */
  private lastEventAt = 0;
  private storedStateVersion = 0;
  /** The state's JSON as last serialised (for the state row), for range messages of the same state at the same version. */
  private stateJson: { of: ContainerState; version: number; text: string; bytes: number } | null = null;
  private hasOwnTables = false;
  private readonly newId = monotonicIds();
  // What the commit under way appends: rows written in bulk at its end, and what it hands back.
  private logRows: LogRow[] = [];
  private committedEvents: StoredEvent[] = [];
  private committedOrders = new Map<string, OrderAsOf>();
  private handing = false;
  /**
   * The consumption model's window (domain/forecast): rebuilt from the applied readings of its
   * look-back at load, fed each applied reading. The commit under way works on `staged`, which
   * becomes the window only when the commit succeeds.
   */
  private window: ConsumptionWindow = emptyWindow();
  private staged: ConsumptionWindow | null = null;
  private looked: { measuredAt: number; fill: number; view: ReturnType<typeof modelSees> } | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** The object's SQL (counted, see platform/usage). */
    private readonly sql: SqlStorage,
    readonly containerId: string,
  ) {}

  /** At start: the state from its row and the events after it, and the newest event's time. */
  load(): void {
    // Every container object that ever wrote has a schema version (ensureSchema writes it first).
    const version = schemaVersion(this.storage);
    this.hasOwnTables = version !== null;
    if (!this.hasOwnTables) return;
    ensureSchema(this.storage, CONTAINER_SCHEMA, version);
    // One read of the state row and one of the log after it serve the state, the window, the
    // newest event's time and the watermark: an object starts at every reading of a sensor that
    // reports less often than the runtime keeps an idle object.
    this.current = this.loadState();
    this.movedSaidAt = this.stored.movedSaidAt;
    this.window = this.loadWindow();
    this.current = this.withForecast(this.current);
    const tail = this.stored.tail;
    if (tail.length > 0) this.lastEventAt = Date.parse(tail[tail.length - 1]!.at);
    else {
      const newest = this.sql
        .exec<{ events: string }>("SELECT events FROM log ORDER BY last_seq DESC LIMIT 1")
        .toArray()[0];
      this.lastEventAt = newest ? Date.parse(eventsOfRow(newest.events).at(-1)!.event.at) : 0;
    }
    this.stored.tail = [];
  }

  /** Whether this object has tables (it has committed, or been written to, once). */
  get exists(): boolean {
    return this.hasOwnTables;
  }

  /** The tables, made before this object's first write. */
  ensureTables(): void {
    if (this.hasOwnTables) return;
    ensureSchema(this.storage, CONTAINER_SCHEMA);
    this.hasOwnTables = true;
  }

  get state(): ContainerState | null {
    return this.current;
  }

  get version(): number {
    return this.current?.version ?? 0;
  }

  /**
   * The time of a commit: now, but never earlier than the newest event, so a clock that steps back
   * cannot make the log run backwards; within a container time order is log order.
   */
  clock(): number {
    return Math.max(Date.now(), this.lastEventAt);
  }

  newOrderId(at: number): string {
    return this.newId("ord_", at);
  }

  newAnomalyId(at: number): string {
    return this.newId("anm_", at);
  }

  /**
   * Run `work` in one storage transaction. `work` reads the current state through the getter it is
   * handed and changes it only through `append`; if it throws, storage rolls back and the state is
   * loaded again, so the two never disagree. `handed`: its events go to the caller to send (their
   * rows say so, for a restart's watermark). `readingsAreNew`: rows are written with ON CONFLICT DO
   * NOTHING and a reading that was there already throws SeenBefore (rolled back). Returns what was
   * committed, or null when nothing changed.
   */
  commit(
    work: (state: () => ContainerState) => void,
    { handed, readingsAreNew, watermark }: { handed: boolean; readingsAreNew: boolean; watermark: Watermark },
  ): Committed | null {
    const before = this.current;
    this.stored.rows = null;
    let storedWatermark: number | null = null;
    let events: StoredEvent[];
    let orders: ReadonlyMap<string, OrderAsOf>;
    this.handing = handed;
    this.ensureTables();
    try {
      this.storage.transactionSync(() => {
        this.current ??= emptyContainer(this.containerId);
        work(() => this.current!);
        const handedFlag = this.handing ? 1 : 0;
        const rows = this.logRows.map((row) => [
          row.lastSeq,
          handedFlag,
          row.events.join("\n"),
          row.reading?.readingId ?? null,
          row.reading?.measuredAt ?? null,
          row.reading?.status ?? null,
          row.reading?.result ?? null,
          row.reading?.fingerprint ?? null,
        ]);
        const written = insertMany(
          this.sql,
          "log",
          ["last_seq", "handed", "events", "reading_id", "measured_at", "status", "result", "fingerprint"],
          rows,
          readingsAreNew ? "last_seq" : null,
        );
        if (written < rows.length) throw new SeenBefore();
        const mark = watermark(before?.version ?? 0, this.current.version);
        if (before === null || this.current.version - this.storedStateVersion >= STATE_EVERY_EVENTS || mark.force) {
          this.storeState(mark.sentSeq);
          storedWatermark = mark.sentSeq;
        }
      });
      if (this.staged) this.window = this.staged;
    } catch (error) {
      this.current = this.withForecast(this.loadState());
      throw error;
    } finally {
      this.staged = null;
      this.looked = null;
      this.logRows = [];
      events = this.committedEvents;
      orders = this.committedOrders;
      this.committedEvents = [];
      this.committedOrders = new Map();
    }
    if (this.current!.version === (before?.version ?? 0)) return null;
    return { events, orders, before: before?.version ?? 0, storedWatermark };
  }

  /** Log one change and apply it (inside `commit`); returns the event and the order it touched. */
  append(
    change: ContainerChange,
    actor: Actor,
    at: number,
    readingId: string | null,
  ): { event: ContainerEvent; order: Order | null } {
    const state = this.current!;
    const event = {
      ...change,
      id: this.newId("evt_", at),
      seq: state.version + 1,
      containerId: state.containerId,
      at: new Date(at).toISOString(),
      actor,
      readingId,
    } as ContainerEvent;
    return this.record(event);
  }

  /**
   * Log an event as it is and apply it (inside `commit`): each change `append` makes, and each event
   * of a log being restored (ContainerDO.restoreEvents), which must come in seq order.
   */
  record(event: ContainerEvent): { event: ContainerEvent; order: Order | null } {
    const state = this.current!;
    if (event.seq !== state.version + 1 || event.containerId !== state.containerId)
      throw new Error(`event ${event.containerId}#${event.seq} does not follow ${state.containerId}#${state.version}`);
    const at = Date.parse(event.at);
    this.lastEventAt = Math.max(this.lastEventAt, at);
    const body = JSON.stringify(event);
    // A reading's events share its row; any other event has one of its own.
    const tail = this.logRows[this.logRows.length - 1];
    if (event.readingId && tail?.readingId === event.readingId && tail.lastSeq === event.seq - 1) {
      tail.events.push(body);
      tail.lastSeq = event.seq;
    } else this.logRows.push({ lastSeq: event.seq, events: [body], readingId: event.readingId ?? null, reading: null });
    this.committedEvents.push({ event, body });
    let order: Order | null = null;
    if (event.type === "order.opened") order = event.order;
    if (event.type === "order.closed") {
      const open = this.orderById(event.orderId);
      if (open) order = closeOrder(open, event);
    }
    if (
      event.type === "order.fulfilment_changed" ||
      event.type === "order.lines_set" ||
      event.type === "order.delivery_corrected"
    ) {
      const known = this.orderById(event.orderId);
      if (known) order = applyToOrder(known, event);
    }
    this.current = evolve(state, event);
    if (order) {
      // The active order lives in the state (the log implies it); an order gets its row once it
      // leaves the state, and keeps it up to date from then on.
      if (this.current.activeOrder?.id !== order.id) this.saveOrder(order, event.seq);
      this.committedOrders.set(order.id, { order, version: event.seq });
    }
    if (event.type === "reading.recorded" && event.outcome === "applied") {
      const measuredAt = Date.parse(event.reading.measuredAt);
      const fill = event.reading.fillPercent;
      const looked = this.looked;
      const view =
        looked && looked.measuredAt === measuredAt && looked.fill === fill
          ? looked.view
          : modelSees(this.staged ?? this.window, state, measuredAt, fill);
      this.staged = view.window;
      this.current.forecast = view.forecast;
    } else if (event.type === "settings.changed") {
      this.current.forecast = estimate(this.staged ?? this.window, this.current);
    }
    return { event, order };
  }

  /**
   * Inside `commit`, before deciding an applied reading: what the consumption model makes of it.
   * Its `append` takes the same view (the model is fed once).
   */
  model(measuredAt: number, fill: number): ModelView {
    const view = modelSees(this.staged ?? this.window, this.current!, measuredAt, fill);
    this.looked = { measuredAt, fill, view };
    return view;
  }

  /**
   * The window as stored with the state row, fed the applied readings logged after it; a container
   * with none stored yet rebuilds it from the log (`rebuildWindow`).
   */
  private loadWindow(): ConsumptionWindow {
    if (!this.current?.measuredAt) return emptyWindow();
    const { window, windowVersion } = this.stored;
    if (!window || windowVersion === null) return this.rebuildWindow();
    const after: { measuredAt: number; fill: number }[] = [];
    const fold = (event: ContainerEvent) => {
      if (event.type === "reading.recorded" && event.outcome === "applied" && event.seq > windowVersion)
        after.push({ measuredAt: Date.parse(event.reading.measuredAt), fill: event.reading.fillPercent });
    };
    // Stored with the state row, the window is as of its version: the events read with it follow.
    if (windowVersion === this.storedStateVersion) this.stored.tail.forEach(fold);
    else
      for (const r of this.sql.exec<{ events: string }>(
        "SELECT events FROM log WHERE last_seq > ? ORDER BY last_seq",
        windowVersion,
      ))
        for (const { event } of eventsOfRow(r.events)) fold(event);
    return windowAfter(windowFromText(window), after, this.current.refillRise);
  }

  /**
   * The window from the applied readings of the look-back before the newest (and two days more, for
   * its first refills), in the order they were applied: the log's, read backwards until one is older
   * (applied readings never go back in time along the log), at most REBUILD_READINGS of them.
   */
  private rebuildWindow(): ConsumptionWindow {
    const newest = this.current?.measuredAt;
    if (!newest) return emptyWindow();
    const since = Date.parse(newest) - (LOOKBACK_DAYS + 2) * DAY_MS;
    const readings: { measuredAt: number; fill: number }[] = [];
    for (const row of this.sql.exec<{ events: string }>("SELECT events FROM log ORDER BY last_seq DESC")) {
      const reading = appliedReadingOf(row.events);
      if (!reading) continue;
      if (reading.measuredAt < since || readings.length >= REBUILD_READINGS) break;
      readings.push(reading);
    }
    return windowOf(readings.reverse(), this.current!.refillRise);
  }

  /** The state with the forecast of the window as it is (after a load). */
  private withForecast(state: ContainerState | null): ContainerState | null {
    return state && { ...state, forecast: estimate(this.window, state) };
  }

  /** A reading's columns, on the row of its events in the commit under way. */
  addReading(reading: ReadingRow): void {
    const row = this.logRows.findLast((r) => r.readingId === reading.readingId);
    if (!row) throw new Error(`reading ${reading.readingId} has no events in this commit`);
    row.reading = reading;
  }

  /** Readings stored under these ids: the answer each got and the fingerprint of what was sent. */
  seenReadings(ids: readonly string[]): Map<string, { result: string; fingerprint: string | null }> {
    const seen = new Map<string, { result: string; fingerprint: string | null }>();
    for (let i = 0; i < ids.length; i += SQL_PARAMETERS) {
      const chunk = ids.slice(i, i + SQL_PARAMETERS);
      for (const row of this.sql.exec<{ reading_id: string; result: string; fingerprint: string | null }>(
        `SELECT reading_id, result, fingerprint FROM log WHERE reading_id IN (${chunk.map(() => "?").join(", ")})`,
        ...chunk,
      )) {
        seen.set(row.reading_id, { result: row.result, fingerprint: row.fingerprint });
      }
    }
    return seen;
  }

  /** Whether the state row is older than the state. */
  get stateRowBehind(): boolean {
    return this.current !== null && this.storedStateVersion < this.current.version;
  }

  /**
   * When the object last told the index its log moved (ms; 0: not since it started, or never):
   * the object's to set, kept with the state row whenever that is written.
   */
  movedSaidAt = 0;
  /**
   * The state row as last read (with the state), and the events of the log after its version, read
   * with it: what a start needs besides the state.
   */
  private stored: {
    movedSaidAt: number;
    sentSeq: number;
    window: string | null;
    windowVersion: number | null;
    tail: ContainerEvent[];
    /** The log's rows after the state's version as read at the start (null once a commit ran). */
    rows: { seq: number; handed: number }[] | null;
    prunedBefore: number;
    registered: boolean;
  } = {
    movedSaidAt: 0,
    sentSeq: 0,
    window: null,
    windowVersion: null,
    tail: [],
    rows: null,
    prunedBefore: 0,
    registered: false,
  };

  /** What the state row's object keeps beside it, as read at the start: archival's line, and whether the index knows it. */
  get startMarks(): { prunedBefore: number; registered: boolean } {
    return { prunedBefore: this.stored.prunedBefore, registered: this.stored.registered };
  }

  /** The state's row, with the watermark `sentSeq` (inside the caller's transaction, if any). */
  storeState(sentSeq: number): void {
    const state = this.current!;
    const json = JSON.stringify(state);
    // With the window as of the same version (inside a commit, the one it is making): one row.
    const window = this.staged ?? this.window;
    this.sql.exec(
      `INSERT INTO container (id, state, sent_seq, window, window_version, moved_said_at) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, sent_seq = excluded.sent_seq,
         window = excluded.window, window_version = excluded.window_version, moved_said_at = excluded.moved_said_at`,
      json,
      sentSeq,
      window.buckets.length > 0 ? windowText(window) : null,
      state.version,
      this.movedSaidAt,
    );
    this.stateJson = { of: state, version: state.version, text: json, bytes: utf8Length(json) };
    this.storedStateVersion = state.version;
    this.stored.sentSeq = sentSeq;
  }

  /** The watermark as the state row holds it. */
  storedWatermark(): number {
    return this.hasOwnTables ? this.stored.sentSeq : 0;
  }

  /** The watermark alone, moved back (the state row keeps its state). */
  storeWatermark(sentSeq: number): void {
    this.sql.exec("UPDATE container SET sent_seq = ? WHERE id = 1", sentSeq);
    this.stored.sentSeq = sentSeq;
  }

  /**
   * The end of the run of events after `stored` that their commits handed to the caller (those
   * count as sent, as they did before the object stopped).
   */
  handedUpTo(stored: number): number {
    let sent = stored;
    // At the start, the rows after the state's version were read with it.
    const rows = this.stored.rows;
    if (rows !== null && stored >= this.storedStateVersion) {
      for (const row of rows) {
        if (row.seq <= sent) continue;
        if (row.handed !== 1) return sent;
        sent = row.seq;
      }
      return sent;
    }
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; handed: number }>(
          "SELECT last_seq AS seq, handed FROM log WHERE last_seq > ? ORDER BY last_seq LIMIT 1000",
          sent,
        )
        .toArray();
      for (const row of rows) {
        if (row.handed !== 1) return sent;
        sent = row.seq;
      }
      if (rows.length < 1000) return sent;
    }
  }

  /** Events from `fromSeq` on were handed over and not sent after all: a restart must not take them for sent. */
  unhand(fromSeq: number): void {
    this.sql.exec("UPDATE log SET handed = 0 WHERE last_seq >= ? AND handed = 1", fromSeq);
  }

  /** Events after `seq`, oldest first, at most `limit`. */
  eventsAfter(seq: number, limit: number): StoredEvent[] {
    return eventsAfter(this.sql, seq, limit);
  }

  /** Events `first..last`, oldest first: the rows from the one holding `first` to the one holding `last`. */
  eventsBetween(first: number, last: number): StoredEvent[] {
    return this.sql
      .exec<{ events: string }>(
        `SELECT events FROM log
         WHERE last_seq >= ? AND last_seq <= coalesce((SELECT min(last_seq) FROM log WHERE last_seq >= ?), ?)
         ORDER BY last_seq`,
        first,
        last,
        last,
      )
      .toArray()
      .flatMap((r) => eventsOfRow(r.events).filter((e) => e.event.seq >= first && e.event.seq <= last));
  }

  /**
   * Range messages for `items` with the state as it is now and each order as `known` has it (what a
   * commit saved) or as stored.
   */
  rangesOf(
    items: readonly StoredEvent[],
    resent: boolean,
    known: ReadonlyMap<string, OrderAsOf> = new Map(),
  ): SizedRange[] {
    const state = this.current!;
    let json = this.stateJson;
    if (json?.of !== state || json.version !== state.version) {
      const text = JSON.stringify(state);
      json = this.stateJson = { of: state, version: state.version, text, bytes: utf8Length(text) };
    }
    return rangesOf(state, json, items, resent, (id) => {
      const saved = known.get(id);
      if (saved) return saved;
      const row = this.orderRow(id);
      return row ? { order: row.order, version: row.version ?? state.version } : null;
    });
  }

  /** An order: the active one from the state, any other as stored; or null. */
  orderById(id: string): Order | null {
    if (this.current?.activeOrder?.id === id) return this.current.activeOrder;
    if (!this.hasOwnTables) return null;
    const row = this.sql.exec<{ body: string }>("SELECT body FROM orders WHERE id = ?", id).toArray()[0];
    return row ? withOrderDefaults(JSON.parse(row.body) as Order) : null;
  }

  /**
   * An order with the seq it is current as of: the active one as of the state's version, any other
   * as stored with the seq of the event that last changed it (null for orders kept before that was).
   */
  private orderRow(id: string): { order: Order; version: number | null } | null {
    const active = this.current?.activeOrder;
    if (active?.id === id) return { order: active, version: this.current!.version };
    if (!this.hasOwnTables) return null;
    const row = this.sql
      .exec<{ body: string; version: number | null }>("SELECT body, version FROM orders WHERE id = ?", id)
      .toArray()[0];
    return row ? { order: withOrderDefaults(JSON.parse(row.body) as Order), version: row.version } : null;
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

  /**
   * The stored state (fields added since it was written take their defaults) with the events
   * committed after it applied, as their commits applied them.
   */
  private loadState(): ContainerState | null {
    if (!this.hasOwnTables) return null;
    const row = this.sql
      .exec<{
        state: string;
        sent_seq: number;
        window: string | null;
        window_version: number | null;
        moved_said_at: number | null;
        pruned_before: number | null;
        registered: number;
      }>(
        `SELECT state, sent_seq, window, window_version, moved_said_at,
           (SELECT before FROM pruned WHERE id = 1) AS pruned_before,
           EXISTS (SELECT 1 FROM registration WHERE id = 1) AS registered
         FROM container WHERE id = 1`,
      )
      .toArray()[0];
    let state: ContainerState | null = row
      ? { ...emptyContainer(this.containerId), ...(JSON.parse(row.state) as Partial<ContainerState>) }
      : null;
    this.storedStateVersion = state?.version ?? 0;
    const tail: ContainerEvent[] = [];
    const rows: { seq: number; handed: number }[] = [];
    for (const r of this.sql.exec<{ seq: number; handed: number; events: string }>(
      "SELECT last_seq AS seq, handed, events FROM log WHERE last_seq > ? ORDER BY last_seq",
      this.storedStateVersion,
    )) {
      rows.push({ seq: r.seq, handed: r.handed });
      for (const { event } of eventsOfRow(r.events))
        if (event.seq > this.storedStateVersion) {
          state = evolve(state ?? emptyContainer(this.containerId), event);
          tail.push(event);
        }
    }
    this.stored = {
      movedSaidAt: row?.moved_said_at ?? 0,
      sentSeq: row?.sent_seq ?? 0,
      window: row?.window ?? null,
      windowVersion: row?.window_version ?? null,
      tail,
      rows,
      prunedBefore: row?.pruned_before ?? 0,
      registered: row?.registered === 1,
    };
    return state?.activeOrder ? { ...state, activeOrder: withOrderDefaults(state.activeOrder) } : state;
  }
}

/** Events after `seq` in the log, oldest first, at most `limit`. */
export function eventsAfter(sql: SqlStorage, seq: number, limit: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  // A row holds at least one event: `limit` rows hold the events wanted (and more, cut below).
  for (const row of sql.exec<{ events: string }>(ROWS_AFTER, seq, limit)) {
    for (const e of eventsOfRow(row.events)) if (e.event.seq > seq && out.length < limit) out.push(e);
    if (out.length >= limit) break;
  }
  return out;
}

/** The applied reading a log row records (its measured time and fill), if any. */
function appliedReadingOf(text: string): { measuredAt: number; fill: number } | null {
  for (const { event } of eventsOfRow(text))
    if (event.type === "reading.recorded" && event.outcome === "applied")
      return { measuredAt: Date.parse(event.reading.measuredAt), fill: event.reading.fillPercent };
  return null;
}
