// What the API answers with, as zod schemas: the OpenAPI document is generated from them, and the
// typed client (`hc`) and the tests read the same types.
import { z } from "zod";
import { AUDIT_ACTIONS, ROLES } from "./access";
import { ERROR_SOURCES } from "./errors";
import { containerFields } from "./events";
import { forecastSummarySchema } from "./forecast";
import { orderSchema } from "./order";
import {
  containerIdSchema,
  instantText as instant,
  locationSchema,
  nullableInstantText as nullableInstant,
  orNull,
} from "./validation";

export const errorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().meta({ example: "validation_failed" }),
        message: z.string().meta({ example: "readings[3].fillPercent must be at most 100" }),
        issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
        requestId: z.string().optional(),
      })
      .catchall(z.unknown()),
  })
  .meta({ id: "Error", description: "What went wrong; `issues` names each bad field" });

export { orderLineSchema, orderSchema } from "./order";
export { containerEventSchema, containerStateSchema } from "./events";

export const fleetContainerSchema = z
  .object({
    ...containerFields,
    forecast: orNull(forecastSummarySchema).meta({
      description: "When it reaches the threshold and empties (the whole forecast: GET /v1/containers/{id})",
    }),
  })
  .meta({ id: "FleetContainer", description: "A container as Postgres has it" });

export const readingResultSchema = z
  .object({
    readingId: z.string(),
    containerId: z.string(),
    status: z.enum(["applied", "duplicate", "stale", "archived"]).meta({
      description:
        "applied; duplicate (its readingId was seen: the first answer is in `original`); stale (older than the newest reading: recorded, decides nothing); archived (measured before this container's readings were archived, READINGS_HOT_DAYS: neither recorded nor told apart from one seen before)",
    }),
    conflict: z.literal(true).optional().meta({ description: "A duplicate whose payload differs from the original's" }),
    orderOpened: orderSchema.optional(),
    orderClosed: orderSchema.optional(),
    get original() {
      return readingResultSchema.optional();
    },
  })
  .meta({ id: "ReadingResult" });
/** The answer to one reading: applied, a duplicate (with the first answer) or stale, and the order it opened or closed. */
export type ReadingResult = z.infer<typeof readingResultSchema>;
export type ReadingStatus = ReadingResult["status"];

export const storedReadingSchema = z
  .object({
    readingId: z.string(),
    fillPercent: z.number(),
    contents: z.string().nullable(),
    location: orNull(locationSchema),
    battery: z.number().nullable(),
    measuredAt: instant,
    receivedAt: instant,
    clockSkewMs: z
      .number()
      .int()
      .meta({ description: "How far ahead the sensor's clock was (then measuredAt = receivedAt)" }),
    status: z.enum(["applied", "stale"]),
  })
  .meta({ id: "StoredReading" });
/** A reading as its container's history keeps it. */
export type StoredReading = z.infer<typeof storedReadingSchema>;

export const userSchema = z
  .object({
    email: z.string(),
    role: z.enum(ROLES),
    disabled: z.boolean(),
    createdAt: instant,
    createdBy: z.string(),
    updatedAt: instant,
    passwordChangedAt: nullableInstant,
    telegramUserId: z.number().int().nullable(),
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

export const errorSummarySchema = errorRecordSchema
  .pick({
    id: true,
    name: true,
    message: true,
    source: true,
    count: true,
    firstSeen: true,
    lastSeen: true,
    status: true,
    resolvedAt: true,
    resolvedBy: true,
  })
  .meta({
    id: "ErrorSummary",
    description: "A record as the error stream pushes it: without stack, context and fingerprint (GET /v1/errors/{id})",
  });

export const errorChangeSchema = z
  .object({ seq: z.number().int(), type: z.enum(["error.created", "error.updated"]), record: errorSummarySchema })
  .meta({ id: "ErrorChange", description: "One message of the error stream" });

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

export const partnerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    webhookUrl: z.string(),
    ipRanges: z.array(z.string()),
    serves: z.object({ containerIds: z.array(z.string()), contents: z.array(z.string()) }),
    leadTimeHours: z.number().nullable().meta({
      description: "Lead time for forecast orders of the containers it serves that set none (null: none)",
    }),
    disabled: z.boolean(),
    createdAt: instant,
    createdBy: z.string(),
    updatedAt: instant,
    secretRotatedAt: nullableInstant,
    previousSecretValidUntil: nullableInstant.meta({
      description: "Until when the secret before the last rotation still works",
    }),
  })
  .meta({ id: "Partner" });

