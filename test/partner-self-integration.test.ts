// A partner serving itself with the API key an admin issued it: its own orders and their history,
// what was sent to it (and sending one again), its documents, a test event; nothing of another
// partner's, and 403 anywhere else. Also the admin's side: issuing and replacing the key, the test
// event, prices changed a product at a time, and an unknown partner answered 404.
import { inject } from "vitest";
import { beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  newPartner,
  partnerEvent,
  postReadings,
  reading,
  uniqueContainer,
  type ErrorBody,
  type Order,
} from "./helpers";

type Delivery = { eventId: string; type: string; orderId: string | null; state: string; attempts: number };
type Outcome = { eventId: string; received: boolean; status: number | null; error: string | null };

let admin: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  key = (await deviceKey()).key;
});

const standIn = () => inject("partnerStandIn").url;
const accepted = async (partnerId: string) =>
  (
    (await (await fetch(`${standIn()}/__received?partnerId=${partnerId}`)).json()) as {
      accepted: Record<string, number>;
    }
  ).accepted;

async function issueKey(partnerId: string): Promise<string> {
  const body = await json<{ key: string }>(
    await api(`/v1/partners/${partnerId}/api-key`, { method: "POST", token: admin }),
    201,
  );
  expect(body.key).toMatch(/^fgpk_/);
  return body.key;
}

/** A partner serving one new container, with an order opened for it and accepted by the partner. */
async function partnerWithOrder() {
  const containerId = uniqueContainer("own");
  const partner = await newPartner({ serves: { containerIds: [containerId], contents: [] } });
  await json(
    await api(`/v1/containers/${containerId}`, { method: "PUT", token: admin, json: { capacity: 5000, unit: "l" } }),
    200,
  );
  const order = (
    await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 20)), 200)
  ).results[0]!.orderOpened;
  await json(await partnerEvent(partner, { type: "order.accepted", containerId, orderId: order.id, data: {} }), 200);
  return { partner, containerId, order, apiKey: await issueKey(partner.id) };
}

