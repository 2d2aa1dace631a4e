import { desc, eq, isNull, and, lt } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { withDatabase } from "../db/client";
import { deadLetters } from "../db/schema";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError, notFound, validate } from "../http/errors";
import { limitSchema } from "../http/paging";

export const operations = new Hono<AppEnv>();

/** Raised on purpose to check the error pipeline end to end. */
export class DiagnosticError extends Error {
  override name = "DiagnosticError";
}

/**
 * An admin checks that failures reach the error store and the dashboards: this fails on purpose,
 * with a 500 and a request id, exactly as an unexpected failure would.
 */
operations.post("/diagnostics/fail", requireRole("admin"), () => {
  throw new DiagnosticError("diagnostic failure requested through POST /v1/diagnostics/fail");
});

const deadLetterQuery = z.strictObject({
  pending: z.enum(["true", "false"]).optional(),
  limit: limitSchema,
  cursor: z.coerce.number().int().positive().optional(),
});

/** Messages that exhausted their retries, newest first. */
operations.get("/dead-letters", requireRole("admin"), async (c) => {
  const q = validate(deadLetterQuery, c.req.query());
  const rows = await withDatabase(c.env, (db) =>
    db
      .select()
      .from(deadLetters)
      .where(and(q.pending === "true" ? isNull(deadLetters.replayedAt) : undefined, q.cursor ? lt(deadLetters.id, q.cursor) : undefined))
      .orderBy(desc(deadLetters.id))
      .limit(q.limit + 1),
  );
  const page = rows.slice(0, q.limit);
  return c.json({ deadLetters: page, nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null });
});

const queues = (env: Env): Record<string, Queue> => ({
  "fillgrid-projection": env.PROJECTION_QUEUE,
  "fillgrid-errors": env.ERRORS_QUEUE,
});

/** Send a dead letter back to the queue it came from; its consumers are idempotent. */
operations.post("/dead-letters/:id/replay", requireRole("admin"), async (c) => {
  const { id } = validate(z.object({ id: z.coerce.number().int().positive() }), { id: c.req.param("id") });
  const row = await withDatabase(c.env, async (db) => (await db.select().from(deadLetters).where(eq(deadLetters.id, id)))[0]);
  if (!row) throw notFound(`dead letter ${id}`);
  const queue = queues(c.env)[row.queue];
  if (!queue) throw new ApiError(409, "no_queue", `dead letter ${id} came from ${row.queue}, which cannot be replayed to`);
  await queue.send(row.body, { contentType: "json" });
  const [replayed] = await withDatabase(c.env, (db) =>
    db.update(deadLetters).set({ replayedAt: new Date().toISOString() }).where(eq(deadLetters.id, id)).returning(),
  );
  return c.json({ deadLetter: replayed });
});
