import { createRoute, z } from "@hono/zod-openapi";
import { roleAllows } from "../../domain/access";
import { ERROR_SOURCES } from "../../domain/errors";
import { errorBodySchema, errorRecordSchema } from "../../domain/schemas";
import { instantParam, instantSchema } from "../../domain/validation";
import type { StreamRequest } from "../../durable-objects/error-hub";
import { decodeCursor, encodeCursor, MAX_PAGE } from "../../platform/paging";
import { personByEmail, personFromToken, requireRole } from "../http/auth";
import type { Person } from "../http/context";
import { ApiError, notFound, validationError } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { errorStore } from "../errors/store";
import { directory, errorHub } from "../stubs";

const errorIdSchema = z.string().regex(/^err_[0-9A-Z]{26}$/, { error: "is not an error id (err_…)" });
const errorCursor = z.tuple([instantSchema, z.string().max(64)]);

/** The subprotocol a browser offers to carry its token: `new WebSocket(url, ["fillgrid", "bearer.<token>"])`. */
export const STREAM_PROTOCOL = "fillgrid";
const BEARER_PROTOCOL = "bearer.";

/**
 * Who opens a stream: a single-use ticket (`?ticket=`, from POST /v1/stream-tickets), or a token in
 * `Sec-WebSocket-Protocol`, or `Authorization` for clients that can set headers. Long-lived tokens
 * are never taken from the URL, where logs and histories would keep them.
 */
async function streamPerson(env: Env, headers: Headers, ticket: string | undefined): Promise<{ person: Person | null; protocol: string | null }> {
  const offered = (headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const protocol = offered.includes(STREAM_PROTOCOL) ? STREAM_PROTOCOL : null;
  if (ticket !== undefined) {
    const email = await directory(env).redeemTicket(ticket);
    return { person: email ? await personByEmail(env, email) : null, protocol };
  }
  const fromProtocol = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  const fromHeader = /^Bearer\s+(\S+)$/i.exec(headers.get("Authorization") ?? "")?.[1];
  return { person: await personFromToken(env, fromProtocol ?? fromHeader ?? null), protocol };
}

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
          cursor: z.string().max(1000).optional(),
        }),
      },
      responses: {
        200: jsonContent(z.object({ errors: z.array(errorRecordSchema), nextCursor: z.string().nullable() }), "A page"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      let before: { lastSeen: string; id: string } | undefined;
      if (q.cursor !== undefined) {
        const cursor = decodeCursor(errorCursor, q.cursor);
        if (!cursor) throw validationError([{ path: "cursor", message: "is not a cursor this API returned" }]);
        before = { lastSeen: cursor[0], id: cursor[1] };
      }
      const page = await errorStore(c.env).list({
        ...q,
        lastSeenFrom: q.lastSeenFrom && new Date(q.lastSeenFrom).toISOString(),
        lastSeenTo: q.lastSeenTo && new Date(q.lastSeenTo).toISOString(),
        before,
      });
      return c.json({ errors: page.items, nextCursor: page.next ? encodeCursor([page.next.lastSeen, page.next.id]) : null }, 200);
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
        "With `?since=<seq>` every change after that one comes first; then `{\"type\":\"ready\",\"seq\":N}`; then each change as it happens. " +
        "Older than the 10,000 changes kept: `{\"type\":\"reset\"}` (reload GET /v1/errors).",
      security: security.person,
      request: {
        query: z.strictObject({
          ticket: z.string().max(200).optional(),
          since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          token: z.string().optional().meta({ description: "Not accepted: tokens do not belong in URLs" }),
        }),
      },
      responses: {
        101: { description: "Switching to the WebSocket" },
        426: jsonContent(errorBodySchema, "Not a WebSocket upgrade"),
        ...problems(400, 401, 403, 500),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      if (q.token !== undefined) {
        throw new ApiError(401, "token_in_url", "tokens are not accepted in the URL; get a ticket from POST /v1/stream-tickets and use ?ticket=");
      }
      if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "upgrade_required", "connect with a WebSocket");
      const { person, protocol } = await streamPerson(c.env, c.req.raw.headers, q.ticket);
      if (!person) {
        throw new ApiError(401, "unauthenticated", q.ticket !== undefined ? "the ticket is unknown, used or expired; get a new one" : "a valid viewer token or ticket is needed");
      }
      if (!roleAllows(person.role, "viewer")) throw new ApiError(403, "forbidden", "this needs the viewer role");
      const stream: StreamRequest = { email: person.email, since: q.since ?? null, protocol };
      const headers = new Headers(c.req.raw.headers);
      headers.set("X-Fillgrid-Stream", JSON.stringify(stream));
      headers.delete("Authorization");
      return errorHub(c.env).fetch(new Request("https://error-hub/stream", { headers }));
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
