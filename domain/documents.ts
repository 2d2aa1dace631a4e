// Sales documents: one per delivered order, numbered FG-<partner>-<year>-<seq> without gaps per
// partner and year. Money is counted in cents (integers), so totals add up exactly; each line's VAT
// is rounded on its own, the way the document shows it.
import type { Order, OrderLine } from "./order";

export interface PriceEntry {
  product: string;
  unit: string;
  currency: string;
  unitPrice: number;
  vatRate: number;
}

export interface DocumentLine {
  product: string;
  quantity: number;
  unit: string;
  unitPrice: number;
  vatRate: number;
  netCents: number;
  vatCents: number;
  grossCents: number;
}

export interface Seller {
  name: string;
  address: string;
  vatId: string;
}

export interface SalesDocument {
  number: string;
  partnerId: string;
  partnerName: string;
  year: number;
  seq: number;
  seller: Seller;
  containerId: string;
  containerName: string | null;
  orderId: string;
  deliveredAt: string;
  deliveryNote: string | null;
  issuedAt: string;
  currency: string;
  lines: DocumentLine[];
  netCents: number;
  vatCents: number;
  grossCents: number;
}

export const documentNumber = (partnerId: string, year: number, seq: number) =>
  `FG-${partnerId}-${year}-${String(seq).padStart(6, "0")}`;

/** The year a delivered order's document is numbered in: the year (UTC) of its delivery. */
export const documentYear = (deliveredAt: string) => new Date(deliveredAt).getUTCFullYear();

/** What is invoiced: the quantities delivered, or the order's lines when the partner reported none. */
export const invoicedLines = (order: Pick<Order, "delivered" | "lines">): OrderLine[] =>
  order.delivered.length > 0 ? order.delivered : order.lines;

export type Pricing =
  | { ok: true; currency: string; lines: DocumentLine[]; netCents: number; vatCents: number; grossCents: number }
  | { ok: false; missing: { product: string; unit: string }[] };

/** The priced lines of an order, or what has no price (the document waits for it). */
export function priceOrder(lines: readonly OrderLine[], prices: readonly PriceEntry[]): Pricing {
  const missing: { product: string; unit: string }[] = [];
  const priced: DocumentLine[] = [];
  for (const line of lines) {
    const price = prices.find((p) => p.product === line.product && p.unit === line.unit);
    if (!price) {
      missing.push({ product: line.product, unit: line.unit });
      continue;
    }
    const netCents = Math.round(line.quantity * price.unitPrice * 100);
    const vatCents = Math.round(netCents * price.vatRate);
    priced.push({
      ...line,
      unitPrice: price.unitPrice,
      vatRate: price.vatRate,
      netCents,
      vatCents,
      grossCents: netCents + vatCents,
    });
  }
  if (lines.length === 0) missing.push({ product: "(no lines)", unit: "" });
  if (missing.length > 0) return { ok: false, missing };
  const currencies = new Set(prices.map((p) => p.currency));
  const currency = [...currencies][0]!;
  const sum = (k: "netCents" | "vatCents" | "grossCents") => priced.reduce((n, l) => n + l[k], 0);
  return {
    ok: true,
    currency,
    lines: priced,
    netCents: sum("netCents"),
    vatCents: sum("vatCents"),
    grossCents: sum("grossCents"),
  };
}

export const money = (cents: number) => (cents / 100).toFixed(2);

/** The CSV rows: a header, one row per line, and a totals row. */
export function documentRows(doc: SalesDocument): (string | number)[][] {
  const head = [
    "document",
    "issued_at",
    "partner",
    "container",
    "order",
    "delivery_note",
    "product",
    "quantity",
    "unit",
    "unit_price",
    "vat_rate",
    "net",
    "vat",
    "gross",
    "currency",
  ];
  const rows: (string | number)[][] = [head];
  for (const l of doc.lines) {
    rows.push([
      doc.number,
      doc.issuedAt,
      doc.partnerId,
      doc.containerId,
      doc.orderId,
      doc.deliveryNote ?? "",
      l.product,
      l.quantity,
      l.unit,
      l.unitPrice,
      l.vatRate,
      money(l.netCents),
      money(l.vatCents),
      money(l.grossCents),
      doc.currency,
    ]);
  }
  rows.push([
    doc.number,
    doc.issuedAt,
    doc.partnerId,
    doc.containerId,
    doc.orderId,
    doc.deliveryNote ?? "",
    "TOTAL",
    "",
    "",
    "",
    "",
    money(doc.netCents),
    money(doc.vatCents),
    money(doc.grossCents),
    doc.currency,
  ]);
  return rows;
}

/** 2026-12-02 00:13 UTC */
const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A printable page (A4, no scripts, nothing loaded from elsewhere). */
export function documentHtml(doc: SalesDocument): string {
  const rows = doc.lines
    .map(
      (l) =>
        `<tr><td>${escape(l.product)}</td><td class="n">${l.quantity}</td><td>${escape(l.unit)}</td><td class="n">${l.unitPrice.toFixed(4)}</td><td class="n">${(l.vatRate * 100).toFixed(1)} %</td><td class="n">${money(l.netCents)}</td><td class="n">${money(l.vatCents)}</td><td class="n">${money(l.grossCents)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(doc.number)}</title>
<style>
@page { size: A4; margin: 18mm; }
body { font: 10.5pt/1.45 system-ui, sans-serif; color: #111; max-width: 174mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
.parties { display: flex; justify-content: space-between; gap: 10mm; margin: 6mm 0; }
.parties div { white-space: pre-line; }
table { width: 100%; border-collapse: collapse; margin-top: 6mm; }
th, td { border-bottom: 0.3mm solid #999; padding: 1.6mm 1.2mm; text-align: left; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { border-bottom: 0; font-weight: 600; }
.meta td { border: 0; padding: 0.5mm 3mm 0.5mm 0; }
</style></head><body>
<h1>Sales document ${escape(doc.number)}</h1>
<div class="parties"><div><strong>${escape(doc.seller.name)}</strong>
${escape(doc.seller.address)}
VAT ${escape(doc.seller.vatId)}</div><div><strong>${escape(doc.partnerName)}</strong>
Partner ${escape(doc.partnerId)}</div></div>
<table class="meta"><tr><td>Issued</td><td>${escape(utc(doc.issuedAt))}</td></tr><tr><td>Delivered</td><td>${escape(utc(doc.deliveredAt))}</td></tr>
<tr><td>Container</td><td>${escape(doc.containerName ? `${doc.containerName} (${doc.containerId})` : doc.containerId)}</td></tr>
<tr><td>Order</td><td>${escape(doc.orderId)}</td></tr><tr><td>Delivery note</td><td>${escape(doc.deliveryNote ?? "—")}</td></tr></table>
<table><thead><tr><th>Product</th><th class="n">Quantity</th><th>Unit</th><th class="n">Unit price</th><th class="n">VAT</th><th class="n">Net</th><th class="n">VAT</th><th class="n">Gross</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><td colspan="5">Total (${escape(doc.currency)})</td><td class="n">${money(doc.netCents)}</td><td class="n">${money(doc.vatCents)}</td><td class="n">${money(doc.grossCents)}</td></tr></tfoot></table>
</body></html>
`;
}
