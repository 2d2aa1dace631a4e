// Partners and their signed webhooks (DESIGN: "Partners", "Orders: status and fulfilment"): who may
// call, what each event does to an order through its container, and what a repeat answers.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import worker from "../workers/index";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  newPartner,
  partnerEvent,
  postReadings,
  reading,
  uniqueContainer,
  type ErrorBody,
  type Order,
  type OrderAnswer,
  type PartnerAnswer,
} from "./helpers";

let admin: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  key = (await deviceKey()).key;
});

/** A container whose fill just dropped below its threshold: it has an active order. */
async function containerWithOrder(fill = 20): Promise<{ containerId: string; order: Order }> {
  const containerId = uniqueContainer("partnered");
  await json(
    await api(`/v1/containers/${containerId}`, { method: "PUT", token: admin, json: { capacity: 10_000, unit: "l" } }),
    200,
  );
  const answer = await json<{ results: { orderOpened?: Order }[] }>(
    await postReadings(key, reading(containerId, fill)),
    200,
  );
  return { containerId, order: answer.results[0]!.orderOpened! };
}

const step = (
  containerId: string,
  orderId: string,
  type: string,
  data: Record<string, unknown> = {},
  eventId?: string,
) => ({ type, containerId, orderId, data, ...(eventId ? { eventId } : {}) });

