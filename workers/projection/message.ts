import { z } from "zod";
import { changesOf, type ChangeMessage, type ChangeRange } from "../../domain/change-message";
import { EVENT_TYPES } from "../../domain/events";

// Enough of a change message's shape to be sure the writer can use it; the rest is the container's
// own output and trusted as such.
const eventSchema = z.looseObject({
  id: z.string().min(1),
  seq: z.number().int().positive(),
  containerId: z.string().min(1),
  type: z.enum(EVENT_TYPES),
  at: z.string(),
  actor: z.object({ kind: z.string(), id: z.string() }),
});
const stateSchema = z.looseObject({ containerId: z.string().min(1), version: z.number().int().positive() });
const orderSchema = z.looseObject({ id: z.string().min(1) });
const changeMessageSchema = z.looseObject({ event: eventSchema, state: stateSchema, order: orderSchema.nullable() });
const changeRangeSchema = z.looseObject({
  range: z.literal(true),
  containerId: z.string().min(1),
  events: z.array(eventSchema).min(1),
  state: stateSchema,
  orders: z.array(z.looseObject({ order: orderSchema, version: z.number().int().positive() })),
});

export function parseChangeMessage(body: unknown): { ok: true; message: ChangeMessage } | { ok: false; error: string } {
  const parsed = changeMessageSchema.safeParse(body);
  if (parsed.success) return { ok: true, message: parsed.data as unknown as ChangeMessage };
  const issue = parsed.error.issues[0]!;
  return { ok: false, error: `not a change message: ${issue.path.join(".") || "(body)"} ${issue.message}` };
}

const rangeBatchSchema = z.looseObject({ ranges: z.array(changeRangeSchema).min(1) });

/**
 * A message of the projection queue: many containers' ranges (what the ingest worker sends for a
 * request), one container's range of events (what a container sends itself), or a single change
 * (what containers sent before ranges, still in queues and dead letters), as the single changes it
 * stands for.
 */
export function parseProjectionMessage(
  body: unknown,
): { ok: true; changes: ChangeMessage[] } | { ok: false; error: string } {
  if (body !== null && typeof body === "object" && "ranges" in body) {
    const parsed = rangeBatchSchema.safeParse(body);
    if (parsed.success)
      return { ok: true, changes: (parsed.data.ranges as unknown as ChangeRange[]).flatMap(changesOf) };
    const issue = parsed.error.issues[0]!;
    return { ok: false, error: `not a batch of change ranges: ${issue.path.join(".") || "(body)"} ${issue.message}` };
  }
  if (body !== null && typeof body === "object" && "range" in body) {
    const parsed = changeRangeSchema.safeParse(body);
    if (parsed.success) return { ok: true, changes: changesOf(parsed.data as unknown as ChangeRange) };
    const issue = parsed.error.issues[0]!;
    return { ok: false, error: `not a change range: ${issue.path.join(".") || "(body)"} ${issue.message}` };
  }
  const single = parseChangeMessage(body);
  return single.ok ? { ok: true, changes: [single.message] } : single;
}
