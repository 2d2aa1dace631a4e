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
}
