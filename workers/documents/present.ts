// A sales document as the API shows it (the admin's and the partner's own routes alike): its JSON,
// its number's shape, and its files from R2.
import { z } from "@hono/zod-openapi";
import { money } from "../../domain/documents";
import type { salesDocumentSchema } from "../../domain/schemas";
import type { salesDocuments } from "../db/schema";
import { notFound } from "../http/errors";

export const byNumber = z.object({
  id: z
    .string()
    .regex(/^FG-[a-z0-9-]+-\d{4}-\d{6}$/, { error: "is not a document number (FG-<partner>-<year>-<seq>)" }),
});

/** A document as the API shows it; its links under `base` (the admin's or the partner's own path). */
export function documentOf(r: typeof salesDocuments.$inferSelect, base = "/v1/documents") {
  return {
    id: r.id,
    orderId: r.orderId,
    partnerId: r.partnerId,
    year: r.year,
    seq: r.seq,
    containerId: r.containerId,
    currency: r.currency,
    net: money(r.netCents),
    vat: money(r.vatCents),
    gross: money(r.grossCents),
    lines: r.lines as z.infer<typeof salesDocumentSchema>["lines"],
    deliveredAt: new Date(r.deliveredAt).toISOString(),
    issuedAt: new Date(r.issuedAt).toISOString(),
    links: { csv: `${base}/${r.id}/csv`, html: `${base}/${r.id}/html` },
    revision: r.revision,
    voidAt: r.voidAt === null ? null : new Date(r.voidAt).toISOString(),
    replacedBy: r.replacedBy,
  };
}

/** A document's CSV (a download) or its printable page, from R2. */
export function documentFile(env: Env, row: typeof salesDocuments.$inferSelect, format: "csv" | "html") {
  return file(env, format === "csv" ? row.csvKey : row.htmlKey, row.id, format === "csv" ? "CSV" : "page");
}

async function file(env: Env, key: string, number: string, kind: string): Promise<Response> {
  const object = await env.DOCUMENTS.get(key);
  if (!object) throw notFound(`the ${kind} of document ${number}`);
  const headers = new Headers({
    "Content-Type": object.httpMetadata?.contentType ?? "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
  });
  if (kind === "CSV") headers.set("Content-Disposition", `attachment; filename="${number}.csv"`);
  // The printable page runs nothing and loads nothing.
  if (kind === "page") headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
  return new Response(object.body, { headers });
}
