// The sales-document run (hourly, and POST /v1/documents/run): every delivered order without a
// document gets one. Never two: the number comes from the partner-and-year counter, which gives an
// order the same number however often it is asked, the files are written under that number, and
// the row is inserted once (ON CONFLICT on the order and its delivery revision). Two runs at once,
// or a run retried after a failure half-way, therefore end with one document per order and numbers
// without gaps. A partner's correction of a delivery (a new revision) gets a new document with the
// next number; the one before is then void, replaced by it.
import { stringify } from "csv-stringify/browser/esm/sync";
import { and, asc, eq, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import {
  documentHtml,
  documentNumber,
  documentRows,
  documentYear,
  invoicedLines,
  priceOrder,
  type PriceEntry,
  type SalesDocument,
} from "../../domain/documents";
import { reportError } from "../../platform/error-report";
import { log } from "../../platform/logging";
import { putBackupObject } from "../backups";
import { withDatabase } from "../db/client";
import { toOrder } from "../db/queries";
import { containers, orders, prices, salesDocuments } from "../db/schema";
import { directory, documentCounter } from "../stubs";

export interface RunSummary {
  issued: number;
  /** Delivered orders still waiting, for a price (an error record says which). */
  waiting: number;
}

/** Raised (as an error record) for an order whose document waits for a price. */
export class MissingPriceError extends Error {
  override name = "MissingPriceError";
}

export const documentKeys = (number: string, partnerId: string, year: number) => ({
  csv: `documents/${partnerId}/${year}/${number}.csv`,
  html: `documents/${partnerId}/${year}/${number}.html`,
});

/** The delivered orders still without a document for their current delivery, a page after `after`. */
const pendingPage = (env: Env, limit: number, partnerIds: string[] | undefined, after?: { at: string; id: string }) =>
  withDatabase(env, (db) =>
    db
      .select({ order: orders, containerName: containers.name })
      .from(orders)
      // A document for the delivery as it stands: a corrected delivery (a new revision) needs a new one.
      .leftJoin(
        salesDocuments,
        and(eq(salesDocuments.orderId, orders.id), eq(salesDocuments.revision, orders.deliveryRevision)),
      )
      .leftJoin(containers, eq(containers.id, orders.containerId))
      .where(
        and(
          eq(orders.fulfilment, "delivered"),
          partnerIds === undefined ? isNotNull(orders.partnerId) : inArray(orders.partnerId, partnerIds),
          isNull(salesDocuments.id),
          after
            ? sql`(coalesce(${orders.deliveredAt}, ${orders.openedAt}), ${orders.id}) > (${after.at}::timestamptz, ${after.id})`
            : undefined,
        ),
      )
      .orderBy(sql`coalesce(${orders.deliveredAt}, ${orders.openedAt})`, asc(orders.id))
      .limit(limit),
  );

/**
 * Issues every owed document (with `partnerIds`, those partners'), a page of `pageSize` orders at a
 * time in delivery order. The run goes on past the orders that wait for a price (they keep their
 * place and are asked again next run): a partner without a price list never holds back another
 * partner's documents.
 */
export async function issueDocuments(
  env: Env,
  { partnerIds, pageSize = 500 }: { partnerIds?: string[] | undefined; pageSize?: number } = {},
): Promise<RunSummary> {
  let issued = 0;
  let waiting = 0;
  let after: { at: string; id: string } | undefined;
  for (;;) {
    const pending = await pendingPage(env, pageSize, partnerIds, after);
    if (pending.length === 0) break;
    const outcome = await issuePage(env, pending);
    issued += outcome.issued;
    waiting += outcome.waiting;
    const last = pending[pending.length - 1]!.order;
    after = { at: last.deliveredAt ?? last.openedAt, id: last.id };
    if (pending.length < pageSize) break;
  }
  if (issued > 0 || waiting > 0) log("info", "sales documents issued", { issued, waiting });
  return { issued, waiting };
}

async function issuePage(env: Env, pending: Awaited<ReturnType<typeof pendingPage>>): Promise<RunSummary> {
  const partnerIds = [...new Set(pending.map((p) => p.order.partnerId!))];
  const priceRows = await withDatabase(env, (db) =>
    db
      .select()
      .from(prices)
      .where(sql`${prices.partnerId} in ${partnerIds}`),
  );
  const priceLists = new Map<string, PriceEntry[]>();
  for (const r of priceRows) {
    const list = priceLists.get(r.partnerId) ?? [];
    list.push({
      product: r.product,
      unit: r.unit,
      currency: r.currency,
      unitPrice: Number(r.unitPrice),
      vatRate: Number(r.vatRate),
    });
    priceLists.set(r.partnerId, list);
  }
  const names = new Map((await directory(env).listPartners()).map((p) => [p.id, p.name]));
  const seller = { name: env.SELLER_NAME, address: env.SELLER_ADDRESS, vatId: env.SELLER_VAT_ID };

  let issued = 0;
  let waiting = 0;
  for (const { order: row, containerName } of pending) {
    const order = toOrder(row);
    const partnerId = order.partnerId!;
    const deliveredAt = order.deliveredAt ?? order.fulfilmentAt ?? order.closedAt ?? order.openedAt;
    const pricing = priceOrder(invoicedLines(order), priceLists.get(partnerId) ?? []);
    if (!pricing.ok) {
      waiting++;
      const what = pricing.missing.map((m) => `${m.product} per ${m.unit}`).join(", ");
      // One record per partner (the fingerprint would otherwise hide the partner id): each price list is its own thing to fix.
      await reportError(
        env,
        new MissingPriceError(`no price for ${what} in partner ${partnerId}'s price list; the document waits`),
        "cron",
        `sales documents of ${partnerId}`,
        {
          partnerId,
          orderId: order.id,
          missing: what,
        },
      );
      continue;
    }
    const year = documentYear(deliveredAt);
    const revision = order.deliveryRevision ?? 0;
    // The counter knows a number by the order and how many documents of earlier revisions the
    // order has: the first by the order alone, a corrected delivery's by its place after those.
    // Runs issuing for the same order (the same revision, or an older one it will skip) therefore
    // ask for the same number, and a number given to a revision corrected again before its
    // document was written is taken by the next one: no gap.
    const [{ issuedBefore }] = (await withDatabase(env, (db) =>
      db
        .select({ issuedBefore: sql<number>`count(*)::int` })
        .from(salesDocuments)
        .where(and(eq(salesDocuments.orderId, order.id), lt(salesDocuments.revision, revision))),
    )) as [{ issuedBefore: number }];
    const { seq, at: issuedAt } = await documentCounter(env, partnerId, year).numberFor(
      issuedBefore === 0 ? order.id : `${order.id}~d${issuedBefore}`,
    );
    const number = documentNumber(partnerId, year, seq);
    const doc: SalesDocument = {
      number,
      partnerId,
      partnerName: names.get(partnerId) ?? partnerId,
      year,
      seq,
      seller,
      containerId: order.containerId,
      containerName,
      orderId: order.id,
      deliveredAt,
      deliveryNote: order.deliveryNote,
      // When the number was given, which a repeated or overlapping run gets again: the same files.
      issuedAt,
      currency: pricing.currency,
      lines: pricing.lines,
      netCents: pricing.netCents,
      vatCents: pricing.vatCents,
      grossCents: pricing.grossCents,
    };
    const keys = documentKeys(number, partnerId, year);
    // Each file into the documents bucket and, under the same key, into the backup.
    const files = [
      { key: keys.csv, body: stringify(documentRows(doc)), contentType: "text/csv; charset=utf-8" },
      { key: keys.html, body: documentHtml(doc), contentType: "text/html; charset=utf-8" },
    ];
    for (const f of files) {
      await env.DOCUMENTS.put(f.key, f.body, { httpMetadata: { contentType: f.contentType } });
      await putBackupObject(env, f.key, f.body, { httpMetadata: { contentType: f.contentType } });
    }
    const inserted = await withDatabase(env, (db) =>
      db.transaction(async (tx) => {
        // The delivery as it stands now, held until this commits: a run that read an older
        // revision issues nothing, and two runs for one order take turns.
        const [current] = await tx
          .select({ revision: orders.deliveryRevision })
          .from(orders)
          .where(eq(orders.id, order.id))
          .for("update");
        if (current && current.revision !== revision) return [];
        const rows = await tx
          .insert(salesDocuments)
          .values({
            id: number,
            orderId: order.id,
            partnerId,
            year,
            seq,
            containerId: order.containerId,
            currency: doc.currency,
            netCents: doc.netCents,
            vatCents: doc.vatCents,
            grossCents: doc.grossCents,
            lines: doc.lines,
            deliveredAt,
            issuedAt: doc.issuedAt,
            csvKey: keys.csv,
            htmlKey: keys.html,
            revision,
          })
          .onConflictDoNothing()
          .returning({ id: salesDocuments.id });
        // The documents of the delivery before its correction are void, replaced by this one.
        if (revision > 0)
          await tx
            .update(salesDocuments)
            .set({ voidAt: issuedAt, replacedBy: number })
            .where(
              and(
                eq(salesDocuments.orderId, order.id),
                lt(salesDocuments.revision, revision),
                isNull(salesDocuments.voidAt),
              ),
            );
        return rows;
      }),
    );
    if (inserted.length > 0) issued++;
  }
  return { issued, waiting };
}
