import { z } from "zod";
import type { ChangeMessage } from "../../domain/change-message";

// Enough of a change message's shape to be sure the writer can use it; the rest is the container's
// own output and trusted as such.
const changeMessageSchema = z.looseObject({
  event: z.looseObject({
    id: z.string().min(1),
    seq: z.number().int().positive(),
    containerId: z.string().min(1),
    type: z.enum(["reading.recorded", "order.opened", "order.closed", "settings.changed", "order.fulfilment_changed", "order.lines_set"]),
    at: z.string(),
    actor: z.object({ kind: z.string(), id: z.string() }),
  }),
  state: z.looseObject({ containerId: z.string().min(1), version: z.number().int().positive() }),
  order: z.looseObject({ id: z.string().min(1) }).nullable(),
});

export function parseChangeMessage(body: unknown): { ok: true; message: ChangeMessage } | { ok: false; error: string } {
  const parsed = changeMessageSchema.safeParse(body);
  if (parsed.success) return { ok: true, message: parsed.data as unknown as ChangeMessage };
  const issue = parsed.error.issues[0]!;
  return { ok: false, error: `not a change message: ${issue.path.join(".") || "(body)"} ${issue.message}` };
}
