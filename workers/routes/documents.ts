import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { partnerIdSchema } from "../../domain/partner-input";
import { salesDocumentSchema } from "../../domain/schemas";
import { instantParam, orderIdSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { salesDocuments } from "../db/schema";
import { issueDocuments } from "../documents/issue";
import { byNumber, documentFile, documentOf } from "../documents/present";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { notFound } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

const viewer: MiddlewareHandler<AppEnv>[] = [requireRole("viewer"), rateLimit(limits.api)];
export const documents = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/documents/run",
      tags: ["Documents"],
      summary: "Issue the documents owed now (the hourly job, by hand)",
      description:
        "One document per delivered order that has none, never two, even with runs at once. An order whose lines have no price waits, with an error record saying which. With `partnerId`, only that partner's (after fixing its price list, say).",
      security: security.person,
      middleware: [requireRole("admin"), rateLimit(limits.api)],
      request: {
        query: z.strictObject({
          partnerId: partnerIdSchema.optional().meta({ description: "Only this partner's orders" }),
        }),
      },
      responses: {
        200: jsonContent(z.object({ issued: z.number().int(), waiting: z.number().int() }), "What the run did"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { partnerId } = c.req.valid("query");
      return c.json(await issueDocuments(c.env, { partnerIds: partnerId ? [partnerId] : undefined }), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/documents",
      tags: ["Documents"],
      summary: "Sales documents, latest issued first",
      security: security.person,
      middleware: viewer,
      request: {
        query: z.strictObject({
          partnerId: partnerIdSchema.optional(),
          orderId: orderIdSchema.optional().meta({ description: "The document of this order" }),
          from: instantParam.optional().meta({ description: "Issued at or after" }),
          to: instantParam.optional().meta({ description: "Issued before" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
        }),
      },
      responses: {
        200: jsonContent(z.object({ documents: z.array(salesDocumentSchema) }), "Latest first"),
        ...problems(...personProblems),
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
              q.partnerId ? eq(salesDocuments.partnerId, q.partnerId) : undefined,
              q.orderId ? eq(salesDocuments.orderId, q.orderId) : undefined,
              q.from ? gte(salesDocuments.issuedAt, new Date(q.from).toISOString()) : undefined,
              q.to ? lt(salesDocuments.issuedAt, new Date(q.to).toISOString()) : undefined,
            ),
          )
          .orderBy(desc(salesDocuments.issuedAt), desc(salesDocuments.id))
          .limit(q.limit),
      );
      return c.json({ documents: rows.map((r) => documentOf(r)) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/documents/{id}",
      tags: ["Documents"],
      summary: "One sales document, with links to its CSV and its printable page",
      security: security.person,
      middleware: viewer,
      request: { params: byNumber },
      responses: {
        200: jsonContent(z.object({ document: salesDocumentSchema }), "The document"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const [row] = await withDatabase(c.env, (db) =>
        db.select().from(salesDocuments).where(eq(salesDocuments.id, id)),
      );
      if (!row) throw notFound(`document ${id}`);
      return c.json({ document: documentOf(row) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/documents/{id}/{format}",
      tags: ["Documents"],
      summary: "A document's CSV (download) or its printable page (HTML, A4)",
      security: security.person,
      middleware: viewer,
      request: { params: byNumber.extend({ format: z.enum(["csv", "html"]) }) },
      responses: {
        200: {
          description: "The file",
          content: { "text/csv": { schema: z.string() }, "text/html": { schema: z.string() } },
        },
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id, format } = c.req.valid("param");
      const [row] = await withDatabase(c.env, (db) =>
        db.select().from(salesDocuments).where(eq(salesDocuments.id, id)),
      );
      if (!row) throw notFound(`document ${id}`);
      return documentFile(c.env, row, format);
    },
  );
