// What Fillgrid tells partners: each change to an order that its partner did not make itself, as one
// event in the same envelope partners send (`{eventId, type, occurredAt, containerId, orderId, data}`),
// addressed to the order's partner, or, before any partner has it, to the one that serves it.
// The schemas below are what is sent: the events are typed by them, the API reference's `webhooks`
// section is generated from them, and the tests validate every body sent against them.
import { z } from "zod";
import type { ChangeMessage } from "./change-message";
import type { Order } from "./container";
import { CLOSE_REASONS, FULFILMENTS, orderLineSchema, orderSchema } from "./order";
import { partnerFor, type Partner } from "./partners";
import { instantText } from "./validation";

/**
 * The webhook format's version, in every envelope. It changes only when a receiver written for
 * the version before could misread an event (docs/partners.md, "Webhook format changelog").
 */
export const WEBHOOK_SCHEMA_VERSION = 2;

const envelope = {
  schemaVersion: z
    .literal(WEBHOOK_SCHEMA_VERSION)
    .meta({ description: "The webhook format's version (see the changelog in the partner guide)" }),
  eventId: z.string().meta({
    description:
      "The container event's id: the same on every retry and replay of this event. Dedupe on it: an event is received at least once.",
    example: "evt_01JF5Q0M3W7B8R2C4D6E8G0H2K",
  }),
  occurredAt: instantText.meta({ description: "When the change was committed in Fillgrid (RFC 3339, UTC)" }),
  containerId: z.string().meta({ example: "silo-7" }),
  orderId: z.string().meta({ example: "ord_01JF5Q0M3W7B8R2C4D6E8G0H2K" }),
};

/**
 * The steps a partner is told of: those Fillgrid's own people take. The partner takes the others
 * itself (accepted, delivered, rejected, cancelled), and its own steps are not echoed to it.
 */
const TOLD_STEPS = ["assembling", "dispatched"] as const;
type ToldStep = (typeof TOLD_STEPS)[number];

const STEP_WORDS: Record<ToldStep, string> = {
  assembling: "Fillgrid's assemblers started preparing the goods",
  dispatched: "The goods left (sent by Fillgrid's assemblers): `eta` and `vehicle` say when and how they arrive",
};

const stepData = z.object({
  from: z.enum(FULFILMENTS).meta({ description: "The step before" }),
  eta: instantText.nullable().optional().meta({ description: "dispatched: when the goods are expected" }),
  vehicle: z.string().nullable().optional().meta({ description: "dispatched: the vehicle" }),
  reason: z.string().nullable().optional().meta({ description: "Why, when a reason was given" }),
});

