import { Hono } from "hono";
import { z } from "zod";
import { settingsSchema } from "../../domain/settings";
import { booleanParam, containerIdSchema, instantParam, orderIdSchema } from "../../domain/validation";
import { withDatabase } from "../db/client";
import { listContainers } from "../db/queries";
import type { AppEnv } from "../http/context";
import { requireRole } from "../http/auth";
import { ApiError, notFound, readJson, validate, validationError } from "../http/errors";
import { limitBody } from "../http/limits";
import { cursorSchema, encodeCursor, limitSchema } from "../http/paging";

export const containers = new Hono<AppEnv>();

function containerId(raw: string): string {
  return validate(z.object({ containerId: containerIdSchema }), { containerId: raw }).containerId;
}

function container(env: Env, id: string) {
  return env.CONTAINERS.getByName(id);
}

const fleetQuery = z.strictObject({
  belowThreshold: booleanParam.optional(),
  hasActiveOrder: booleanParam.optional(),
  contents: z.string().min(1).max(100).optional(),
  silentSince: instantParam.optional(),
  sort: z.enum(["id", "fillPercent", "lastSeenAt"]).default("id"),
  order: z.enum(["asc", "desc"]).default("asc"),
  limit: limitSchema,
  cursor: cursorSchema(z.tuple([z.string(), z.union([z.string(), z.number()]), z.string()])).optional(),
});

/** The fleet from Postgres: filters, sort, and cursor paging that neither repeats nor skips a row. */
containers.get("/", requireRole("viewer"), async (c) => {
  const q = validate(fleetQuery, c.req.query());
  const sortTag = `${q.sort}:${q.order}`;
  if (q.cursor && q.cursor[0] !== sortTag) {
    throw validationError([{ path: "cursor", message: `was issued for sort ${q.cursor[0]}, not ${sortTag}` }]);
  }
  const page = await withDatabase(c.env, (db) =>
    listContainers(db, { ...q, after: q.cursor ? { value: q.cursor[1], id: q.cursor[2] } : undefined }),
  );
  return c.json({
    containers: page.items,
    nextCursor: page.next ? encodeCursor([sortTag, page.next.value, page.next.id]) : null,
  });
});

containers.get("/:id", requireRole("viewer"), async (c) => {
  const id = containerId(c.req.param("id"));
  const state = await container(c.env, id).getState();
  if (!state) throw notFound(`container ${id}`);
  return c.json({ container: state });
});

const readingsQuery = z.object({
  limit: limitSchema,
  cursor: cursorSchema(z.tuple([z.number(), z.string()])).optional(),
});

containers.get("/:id/readings", requireRole("viewer"), async (c) => {
  const id = containerId(c.req.param("id"));
  const query = validate(readingsQuery, c.req.query());
  const before = query.cursor ? { measuredAt: query.cursor[0], readingId: query.cursor[1] } : null;
  const page = await container(c.env, id).listReadings(query.limit, before);
  return c.json({
    readings: page.items,
    nextCursor: page.next ? encodeCursor([page.next.measuredAt, page.next.readingId]) : null,
  });
});

const ordersQuery = z.object({ limit: limitSchema, cursor: orderIdSchema.optional() });

containers.get("/:id/orders", requireRole("viewer"), async (c) => {
  const id = containerId(c.req.param("id"));
  const query = validate(ordersQuery, c.req.query());
  const page = await container(c.env, id).listOrders(query.limit, query.cursor ?? null);
  return c.json({ orders: page.items, nextCursor: page.next });
});

const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: limitSchema,
});

/** The container's audit trail, oldest first; page with `after` = the last `seq` seen. */
containers.get("/:id/events", requireRole("viewer"), async (c) => {
  const id = containerId(c.req.param("id"));
  const query = validate(eventsQuery, c.req.query());
  const events = await container(c.env, id).listEvents(query.after, query.limit);
  return c.json({ events });
});

containers.put("/:id", limitBody(16 * 1024), requireRole("admin"), async (c) => {
  const id = containerId(c.req.param("id"));
  const patch = validate(settingsSchema, await readJson(c));
  const person = c.get("person");
  const state = await container(c.env, id).updateSettings(id, patch, { kind: "user", id: person.email });
  return c.json({ container: state });
});

containers.post("/:id/orders", limitBody(16 * 1024), requireRole("operator"), async (c) => {
  const id = containerId(c.req.param("id"));
  const result = await container(c.env, id).openOrder(id, c.get("person").email);
  if (result.ok) return c.json({ order: result.order }, 201);
  if (result.reason === "unknown_container") throw notFound(`container ${id}`);
  throw new ApiError(409, "order_active", `container ${id} already has active order ${result.order.id}`, undefined, {
    order: result.order,
  });
});

containers.post("/:id/orders/:orderId/close", limitBody(16 * 1024), requireRole("operator"), async (c) => {
  const id = containerId(c.req.param("id"));
  const orderId = validate(z.object({ orderId: orderIdSchema }), { orderId: c.req.param("orderId") }).orderId;
  const result = await container(c.env, id).closeOrder(id, orderId, c.get("person").email);
  if (result.ok) return c.json({ order: result.order });
  if (result.reason === "not_found") throw notFound(`order ${orderId} of container ${id}`);
  throw new ApiError(409, "order_not_active", `order ${orderId} is ${result.order.status}, not active`, undefined, {
    order: result.order,
  });
});
