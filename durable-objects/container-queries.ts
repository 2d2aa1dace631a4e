// What a container's object answers about its history: reading history, orders and the event log,
// newest or oldest first, a page at a time.
import type { ContainerEvent, Order } from "../domain/container";
import { withOrderDefaults } from "../domain/fulfilment";

export interface Page<T, P> {
  items: T[];
  /** Where the next page starts, or null on the last page. */
  next: P | null;
}

export interface ReadingPosition {
  measuredAt: number;
  readingId: string;
}

/** Reading history (each reading's stored body), newest `measuredAt` first, strictly after `before` in that order. */
export function readingsPage<R>(
  sql: SqlStorage,
  limit: number,
  before: ReadingPosition | null,
): Page<R, ReadingPosition> {
  const time = before?.measuredAt ?? Number.MAX_SAFE_INTEGER;
  const rows = sql
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
    items: page.map((r) => JSON.parse(r.body) as R),
    next: rows.length > limit && last ? { measuredAt: last.measured_at, readingId: last.reading_id } : null,
  };
}

/** Orders, newest first, those older than the order `before`. */
export function ordersPage(sql: SqlStorage, limit: number, before: string | null): Page<Order, string> {
  const rows = sql
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

/** The event log in order, from just after `afterSeq`. */
export function eventsPage(sql: SqlStorage, afterSeq: number, limit: number): ContainerEvent[] {
  return sql
    .exec<{ body: string }>("SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
    .toArray()
    .map((r) => JSON.parse(r.body) as ContainerEvent);
}
