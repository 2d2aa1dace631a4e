// What a container's object answers about its history: reading history, orders and the event log,
// newest or oldest first, a page at a time.
import type { ContainerEvent, Order, RecordedReading } from "../domain/container";
import { withOrderDefaults } from "../domain/fulfilment";
import type { StoredReading } from "../domain/schemas";
import { eventsAfter, eventsOfRow } from "./container-log";

export interface Page<T, P> {
  items: T[];
  /** Where the next page starts, or null on the last page. */
  next: P | null;
}

/** A place in the reading history: a reading's measured time and the seq its log row ends at. */
export interface ReadingPosition {
  measuredAt: number;
  seq: number;
}

type ReadingRow = { events: string; measured_at: number; seq: number; status: "applied" | "stale" };

/**
 * Reading history (each reading as stored), newest `measuredAt` first (then the later in the log
 * first), strictly after `before` in that order. Two runs merged: the applied readings in log
 * order, which is their time order (an applied reading is never measured before the one applied
 * before it), and the stale ones by their own index on time.
 */
export function readingsPage(
  sql: SqlStorage,
  limit: number,
  before: ReadingPosition | null,
): Page<StoredReading, ReadingPosition> {
  const time = before?.measuredAt ?? Number.MAX_SAFE_INTEGER;
  const seq = before?.seq ?? Number.MAX_SAFE_INTEGER;
  // Every applied reading after `before` in this order lies before it in the log (see above).
  const applied = sql
    .exec<ReadingRow>(
      `SELECT events, measured_at, last_seq AS seq, status FROM log
       WHERE last_seq < ? AND status = 'applied' AND (measured_at < ? OR (measured_at = ? AND last_seq < ?))
       ORDER BY last_seq DESC LIMIT ?`,
      seq,
      time,
      time,
      seq,
      limit + 1,
    )
    .toArray();
  const stale = sql
    .exec<ReadingRow>(
      `SELECT events, measured_at, last_seq AS seq, status FROM log
       WHERE status = 'stale' AND (measured_at < ? OR (measured_at = ? AND last_seq < ?))
       ORDER BY measured_at DESC, last_seq DESC LIMIT ?`,
      time,
      time,
      seq,
      limit + 1,
    )
    .toArray();
  const rows: ReadingRow[] = [];
  let a = 0;
  let b = 0;
  while (rows.length < limit + 1 && (a < applied.length || b < stale.length)) {
    const x = applied[a];
    const y = stale[b];
    if (
      y === undefined ||
      (x !== undefined && (x.measured_at > y.measured_at || (x.measured_at === y.measured_at && x.seq > y.seq)))
    )
      rows.push(applied[a++]!);
    else rows.push(stale[b++]!);
  }
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(readingOfRow),
    next: rows.length > limit && last ? { measuredAt: last.measured_at, seq: last.seq } : null,
  };
}

/** A reading as the history shows it, from its row of the log. */
function readingOfRow(row: ReadingRow): StoredReading {
  const recorded = eventsOfRow(row.events).find((e) => e.event.type === "reading.recorded")!.event as Extract<
    ContainerEvent,
    { type: "reading.recorded" }
  >;
  return storedReading(recorded.reading, row.status);
}

export function storedReading(r: RecordedReading, status: "applied" | "stale"): StoredReading {
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

/**
 * Orders, newest first, those older than the order `before`: the rows of the orders that left the
 * state, and the active order from the state (its row, if one was kept before, is older).
 */
export function ordersPage(
  sql: SqlStorage,
  limit: number,
  before: string | null,
  active: Order | null,
): Page<Order, string> {
  const after = before ?? "\uffff";
  const rows = sql
    .exec<{ id: string; body: string }>(
      "SELECT id, body FROM orders WHERE id < ? ORDER BY id DESC LIMIT ?",
      after,
      limit + 2,
    )
    .toArray()
    .filter((r) => r.id !== active?.id)
    .map((r) => withOrderDefaults(JSON.parse(r.body) as Order));
  if (active && active.id < after) {
    const at = rows.findIndex((o) => o.id < active.id);
    rows.splice(at === -1 ? rows.length : at, 0, active);
  }
  const page = rows.slice(0, limit);
  return { items: page, next: rows.length > limit ? page[page.length - 1]!.id : null };
}

/** The event log in order, from just after `afterSeq`. */
export function eventsPage(sql: SqlStorage, afterSeq: number, limit: number): ContainerEvent[] {
  return eventsAfter(sql, afterSeq, limit).map((e) => e.event);
}