describe("a partner's own API", () => {
  it("reads its own orders with their history, and nothing of another partner's", async () => {
    const a = await partnerWithOrder();
    const b = await partnerWithOrder();
    expect(
      (await json<{ partner: { id: string } }>(await api("/v1/partner", { token: a.apiKey }), 200)).partner.id,
    ).toBe(a.partner.id);
    const listed = await eventually(
      async () => {
        const page = await json<{ orders: Order[] }>(
          await api("/v1/partner/orders?limit=500", { token: a.apiKey }),
          200,
        );
        return page.orders.some((o) => o.id === a.order.id) ? page.orders : undefined;
      },
      20_000,
      "the order in the partner's list",
    );
    expect(listed.some((o) => o.id === b.order.id)).toBe(false);
    expect(listed.every((o) => o.partnerId === a.partner.id || o.partnerId === null)).toBe(true);

    const detail = await eventually(
      async () => {
        const res = await api(`/v1/partner/orders/${a.order.id}`, { token: a.apiKey });
        const body = (await res.json()) as { history?: { type: string; by: string }[] };
        return res.status === 200 && (body.history?.length ?? 0) >= 2 ? body : undefined;
      },
      20_000,
      "the order's history",
    );
    expect(detail.history!.map((h) => [h.type, h.by])).toEqual([
      ["order.opened", "fillgrid"],
      ["order.accepted", "you"],
    ]);
    // Another partner's order is not found (not forbidden: nothing to probe).
    await json(await api(`/v1/partner/orders/${b.order.id}`, { token: a.apiKey }), 404);
  });

  it("an order sent to it that another partner then took is no longer its own: gone from its list and not found", async () => {
    const containerId = uniqueContainer("shared");
    const contents = `fuel-${containerId}`;
    // Both serve the container: the one naming it is sent the order; the other, by contents, takes it.
    const named = await newPartner({ serves: { containerIds: [containerId], contents: [] } });
    const byContents = await newPartner({ serves: { containerIds: [], contents: [contents] } });
    const namedKey = await issueKey(named.id);
    const order = (
      await json<{ results: { orderOpened: Order }[] }>(
        await postReadings(key, reading(containerId, 20, { contents })),
        200,
      )
    ).results[0]!.orderOpened;
    await eventually(
      async () => {
        const res = await api(`/v1/partner/orders/${order.id}`, { token: namedKey });
        return res.status === 200 ? true : undefined;
      },
      20_000,
      "the order sent to the partner naming the container",
    );
    await json(
      await partnerEvent(byContents, { type: "order.accepted", containerId, orderId: order.id, data: {} }),
      200,
    );
    await eventually(
      async () =>
        (await api(`/v1/partner/orders/${order.id}`, { token: namedKey })).status === 404 ? true : undefined,
      20_000,
      "the order no longer the first partner's",
    );
    const list = await json<{ orders: Order[] }>(await api("/v1/partner/orders?limit=500", { token: namedKey }), 200);
    expect(list.orders.some((o) => o.id === order.id)).toBe(false);
  });

  it("its demand: what it must deliver on the next days, its orders and nothing of another partner's; as CSV too", async () => {
    const a = await partnerWithOrder();
    const b = await partnerWithOrder();
    type Row = { day: string; partnerId: string | null; source: string; quantity: number; containers: number };
    const rows = await eventually(
      async () => {
        const body = await json<{ rows: Row[] }>(await api("/v1/partner/demand?days=7", { token: a.apiKey }), 200);
        return body.rows.some((r) => r.source === "order") ? body.rows : undefined;
      },
      20_000,
      "the partner's demand",
    );
    expect(rows.every((r) => r.partnerId === a.partner.id)).toBe(true);
    expect(rows.find((r) => r.source === "order")!.quantity).toBeGreaterThanOrEqual(4000);
    const theirs = await json<{ rows: Row[] }>(await api("/v1/partner/demand?days=7", { token: b.apiKey }), 200);
    expect(theirs.rows.every((r) => r.partnerId === b.partner.id)).toBe(true);
    const csv = await api("/v1/partner/demand?days=7&format=csv", { token: a.apiKey });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect((await csv.text()).split("\n")[0]).toContain("partnerId");
    await json(await api("/v1/partner/demand?partnerId=other", { token: a.apiKey }), 400);
  });

  it("a partner key is 403 anywhere but its own API; a person's token is 403 there; an unknown or replaced key is 401", async () => {
    const a = await partnerWithOrder();
    for (const path of ["/v1/orders", "/v1/containers", "/v1/partners", "/v1/documents", "/v1/alerts", "/v1/users"]) {
      const refused = await json<ErrorBody>(await api(path, { token: a.apiKey }), 403);
      expect(refused.error.message, path).toMatch(
        /^a partner API key reads only its partner's own, under \/v1\/partner\//,
      );
    }
    await json(
      await api(`/v1/partners/${a.partner.id}/prices`, {
        method: "PUT",
        token: a.apiKey,
        json: { currency: "EUR", prices: [] },
      }),
      403,
    );
    const asPerson = await json<ErrorBody>(await api("/v1/partner/orders", { token: admin }), 403);
    expect(asPerson.error.message).toBe("this needs a partner API key (fgpk_…), issued by an admin");
    await json(await api("/v1/partner/orders"), 401);
    await json(await api("/v1/partner/orders", { token: "fgpk_not-a-key" }), 401);

    // A new key replaces the old one: the old one stops working (within the isolates' cache, 1 s here).
    const next = await issueKey(a.partner.id);
    await json(await api("/v1/partner", { token: next }), 200);
    await eventually(
      async () => ((await api("/v1/partner", { token: a.apiKey })).status === 401 ? true : undefined),
      10_000,
      "the old key refused",
    );
    const audit = await json<{ entries: { action: string; target: string }[] }>(
      await api(`/v1/audit?action=partner.api_key_issued&limit=500`, { token: admin }),
      200,
    );
    expect(audit.entries.filter((e) => e.target === a.partner.id)).toHaveLength(2);
  });

  it("its delivery log, one event sent again on request, and a test event, each as its webhook answered", async () => {
    const a = await partnerWithOrder();
    const opened = await eventually(
      async () =>
        (
          await json<{ deliveries: Delivery[] }>(await api("/v1/partner/deliveries", { token: a.apiKey }), 200)
        ).deliveries.find((d) => d.type === "order.opened" && d.state === "delivered"),
      20_000,
      "order.opened delivered",
    );
    expect(opened.orderId).toBe(a.order.id);
    const again = await json<Outcome>(
      await api(`/v1/partner/deliveries/${opened.eventId}/send-again`, { method: "POST", token: a.apiKey }),
      200,
    );
    expect(again).toMatchObject({ eventId: opened.eventId, received: true, status: 200, error: null });
    // The stand-in got it twice under the same eventId (and, as a partner does, kept it once).
    expect((await accepted(a.partner.id))[opened.eventId]).toBe(2);
    const after = (
      await json<{ deliveries: Delivery[] }>(await api("/v1/partner/deliveries", { token: a.apiKey }), 200)
    ).deliveries.find((d) => d.eventId === opened.eventId)!;
    expect(after).toMatchObject({ state: "delivered", attempts: opened.attempts + 1 });
    await json(await api(`/v1/partner/deliveries/evt_nothing/send-again`, { method: "POST", token: a.apiKey }), 404);

    const own = await json<Outcome>(await api("/v1/partner/test-event", { method: "POST", token: a.apiKey }), 200);
    expect(own).toMatchObject({ received: true, status: 200 });
    const byAdmin = await json<Outcome>(
      await api(`/v1/partners/${a.partner.id}/test-event`, { method: "POST", token: admin }),
      200,
    );
    expect(byAdmin).toMatchObject({ received: true, status: 200 });
    expect((await accepted(a.partner.id))[byAdmin.eventId]).toBe(1);
    const log = (
      await json<{ deliveries: Delivery[] }>(
        await api(`/v1/partners/${a.partner.id}/deliveries`, { token: admin }),
        200,
      )
    ).deliveries;
    expect(log.filter((d) => d.type === "ping").map((d) => [d.eventId, d.state])).toEqual(
      expect.arrayContaining([
        [own.eventId, "delivered"],
        [byAdmin.eventId, "delivered"],
      ]),
    );
    // A webhook that fails answers so, and is not retried.
    await fetch(`${standIn()}/__control`, {
      method: "POST",
      body: JSON.stringify({ partnerId: a.partner.id, mode: "fail" }),
    });
    const failed = await json<Outcome>(await api("/v1/partner/test-event", { method: "POST", token: a.apiKey }), 200);
    expect(failed.received).toBe(false);
    expect(failed.status).toBe(503);
    await fetch(`${standIn()}/__control`, {
      method: "POST",
      body: JSON.stringify({ partnerId: a.partner.id, mode: "ok" }),
    });
  });

  it("its sales documents as JSON, CSV and page; another partner's are not found", async () => {
    const a = await partnerWithOrder();
    const b = await partnerWithOrder();
    await json(
      await api(`/v1/partners/${a.partner.id}/prices`, {
        method: "PUT",
        token: admin,
        json: { currency: "EUR", prices: [{ product: "diesel", unit: "l", unitPrice: 1.5, vatRate: 0.2 }] },
      }),
      200,
    );
    await json(
      await partnerEvent(a.partner, {
        type: "order.delivered",
        containerId: a.containerId,
        orderId: a.order.id,
        data: { lines: [{ product: "diesel", quantity: 1000, unit: "l" }], deliveryNote: "DN-1" },
      }),
      200,
    );
    const doc = await eventually(
      async () => {
        await api(`/v1/documents/run?partnerId=${a.partner.id}`, { method: "POST", token: admin });
        const list = await json<{
          documents: { id: string; orderId: string; gross: string; links: { csv: string } }[];
        }>(await api("/v1/partner/documents", { token: a.apiKey }), 200);
        return list.documents.find((d) => d.orderId === a.order.id);
      },
      30_000,
      "the document",
    );
    expect(doc.gross).toBe("1800.00");
    expect(doc.links.csv).toBe(`/v1/partner/documents/${doc.id}/csv`);
    await json(await api(`/v1/partner/documents/${doc.id}`, { token: a.apiKey }), 200);
    const csv = await api(doc.links.csv, { token: a.apiKey });
    expect(csv.status).toBe(200);
    expect(await csv.text()).toContain("diesel");
    expect((await api(`/v1/partner/documents/${doc.id}/html`, { token: a.apiKey })).status).toBe(200);
    await json(await api(`/v1/partner/documents/${doc.id}`, { token: b.apiKey }), 404);
    await json(await api(`/v1/partner/documents/${doc.id}/csv`, { token: b.apiKey }), 404);
  });
});

