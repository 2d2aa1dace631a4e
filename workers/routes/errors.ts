import { Hono } from "hono";
import { z } from "zod";
import { ERROR_SOURCES } from "../../domain/errors";
import { roleAllows } from "../../domain/access";
import { instantParam } from "../../domain/validation";
import { bearerToken, personFromToken, requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError, notFound, validate } from "../http/errors";
import { cursorSchema, encodeCursor, limitSchema } from "../http/paging";
import { errorHub, errorStore } from "../errors/store";

export const errors = new Hono<AppEnv>();

const errorIdSchema = z.string().regex(/^err_[0-9A-Z]{26}$/, { error: "is not an error id (err_…)" });

const listQuery = z.strictObject({
  status: z.enum(["open", "resolved"]).optional(),
  source: z.enum(ERROR_SOURCES).optional(),
  lastSeenFrom: instantParam.optional(),
  lastSeenTo: instantParam.optional(),
  limit: limitSchema,
  cursor: cursorSchema(z.tuple([z.string(), z.string()])).optional(),
});

/** Error records, most recently seen first. */
errors.get("/", requireRole("viewer"), async (c) => {
  const q = validate(listQuery, c.req.query());
  const page = await errorStore(c.env).list({
    ...q,
    lastSeenFrom: q.lastSeenFrom && new Date(q.lastSeenFrom).toISOString(),
    lastSeenTo: q.lastSeenTo && new Date(q.lastSeenTo).toISOString(),
    before: q.cursor ? { lastSeen: q.cursor[0], id: q.cursor[1] } : undefined,
  });
  return c.json({ errors: page.items, nextCursor: page.next ? encodeCursor([page.next.lastSeen, page.next.id]) : null });
});

/**
 * Live error changes over a WebSocket. Browsers cannot set headers on a WebSocket, so the token may
 * also come as `?token=`. `?since=<seq>` replays every change after that one first.
 */
errors.get("/stream", async (c) => {
  const token = bearerToken(c.req.header("Authorization")) ?? c.req.query("token") ?? null;
  const person = await personFromToken(c.env, token);
  if (!person) throw new ApiError(401, "unauthenticated", "a valid viewer token is needed (Authorization header or ?token=)");
  if (!roleAllows(person.role, "viewer")) throw new ApiError(403, "forbidden", "this needs the viewer role");
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError(426, "upgrade_required", "connect with a WebSocket");
  }
  const { since } = validate(z.object({ since: z.coerce.number().int().min(0).optional() }), { since: c.req.query("since") });
  const url = new URL("https://error-hub/stream");
  if (since !== undefined) url.searchParams.set("since", String(since));
  url.searchParams.set("email", person.email);
  return errorHub(c.env).fetch(new Request(url, { headers: c.req.raw.headers }));
});

errors.post("/:id/resolve", requireRole("operator"), async (c) => {
  const { id } = validate(z.object({ id: errorIdSchema }), { id: c.req.param("id") });
  const result = await errorStore(c.env).resolve(id, c.get("person").email);
  if (result.ok) return c.json({ error: result.record });
  if (result.reason === "not_found") throw notFound(`error ${id}`);
  throw new ApiError(409, "not_open", `error ${id} is already resolved`, undefined, { record: result.record });
});
