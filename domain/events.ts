// A container's state and the events of its log, as schemas (the API's answers and the queue's
// messages are these shapes; the OpenAPI document is made from them) and the types read from them.
// The rules that make and fold them are in container.ts and fulfilment.ts.
import { z } from "zod";
import { anomalySchema } from "./anomalies";
import { forecastSchema } from "./forecast";
import { CLOSE_REASONS, FULFILMENTS, orderLineSchema, orderSchema } from "./order";
import { instantText, locationSchema, nullableInstantText, orNull } from "./validation";

export type Location = z.infer<typeof locationSchema>;

/** Who made a change. */
export const actorSchema = z.object({ kind: z.enum(["device", "user", "system", "partner"]), id: z.string() });
export type Actor = z.infer<typeof actorSchema>;

/** What every event carries besides its change. */
const eventBase = {
  id: z.string(),
  seq: z.number().int(),
  containerId: z.string(),
  at: instantText,
  actor: actorSchema,
  readingId: z.string().nullable(),
};
type EventBase = { [K in keyof typeof eventBase]: z.infer<(typeof eventBase)[K]> };

/** A reading as its container keeps it. `location` is the sensor's, or the registered one, or null. */
export const recordedReadingSchema = z.object({
  readingId: z.string(),
  fillPercent: z.number(),
  contents: z.string().optional(),
  location: orNull(locationSchema),
  battery: z.number().optional(),
  measuredAt: instantText,
  receivedAt: instantText,
  clockSkewMs: z.number().int(),
});
export type RecordedReading = z.infer<typeof recordedReadingSchema>;

/** What a settings change sets, and what it replaced: the settings it touched. */
const settingsValues = z.object({
  threshold: z.number().optional(),
  capacity: z.number().nullable().optional(),
  unit: z.string().nullable().optional(),
  name: z.string().nullable().optional(),
  location: orNull(locationSchema).optional(),
  reportIntervalSeconds: z.number().int().nullable().optional(),
  leadTimeHours: z.number().nullable().optional(),
  partnerLeadTimeHours: z.number().nullable().optional(),
  fleetNoise: z.number().nullable().optional(),
  refillRise: z.number().optional(),
  suddenDrop: z.number().optional(),
});

/** What a fulfilment step carries besides itself. */
const fulfilmentDetails = {
  eta: nullableInstantText.optional(),
  vehicle: z.string().nullable().optional(),
  deliveryNote: z.string().nullable().optional(),
  delivered: z.array(orderLineSchema).optional(),
  reason: z.string().nullable().optional(),
};

export const containerEventSchema = z
  .discriminatedUnion("type", [
    z.object({
      ...eventBase,
      type: z.literal("reading.recorded"),
      outcome: z.enum(["applied", "stale"]),
      reading: recordedReadingSchema,
      fingerprint: z.string().optional().meta({
        description:
          "What the sensor sent (its values and its own measuredAt), to tell a retry from a different reading under the same readingId; kept in the log so a restored container tells them apart as the original did",
      }),
      refill: z.object({ rise: z.number() }).optional().meta({
        description:
          "The reading rose refillRise points or more above the level before it (by `rise` points): a refill, a new segment",
      }),
    }),
    z.object({ ...eventBase, type: z.literal("order.opened"), order: orderSchema }),
    z.object({
      ...eventBase,
      type: z.literal("order.closed"),
      orderId: z.string(),
      closedAt: instantText,
      closedBy: z.string(),
      closeReason: z.enum(CLOSE_REASONS),
      fillAtClose: z.number().nullable(),
      note: z.string().optional().meta({ description: "Why, in the words of the person who closed it by hand" }),
    }),
    z.object({
      ...eventBase,
      type: z.literal("order.fulfilment_changed"),
      orderId: z.string(),
      from: z.enum(FULFILMENTS),
      to: z.enum(FULFILMENTS),
      changedAt: instantText,
      partnerId: z.string().nullable().meta({ description: "The partner that moved it, when a partner did" }),
      ...fulfilmentDetails,
    }),
    z.object({
      ...eventBase,
      type: z.literal("order.delivery_corrected"),
      orderId: z.string(),
      correctedAt: instantText,
      partnerId: z.string(),
      lines: z.array(orderLineSchema).meta({ description: "The quantities delivered, as corrected" }),
      previous: z.array(orderLineSchema),
      deliveryNote: z.string(),
      previousNote: z.string().nullable(),
      reason: z.string().meta({ description: "Why the partner corrected it" }),
      revision: z.number().int().meta({ description: "The order's delivery revision after it (1 for the first)" }),
    }),
    z.object({
      ...eventBase,
      type: z.literal("order.lines_set"),
      orderId: z.string(),
      lines: z.array(orderLineSchema),
      previous: z.array(orderLineSchema),
    }),
    z.object({ ...eventBase, type: z.literal("settings.changed"), changes: settingsValues, previous: settingsValues }),
    z.object({ ...eventBase, type: z.literal("anomaly.raised"), anomaly: anomalySchema }),
    z.object({
      ...eventBase,
      type: z.literal("anomaly.closed"),
      anomaly: anomalySchema.meta({
        description:
          "The anomaly as it is now: dismissed by a person, or resolved by itself (a stuck sensor that moves again)",
      }),
    }),
  ])
  .meta({ id: "ContainerEvent", description: "One change in a container's log: who, what, when, from which reading" });

