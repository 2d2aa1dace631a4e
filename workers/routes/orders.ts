import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import { FULFILMENTS } from "../../domain/fulfilment";
import { orderPatchSchema } from "../../domain/partner-input";
import { errorBodySchema, orderSchema } from "../../domain/schemas";
import { containerIdSchema, instantParam, orderIdSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { containerFacts, countOrders, findOrder, listOrders } from "../db/queries";
import { csvResponse, jsonOrCsv, wantsCsv } from "../http/csv";
import { formatParam } from "../../domain/analytics";
import { ORDER_CSV_COLUMNS, orderContainerSchema, orderCsvRows } from "../../domain/order";
import { requireRole } from "../http/auth";
import { ApiError, notFound } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { container } from "../stubs";
import type { KeyedCommandResult } from "../../durable-objects/container";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

const viewer: MiddlewareHandler<AppEnv>[] = [requireRole("viewer"), rateLimit(limits.api)];
/** A CSV of orders holds at most this many (newest first). */
const CSV_MAX_ROWS = 10_000;
const assembler: MiddlewareHandler<AppEnv>[] = [requireRole("assembler"), rateLimit(limits.api)];

function settled(result: KeyedCommandResult, orderId: string) {
  if (result.ok) return result.order;
  if (result.reason === "differs")
    throw new ApiError(409, "step_differs", `${result.what}; that step cannot be taken again differently`, undefined, {
      order: result.order,
    });
  if (result.reason === "illegal")
    throw new ApiError(
      409,
      "illegal_transition",
      `order ${orderId} is ${result.order.fulfilment}; that change cannot follow`,
      undefined,
      { order: result.order },
    );
  throw notFound(`order ${orderId}`);
}

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
          fulfilment: z.enum(FULFILMENTS).optional(),
          containerId: containerIdSchema.optional(),
          container: z
            .string()
            .max(128)
            .optional()
            .meta({ description: "Part of the container's id or name (any case)" }),
          openedFrom: instantParam.optional(),
          openedTo: instantParam.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          cursor: orderIdSchema.optional().meta({ description: "nextCursor of the page before" }),
          format: formatParam,
        }),
      },
      description:
        "`total`: how many orders the filters match. `containers`: each listed order's container as it is now (name, contents, fill, threshold, capacity, unit). As CSV (`?format=csv` or `Accept: text/csv`): every order the filters match, newest first, up to 10,000, one row each with its container's name and contents and the quantity ordered.",
      responses: {
        200: jsonOrCsv(
          z.object({
            orders: z.array(orderSchema),
            nextCursor: z.string().nullable(),
            total: z.number().int(),
            containers: z.record(z.string(), orderContainerSchema),
          }),
          "A page",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { format, ...q } = c.req.valid("query");
      const csv = wantsCsv(c, format);
      const body = await withDatabase(c.env, async (db) => {
        const filters = { ...q, before: q.cursor, ...(csv ? { limit: CSV_MAX_ROWS } : {}) };
        const [page, total] = await Promise.all([listOrders(db, filters), countOrders(db, filters)]);
        return {
          page,
          total,
          containers: await containerFacts(
            db,
            page.items.map((o) => o.containerId),
          ),
        };
      });
      if (csv) return csvResponse("orders.csv", ORDER_CSV_COLUMNS, orderCsvRows(body.page.items, body.containers));
      return c.json(
        { orders: body.page.items, nextCursor: body.page.next, total: body.total, containers: body.containers },
        200,
      );
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
      responses: {
        200: jsonContent(z.object({ order: orderSchema }), "The order"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const order = await withDatabase(c.env, (db) => findOrder(db, id));
      if (!order) throw notFound(`order ${id}`);
      return c.json({ order }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/assembly/queue",
      tags: ["Orders"],
      summary: "Accepted orders waiting to be assembled (or those being assembled), oldest first",
      security: security.person,
      middleware: assembler,
      request: {
        query: z.strictObject({
          fulfilment: z.enum(["accepted", "assembling"]).default("accepted"),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
        }),
      },
      description:
        "`containers`: each listed order's container as it is now (name, contents, fill, threshold, capacity, unit), so an assembler knows where the goods go and how much fits.",
      responses: {
        200: jsonContent(
          z.object({ orders: z.array(orderSchema), containers: z.record(z.string(), orderContainerSchema) }),
          "Oldest first",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const body = await withDatabase(c.env, async (db) => {
        const page = await listOrders(db, { fulfilment: q.fulfilment, limit: q.limit, oldestFirst: true });
        return {
          orders: page.items,
          containers: await containerFacts(
            db,
            page.items.map((o) => o.containerId),
          ),
        };
      });
      return c.json(body, 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/orders/{id}",
      tags: ["Orders"],
      summary: "Assembly: set an order's lines (until dispatched), move it to assembling or dispatched",
      description:
        "Lines first, then the step. Through the container's own object, like every change to an order; the partner is told.",
      security: security.person,
      middleware: [...assembler, ...jsonBody(64 * 1024)],
      request: {
        params: z.object({ id: orderIdSchema }),
        body: { content: { "application/json": { schema: orderPatchSchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ order: orderSchema }), "The order now"),
        409: jsonContent(
          errorBodySchema,
          "The change cannot follow the order's step (`error.order`: the order as it is)",
        ),
        ...problems(...personProblems, 404, 413, 415),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const patch = c.req.valid("json");
      const by = c.get("person").email;
      const known = await withDatabase(c.env, (db) => findOrder(db, id));
      if (!known) throw notFound(`order ${id}`);
      const stub = container(c.env, known.containerId);
      const actor = { kind: "user" as const, id: by };
      let order = known;
      if (patch.lines !== undefined) order = settled(await stub.setLines(null, id, patch.lines, actor), id);
      if (patch.fulfilment !== undefined) {
        const details =
          patch.fulfilment === "dispatched"
            ? { eta: patch.eta ? new Date(patch.eta).toISOString() : null, vehicle: patch.vehicle ?? null }
            : {};
        order = settled(
          await stub.moveFulfilment(null, id, { to: patch.fulfilment, partnerId: null, by, ...details }, actor),
          id,
        );
      }
      return c.json({ order }, 200);
    },
  );
