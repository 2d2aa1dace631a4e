// What the API answers with, as zod schemas: the OpenAPI document is generated from them, and the
// typed client (`hc`) and the tests read the same types.
import { z } from "zod";
import { AUDIT_ACTIONS, ROLES } from "./access";
import { ERROR_SOURCES } from "./errors";
import { containerIdSchema, locationSchema, orNull } from "./validation";

const instant = z.string().meta({ format: "date-time", example: "2026-11-30T08:15:00.000Z" });
const nullableInstant = instant.nullable();

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: "validation_failed" }),
      message: z.string().meta({ example: "readings[3].fillPercent must be at most 100" }),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      requestId: z.string().optional(),
    }).catchall(z.unknown()),
  })
  .meta({ id: "Error", description: "What went wrong; `issues` names each bad field" });

export const orderSchema = z
  .object({
    id: z.string().meta({ example: "ord_01JZ4X8Q0K7M2N3P4R5S6T7V8W" }),
    containerId: z.string(),
    status: z.enum(["active", "closed"]),
    source: z.enum(["auto", "manual"]),
    openedAt: instant,
    openedBy: z.string(),
    fillAtOpen: z.number().nullable(),
    thresholdAtOpen: z.number().nullable().meta({ description: "The threshold in force when the order opened" }),
    closedAt: nullableInstant,
    closedBy: z.string().nullable(),
    closeReason: z.enum(["fill_above_threshold", "manual", "cancelled"]).nullable(),
    fillAtClose: z.number().nullable(),
    fulfilment: z.enum(["pending", "accepted", "dispatched", "delivered"]),
  })
  .meta({ id: "Order" });

const containerFields = {
  containerId: z.string(),
  name: z.string().nullable(),
  threshold: z.number(),
  capacity: z.number().nullable(),
  registeredLocation: orNull(locationSchema),
  reportIntervalSeconds: z.number().int().nullable(),
  fillPercent: z.number().nullable(),
  contents: z.string().nullable(),
  location: orNull(locationSchema),
  battery: z.number().nullable(),
  measuredAt: nullableInstant,
  lastSeenAt: nullableInstant,
  autoOpenArmed: z.boolean(),
  activeOrder: orNull(orderSchema),
  version: z.number().int(),
};

export const containerStateSchema = z
  .object({ ...containerFields, lastReadingId: z.string().nullable() })
  .meta({ id: "Container", description: "Live state, from the container's own object" });

export const fleetContainerSchema = z.object(containerFields).meta({ id: "FleetContainer", description: "A container as Postgres has it" });

export const readingResultSchema = z
  .object({
    readingId: z.string(),
    containerId: z.string(),
    status: z.enum(["applied", "duplicate", "stale"]),
    conflict: z.literal(true).optional().meta({ description: "A duplicate whose payload differs from the original's" }),
    orderOpened: orderSchema.optional(),
    orderClosed: orderSchema.optional(),
    get original() {
      return readingResultSchema.optional();
    },
  })
  .meta({ id: "ReadingResult" });

export const storedReadingSchema = z
  .object({
    readingId: z.string(),
    fillPercent: z.number(),
    contents: z.string().nullable(),
    location: orNull(locationSchema),
    battery: z.number().nullable(),
    measuredAt: instant,
    receivedAt: instant,
    clockSkewMs: z.number().int().meta({ description: "How far ahead the sensor's clock was (then measuredAt = receivedAt)" }),
    status: z.enum(["applied", "stale"]),
  })
  .meta({ id: "StoredReading" });

const eventBase = {
  id: z.string(),
  seq: z.number().int(),
  containerId: z.string(),
  at: instant,
  actor: z.object({ kind: z.enum(["device", "user", "system"]), id: z.string() }),
  readingId: z.string().nullable(),
};

const settingsValues = z.object({
  threshold: z.number().optional(),
  capacity: z.number().nullable().optional(),
  name: z.string().nullable().optional(),
  location: orNull(locationSchema).optional(),
  reportIntervalSeconds: z.number().int().nullable().optional(),
});

export const containerEventSchema = z
  .discriminatedUnion("type", [
    z.object({
      ...eventBase,
      type: z.literal("reading.recorded"),
      outcome: z.enum(["applied", "stale"]),
      reading: z.object({
        readingId: z.string(),
        fillPercent: z.number(),
        contents: z.string().optional(),
        location: orNull(locationSchema),
        battery: z.number().optional(),
        measuredAt: instant,
        receivedAt: instant,
        clockSkewMs: z.number().int(),
      }),
    }),
    z.object({ ...eventBase, type: z.literal("order.opened"), order: orderSchema }),
    z.object({
      ...eventBase,
      type: z.literal("order.closed"),
      orderId: z.string(),
      closedAt: instant,
      closedBy: z.string(),
      closeReason: z.enum(["fill_above_threshold", "manual", "cancelled"]),
      fillAtClose: z.number().nullable(),
    }),
    z.object({ ...eventBase, type: z.literal("settings.changed"), changes: settingsValues, previous: settingsValues }),
  ])
  .meta({ id: "ContainerEvent", description: "One change in a container's log: who, what, when, from which reading" });

export const userSchema = z
  .object({
    email: z.string(),
    role: z.enum(ROLES),
    disabled: z.boolean(),
    createdAt: instant,
    createdBy: z.string(),
    updatedAt: instant,
    passwordChangedAt: nullableInstant,
  })
  .meta({ id: "User" });

export const auditEntrySchema = z
  .object({
    seq: z.number().int(),
    at: instant,
    actor: z.string(),
    action: z.enum(AUDIT_ACTIONS),
    target: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "AuditEntry" });

export const deviceKeyRecordSchema = z
  .object({
    id: z.string(),
    label: z.string().nullable(),
    containerId: z.string().nullable().meta({ description: "The one container it may report for; null for the fleet" }),
    createdAt: instant,
    createdBy: z.string(),
    revokedAt: nullableInstant,
    revokedBy: z.string().nullable(),
  })
  .meta({ id: "DeviceKey" });

export const errorRecordSchema = z
  .object({
    id: z.string(),
    fingerprint: z.string(),
    name: z.string(),
    message: z.string(),
    stack: z.string().nullable(),
    source: z.enum(ERROR_SOURCES),
    context: z.record(z.string(), z.union([z.string(), z.number()]).optional()),
    count: z.number().int(),
    firstSeen: instant,
    lastSeen: instant,
    status: z.enum(["open", "resolved"]),
    resolvedAt: nullableInstant,
    resolvedBy: z.string().nullable(),
  })
  .meta({ id: "ErrorRecord" });

export const deadLetterSchema = z
  .object({
    id: z.number().int(),
    queue: z.string(),
    messageId: z.string(),
    body: z.unknown(),
    attempts: z.number().int(),
    receivedAt: instant,
    replayedAt: nullableInstant,
    reason: z.string().nullable().meta({ description: "Why it could not be written, as far as its shape tells" }),
    poison: z.boolean().meta({ description: "It can never be written as it is; reconciliation cannot repair it" }),
  })
  .meta({ id: "DeadLetter" });

export { containerIdSchema };
