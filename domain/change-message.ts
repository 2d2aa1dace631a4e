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
