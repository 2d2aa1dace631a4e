import { usageNow } from "../../platform/usage";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { deadLetterSchema, errorBodySchema } from "../../domain/schemas";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { deadLetters, partnerDeliveries } from "../db/schema";
import { partnerDeliverySchema } from "../partners/outbound";
import { requireRole } from "../http/auth";
import { ApiError, notFound } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];

/** Raised on purpose to check the error pipeline end to end. */
export class DiagnosticError extends Error {
  override name = "DiagnosticError";
}

const replayQueues = (env: Env): Record<string, Queue> => ({
  "fillgrid-projection": env.PROJECTION_QUEUE,
  "fillgrid-backups": env.BACKUP_QUEUE,
  "fillgrid-errors": env.ERRORS_QUEUE,
  "fillgrid-partner-events": env.PARTNER_EVENTS_QUEUE,
  "fillgrid-backup-replication": env.BACKUP_REPLICATION_QUEUE,
});

export const operations = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/diagnostics/fail",
      tags: ["Operations"],
      summary: "Fail on purpose (500), to check that failures reach the error store and the dashboards",
      security: security.person,
      middleware: admin,
      responses: {
        500: jsonContent(errorBodySchema, "Always: a 500 with a request id, recorded as an error"),
        ...problems(401, 403, 429),
      },
    }),
    () => {
      throw new DiagnosticError("diagnostic failure requested through POST /v1/diagnostics/fail");
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/diagnostics/usage",
      tags: ["Operations"],
      summary: "What this isolate has done that Cloudflare bills, since it started (for cost estimates)",
      description:
        "Worker invocations, Durable Object requests, SQLite rows read and written by the container objects, queue messages sent, delivered and retried, " +
        "counted in memory by the isolate that answers: locally that is one wrangler dev session (the edge, or the projector that consumes the projection queue); in production each isolate counts its own, so use Cloudflare's analytics there. " +
        "`npm run bench` reads it before and after a run to price a million readings.",
      security: security.person,
      middleware: admin,
      responses: {
        200: jsonContent(
          z.object({
            workerInvocations: z.number().int(),
            objectRequests: z.number().int(),
            rowsRead: z.number().int(),
            rowsWritten: z.number().int(),
            queueMessagesSent: z.number().int(),
            queueMessageUnits: z
              .number()
              .int()
              .describe("Messages sent counted in 64 KB units, as queue operations are billed"),
            queueMessagesDelivered: z.number().int(),
            queueMessagesRetried: z.number().int(),
          }),
          "Counters since the isolate started",
        ),
        ...problems(...personProblems),
      },
    }),
    (c) => c.json(usageNow(), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/dead-letters",
      tags: ["Operations"],
      summary: "Messages that exhausted their retries, newest first",
      security: security.person,
      middleware: admin,
      request: {
        query: z.strictObject({
          pending: z.enum(["true", "false"]).optional().meta({ description: "true: only those not yet replayed" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          cursor: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({ deadLetters: z.array(deadLetterSchema), nextCursor: z.number().int().nullable() }),
          "A page",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const rows = await withDatabase(c.env, (db) =>
        db
          .select()
          .from(deadLetters)
          .where(
            and(
              q.pending === "true" ? isNull(deadLetters.replayedAt) : undefined,
              q.cursor ? lt(deadLetters.id, q.cursor) : undefined,
            ),
          )
          .orderBy(desc(deadLetters.id))
          .limit(q.limit + 1),
      );
      const page = rows.slice(0, q.limit).map((r) => ({
        ...r,
        receivedAt: new Date(r.receivedAt).toISOString(),
        replayedAt: r.replayedAt && new Date(r.replayedAt).toISOString(),
      }));
      return c.json({ deadLetters: page, nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/dead-letters/{id}/replay",
      tags: ["Operations"],
      summary: "Send a dead letter back to its queue; its consumers are idempotent",
      security: security.person,
      middleware: admin,
      request: { params: z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }) },
      description:
        "A partner event already delivered (the partner answered 2xx since, to a retry or on its own request) is not sent again: `sent` is false and `note` says when it was delivered.",
      responses: {
        200: jsonContent(
          z.object({
            deadLetter: deadLetterSchema,
            sent: z.boolean().meta({ description: "Whether it went back to its queue" }),
            note: z.string().optional().meta({ description: "Why nothing was sent" }),
          }),
          "Sent back, or marked replayed with nothing to send",
        ),
        ...problems(...personProblems, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await withDatabase(
        c.env,
        async (db) => (await db.select().from(deadLetters).where(eq(deadLetters.id, id)))[0],
      );
      if (!row) throw notFound(`dead letter ${id}`);
      const queue = replayQueues(c.env)[row.queue];
      if (!queue)
        throw new ApiError(409, "no_queue", `dead letter ${id} came from ${row.queue}, which cannot be replayed to`);
      const delivered = row.queue === "fillgrid-partner-events" ? await deliveredAlready(c.env, row.body) : null;
      if (!delivered) await queue.send(row.body, { contentType: "json" });
      const [replayed] = await withDatabase(c.env, (db) =>
        db.update(deadLetters).set({ replayedAt: new Date().toISOString() }).where(eq(deadLetters.id, id)).returning(),
      );
      const r = replayed!;
      return c.json(
        {
          deadLetter: {
            ...r,
            receivedAt: new Date(r.receivedAt).toISOString(),
            replayedAt: r.replayedAt && new Date(r.replayedAt).toISOString(),
          },
          sent: delivered === null,
          ...(delivered
            ? {
                note: `event ${delivered.eventId} was delivered to partner ${delivered.partnerId} at ${delivered.at}; nothing was sent`,
              }
            : {}),
        },
        200,
      );
    },
  );

/** When a dead partner event was delivered after all (by a later replay or a send on request), if it was. */
async function deliveredAlready(
  env: Env,
  body: unknown,
): Promise<{ partnerId: string; eventId: string; at: string } | null> {
  const parsed = partnerDeliverySchema.safeParse(body);
  if (!parsed.success) return null;
  const { partnerId, event } = parsed.data;
  const [row] = await withDatabase(env, (db) =>
    db
      .select({ deliveredAt: partnerDeliveries.deliveredAt })
      .from(partnerDeliveries)
      .where(
        and(
          eq(partnerDeliveries.partnerId, partnerId),
          eq(partnerDeliveries.eventId, event.eventId),
          eq(partnerDeliveries.state, "delivered"),
        ),
      ),
  );
  return row ? { partnerId, eventId: event.eventId, at: new Date(row.deliveredAt!).toISOString() } : null;
}
