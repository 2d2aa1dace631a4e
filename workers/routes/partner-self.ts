// A partner's own API, with the API key an admin issued it (`Authorization: Bearer fgpk_…`): its
// profile, its orders and their history, the log of what was sent to it (and sending one again), its
// sales documents, and a test event. It reads nothing of any other partner, and a partner key
// anywhere else is 403 (workers/http/auth.ts).
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { partnerSchema, partnerDeliverySchema, salesDocumentSchema } from "../../domain/schemas";
import { FULFILMENTS, orderLineSchema, orderSchema } from "../../domain/order";
import { instantParam, orderIdSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { findOrder, listOrders } from "../db/queries";
import { containerEvents, partnerDeliveries, salesDocuments } from "../db/schema";
import { ApiError, notFound } from "../http/errors";
import { jsonContent, problems, router } from "../http/openapi";
import { requirePartnerKey } from "../http/partner-auth";
import { deliveryLog, resendDelivery, sendTestEvent } from "../partners/outbound";
import { demandQuery, demandRowSchema } from "../../domain/analytics";
import { demandByDay } from "../db/analytics";
import { csvOrJsonAnswer as answer, jsonOrCsv } from "../http/csv";
import { placements } from "../partners/placements";
import { directory } from "../stubs";
import { byNumber, documentFile, documentOf } from "../documents/present";

const partnerKey = requirePartnerKey();
const security = [{ partnerKey: [] }];
const failures = [401, 403, 429, 500] as const;

const historyItemSchema = z.object({
  type: z.string().meta({ description: "order.opened, order.<step>, order.lines_changed, order.closed" }),
  at: z.string(),
  by: z.enum(["you", "fillgrid"]).meta({ description: "Whether you took the step, or Fillgrid (a reading, a person)" }),
  from: z.enum(FULFILMENTS).optional(),
  eta: z.string().nullable().optional(),
  vehicle: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  note: z.string().optional(),
  lines: z.array(orderLineSchema).optional(),
});

const outcomeSchema = z.object({
  eventId: z.string(),
  received: z.boolean().meta({ description: "Your webhook answered 2xx in time" }),
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  ms: z.number(),
});

/**
 * An order is the partner's when it took it, or was sent it and no partner has taken it; anything
 * else is not found (never 403: no probing).
 */
async function ownOrder(env: Env, partnerId: string, id: string) {
  return withDatabase(env, async (db) => {
    const order = await findOrder(db, id);
    if (!order) return null;
    if (order.partnerId === partnerId) return order;
    // Another partner's once taken, whatever was sent before.
    if (order.partnerId !== null) return null;
    const sent = await db
      .select({ one: sql`1` })
      .from(partnerDeliveries)
      .where(and(eq(partnerDeliveries.partnerId, partnerId), eq(partnerDeliveries.orderId, id)))
      .limit(1);
    return sent.length > 0 ? order : null;
  });
}

export const partnerSelf = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner",
      tags: ["Partner's own"],
      summary: "Who this key belongs to: your partner profile (no secrets)",
      security,
      middleware: partnerKey,
      responses: {
        200: jsonContent(z.object({ partner: partnerSchema.omit({ createdBy: true }) }), "You"),
        ...problems(...failures),
      },
    }),
    async (c) => {
      const partner = (await directory(c.env).listPartners()).find((p) => p.id === c.get("partner").id);
      if (!partner) throw new ApiError(401, "unauthenticated", "the partner is gone");
      // Who at Fillgrid added it is Fillgrid's own business.
      const { createdBy: _by, ...profile } = partner;
      return c.json({ partner: profile }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/orders",
      tags: ["Partner's own"],
      summary: "Your orders, newest first: those you took, and those sent to you",
      security,
      middleware: partnerKey,
      request: {
        query: z.strictObject({
          status: z.enum(["active", "closed"]).optional(),
          fulfilment: z.enum(FULFILMENTS).optional(),
          cursor: orderIdSchema.optional().meta({ description: "nextCursor of the page before" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
        }),
      },
      responses: {
        200: jsonContent(z.object({ orders: z.array(orderSchema), nextCursor: z.string().nullable() }), "Newest first"),
        ...problems(400, ...failures),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await withDatabase(c.env, (db) =>
        listOrders(db, {
          partnerId: c.get("partner").id,
          status: q.status,
          fulfilment: q.fulfilment,
          before: q.cursor,
          limit: q.limit,
        }),
      );
      return c.json({ orders: page.items, nextCursor: page.next }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/orders/{id}",
      tags: ["Partner's own"],
      summary: "One of your orders with its history: every step, when, and whether you or Fillgrid took it",
      security,
      middleware: partnerKey,
      request: { params: z.object({ id: orderIdSchema }) },
      responses: {
        200: jsonContent(z.object({ order: orderSchema, history: z.array(historyItemSchema) }), "The order"),
        ...problems(400, 404, ...failures),
      },
    }),
    async (c) => {
      const partnerId = c.get("partner").id;
      const { id } = c.req.valid("param");
      const order = await ownOrder(c.env, partnerId, id);
      if (!order) throw notFound(`order ${id}`);
      const rows = await withDatabase(c.env, (db) =>
        db
          .select()
          .from(containerEvents)
          .where(
            and(
              eq(containerEvents.containerId, order.containerId),
              inArray(containerEvents.type, [
                "order.opened",
                "order.fulfilment_changed",
                "order.lines_set",
                "order.delivery_corrected",
                "order.closed",
              ]),
              sql`coalesce(${containerEvents.body}->>'orderId', ${containerEvents.body}->'order'->>'id') = ${id}`,
            ),
          )
          .orderBy(containerEvents.seq),
      );
      const history = rows.map((r) => {
        const body = r.body as Record<string, unknown>;
        const by = r.actorKind === "partner" && r.actorId === partnerId ? ("you" as const) : ("fillgrid" as const);
        const at = new Date(r.at).toISOString();
        switch (r.type) {
          case "order.fulfilment_changed":
            return {
              type: `order.${String(body.to)}`,
              at,
              by,
              from: body.from as (typeof FULFILMENTS)[number],
              ...(body.eta !== undefined ? { eta: body.eta as string | null } : {}),
              ...(body.vehicle !== undefined ? { vehicle: body.vehicle as string | null } : {}),
              ...(body.reason !== undefined ? { reason: body.reason as string | null } : {}),
            };
          case "order.lines_set":
            return { type: "order.lines_changed", at, by, lines: body.lines as z.infer<typeof orderLineSchema>[] };
          case "order.delivery_corrected":
            return {
              type: "order.delivery_corrected",
              at,
              by,
              lines: body.lines as z.infer<typeof orderLineSchema>[],
              reason: body.reason as string,
            };
          case "order.closed":
            return {
              type: "order.closed",
              at,
              by,
              reason: body.closeReason as string,
              ...(typeof body.note === "string" ? { note: body.note } : {}),
            };
          default:
            return { type: r.type, at, by };
        }
      });
      return c.json({ order, history }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/deliveries",
      tags: ["Partner's own"],
      summary: "What was sent to your webhook, latest first: attempts, your last answer, the next try",
      security,
      middleware: partnerKey,
      request: {
        query: z.strictObject({
          state: z.enum(["delivered", "retrying", "dead"]).optional(),
          before: instantParam.optional().meta({ description: "Only those last updated before this instant (paging)" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
        }),
      },
      responses: {
        200: jsonContent(z.object({ deliveries: z.array(partnerDeliverySchema) }), "Latest first"),
        ...problems(400, ...failures),
      },
    }),
    async (c) => c.json({ deliveries: await deliveryLog(c.env, c.get("partner").id, c.req.valid("query")) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partner/deliveries/{eventId}/send-again",
      tags: ["Partner's own"],
      summary: "Send one logged event to your webhook again, now, and answer what it said",
      description:
        "The same event, `eventId` and all (dedupe on it); signed anew. Counted in the log's attempts; a delivered event stays delivered.",
      security,
      middleware: partnerKey,
      request: { params: z.object({ eventId: z.string().min(1).max(200) }) },
      responses: {
        200: jsonContent(outcomeSchema, "What your webhook answered"),
        ...problems(404, 409, ...failures),
      },
    }),
    async (c) => {
      const { eventId } = c.req.valid("param");
      const outcome = await resendDelivery(c.env, c.get("partner").id, eventId);
      if ("missing" in outcome) {
        if (outcome.missing === "delivery") throw notFound(`delivery of event ${eventId}`);
        throw new ApiError(
          409,
          "not_kept",
          `event ${eventId} was logged before events were kept, and cannot be sent again`,
        );
      }
      return c.json(outcome, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partner/test-event",
      tags: ["Partner's own"],
      summary: "Have a signed test event (ping) sent to your webhook now, and see what it answered",
      security,
      middleware: partnerKey,
      responses: { 200: jsonContent(outcomeSchema, "What your webhook answered"), ...problems(...failures) },
    }),
    async (c) => c.json(await sendTestEvent(c.env, c.get("partner").id), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/demand",
      tags: ["Partner's own"],
      summary:
        "What you must deliver on each of the next days: your orders not yet delivered, and the containers you serve whose forecast reaches their threshold",
      description:
        "As `GET /v1/analytics/demand` answers for your partner id: per UTC day, contents and unit, `source` order (due at its ETA, else its forecast's thresholdAt, else today) or forecast (what fills the container back from its threshold). JSON, or CSV with `format=csv` or `Accept: text/csv`.",
      security,
      middleware: partnerKey,
      request: { query: demandQuery.omit({ partnerId: true }) },
      responses: {
        200: jsonOrCsv(
          z.object({ from: z.string(), to: z.string(), rows: z.array(demandRowSchema) }),
          "One row per day, contents, unit and source",
        ),
        ...problems(400, ...failures),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const partnerId = c.get("partner").id;
      const partners = await placements(c.env, partnerId);
      const body = await withDatabase(c.env, (db) =>
        demandByDay(
          db,
          { days: q.days, now: Date.now(), partnerId, ...(q.contents !== undefined ? { contents: q.contents } : {}) },
          partners,
        ),
      );
      return answer(c, q.format, "demand", `demand-${body.from}-${body.to}.csv`, body);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/documents",
      tags: ["Partner's own"],
      summary: "Your sales documents, latest first",
      security,
      middleware: partnerKey,
      request: {
        query: z.strictObject({
          orderId: orderIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
        }),
      },
      responses: {
        200: jsonContent(z.object({ documents: z.array(salesDocumentSchema) }), "Latest first"),
        ...problems(400, ...failures),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const rows = await withDatabase(c.env, (db) =>
        db
          .select()
          .from(salesDocuments)
          .where(
            and(
              eq(salesDocuments.partnerId, c.get("partner").id),
              q.orderId ? eq(salesDocuments.orderId, q.orderId) : undefined,
            ),
          )
          .orderBy(desc(salesDocuments.issuedAt), desc(salesDocuments.id))
          .limit(q.limit),
      );
      return c.json({ documents: rows.map((r) => documentOf(r, "/v1/partner/documents")) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/documents/{id}",
      tags: ["Partner's own"],
      summary: "One of your sales documents (JSON), with links to its CSV and printable page",
      security,
      middleware: partnerKey,
      request: { params: byNumber },
      responses: {
        200: jsonContent(z.object({ document: salesDocumentSchema }), "The document"),
        ...problems(400, 404, ...failures),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await ownDocument(c.env, c.get("partner").id, id);
      return c.json({ document: documentOf(row, "/v1/partner/documents") }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partner/documents/{id}/{format}",
      tags: ["Partner's own"],
      summary: "One of your sales documents as CSV (download) or its printable page (HTML, A4)",
      security,
      middleware: partnerKey,
      request: { params: byNumber.extend({ format: z.enum(["csv", "html"]) }) },
      responses: {
        200: {
          description: "The file",
          content: { "text/csv": { schema: z.string() }, "text/html": { schema: z.string() } },
        },
        ...problems(400, 404, ...failures),
      },
    }),
    async (c) => {
      const { id, format } = c.req.valid("param");
      const row = await ownDocument(c.env, c.get("partner").id, id);
      return documentFile(c.env, row, format);
    },
  );

/** A document of this partner's; another's is not found. */
async function ownDocument(env: Env, partnerId: string, id: string) {
  const [row] = await withDatabase(env, (db) =>
    db
      .select()
      .from(salesDocuments)
      .where(and(eq(salesDocuments.id, id), eq(salesDocuments.partnerId, partnerId))),
  );
  if (!row) throw notFound(`document ${id}`);
  return row;
}
