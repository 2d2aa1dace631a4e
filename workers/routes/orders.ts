import { Hono } from "hono";
import { z } from "zod";
import { containerIdSchema, instantParam, orderIdSchema } from "../../domain/validation";
import { withDatabase } from "../db/client";
import { findOrder, listOrders } from "../db/queries";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { notFound, validate } from "../http/errors";
import { limitSchema } from "../http/paging";

export const orders = new Hono<AppEnv>();

const ordersQuery = z.strictObject({
  status: z.enum(["active", "closed"]).optional(),
  containerId: containerIdSchema.optional(),
  openedFrom: instantParam.optional(),
  openedTo: instantParam.optional(),
  limit: limitSchema,
  cursor: orderIdSchema.optional(),
});

/** Orders across the fleet from Postgres, newest first. */
orders.get("/", requireRole("viewer"), async (c) => {
  const q = validate(ordersQuery, c.req.query());
  const page = await withDatabase(c.env, (db) => listOrders(db, { ...q, before: q.cursor }));
  return c.json({ orders: page.items, nextCursor: page.next });
});

orders.get("/:id", requireRole("viewer"), async (c) => {
  const { id } = validate(z.object({ id: orderIdSchema }), { id: c.req.param("id") });
  const order = await withDatabase(c.env, (db) => findOrder(db, id));
  if (!order) throw notFound(`order ${id}`);
  return c.json({ order });
});
