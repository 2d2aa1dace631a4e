import type { ContainerEvent, ContainerState, Order } from "./container";

/**
 * What a container sends out for each event in its log: the event, the container's state right after
 * it, and for order events the order right after it. Carrying the resulting state makes every message
 * self-sufficient, so a consumer can apply messages in any order and any number of times: a row only
 * moves forward to a higher `state.version`.
 */
export interface ChangeMessage {
  event: ContainerEvent;
  state: ContainerState;
  order: Order | null;
  /**
   * The event seq the `order` body is current as of; absent means `event.seq`. An event sent again
   * (to fill a gap) carries the container's state and orders as they are now, so it says so here.
   */
  orderVersion?: number;
  /** Sent again from the container's log, to fill a gap in the projection. */
  resent?: true;
}

/**
 * What a container sends for a run of events from its log, in one queue message: the events in
 * order, the container's state after the last of them, and each order they touched as it is now
 * with the seq it is current as of. One message per drained range instead of one per event: fewer
 * queue operations, and the state travels once. A consumer expands it (`changesOf`) and applies it
 * like the single messages it stands for, in any order and any number of times.
 */
export interface ChangeRange {
  range: true;
  containerId: string;
  events: ContainerEvent[];
  state: ContainerState;
  orders: { order: Order; version: number }[];
  /** Sent again from the log, to fill a gap in the projection. */
  resent?: true;
}

/** The order an event is about, if any. */
export function orderIdOf(event: ContainerEvent): string | null {
  switch (event.type) {
    case "order.opened":
      return event.order.id;
    case "order.closed":
    case "order.fulfilment_changed":
    case "order.lines_set":
      return event.orderId;
    default:
      return null;
  }
}

/** The single messages a range stands for: each event with the range's state and its order as it is now. */
export function changesOf(range: ChangeRange): ChangeMessage[] {
  const orders = new Map(range.orders.map((o) => [o.order.id, o]));
  return range.events.map((event) => {
    const orderId = orderIdOf(event);
    const known = orderId ? orders.get(orderId) : undefined;
    return { event, state: range.state, order: known?.order ?? null, orderVersion: known?.version ?? range.state.version, ...(range.resent ? { resent: true as const } : {}) };
  });
}

/** A range message stays within this many bytes of JSON (a queue message may hold 128 KB). */
export const RANGE_MAX_BYTES = 96 * 1024;

/**
 * What the ingest worker sends for a request that touched many containers: their ranges, as many
 * to one queue message as fit. A request of 100 readings across 100 containers is one message
 * instead of 100 — a hundredth of the queue operations, and one delivery to the consumer. Each range
 * inside stays what it is (a container's run of events with its state), applied the same way.
 */
export interface RangeBatch {
  ranges: ChangeRange[];
}

/** A batch message stays within this many bytes of JSON (a queue message may hold 128 KB). */
export const BATCH_MAX_BYTES = 120 * 1024;

/** Bytes of a string in UTF-8 (as the queue counts them), without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) (n += 4), i++;
    else n += 3;
  }
  return n;
}

/**
 * Ranges (each with its size in bytes of JSON) packed in order into as few batches as fit within
 * `maxBytes` each; a range is never split, and one larger than `maxBytes` goes alone.
 */
export function packRanges(ranges: readonly { range: ChangeRange; bytes: number }[], maxBytes = BATCH_MAX_BYTES): { batch: RangeBatch; bytes: number }[] {
  const out: { batch: RangeBatch; bytes: number }[] = [];
  // `{"ranges":[` … `]}` and a comma between ranges.
  const frame = 13;
  let current: ChangeRange[] = [];
  let bytes = frame;
  for (const { range, bytes: size } of ranges) {
    if (current.length > 0 && bytes + size + 1 > maxBytes) {
      out.push({ batch: { ranges: current }, bytes });
      current = [];
      bytes = frame;
    }
    bytes += size + (current.length > 0 ? 1 : 0);
    current.push(range);
  }
  if (current.length > 0) out.push({ batch: { ranges: current }, bytes });
  return out;
}
