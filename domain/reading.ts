import { z } from "zod";
import type { Reading } from "./container";
import { containerIdSchema, formatPath, parseWith, percentSchema, type FieldIssue, type Parsed } from "./validation";

export const MAX_BATCH = 500;
/** How far ahead of the receiving clock a sensor's `measuredAt` may be. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;

export const readingSchema = z.strictObject({
  containerId: containerIdSchema,
  readingId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: "must be 1-128 letters, digits, '.', '_', ':' or '-'" }),
  fillPercent: percentSchema,
  contents: z.string().trim().min(1).max(100).optional(),
  location: z.strictObject({
    lat: z.number().finite().min(-90).max(90),
    lon: z.number().finite().min(-180).max(180),
  }),
  battery: percentSchema.optional(),
  measuredAt: z.iso.datetime({ offset: true, error: "must be an RFC 3339 timestamp with a time zone" }).optional(),
});

const batchSchema = z.strictObject({
  readings: z.array(z.unknown()).min(1).max(MAX_BATCH),
});

export interface ParsedReadings {
  readings: Reading[];
  batch: boolean;
}

/**
 * Validate a whole ingest body: one reading, or `{readings: [...]}`. Nothing is returned unless every
 * reading is valid, so a bad reading anywhere stops the whole request.
 */
export function parseReadings(body: unknown, receivedAt: number): Parsed<ParsedReadings> {
  const batch = typeof body === "object" && body !== null && !Array.isArray(body) && "readings" in body;
  let items: unknown[];
  if (batch) {
    const parsed = parseWith(batchSchema, body);
    if (!parsed.ok) return parsed;
    items = parsed.value.readings;
  } else {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return {
        ok: false,
        issues: [{ path: "(body)", message: "must be a reading object or {\"readings\": [...]}" }],
      };
    }
    items = [body];
  }
  const readings: Reading[] = [];
  const issues: FieldIssue[] = [];
  items.forEach((item, index) => {
    const at = batch ? ["readings", index] : [];
    const parsed = parseWith(readingSchema, item);
    if (!parsed.ok) {
      for (const issue of parsed.issues) {
        const base = formatPath(at);
        issues.push({ path: joinPath(base, issue.path), message: issue.message });
      }
      return;
    }
    const r = parsed.value;
    const measuredAt = r.measuredAt === undefined ? receivedAt : Date.parse(r.measuredAt);
    if (measuredAt > receivedAt + MAX_FUTURE_MS) {
      issues.push({
        path: joinPath(formatPath(at), "measuredAt"),
        message: `is more than 5 minutes in the future (received at ${new Date(receivedAt).toISOString()})`,
      });
      return;
    }
    readings.push({
      readingId: r.readingId,
      containerId: r.containerId,
      fillPercent: r.fillPercent,
      contents: r.contents,
      location: r.location,
      battery: r.battery,
      measuredAt,
    });
  });
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { readings, batch } };
}

function joinPath(base: string, path: string): string {
  if (base === "") return path;
  return path === "(body)" ? base : `${base}.${path}`;
}
