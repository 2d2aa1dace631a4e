import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import { orderSchema } from "../../domain/schemas";
import { containerIdSchema, instantParam, orderIdSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { findOrder, listOrders } from "../db/queries";
import { requireRole } from "../http/auth";
import { notFound } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

const viewer: MiddlewareHandler<AppEnv>[] = [requireRole("viewer"), rateLimit(limits.api)];

export const orders = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orders",
      tags: ["Orders"],
      summary: "Orders across the fleet from Postgres, newest first",
      security: security.person,
      middleware: viewer,
      request: {
        query: z.strictObject({
          status: z.enum(["active", "closed"]).optional(),
          fulfilment: z.enum(["pending", "accepted", "dispatched", "delivered"]).optional(),
          containerId: containerIdSchema.optional(),
          openedFrom: instantParam.optional(),
          openedTo: instantParam.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          cursor: orderIdSchema.optional().meta({ description: "nextCursor of the page before" }),
        }),
      },
      responses: {
        200: jsonContent(z.object({ orders: z.array(orderSchema), nextCursor: z.string().nullable() }), "A page"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await withDatabase(c.env, (db) => listOrders(db, { ...q, before: q.cursor }));
      return c.json({ orders: page.items, nextCursor: page.next }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orders/{id}",
      tags: ["Orders"],
      summary: "One order from Postgres",
      security: security.person,
      middleware: viewer,
      request: { params: z.object({ id: orderIdSchema }) },
      responses: { 200: jsonContent(z.object({ order: orderSchema }), "The order"), ...problems(...personProblems, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const order = await withDatabase(c.env, (db) => findOrder(db, id));
      if (!order) throw notFound(`order ${id}`);
      return c.json({ order }, 200);
    },
  );