/** A change as it sits in the container's log. */
export type ContainerEvent = z.infer<typeof containerEventSchema>;
/** Every type of event a log holds. */
export const EVENT_TYPES = containerEventSchema.options.map((o) => o.shape.type.value) as [
  ContainerEvent["type"],
  ...ContainerEvent["type"][],
];
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A change as the rules decide it, before it is logged (the log adds id, seq, time, actor and reading). */
export type ContainerChange = DistributiveOmit<ContainerEvent, keyof EventBase>;
type ChangeOf<T extends ContainerEvent["type"]> = Extract<ContainerChange, { type: T }>;
export type ReadingRecorded = ChangeOf<"reading.recorded">;
export type ReadingOutcome = ReadingRecorded["outcome"];
export type OrderOpened = ChangeOf<"order.opened">;
export type OrderClosed = ChangeOf<"order.closed">;
export type SettingsChanged = ChangeOf<"settings.changed">;
export type FulfilmentChanged = ChangeOf<"order.fulfilment_changed">;
export type AnomalyRaised = ChangeOf<"anomaly.raised">;
export type AnomalyClosed = ChangeOf<"anomaly.closed">;
export type LinesSet = ChangeOf<"order.lines_set">;
export type DeliveryCorrected = ChangeOf<"order.delivery_corrected">;
export type FulfilmentDetails = Pick<FulfilmentChanged, keyof typeof fulfilmentDetails>;

/** What the container object and Postgres both know of a container. */
export const containerFields = {
  containerId: z.string(),
  name: z.string().nullable(),
  threshold: z.number(),
  capacity: z.number().nullable(),
  unit: z
    .string()
    .nullable()
    .meta({ description: "The unit of capacity and of the goods ordered (l, kg); null: units" }),
  registeredLocation: orNull(locationSchema).meta({
    description: "Where it stands, as registered; stands in for readings without one",
  }),
  reportIntervalSeconds: z
    .number()
    .int()
    .nullable()
    .meta({ description: "How often the sensor is expected to report; null for the default" }),
  fillPercent: z.number().nullable(),
  contents: z.string().nullable(),
  location: orNull(locationSchema).meta({ description: "Where it was last reported (or registered), when known" }),
  battery: z.number().nullable(),
  measuredAt: nullableInstantText.meta({ description: "measuredAt of the newest applied reading" }),
  lastSeenAt: nullableInstantText.meta({ description: "When it last reported anything, stale readings included" }),
  autoOpenArmed: z.boolean().meta({ description: "False after a manual close, until a reading above the threshold" }),
  activeOrder: orNull(orderSchema),
  leadTimeHours: z.number().nullable().meta({
    description:
      "Open an order when the threshold is forecast within this many hours (0: only when it is crossed; null: the partner's default)",
  }),
  partnerLeadTimeHours: z.number().nullable().meta({
    description: "The default lead time of the partner that serves it (applies when leadTimeHours is null)",
  }),
  fleetNoise: z.number().nullable().meta({
    description:
      "The fleet's usual reading noise (points, the median of its sensors'): a sensor far noisier raises noisy_sensor",
  }),
  refillRise: z.number().meta({ description: "A rise of this many points or more is a refill" }),
  suddenDrop: z.number().meta({
    description: "A fall this many points beyond what consumption explains, over two readings, is a sudden drop",
  }),
  anomalies: z.array(anomalySchema).meta({ description: "The open anomalies, at most one of each kind" }),
  forecastArmed: z.boolean().meta({
    description: "False after an order was closed by hand, until the next refill: no forecast order opens meanwhile",
  }),
  version: z.number().int().meta({ description: "Sequence number of the last event applied" }),
};

export const containerStateSchema = z
  .object({
    ...containerFields,
    lastReadingId: z.string().nullable(),
    lastRefill: orNull(z.object({ at: instantText, rise: z.number() })).meta({
      description: "The newest refill the level showed (for the anomaly rules)",
    }),
    lastDelivery: orNull(z.object({ orderId: z.string(), at: instantText, quantity: z.number() })).meta({
      description: "The newest order delivered, with the quantity reported (for the anomaly rules)",
    }),
    lastDispatchAt: nullableInstantText.meta({
      description: "When an order was last dispatched (for the anomaly rules)",
    }),
    forecast: orNull(forecastSchema).meta({
      description: "From the consumption since the last refill; null before any reading",
    }),
  })
  .meta({ id: "Container", description: "Live state, from the container's own object" });
export type ContainerState = z.infer<typeof containerStateSchema>;