/** Every outbound event type, with its envelope and `data`, as sent. */
export const OUTBOUND_EVENT_SCHEMAS = {
  "order.opened": z
    .object({ ...envelope, type: z.literal("order.opened"), data: z.object({ order: orderSchema }) })
    .meta({
      id: "OutboundOrderOpened",
      description:
        "An order opened for a container the partner serves: by a reading below the threshold (`order.source` auto), ahead of it by the forecast (`forecast`, with `order.forecast.thresholdAt`: deliver before then), or by an operator (`manual`). `order.lines` proposes what to bring.",
    }),
  "order.closed": z
    .object({
      ...envelope,
      type: z.literal("order.closed"),
      data: z.object({
        reason: z.enum(CLOSE_REASONS).meta({
          description:
            "Why it closed: the fill rose above the threshold (`fill_above_threshold`, `refilled`), an operator closed it (`manual`), or it was cancelled or delivered",
        }),
        fillAtClose: z.number().nullable(),
        note: z
          .string()
          .optional()
          .meta({ description: "The operator's reason, when one closed it by hand and gave one" }),
        order: orderSchema,
      }),
    })
    .meta({
      id: "OutboundOrderClosed",
      description:
        "The order is no longer active. If it is `dispatched` (`data.order.fulfilment`), the goods are on their way: contact the operator and either complete the delivery (`order.delivered` is still accepted for a closed order) or bring them back and send `order.cancelled`. Before dispatch, stop preparing it.",
    }),
  "order.lines_changed": z
    .object({
      ...envelope,
      type: z.literal("order.lines_changed"),
      data: z.object({ lines: z.array(orderLineSchema), previous: z.array(orderLineSchema) }),
    })
    .meta({
      id: "OutboundOrderLinesChanged",
      description: "Fillgrid's assemblers changed what the order holds (until it is dispatched)",
    }),
  ping: z
    .object({
      schemaVersion: envelope.schemaVersion,
      eventId: envelope.eventId,
      occurredAt: envelope.occurredAt,
      type: z.literal("ping"),
      data: z.object({ message: z.string() }),
    })
    .meta({
      id: "OutboundPing",
      description:
        "A test event an admin sends (POST /v1/partners/{id}/test-event) or the partner asks for (POST /v1/partner/test-event): about no container or order, signed like every event; answer 2xx to show you receive and verify. Not retried.",
    }),
  ...(Object.fromEntries(
    TOLD_STEPS.map((step) => [
      `order.${step}`,
      z
        .object({ ...envelope, type: z.literal(`order.${step}`), data: stepData })
        .meta({ id: `OutboundOrder${step[0]!.toUpperCase()}${step.slice(1)}`, description: STEP_WORDS[step] }),
    ]),
  ) as {
    [S in ToldStep as `order.${S}`]: z.ZodObject<
      typeof envelope & { type: z.ZodLiteral<`order.${S}`>; data: typeof stepData }
    >;
  }),
};

export type OutboundType = keyof typeof OUTBOUND_EVENT_SCHEMAS;
export const OUTBOUND_TYPES = Object.keys(OUTBOUND_EVENT_SCHEMAS) as OutboundType[];

/** Any outbound event, by its `type`. */
export const outboundEventSchema = z.discriminatedUnion(
  "type",
  Object.values(OUTBOUND_EVENT_SCHEMAS) as unknown as [
    (typeof OUTBOUND_EVENT_SCHEMAS)["order.opened"],
    ...(typeof OUTBOUND_EVENT_SCHEMAS)[OutboundType][],
  ],
);
export type OutboundEvent = z.infer<(typeof OUTBOUND_EVENT_SCHEMAS)[Exclude<OutboundType, "ping">]>;
export type PingEvent = z.infer<(typeof OUTBOUND_EVENT_SCHEMAS)["ping"]>;

/** A test event for a partner's webhook. */
export function pingEvent(eventId: string, at: string): PingEvent {
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    eventId,
    type: "ping",
    occurredAt: at,
    data: { message: "A test event from Fillgrid: answer 2xx to show that you receive and verify events." },
  };
}

/** One event for one partner's webhook: what the partner-events queue carries. */
export interface PartnerDelivery {
  partnerId: string;
  event: OutboundEvent;
}

function eventFor(m: ChangeMessage, order: Order): OutboundEvent | null {
  const e = m.event;
  const base = {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    eventId: e.id,
    occurredAt: e.at,
    containerId: e.containerId,
    orderId: order.id,
  } as const;
  switch (e.type) {
    case "order.opened":
      return { ...base, type: "order.opened", data: { order } };
    case "order.closed":
      return {
        ...base,
        type: "order.closed",
        data: {
          reason: e.closeReason,
          fillAtClose: e.fillAtClose,
          ...(e.note !== undefined ? { note: e.note } : {}),
          order,
        },
      };
    case "order.lines_set":
      return { ...base, type: "order.lines_changed", data: { lines: e.lines, previous: e.previous } };
    case "order.fulfilment_changed":
      // Only the steps Fillgrid takes: a partner takes the others itself.
      if (!(TOLD_STEPS as readonly string[]).includes(e.to)) return null;
      return {
        ...base,
        type: `order.${e.to as ToldStep}`,
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
