// What partners and the people who manage them send: new partners and their changes, prices, the
// inbound webhook's events, and assemblers' order changes. Each field says what is wrong with it.
import { z } from "zod";
import { INBOUND_TYPES, isCidr } from "./partners";
import { containerIdSchema, instantSchema, orderIdSchema, type FieldIssue } from "./validation";

export const partnerIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,39}$/, {
    error: "must be 2-40 lower-case letters, digits or '-', starting with a letter or digit",
  })
  .meta({ example: "acme-fuels" });

const loopback = (host: string) => host === "localhost" || host === "127.0.0.1" || host === "[::1]";

/**
 * Where a partner receives Fillgrid's events: HTTPS, or plain HTTP on this machine only (local
 * stand-ins). Private, loopback and link-local addresses are refused besides unless the deployment
 * allows them (WEBHOOK_PRIVATE_ADDRESSES, workers/routes/partners.ts).
 */
export const webhookUrlSchema = z
  .url({ error: "must be a URL" })
  .max(2000)
  .refine(
    (u) => {
      const url = new URL(u);
      return url.protocol === "https:" || (url.protocol === "http:" && loopback(url.hostname));
    },
    { error: "must be an https:// URL (http:// only for localhost)" },
  )
  .meta({
    example: "https://partner.example/fillgrid/events",
    description:
      "HTTPS on a public address; private, loopback and link-local addresses and local names are refused (400) unless the deployment sets WEBHOOK_PRIVATE_ADDRESSES=allow, as local development does (then http://localhost too)",
  });

const cidrSchema = z
  .string()
  .max(50)
  .refine(isCidr, { error: "must be a CIDR range such as 203.0.113.0/24 or 2001:db8::/32" });

const servesSchema = z.strictObject({
  containerIds: z.array(containerIdSchema).max(10_000).default([]),
  contents: z.array(z.string().trim().min(1).max(100)).max(100).default([]),
});

/** A partner's default lead time for forecast orders (see the container setting `leadTimeHours`). */
const leadTimeSchema = z
  .number()
  .min(0)
  .max(90 * 24)
  .nullable()
  .meta({
    description:
      "Hours before the forecast reaches the threshold to open an order, for the containers it serves that set no lead time of their own (null: none)",
  });

export const newPartnerSchema = z.strictObject({
  id: partnerIdSchema,
  name: z.string().trim().min(1).max(200),
  webhookUrl: webhookUrlSchema,
  ipRanges: z
    .array(cidrSchema)
    .max(50)
    .default([])
    .meta({ description: "Where its webhooks may come from (CF-Connecting-IP); empty: anywhere" }),
  serves: servesSchema
    .default({ containerIds: [], contents: [] })
    .meta({ description: "Containers by id and contents it delivers; both empty: every container" }),
  leadTimeHours: leadTimeSchema.default(null),
});

export const partnerPatchSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    webhookUrl: webhookUrlSchema.optional(),
    ipRanges: z.array(cidrSchema).max(50).optional(),
    serves: servesSchema.optional(),
    leadTimeHours: leadTimeSchema.optional(),
    disabled: z.boolean().optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), {
    error: "give at least one of name, webhookUrl, ipRanges, serves, leadTimeHours, disabled",
  });

export const lineInputSchema = z.strictObject({
  product: z.string().trim().min(1).max(100),
  quantity: z.number().min(0).max(1e9),
  unit: z.string().trim().min(1).max(20),
});

const lines = z.array(lineInputSchema).max(100);
const note = z.string().trim().min(1).max(500);

const envelope = {
  eventId: z
    .string()
    .min(1)
    .max(200)
    .meta({ description: "The partner's id for this event; a repeat gets the first answer and changes nothing" }),
  occurredAt: instantSchema,
  containerId: containerIdSchema,
};
const withOrder = { ...envelope, orderId: orderIdSchema };