describe("partners (admin)", () => {
  it("a new partner's secret is shown once; the list never shows it; a rotation keeps the old secret working for the grace period", async () => {
    const p = await newPartner();
    expect(p.secret).toMatch(/^fgp_/);
    const list = await json<{ partners: Record<string, unknown>[] }>(await api("/v1/partners", { token: admin }), 200);
    const listed = list.partners.find((x) => x.id === p.id)!;
    expect(JSON.stringify(list)).not.toContain(p.secret);
    expect(listed).toMatchObject({ disabled: false, ipRanges: [], serves: { containerIds: [], contents: [] } });

    const { containerId, order } = await containerWithOrder();
    const rotated = await json<PartnerAnswer>(
      await api(`/v1/partners/${p.id}/secret`, { method: "POST", token: admin }),
      200,
    );
    expect(rotated.secret).not.toBe(p.secret);
    // A second rotation before the first's grace period ends would retire the secret the partner runs.
    const again = await json<ErrorBody>(
      await api(`/v1/partners/${p.id}/secret`, { method: "POST", token: admin }),
      409,
    );
    expect(again.error.code).toBe("rotation_under_way");
    expect(Date.parse(rotated.partner.previousSecretValidUntil!) - Date.now()).toBeGreaterThan(23 * 3600_000);
    await json(await partnerEvent(p, step(containerId, order.id, "order.accepted")), 200);
    await json(
      await partnerEvent({ id: p.id, secret: rotated.secret }, step(containerId, order.id, "order.accepted")),
      200,
    );
  });

  it("refuses a taken id, a bad webhook URL and a bad CIDR, naming the field, and stores nothing", async () => {
    const p = await newPartner();
    await json(
      await api("/v1/partners", {
        method: "POST",
        token: admin,
        json: { id: p.id, name: "again", webhookUrl: "https://x.example/hook" },
      }),
      409,
    );
    const bad = await json<ErrorBody>(
      await api("/v1/partners", {
        method: "POST",
        token: admin,
        json: { id: "new-one-x", name: "n", webhookUrl: "http://partner.example/hook", ipRanges: ["10.0.0.0/33"] },
      }),
      400,
    );
    expect(bad.error.issues!.map((i) => i.path).sort()).toEqual(["ipRanges[0]", "webhookUrl"]);
    const list = await json<{ partners: { id: string }[] }>(await api("/v1/partners", { token: admin }), 200);
    expect(list.partners.some((x) => x.id === "new-one-x")).toBe(false);
  });

  it("where private addresses are not allowed (production), a webhook URL on one is refused naming why, and nothing is stored", async () => {
    /** The API as a production deployment answers it: WEBHOOK_PRIVATE_ADDRESSES as in wrangler.toml. */
    const production = async (path: string, method: string, body: unknown) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch!(
        new Request(`http://fillgrid.test${path}`, {
          method,
          headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }) as Request<unknown, IncomingRequestCfProperties>,
        { ...env, WEBHOOK_PRIVATE_ADDRESSES: "refuse" },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const id = `private-${crypto.randomUUID().slice(0, 8)}`;
    // Serving only a container that does not exist, it takes no other test's orders.
    const serves = { containerIds: [`${id}-none`], contents: [] };
    for (const [url, why] of [
      ["http://localhost:9000/hook", "its host localhost is a local name"],
      ["https://10.1.2.3/hook", "its host 10.1.2.3 is a private address"],
      ["https://169.254.169.254/latest/meta-data", "its host 169.254.169.254 is a link-local address"],
      ["https://[::1]/hook", "its host ::1 is a loopback address"],
      ["https://2130706433/hook", "its host 127.0.0.1 is a loopback address"],
      ["https://billing.internal/hook", "its host billing.internal is a local name"],
    ]) {
      const bad = await json<ErrorBody>(
        await production("/v1/partners", "POST", { id, name: "n", webhookUrl: url, serves }),
        400,
      );
      expect(bad.error.issues, url).toEqual([{ path: "webhookUrl", message: `must be on a public address: ${why}` }]);
    }
    const list = await json<{ partners: { id: string }[] }>(await api("/v1/partners", { token: admin }), 200);
    expect(list.partners.some((x) => x.id === id)).toBe(false);
    // A public one is taken; a change to a private one is refused and leaves the URL as it was.
    await json(
      await production("/v1/partners", "POST", { id, name: "n", webhookUrl: "https://1.1.1.1/hook", serves }),
      201,
    );
    const change = await json<ErrorBody>(
      await production(`/v1/partners/${id}`, "PATCH", { webhookUrl: "https://192.168.1.20/hook" }),
      400,
    );
    expect(change.error.message).toMatch(
      /^webhookUrl must be on a public address: its host 192\.168\.1\.20 is a private address/,
    );
    const kept = await json<{ partners: { id: string; webhookUrl: string }[] }>(
      await api("/v1/partners", { token: admin }),
      200,
    );
    expect(kept.partners.find((x) => x.id === id)?.webhookUrl).toBe("https://1.1.1.1/hook");

    // A URL stored where they were allowed is not called where they are not.
    const local = await newPartner({ serves });
    const test = await json<{ received: boolean; error: string | null }>(
      await production(`/v1/partners/${local.id}/test-event`, "POST", {}),
      200,
    );
    expect(test).toMatchObject({
      received: false,
      error: "webhook URL refused: its host 127.0.0.1 is a loopback address",
    });
    const got = (await (await fetch(`${inject("partnerStandIn").url}/__received?partnerId=${local.id}`)).json()) as {
      requests: number;
    };
    expect(got.requests).toBe(0);
  });

  it("a disabled partner's webhooks are refused", async () => {
    const p = await newPartner();
    const { containerId, order } = await containerWithOrder();
    await json(await api(`/v1/partners/${p.id}`, { method: "PATCH", token: admin, json: { disabled: true } }), 200);
    await json(await partnerEvent(p, step(containerId, order.id, "order.accepted")), 401);
  });
});

describe("POST /v1/webhooks/partners/{partnerId}: the signature", () => {
  it("right → 200; wrong, expired either way (±301 s), unknown partner → 401; from outside its IP ranges → 403", async () => {
    const p = await newPartner({ ipRanges: ["203.0.113.0/24", "2001:db8:feed::/48"] });
    const { containerId, order } = await containerWithOrder();
    const accepted = step(containerId, order.id, "order.accepted");
    // Whole seconds taken at the call, rounded away from the window (the server compares its exact
    // time): 301 s out however the second's fraction falls.
    const now = () => Date.now() / 1000;
    await json(await partnerEvent(p, accepted, { secret: "fgp_not-the-secret", ip: "203.0.113.9" }), 401);
    await json(await partnerEvent(p, accepted, { signature: "v1=00", ip: "203.0.113.9" }), 401);
    // A missing header says which, and what to send.
    const unsigned = await json<ErrorBody>(
      await partnerEvent(p, accepted, { signature: "", ip: "203.0.113.9", omit: "X-Fillgrid-Signature" }),
      401,
    );
    expect(unsigned.error.message).toBe(
      'X-Fillgrid-Signature is missing: send v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>',
    );
    const untimed = await json<ErrorBody>(
      await partnerEvent(p, accepted, { ip: "203.0.113.9", omit: "X-Fillgrid-Timestamp" }),
      401,
    );
    expect(untimed.error.message).toBe("X-Fillgrid-Timestamp is missing: send the unix seconds you signed");
    await json(await partnerEvent(p, accepted, { timestamp: Math.floor(now()) - 301, ip: "203.0.113.9" }), 401);
    await json(await partnerEvent(p, accepted, { timestamp: Math.ceil(now()) + 301, ip: "203.0.113.9" }), 401);
    await json(await partnerEvent({ id: "nobody-here", secret: p.secret }, accepted, { ip: "203.0.113.9" }), 401);
    await json(await partnerEvent(p, accepted, { ip: "198.51.100.7" }), 403);
    await json(await partnerEvent(p, accepted), 403);
    // None of that moved the order.
    expect((await containerState(containerId))!.activeOrder!.fulfilment).toBe("pending");
    // Inside the window (a clock some minutes behind) is fine.
    const ok = await json<OrderAnswer>(
      await partnerEvent(p, accepted, { timestamp: Math.floor(Date.now() / 1000) - 290, ip: "203.0.113.9" }),
      200,
    );
    expect(ok.order).toMatchObject({ id: order.id, fulfilment: "accepted", partnerId: p.id });
    await json(
      await partnerEvent(p, step(containerId, order.id, "order.rejected", { reason: "no stock" }), {
        ip: "2001:db8:feed::1",
      }),
      200,
    );
  });

  it("the same eventId twice, also at once, has one effect and gets the same answer", async () => {
    const p = await newPartner();
    const containerId = uniqueContainer("created");
    await json(await postReadings(key, reading(containerId, 80)), 200);
    const created = {
      type: "order.created",
      containerId,
      eventId: "created-once",
      // A retry is the same body, byte for byte or not: the same event.
      occurredAt: new Date().toISOString(),
      data: { lines: [{ product: "diesel", quantity: 500, unit: "l" }] },
    };
    const answers = await Promise.all([partnerEvent(p, created), partnerEvent(p, created), partnerEvent(p, created)]);
    const bodies = await Promise.all(answers.map((a) => json<OrderAnswer>(a, 201)));
    expect(new Set(bodies.map((b) => b.order.id)).size).toBe(1);
    const orders = await json<{ orders: Order[] }>(
      await api(`/v1/containers/${containerId}/orders`, { token: admin }),
      200,
    );
    expect(orders.orders).toHaveLength(1);
    expect(orders.orders[0]).toMatchObject({
      source: "partner",
      partnerId: p.id,
      openedBy: `partner:${p.id}`,
      lines: [{ product: "diesel", quantity: 500, unit: "l" }],
    });
    // Later, the same event again: the first answer, although an order is now active.
    expect((await json<OrderAnswer>(await partnerEvent(p, created), 201)).order.id).toBe(bodies[0]!.order.id);
    const events = await json<{ events: { type: string }[] }>(
      await api(`/v1/containers/${containerId}/events`, { token: admin }),
      200,
    );
    expect(events.events.filter((e) => e.type === "order.opened")).toHaveLength(1);

    // The same eventId for a different event is refused, with the answer the first one got.
    const reused = await json<ErrorBody & { error: { first: { status: number; body: OrderAnswer } } }>(
      await partnerEvent(p, { ...created, data: { lines: [{ product: "diesel", quantity: 900, unit: "l" }] } }),
      409,
    );
    expect(reused.error.code).toBe("event_id_reused");
    expect(reused.error.message).toMatch(/^eventId created-once was used before for a different event/);
    expect(reused.error.first.status).toBe(201);
    expect(reused.error.first.body.order.id).toBe(bodies[0]!.order.id);
    expect((await containerState(containerId))!.activeOrder!.lines).toEqual([
      { product: "diesel", quantity: 500, unit: "l" },
    ]);
  });

  it("bad bodies are 400 naming the field, after the signature, and change nothing", async () => {
    const p = await newPartner();
    const { containerId, order } = await containerWithOrder();
    const cases: [Record<string, unknown>, string][] = [
      [step(containerId, order.id, "order.dispatched", { eta: "tomorrow", vehicle: "ZH 1" }), "data.eta"],
      [step(containerId, order.id, "order.delivered", { lines: [], deliveryNote: "DN-1" }), "data.lines"],
      [step(containerId, "ord_123", "order.accepted"), "orderId"],
      [{ ...step(containerId, order.id, "order.accepted"), type: "order.lost" }, "type"],
      [
        { ...step(containerId, order.id, "order.accepted"), occurredAt: new Date(Date.now() + 3600_000).toISOString() },
        "occurredAt",
      ],
      [
        {
          ...step(containerId, order.id, "order.accepted"),
          occurredAt: new Date(Date.now() - 31 * 86_400_000).toISOString(),
        },
        "occurredAt",
      ],
      [
        step(containerId, order.id, "order.dispatched", {
          eta: new Date(Date.now() - 3600_000).toISOString(),
          vehicle: "ZH 1",
        }),
        "data.eta",
      ],
      [
        {
          ...step(containerId, order.id, "order.dispatched", {
            eta: new Date(Date.now() - 3600_000).toISOString(),
            vehicle: "ZH 1",
          }),
          occurredAt: new Date(Date.now() - 7200_000).toISOString(),
        },
        "data.eta",
      ],
    ];
    for (const [event, path] of cases) {
      const bad = await json<ErrorBody>(await partnerEvent(p, event), 400);
      expect(bad.error.issues!.map((i) => i.path)).toContain(path);
    }
    // An unknown type names the ones there are; times say what is wrong with them.
    const unknown = await json<ErrorBody>(await partnerEvent(p, cases[3]![0]), 400);
    expect(unknown.error.issues).toContainEqual({
      path: "type",
      message:
        "must be one of order.created, order.accepted, order.rejected, order.dispatched, order.delivered, order.cancelled, order.delivery_corrected",
    });
    expect((await json<ErrorBody>(await partnerEvent(p, cases[4]![0]), 400)).error.issues).toEqual([
      { path: "occurredAt", message: "is in the future (more than 300 s ahead of ours)" },
    ]);
    expect((await json<ErrorBody>(await partnerEvent(p, cases[7]![0]), 400)).error.issues).toEqual([
      { path: "data.eta", message: "is in the past: send when the goods are expected" },
    ]);
    expect((await json<ErrorBody>(await partnerEvent(p, cases[6]![0]), 400)).error.issues).toEqual([
      { path: "data.eta", message: "is before the dispatch (occurredAt): an arrival cannot be in the past" },
    ]);
    expect((await containerState(containerId))!.activeOrder!.fulfilment).toBe("pending");
  });
});

describe("the lifecycle through the webhook", () => {
  it("order.created while an order is active → 409 with the active order; cancelled → auto-open armed, the next low reading orders again", async () => {
    const p = await newPartner();
    const { containerId, order } = await containerWithOrder(25);
    const conflict = await json<ErrorBody & { error: { order: Order } }>(
      await partnerEvent(p, { type: "order.created", containerId, data: {} }),
      409,
    );
    expect(conflict.error.order.id).toBe(order.id);

    const cancelled = await json<OrderAnswer>(
      await partnerEvent(p, step(containerId, order.id, "order.cancelled", { reason: "road closed" })),
      200,
    );
    expect(cancelled.order).toMatchObject({
      status: "closed",
      closeReason: "cancelled",
      fulfilment: "cancelled",
      fulfilmentReason: "road closed",
    });
    const state = (await containerState(containerId))!;
    expect(state.activeOrder).toBeNull();
    expect(state.autoOpenArmed).toBe(true);
    const again = await json<{ results: { orderOpened?: Order }[] }>(
      await postReadings(key, reading(containerId, 24)),
      200,
    );
    expect(again.results[0]!.orderOpened).toMatchObject({ source: "auto", fulfilment: "pending" });
  });

  it("illegal steps (delivered → dispatched, cancelled → accepted) are 409 with the order as it is; a repeated step is 200", async () => {
    const p = await newPartner();
    const first = await containerWithOrder();
    const delivered = step(first.containerId, first.order.id, "order.delivered", {
      lines: [{ product: "diesel", quantity: 7900, unit: "l" }],
      deliveryNote: "DN-77",
    });
    const done = await json<OrderAnswer>(await partnerEvent(p, delivered), 200);
    expect(done.order).toMatchObject({
      status: "closed",
      closeReason: "delivered",
      fulfilment: "delivered",
      deliveryNote: "DN-77",
      delivered: [{ quantity: 7900 }],
    });
    const illegal = await json<ErrorBody & { error: { order: Order } }>(
      await partnerEvent(
        p,
        step(first.containerId, first.order.id, "order.dispatched", { eta: new Date().toISOString(), vehicle: "ZH 9" }),
      ),
      409,
    );
    expect(illegal.error).toMatchObject({
      code: "illegal_transition",
      order: { id: first.order.id, fulfilment: "delivered" },
    });
    // The same step again under a new eventId: done already, nothing changes.
    expect((await json<OrderAnswer>(await partnerEvent(p, delivered), 200)).order.fulfilment).toBe("delivered");
    // The same step with another quantity is not taken as a repeat: refused, saying what it was.
    const other = await json<ErrorBody & { error: { order: Order } }>(
      await partnerEvent(p, {
        ...delivered,
        data: {
          ...(delivered.data as Record<string, unknown>),
          lines: [{ product: "diesel", quantity: 5000, unit: "l" }],
        },
      }),
      409,
    );
    expect(other.error.code).toBe("step_differs");
    expect(other.error.message).toBe(
      `order ${first.order.id} is already delivered with lines 7900 l of diesel; a step already taken cannot be sent again with other details`,
    );
    expect((await containerState(first.containerId))!.activeOrder).toBeNull();

    const second = await containerWithOrder();
    await json(
      await partnerEvent(p, step(second.containerId, second.order.id, "order.cancelled", { reason: "duplicate" })),
      200,
    );
    const refused = await json<ErrorBody & { error: { order: Order } }>(
      await partnerEvent(p, step(second.containerId, second.order.id, "order.accepted")),
      409,
    );
    expect(refused.error.order.fulfilment).toBe("cancelled");
  });

  it("a partner may create orders only for containers it serves, and take only orders of containers it serves", async () => {
    const { containerId, order } = await containerWithOrder();
    const narrow = await newPartner({ serves: { containerIds: ["somewhere-else"], contents: [] } });
    await json(await partnerEvent(narrow, { type: "order.created", containerId, data: {} }), 403);
    await json(await partnerEvent(narrow, step(containerId, order.id, "order.accepted")), 403);
    const byContents = await newPartner({ serves: { containerIds: [], contents: ["diesel"] } });
    expect(
      (await json<OrderAnswer>(await partnerEvent(byContents, step(containerId, order.id, "order.accepted")), 200))
        .order.partnerId,
    ).toBe(byContents.id);
  });

  it("another partner cannot move an order that a partner has taken; an unknown order is 404", async () => {
    const mine = await newPartner();
    const theirs = await newPartner();
    const { containerId, order } = await containerWithOrder();
    await json(await partnerEvent(mine, step(containerId, order.id, "order.accepted")), 200);
    await json(await partnerEvent(theirs, step(containerId, order.id, "order.rejected", { reason: "mine now" })), 403);
    await json(await partnerEvent(mine, step(containerId, "ord_01ARZ3NDEKTSV4RRFFQ69G5FAV", "order.accepted")), 404);
  });
});
