import { z } from "zod";
import type { Reading } from "./container";
import {
  containerIdSchema,
  instantSchema,
  locationSchema,
  percentSchema,
  type FieldIssue,
  type Parsed,
} from "./validation";

export const MAX_BATCH = 500;
/** How far ahead of the receiving clock a sensor's `measuredAt` may be. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;

export const readingSchema = z
  .strictObject({
    containerId: containerIdSchema,
    readingId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: "must be 1-128 letters, digits, '.', '_', ':' or '-'" })
      .optional()
      .meta({
        description:
          "Idempotency key, unique per container. Without it the key is derived from measuredAt; a reading with neither cannot be deduplicated.",
      }),
    fillPercent: percentSchema,
    contents: z.string().trim().min(1).max(100).optional(),
    location: locationSchema.optional().meta({ description: "Default: the container's registered location" }),
    battery: percentSchema.optional(),
    measuredAt: instantSchema
      .optional()
      .meta({ description: "Default: the time received. Up to 5 minutes ahead is taken as the time received." }),
  })
  .meta({ id: "Reading" });

export const readingBatchSchema = z
  .strictObject({ readings: z.array(readingSchema).min(1).max(MAX_BATCH) })
  .meta({ id: "ReadingBatch" });

/** One reading, or `{"readings": [...]}`. */
export const ingestBodySchema = z.union([readingSchema, readingBatchSchema]);

export type ReadingInput = z.output<typeof readingSchema>;
export type IngestBody = z.output<typeof ingestBodySchema>;

/** The key a reading without `readingId` is deduplicated by: its container's and its own time. */
export function derivedReadingId(measuredAt: number): string {
  return `at:${new Date(measuredAt).toISOString()}`;
}

/** What a sensor sent, so a retry can be told from a different reading under the same key. */
export function readingFingerprint(r: ReadingInput, sentAt: number | null): string {
  return JSON.stringify([r.fillPercent, r.contents ?? null, r.location ?? null, r.battery ?? null, sentAt]);
}

export interface ParsedReadings {
  readings: Reading[];
  batch: boolean;
}

/**
 * Turn a validated ingest body into readings: keys derived, clocks judged against the time received.
 * Nothing is returned unless every reading is acceptable, so one bad reading stops the whole request.
 */
export function toReadings(body: IngestBody, receivedAt: number, newId: () => string): Parsed<ParsedReadings> {
  const batch = "readings" in body;
  const items = "readings" in body ? body.readings : [body];
  const readings: Reading[] = [];
  const issues: FieldIssue[] = [];
  items.forEach((r, index) => {
    const sentAt = r.measuredAt === undefined ? null : Date.parse(r.measuredAt);
    if (sentAt !== null && sentAt > receivedAt + MAX_FUTURE_MS) {
      issues.push({
        path: batch ? `readings[${index}].measuredAt` : "measuredAt",
        message: `is more than 5 minutes in the future (received at ${new Date(receivedAt).toISOString()})`,
      });
      return;
    }
    // A clock running fast must not make the next real reading stale: ahead means now.
    const measuredAt = sentAt === null ? receivedAt : Math.min(sentAt, receivedAt);
    readings.push({
      readingId: r.readingId ?? (sentAt !== null ? derivedReadingId(sentAt) : newId()),
      containerId: r.containerId,
      fillPercent: r.fillPercent,
      contents: r.contents,
      location: r.location,
      battery: r.battery,
      measuredAt,
      clockSkewMs: sentAt !== null && sentAt > receivedAt ? sentAt - receivedAt : 0,
      fingerprint: readingFingerprint(r, sentAt),
    });
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { readings, batch } };
}
