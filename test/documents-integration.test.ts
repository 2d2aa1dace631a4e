// An order from its opening to its sales document, and the documents themselves: one per delivered
// order, never two, numbered 1, 2, 3… per partner and year even when runs overlap.
import { env } from "cloudflare:test";
import { parse } from "csv-parse/browser/esm/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { issueDocuments } from "../workers/documents/issue";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  newPartner,
  partnerEvent,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  type Order,
  type OrderAnswer,
} from "./helpers";

type Doc = {
  id: string;
  orderId: string;
  partnerId: string;
  seq: number;
  year: number;
  net: string;
  vat: string;
  gross: string;
  currency: string;
  lines: { product: string; quantity: number; unitPrice: number; netCents: number; vatCents: number }[];
  links: { csv: string; html: string };
};
type Run = { issued: number; waiting: number };

let admin: string;
let assembler: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  assembler = await personWith("assembler");
  key = (await deviceKey()).key;
});

/** A partner's event, waiting out its rate limit as a partner's client would. */
async function send(partner: { id: string; secret: string }, event: Record<string, unknown>, status: number) {
  for (;;) {
    const res = await partnerEvent(partner, event);
    if (res.status === 429) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get("Retry-After") ?? 10) * 1000));
      continue;
    }
    return json<OrderAnswer>(res, status);
  }
}

const setPrices = (partnerId: string, prices: Record<string, unknown>[]) =>
  api(`/v1/partners/${partnerId}/prices`, { method: "PUT", token: admin, json: { currency: "EUR", prices } });
// Runs for the test's own partner: test files share Postgres, but each has its own objects and
// buckets (the document counters and files of another file's partners are not here).
const run = async (partnerId: string) =>
  json<Run>(await api(`/v1/documents/run?partnerId=${partnerId}`, { method: "POST", token: admin }), 200);
const documentsOf = async (partnerId: string) =>
  (await json<{ documents: Doc[] }>(await api(`/v1/documents?partnerId=${partnerId}&limit=500`, { token: admin }), 200))
    .documents;

/** A partner's order for a new container, created and delivered as `lines`; its container and order. */
async function deliveredOrder(
  partner: { id: string; secret: string },
  prefix: string,
  lines: { product: string; quantity: number; unit: string }[],
  deliveryNote: string,
) {
  const containerId = uniqueContainer(prefix);
  await json(await postReadings(key, reading(containerId, 80)), 200);
  const created = await send(partner, { type: "order.created", containerId, data: { lines } }, 201);
  await send(
    partner,
    { type: "order.delivered", containerId, orderId: created.order.id, data: { lines, deliveryNote } },
    200,
  );
  return { containerId, orderId: created.order.id };
}

