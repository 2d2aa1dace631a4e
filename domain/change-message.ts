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
    case "order.delivery_corrected":
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
    return {
      event,
      state: range.state,
      order: known?.order ?? null,
      orderVersion: known?.version ?? range.state.version,
      ...(range.resent ? { resent: true as const } : {}),
    };
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

/** A message of JSON text already made (a range's, a batch's: `packRanges`), as a queue sends it. */
export function textMessage(text: string): { body: string; contentType: "text" } {
  return { body: text, contentType: "text" };
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
    else if (c >= 0xd800 && c <= 0xdbff) {
      // A surrogate pair: one character of four bytes.
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * JSON texts (each with its size in UTF-8 bytes) packed in order into as few messages
 * `{"<field>":[…]}` as fit within `maxBytes` each, by joining them: nothing is serialised again. A
 * text is never split, and one larger than `maxBytes` goes alone. Each message says which it carries.
 */
export function packTexts<T extends { text: string; bytes: number }>(
  field: string,
  items: readonly T[],
  maxBytes = BATCH_MAX_BYTES,
): { body: string; bytes: number; items: T[] }[] {
  const frame = utf8Length(`{"${field}":[]}`);
  const out: { body: string; bytes: number; items: T[] }[] = [];
  let current: T[] = [];
  let bytes = frame;
  const close = () => {
    if (current.length > 0)
      out.push({ body: `{"${field}":[${current.map((i) => i.text).join(",")}]}`, bytes, items: current });
    current = [];
    bytes = frame;
  };
  for (const item of items) {
    if (current.length > 0 && bytes + item.bytes + 1 > maxBytes) close();
    bytes += item.bytes + (current.length > 0 ? 1 : 0);
    current.push(item);
  }
  close();
  return out;
}

/** Ranges as text packed into batch messages (`{"ranges":[…]}`, a RangeBatch), each saying which ranges it carries. */
export function packRanges<T extends SentRange>(
  ranges: readonly T[],
  maxBytes = BATCH_MAX_BYTES,
): { body: string; bytes: number; ranges: T[] }[] {
  return packTexts("ranges", ranges, maxBytes).map(({ body, bytes, items }) => ({ body, bytes, ranges: items }));
}

/**
 * A range as it is sent: its JSON text, made from the texts its container already holds (the events
 * as stored, the state as serialised once), and the bytes of that text in UTF-8. Text crosses from
 * the container to the worker and into the queue as it is; an object graph would be copied at each
 * step and serialised again at the end.
 */
export interface SentRange {
  text: string;
  bytes: number;
}

/** A range message with its text and size, and the range itself (for the container's own bookkeeping). */
export interface SizedRange extends SentRange {
  range: ChangeRange;
}

/** The ranges a container's commit handed to its caller to send (ContainerDO.ingestRelayed), as text, from which seq on. */
export interface RelayedRanges {
  fromSeq: number;
  ranges: SentRange[];
}

/** At most this many events go in one range message (and RANGE_MAX_BYTES of them). */
export const RANGE_EVENTS = 100;

/** An event as a container stores it: the object, and its JSON as stored (whose size is known without encoding it again). */
export interface StoredEvent {
  event: ContainerEvent;
  body: string;
}

/** An order with the seq of the event that last changed it. */
export interface OrderAsOf {
  order: Order;
  version: number;
}

/**
 * Range messages for consecutive events, each within RANGE_EVENTS events and RANGE_MAX_BYTES, with
 * the container's `state` (`stateJson`: its JSON text and that text's bytes) and every order the
 * range's events touch, as `orderOf` finds it. Each comes as the object and as its JSON text, made
 * by joining the texts at hand (the events as stored, the state's), with the text's exact size in
 * UTF-8 (as the queue counts it), counted from the parts without encoding anything.
 */
export function rangesOf(
  state: ContainerState,
  stateJson: { text: string; bytes: number },
  items: readonly StoredEvent[],
  resent: boolean,
  orderOf: (orderId: string) => OrderAsOf | null,
): SizedRange[] {
  const ranges: SizedRange[] = [];
  const containerIdJson = JSON.stringify(state.containerId);
  let events: ContainerEvent[] = [];
  let bodies: string[] = [];
  let bytes = 0;
  // The same text JSON.stringify(range) makes, key for key.
  const head = `{"range":true,"containerId":${containerIdJson},"events":[`;
  const tail = resent ? `,"resent":true}` : "}";
  const frame = utf8Length(head) + `],"state":,"orders":`.length + tail.length;
  const flush = () => {
    if (events.length === 0) return;
    const ids = [...new Set(events.map(orderIdOf).filter((id): id is string => id !== null))];
    const orders = ids.flatMap((id) => {
      const found = orderOf(id);
      return found ? [found] : [];
    });
    const range: ChangeRange = {
      range: true,
      containerId: state.containerId,
      events,
      state,
      orders,
      ...(resent ? { resent: true as const } : {}),
    };
    const ordersJson = JSON.stringify(orders);
    ranges.push({
      range,
      text: `${head}${bodies.join(",")}],"state":${stateJson.text},"orders":${ordersJson}${tail}`,
      bytes: frame + bytes + (bodies.length - 1) + stateJson.bytes + utf8Length(ordersJson),
    });
    events = [];
    bodies = [];
    bytes = 0;
  };
  for (const { event, body } of items) {
    const size = utf8Length(body);
    if (bytes + size > RANGE_MAX_BYTES || events.length === RANGE_EVENTS) flush();
    events.push(event);
    bodies.push(body);
    bytes += size;
  }
  flush();
  return ranges;
}

/** A queue's sendBatch takes at most 100 messages and 256 KB in all; a little is left for the messages' framing. */
export const SEND_BATCH_MESSAGES = 100;
export const SEND_BATCH_MAX_BYTES = 250 * 1024;

/** Sized messages grouped, in order, into as few sendBatch calls as the queue's limits allow. */
export function sendBatchesOf<T extends { bytes: number }>(messages: readonly T[]): T[][] {
  const calls: T[][] = [];
  let call: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (call.length > 0 && (call.length === SEND_BATCH_MESSAGES || bytes + m.bytes > SEND_BATCH_MAX_BYTES)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(m);
    bytes += m.bytes;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