export const partnerDeliverySchema = z
  .object({
    eventId: z.string(),
    type: z.string(),
    containerId: z.string(),
    orderId: z.string().nullable(),
    state: z.enum(["delivered", "retrying", "dead"]),
    attempts: z.number().int(),
    lastStatus: z
      .number()
      .int()
      .nullable()
      .meta({ description: "The partner's last HTTP status; null when it did not answer" }),
    lastError: z.string().nullable(),
    nextTryAt: nullableInstant,
    deliveredAt: nullableInstant,
    createdAt: instant,
    updatedAt: instant,
    attemptLog: z
      .array(z.object({ at: z.string(), status: z.number().int().nullable(), error: z.string().nullable() }))
      .meta({ description: "Every attempt, oldest first, across retries, replays and sends on request" }),
    deadLetterId: z
      .number()
      .int()
      .nullable()
      .meta({ description: "The dead letter its retries ended in: POST /v1/dead-letters/{id}/replay sends it again" }),
  })
  .meta({ id: "PartnerDelivery" });

export const priceSchema = z
  .object({
    product: z.string(),
    unit: z.string(),
    currency: z.string(),
    unitPrice: z.number(),
    vatRate: z.number(),
    updatedAt: instant,
    updatedBy: z.string(),
  })
  .meta({ id: "Price" });

export const salesDocumentSchema = z
  .object({
    id: z.string().meta({ description: "The number: FG-<partner>-<year>-<seq>", example: "FG-acme-fuels-2026-000123" }),
    orderId: z.string(),
    partnerId: z.string(),
    year: z.number().int(),
    seq: z.number().int(),
    containerId: z.string(),
    currency: z.string(),
    net: z.string().meta({ example: "1234.50" }),
    vat: z.string(),
    gross: z.string(),
    lines: z.array(
      z.object({
        product: z.string(),
        quantity: z.number(),
        unit: z.string(),
        unitPrice: z.number(),
        vatRate: z.number(),
        netCents: z.number().int(),
        vatCents: z.number().int(),
        grossCents: z.number().int(),
      }),
    ),
    deliveredAt: instant,
    issuedAt: instant,
    links: z.object({ csv: z.string(), html: z.string() }),
    revision: z.number().int().meta({
      description:
        "The order's delivery revision it was issued for: 0 as first reported, 1 after the first correction…",
    }),
    voidAt: nullableInstant.meta({ description: "Void since then: a corrected delivery's document replaced it" }),
    replacedBy: z.string().nullable().meta({ description: "The number of the document that replaced it" }),
  })
  .meta({ id: "SalesDocument" });

export const alertSchema = z
  .object({
    id: z.string(),
    key: z.string().meta({ description: "<rule>:<subject>: one alert per condition and subject" }),
    rule: z.string(),
    subject: z.string(),
    severity: z.enum(["critical", "warning", "info"]),
    message: z.string(),
    containerId: z
      .string()
      .nullable()
      .meta({ description: "The container it concerns (its own or its order's); null for the system's own" }),
    state: z.enum(["firing", "acknowledged", "resolved"]),
    firedAt: instant,
    lastSentAt: instant,
    repeats: z.number().int(),
    escalated: z.boolean(),
    acknowledgedAt: nullableInstant,
    acknowledgedBy: z.string().nullable(),
    silencedUntil: nullableInstant,
    resolvedAt: nullableInstant,
  })
  .meta({ id: "Alert" });
