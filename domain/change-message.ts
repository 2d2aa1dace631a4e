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