describe("an order from the first low reading to its document", () => {
  it("opens low, accepted, lines set, assembling, dispatched, closed by a high reading, delivered → one document", async () => {
    const partner = await newPartner();
    const containerId = uniqueContainer("life");
    await json(
      await api(`/v1/containers/${containerId}`, {
        method: "PUT",
        token: admin,
        json: { capacity: 8000, unit: "l", name: "Depot North" },
      }),
      200,
    );
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 25)), 200)
    ).results[0]!.orderOpened;
    expect(opened.lines).toEqual([{ product: "diesel", quantity: 6000, unit: "l" }]);
    await json(await postReadings(key, reading(containerId, 24)), 200);
    await send(partner, { type: "order.accepted", containerId, orderId: opened.id, data: {} }, 200);
    await eventually(
      async () =>
        (
          await json<{ orders: Order[] }>(await api("/v1/assembly/queue?limit=500", { token: assembler }), 200)
        ).orders.find((o) => o.id === opened.id),
      20_000,
      "the assembly queue",
    );
    await json(
      await api(`/v1/orders/${opened.id}`, {
        method: "PATCH",
        token: assembler,
        json: { lines: [{ product: "diesel", quantity: 6100, unit: "l" }], fulfilment: "assembling" },
      }),
      200,
    );
    await json(await postReadings(key, reading(containerId, 23)), 200);
    await send(
      partner,
      {
        type: "order.dispatched",
        containerId,
        orderId: opened.id,
        data: { eta: new Date(Date.now() + 3600_000).toISOString(), vehicle: "ZH 88" },
      },
      200,
    );
    const high = await json<{ results: { orderClosed?: Order }[] }>(
      await postReadings(key, reading(containerId, 97)),
      200,
    );
    expect(high.results[0]!.orderClosed).toMatchObject({
      id: opened.id,
      closeReason: "fill_above_threshold",
      fulfilment: "dispatched",
    });
    const delivered = await send(
      partner,
      {
        type: "order.delivered",
        containerId,
        orderId: opened.id,
        data: { lines: [{ product: "diesel", quantity: 6050.5, unit: "l" }], deliveryNote: "DN-2026-881" },
      },
      200,
    );
    expect(delivered.order).toMatchObject({
      status: "closed",
      closeReason: "fill_above_threshold",
      fulfilment: "delivered",
      deliveryNote: "DN-2026-881",
    });
    // Delivered is final: an assembler cannot take it back.
    await eventually(
      async () =>
        (await json<{ order: Order }>(await api(`/v1/orders/${opened.id}`, { token: admin }), 200)).order.fulfilment ===
        "delivered"
          ? true
          : undefined,
      20_000,
      "Postgres to have the delivery",
    );
    const back = await json<{ error: { code: string; order: Order } }>(
      await api(`/v1/orders/${opened.id}`, { method: "PATCH", token: assembler, json: { fulfilment: "assembling" } }),
      409,
    );
    expect(back.error).toMatchObject({ code: "illegal_transition", order: { fulfilment: "delivered" } });

    await json(await setPrices(partner.id, [{ product: "diesel", unit: "l", unitPrice: 1.2345, vatRate: 0.081 }]), 200);
    await eventually(
      async () => ((await documentsOf(partner.id)).length > 0 || (await run(partner.id)).issued > 0 ? true : undefined),
      20_000,
      "the document",
    );
    const docs = await documentsOf(partner.id);
    expect(docs).toHaveLength(1);
    const year = new Date().getUTCFullYear();
    // 6050.5 l × 1.2345 = 7469.34225 → 7469.34; VAT 8.1 % → 605.02
    expect(docs[0]).toMatchObject({
      id: `FG-${partner.id}-${year}-000001`,
      orderId: opened.id,
      seq: 1,
      net: "7469.34",
      vat: "605.02",
      gross: "8074.36",
      currency: "EUR",
    });
    await run(partner.id);
    expect(await documentsOf(partner.id)).toHaveLength(1);

    const page = await api(docs[0]!.links.html, { token: admin });
    expect(page.headers.get("Content-Type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("DN-2026-881");
    expect(html).toContain("Depot North");
    expect(html).toContain("8074.36");
    expect(html).not.toContain("<script");
  });

  it("a document waits for a missing price, with an error record saying which; the next run after the price is set issues it", async () => {
    const partner = await newPartner();
    await deliveredOrder(partner, "noprice", [{ product: "pellets", quantity: 2, unit: "t" }], "DN-P1");
    // Runs until one has seen this order (delivered orders of other partners may be waiting too):
    // it waits, and says so in a record naming this partner.
    const record = await eventually(
      async () => {
        const r = await run(partner.id);
        if (r.waiting === 0) return undefined;
        const records = await json<{ errors: { name: string; message: string; context: Record<string, unknown> }[] }>(
          await api("/v1/errors?status=open&limit=500", { token: admin }),
          200,
        );
        return records.errors.find((e) => e.name === "MissingPriceError" && e.context.partnerId === partner.id);
      },
      30_000,
      "a run waiting for the price, and its error record",
    );
    expect(record.message).toContain("pellets per t");
    expect(await documentsOf(partner.id)).toEqual([]);

    await json(await setPrices(partner.id, [{ product: "pellets", unit: "t", unitPrice: 310, vatRate: 0.2 }]), 200);
    await run(partner.id);
    expect((await documentsOf(partner.id)).map((d) => [d.seq, d.net, d.vat, d.gross])).toEqual([
      [1, "620.00", "124.00", "744.00"],
    ]);
  });

  it("orders waiting for a price never hold back another partner's documents: a run pages past them", async () => {
    const unpriced = await newPartner();
    const priced = await newPartner();
    const pricedContainers: string[] = [];
    const deliver = async (partner: { id: string; secret: string }, prefix: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const { containerId, orderId } = await deliveredOrder(
          partner,
          prefix,
          [{ product: "gravel", quantity: 3, unit: "t" }],
          `DN-${prefix}-${i}`,
        );
        ids.push(orderId);
        if (partner === priced) pricedContainers.push(containerId);
      }
      return ids;
    };
    // Delivered first, so they come first in delivery order: more of them than a page holds.
    await deliver(unpriced, "unpriced", 4);
    const waited = await deliver(priced, "priced", 2);
    await json(await setPrices(priced.id, [{ product: "gravel", unit: "t", unitPrice: 20, vatRate: 0.2 }]), 200);
    await eventually(
      async () => {
        for (const c of pricedContainers) {
          const rows = await json<{ orders: Order[] }>(
            await api(`/v1/orders?fulfilment=delivered&containerId=${c}`, { token: admin }),
            200,
          );
          if (rows.orders.length !== 1) return undefined;
        }
        return true;
      },
      30_000,
      "the priced partner's deliveries in Postgres",
    );
    // Pages of three: the unpriced partner's four orders fill the first pages. (Only these two
    // partners: test files share Postgres, but another file's partners have their counters elsewhere.)
    const summary = await issueDocuments(env, { partnerIds: [unpriced.id, priced.id], pageSize: 3 });
    expect(summary).toEqual({ issued: 2, waiting: 4 });
    expect((await documentsOf(priced.id)).map((d) => d.orderId).sort()).toEqual([...waited].sort());
    expect(await documentsOf(unpriced.id)).toEqual([]);
  });

  it("a corrected delivery goes through order.delivery_corrected, audited: its document is reissued under the next number and the old one is void", async () => {
    const partner = await newPartner();
    const other = await newPartner();
    await json(await setPrices(partner.id, [{ product: "diesel", unit: "l", unitPrice: 2, vatRate: 0.2 }]), 200);
    const delivered = async () => {
      const containerId = uniqueContainer("corr");
      await json(await postReadings(key, reading(containerId, 80)), 200);
      const created = await send(
        partner,
        { type: "order.created", containerId, data: { lines: [{ product: "diesel", quantity: 100, unit: "l" }] } },
        201,
      );
      await send(
        partner,
        {
          type: "order.delivered",
          containerId,
          orderId: created.order.id,
          data: { lines: [{ product: "diesel", quantity: 100, unit: "l" }], deliveryNote: "DN-C1" },
        },
        200,
      );
      return { containerId, orderId: created.order.id };
    };
    const first = await delivered();
    const correction = (data: Record<string, unknown>, who = partner) =>
      send(
        who,
        { type: "order.delivery_corrected", containerId: first.containerId, orderId: first.orderId, data },
        200,
      );
    await eventually(
      async () => ((await run(partner.id), await documentsOf(partner.id)).length === 1 ? true : undefined),
      20_000,
      "the first document",
    );

    // Before delivery, or by another partner, a correction is refused.
    const open = uniqueContainer("corr");
    await json(await postReadings(key, reading(open, 80)), 200);
    const notYet = await send(partner, { type: "order.created", containerId: open, data: {} }, 201);
    const early = await partnerEvent(partner, {
      type: "order.delivery_corrected",
      containerId: open,
      orderId: notYet.order.id,
      data: { lines: [{ product: "diesel", quantity: 1, unit: "l" }], deliveryNote: "X", reason: "too soon" },
    });
    expect(early.status).toBe(409);
    const refused = await partnerEvent(other, {
      type: "order.delivery_corrected",
      containerId: first.containerId,
      orderId: first.orderId,
      data: { lines: [{ product: "diesel", quantity: 1, unit: "l" }], deliveryNote: "X", reason: "not mine" },
    });
    expect(refused.status).toBe(403);

    const corrected = await correction({
      lines: [{ product: "diesel", quantity: 90, unit: "l" }],
      deliveryNote: "DN-C1-b",
      reason: "the meter was recalibrated",
    });
    expect(corrected.order).toMatchObject({
      delivered: [{ product: "diesel", quantity: 90, unit: "l" }],
      deliveryNote: "DN-C1-b",
      deliveryRevision: 1,
    });
    // The same correction again (a new eventId): nothing more changes.
    expect(
      (
        await correction({
          lines: [{ product: "diesel", quantity: 90, unit: "l" }],
          deliveryNote: "DN-C1-b",
          reason: "the meter was recalibrated",
        })
      ).order.deliveryRevision,
    ).toBe(1);

    type VoidableDoc = Doc & { revision: number; voidAt: string | null; replacedBy: string | null };

    const docs = await eventually(
      async () => {
        await run(partner.id);
        const list = (await documentsOf(partner.id)) as VoidableDoc[];
        return list.some((d) => d.orderId === first.orderId && d.revision === 1) ? list : undefined;
      },
      30_000,
      "the reissued document",
    );
    const ofFirst = docs.filter((d) => d.orderId === first.orderId).sort((a, b) => a.seq - b.seq);
    const [old, reissued] = ofFirst as [VoidableDoc, VoidableDoc];
    expect([old.revision, old.gross, reissued.revision, reissued.gross]).toEqual([0, "240.00", 1, "216.00"]);
    expect(old.voidAt).not.toBeNull();
    expect(old.replacedBy).toBe(reissued.id);
    expect(reissued.voidAt).toBeNull();
    // Numbers stay gapless: the reissue took the next one.
    expect(docs.map((d) => d.seq).sort((a, b) => a - b)).toEqual([1, 2]);
    expect(reissued.seq).toBeGreaterThan(old.seq);

    const audit = await json<{ entries: { action: string; actor: string; target: string }[] }>(
      await api("/v1/audit?action=order.delivery_corrected&limit=500", { token: admin }),
      200,
    );
    expect(audit.entries.filter((e) => e.target === first.orderId)).toEqual([
      expect.objectContaining({ actor: `partner:${partner.id}`, action: "order.delivery_corrected" }),
    ]);
    // One partner's events in quick succession meet its rate limit; send() waits it out as a client would.
  }, 90_000);
});

