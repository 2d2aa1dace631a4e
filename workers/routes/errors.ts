import { createRoute, z } from "@hono/zod-openapi";
import { ERROR_SOURCES } from "../../domain/errors";
import { errorBodySchema, errorChangeSchema, errorRecordSchema } from "../../domain/schemas";
import { instantParam, instantSchema } from "../../domain/validation";
import { cursorParam, encodeCursor, MAX_PAGE } from "../../platform/paging";
import { requireRole } from "../http/auth";
import { ApiError, notFound } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { errorStore } from "../errors/store";
import { openStream, streamQuerySchema, streamResponses } from "../http/streams";
import { errorHub } from "../stubs";

const errorIdSchema = z.string().regex(/^err_[0-9A-Z]{26}$/, { error: "is not an error id (err_…)" });
const errorCursor = z.tuple([instantSchema, z.string().max(64)]);

export const errors = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/errors",
      tags: ["Errors"],
      summary: "Error records, latest seen first",
      security: security.person,
      middleware: [requireRole("viewer"), rateLimit(limits.api)],
      request: {
        query: z.strictObject({
          status: z.enum(["open", "resolved"]).optional(),
          source: z.enum(ERROR_SOURCES).optional(),
          lastSeenFrom: instantParam.optional(),
          lastSeenTo: instantParam.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          cursor: cursorParam(errorCursor).optional(),
        }),
      },
      responses: {
        200: jsonContent(z.object({ errors: z.array(errorRecordSchema), nextCursor: z.string().nullable() }), "A page"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const before = q.cursor ? { lastSeen: q.cursor[0], id: q.cursor[1] } : undefined;
      const page = await errorStore(c.env).list({
        ...q,
        lastSeenFrom: q.lastSeenFrom && new Date(q.lastSeenFrom).toISOString(),
        lastSeenTo: q.lastSeenTo && new Date(q.lastSeenTo).toISOString(),
        before,
      });
      return c.json(
        { errors: page.items, nextCursor: page.next ? encodeCursor([page.next.lastSeen, page.next.id]) : null },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/errors/stream",
      tags: ["Errors"],
      summary: "WebSocket of error changes",
      description:
        "Authenticate with `?ticket=` (POST /v1/stream-tickets), or offer the subprotocols `fillgrid` and `bearer.<token>`. " +
        'With `?since=<seq>` every change after that one comes first; then `{"type":"ready","seq":N}`; then each change as it happens: ' +
        'an ErrorChange, `{"seq", "type":"error.created"|"error.updated", "record": ErrorSummary}` — the record without its stack, context and fingerprint, ' +
        "which GET /v1/errors/{id} answers when a person opens it. " +
        'Older than the 10,000 changes kept: `{"type":"reset"}` (reload GET /v1/errors).',
      security: security.person,
      request: { query: streamQuerySchema },
      responses: streamResponses,
    }),
    async (c) => openStream(c, c.req.valid("query"), errorHub(c.env)),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/errors/{id}",
      tags: ["Errors"],
      summary: "One error record, whole: its stack, context and fingerprint with the rest",
      security: security.person,
      middleware: [requireRole("viewer"), rateLimit(limits.api)],
      request: { params: z.object({ id: errorIdSchema }) },
      responses: {
        200: jsonContent(z.object({ record: errorRecordSchema }), "The record"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const record = await errorStore(c.env).get(id);
      if (!record) throw notFound(`error ${id}`);
      return c.json({ record }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/errors/{id}/resolve",
      tags: ["Errors"],
      summary: "Resolve an error record; the same failure again reopens it",
      security: security.person,
      middleware: [requireRole("operator"), rateLimit(limits.api)],
      request: { params: z.object({ id: errorIdSchema }) },
      responses: {
        200: jsonContent(z.object({ record: errorRecordSchema }), "Resolved"),
        409: jsonContent(errorBodySchema, "Already resolved; `error.record` is the record"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const result = await errorStore(c.env).resolve(id, c.get("person").email);
      if (result.ok) return c.json({ record: result.record }, 200);
      if (result.reason === "not_found") throw notFound(`error ${id}`);
      throw new ApiError(409, "not_open", `error ${id} is already resolved`, undefined, { record: result.record });
    },
  );

// The stream's messages are not a response body; registered so the reference shows their shape.
errors.openAPIRegistry.register("ErrorChange", errorChangeSchema);
