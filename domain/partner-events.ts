// What Fillgrid tells partners: each change to an order that its partner did not make itself, as one
// event in the same envelope partners send (`{eventId, type, occurredAt, containerId, orderId, data}`),
// addressed to the order's partner, or, before any partner has it, to the one that serves it.
import type { ChangeMessage } from "./change-message";
import type { Order } from "./container";
import { partnerFor, type Partner } from "./partners";

export interface OutboundEvent {
  /** The container event's id: stable across resends, so a partner can tell a repeat. */
  eventId: string;
  type: string;
  occurredAt: string;
  containerId: string;
  orderId: string;
  data: Record<string, unknown>;
}

/** One event for one partner's webhook: what the partner-events queue carries. */
export interface PartnerDelivery {
  partnerId: string;
  event: OutboundEvent;
}

function eventFor(m: ChangeMessage, order: Order): OutboundEvent | null {
  const e = m.event;
  const base = { eventId: e.id, occurredAt: e.at, containerId: e.containerId, orderId: order.id };
  switch (e.type) {
    case "order.opened":
      return { ...base, type: "order.opened", data: { order } };
    case "order.closed":
      return { ...base, type: "order.closed", data: { reason: e.closeReason, fillAtClose: e.fillAtClose, order } };
    case "order.lines_set":
      return { ...base, type: "order.lines_changed", data: { lines: e.lines, previous: e.previous } };
    case "order.fulfilment_changed":
      return {
        ...base,
        type: `order.${e.to}`,
        data: {
          from: e.from,
          ...(e.eta !== undefined ? { eta: e.eta } : {}),
          ...(e.vehicle !== undefined ? { vehicle: e.vehicle } : {}),
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        },
      };
    default:
      return null;
  }
}

/**
 * The deliveries a batch of committed changes makes. A change the partner made itself (its own
 * webhook) is not echoed to it; an order no partner serves goes nowhere (the monitor sees it).
 */
export function partnerDeliveries(messages: readonly ChangeMessage[], partners: readonly Partner[]): PartnerDelivery[] {
  const out: PartnerDelivery[] = [];
  for (const m of messages) {
    const order = m.order;
    if (!order) continue;
    const event = eventFor(m, order);
    if (!event) continue;
    const partnerId = order.partnerId ?? partnerFor(partners, order.containerId, m.state.contents)?.id ?? null;
    if (partnerId === null) continue;
    if (m.event.actor.kind === "partner" && m.event.actor.id === partnerId) continue;
    const partner = partners.find((p) => p.id === partnerId);
    if (!partner || partner.disabled) continue;
    out.push({ partnerId, event });
  }
  return out;
}