describe("document runs", () => {
  it("two overlapping runs over 200 delivered orders: 200 documents, numbers 1…200 without gap or repeat; the CSV parses and its totals match the lines", async () => {
    const partner = await newPartner();
    const ids = Array.from({ length: 200 }, () => uniqueContainer("doc"));
    const opened = await json<{ results: { containerId: string; orderOpened: Order }[] }>(
      await postReadings(key, { readings: ids.map((id) => reading(id, 20)) }),
      200,
    );
    const orderOf = new Map(opened.results.map((r) => [r.containerId, r.orderOpened.id]));
    const orders: { containerId: string; orderId: string; quantity: number }[] = [];
    for (let i = 0; i < ids.length; i += 20) {
      await Promise.all(
        ids.slice(i, i + 20).map(async (containerId, j) => {
          const orderId = orderOf.get(containerId)!;
          const quantity = 100 + i + j;
          await send(
            partner,
            {
              type: "order.delivered",
              containerId,
              orderId,
              data: {
                lines: [
                  { product: "diesel", quantity, unit: "l" },
                  { product: "additive", quantity: 1, unit: "kg" },
                ],
                deliveryNote: `DN-${i + j}`,
              },
            },
            200,
          );
          orders.push({ containerId, orderId, quantity });
        }),
      );
    }
    await json(
      await setPrices(partner.id, [
        { product: "diesel", unit: "l", unitPrice: 1.1, vatRate: 0.2 },
        { product: "additive", unit: "kg", unitPrice: 4.75, vatRate: 0.2 },
      ]),
      200,
    );
    // Postgres has every delivery before the runs start.
    await eventually(
      async () => {
        const rows = await json<{ orders: Order[] }>(
          await api(`/v1/orders?fulfilment=delivered&limit=500`, { token: admin }),
          200,
        );
        return rows.orders.filter((o) => o.partnerId === partner.id).length === 200 ? true : undefined;
      },
      30_000,
      "200 delivered orders in Postgres",
    );

    const [a, b] = await Promise.all([run(partner.id), run(partner.id)]);
    expect(a.issued + b.issued).toBe(200);
    const docs = await documentsOf(partner.id);
    expect(docs).toHaveLength(200);
    expect(docs.map((d) => d.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(docs.map((d) => d.orderId)).size).toBe(200);

    for (const doc of docs.slice(0, 20)) {
      const expected = orders.find((o) => o.orderId === doc.orderId)!;
      const rows = parse(await (await api(doc.links.csv, { token: admin })).text(), { columns: true }) as Record<
        string,
        string
      >[];
      const lines = rows.filter((r) => r.product !== "TOTAL");
      const total = rows.find((r) => r.product === "TOTAL")!;
      expect(lines.map((r) => [r.product, Number(r.quantity)])).toEqual([
        ["diesel", expected.quantity],
        ["additive", 1],
      ]);
      const net = Math.round(expected.quantity * 1.1 * 100) + 475;
      const vat = Math.round(Math.round(expected.quantity * 1.1 * 100) * 0.2) + Math.round(475 * 0.2);
      expect([total.net, total.vat, total.gross]).toEqual([
        (net / 100).toFixed(2),
        (vat / 100).toFixed(2),
        ((net + vat) / 100).toFixed(2),
      ]);
      expect(lines.reduce((n, r) => n + Math.round(Number(r.net) * 100), 0)).toBe(net);
      expect(total.document).toBe(doc.id);
    }
  }, 180_000);
});