describe("partners (admin), second round", () => {
  it("prices change a product at a time: set adds or changes, remove takes off, the rest stay; the currency is the list's", async () => {
    const p = await newPartner({ serves: { containerIds: [uniqueContainer("none")], contents: [] } });
    const base = `/v1/partners/${p.id}/prices`;
    await json(await api(base, { method: "PATCH", token: admin, json: { set: [] } }), 400);
    const noCurrency = await json<ErrorBody>(
      await api(base, {
        method: "PATCH",
        token: admin,
        json: { set: [{ product: "diesel", unit: "l", unitPrice: 1.4, vatRate: 0.2 }] },
      }),
      400,
    );
    expect(noCurrency.error.issues).toEqual([
      { path: "currency", message: "is required: the partner has no prices yet" },
    ]);
    await json(
      await api(base, {
        method: "PATCH",
        token: admin,
        json: {
          currency: "EUR",
          set: [
            { product: "diesel", unit: "l", unitPrice: 1.4, vatRate: 0.2 },
            { product: "pellets", unit: "kg", unitPrice: 0.3, vatRate: 0.07 },
          ],
        },
      }),
      200,
    );
    const changed = await json<{ prices: { product: string; unitPrice: number; currency: string }[] }>(
      await api(base, {
        method: "PATCH",
        token: admin,
        json: {
          set: [
            { product: "diesel", unit: "l", unitPrice: 1.55, vatRate: 0.2 },
            { product: "water", unit: "l", unitPrice: 0.01, vatRate: 0 },
          ],
          remove: [{ product: "pellets", unit: "kg" }],
        },
      }),
      200,
    );
    expect(changed.prices.map((x) => [x.product, x.unitPrice, x.currency])).toEqual([
      ["diesel", 1.55, "EUR"],
      ["water", 0.01, "EUR"],
    ]);
    const otherCurrency = await json<ErrorBody>(
      await api(base, {
        method: "PATCH",
        token: admin,
        json: { currency: "CHF", set: [{ product: "diesel", unit: "l", unitPrice: 1, vatRate: 0.2 }] },
      }),
      400,
    );
    expect(otherCurrency.error.message).toMatch(/^currency must be EUR, the list's currency/);
    const twice = await json<ErrorBody>(
      await api(base, {
        method: "PATCH",
        token: admin,
        json: {
          set: [{ product: "water", unit: "l", unitPrice: 1, vatRate: 0 }],
          remove: [{ product: "water", unit: "l" }],
        },
      }),
      400,
    );
    expect(twice.error.issues).toEqual([{ path: "remove[0]", message: "names water per l again" }]);
    const now = await json<{ prices: unknown[] }>(await api(base, { token: admin }), 200);
    expect(now.prices).toHaveLength(2);
  });

  it("an unknown partner id is 404 for its deliveries, prices, key and test event", async () => {
    for (const [path, method] of [
      ["/v1/partners/nobody-here/deliveries", "GET"],
      ["/v1/partners/nobody-here/prices", "GET"],
      ["/v1/partners/nobody-here/api-key", "POST"],
      ["/v1/partners/nobody-here/test-event", "POST"],
    ] as const)
      await json(await api(path, { method, token: admin }), 404);
  });
});