/** One event from a partner (DESIGN: `{eventId, type, occurredAt, containerId, orderId, data}`). */
export const inboundEventSchema = z
  .discriminatedUnion(
    "type",
    [
      z.strictObject({
        ...envelope,
        type: z.literal("order.created"),
        data: z.strictObject({ lines: lines.optional() }).default({}),
      }),
      z.strictObject({ ...withOrder, type: z.literal("order.accepted"), data: z.strictObject({}).default({}) }),
      z.strictObject({ ...withOrder, type: z.literal("order.rejected"), data: z.strictObject({ reason: note }) }),
      z.strictObject({
        ...withOrder,
        type: z.literal("order.dispatched"),
        data: z.strictObject({ eta: instantSchema, vehicle: z.string().trim().min(1).max(100) }),
      }),
      z.strictObject({
        ...withOrder,
        type: z.literal("order.delivered"),
        data: z.strictObject({ lines: lines.min(1), deliveryNote: z.string().trim().min(1).max(100) }),
      }),
      z.strictObject({ ...withOrder, type: z.literal("order.cancelled"), data: z.strictObject({ reason: note }) }),
      z.strictObject({
        ...withOrder,
        type: z.literal("order.delivery_corrected"),
        data: z.strictObject({
          lines: lines.min(1).meta({ description: "The quantities delivered, as corrected (all of them)" }),
          deliveryNote: z.string().trim().min(1).max(100),
          reason: note.meta({ description: "Why: kept in the order's event and in the audit list" }),
        }),
      }),
    ],
    {
      // An unknown or missing type says which there are.
      error: (issue) => (issue.code === "invalid_union" ? `must be one of ${INBOUND_TYPES.join(", ")}` : undefined),
    },
  )
  .meta({ id: "PartnerEvent" });

/** How far ahead of now an event's `occurredAt` may be (clocks differ), and how far back. */
export const OCCURRED_AHEAD_SECONDS = 300;
export const OCCURRED_BEHIND_DAYS = 30;

/**
 * What is wrong with a new event's times, which a schema cannot say alone: `occurredAt` within
 * 300 s ahead of `now` and 30 days behind it, and a dispatch's `eta` neither before the dispatch
 * itself nor before now (each less the same 300 s of clock difference). A repeat of an event is
 * answered as it was first, before these are judged.
 */
export function eventTimeIssues(event: InboundEvent, now: number): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const occurred = Date.parse(event.occurredAt);
  if (occurred > now + OCCURRED_AHEAD_SECONDS * 1000)
    issues.push({
      path: "occurredAt",
      message: `is in the future (more than ${OCCURRED_AHEAD_SECONDS} s ahead of ours)`,
    });
  else if (occurred < now - OCCURRED_BEHIND_DAYS * 86_400_000)
    issues.push({ path: "occurredAt", message: `is more than ${OCCURRED_BEHIND_DAYS} days ago` });
  if (event.type === "order.dispatched") {
    const eta = Date.parse(event.data.eta);
    if (eta < occurred - OCCURRED_AHEAD_SECONDS * 1000)
      issues.push({
        path: "data.eta",
        message: "is before the dispatch (occurredAt): an arrival cannot be in the past",
      });
    else if (eta < now - OCCURRED_AHEAD_SECONDS * 1000)
      issues.push({ path: "data.eta", message: "is in the past: send when the goods are expected" });
  }
  return issues;
}
export type InboundEvent = z.infer<typeof inboundEventSchema>;

/** What an assembler (or above) changes on an order: its lines until dispatched, and its step. */
export const orderPatchSchema = z
  .strictObject({
    lines: lines.optional(),
    fulfilment: z.enum(["assembling", "dispatched"]).optional(),
    eta: instantSchema.optional().meta({ description: "With fulfilment dispatched" }),
    vehicle: z.string().trim().min(1).max(100).optional(),
  })
  .refine((p) => p.lines !== undefined || p.fulfilment !== undefined, { error: "give lines, fulfilment or both" });

const priceEntrySchema = z.strictObject({
  product: z.string().trim().min(1).max(100),
  unit: z.string().trim().min(1).max(20),
  unitPrice: z.number().min(0).max(1e9),
  vatRate: z.number().min(0).max(1).meta({ description: "0.2 for 20 %" }),
});

/** Some prices changed: `set` adds or changes products, `remove` takes them off; the rest stay. */
export const pricesPatchSchema = z
  .strictObject({
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, { error: "must be an ISO 4217 code such as EUR" })
      .optional()
      .meta({ description: "The list's currency; needed when the partner has no prices yet" }),
    set: z.array(priceEntrySchema).max(1000).default([]),
    remove: z
      .array(z.strictObject({ product: z.string().trim().min(1).max(100), unit: z.string().trim().min(1).max(20) }))
      .max(1000)
      .default([]),
  })
  .refine((p) => p.set.length + p.remove.length > 0, { error: "give prices to set or to remove" });

export const pricesSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/, { error: "must be an ISO 4217 code such as EUR" }),
  prices: z
    .array(
      z.strictObject({
        product: z.string().trim().min(1).max(100),
        unit: z.string().trim().min(1).max(20),
        unitPrice: z.number().min(0).max(1e9),
        vatRate: z.number().min(0).max(1).meta({ description: "0.2 for 20 %" }),
      }),
    )
    .max(1000),
});
