// What Fillgrid tells partners, and assembly: every change to an order that its partner did not make
// reaches the partner's webhook signed as the README's Partners section states (checked by a stand-in that verifies each
// request as a partner would); a partner that is down gets retries, then a dead letter and an error
// record, and a replay delivers once.
import { Validator, type Schema } from "@cfworker/json-schema";
import { inject } from "vitest";
import { WEBHOOK_SCHEMA_VERSION } from "../domain/partner-events";
import { beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  partnerEvent,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  type DeadLetter,
  type ErrorBody,
  type Order,
  type OrderAnswer,
} from "./helpers";

type Received = {
  events: { eventId: string; type: string; orderId: string; data: Record<string, unknown> }[];
  accepted: Record<string, number>;
  refusals: { reason: string }[];
  requests: number;
};
type Delivery = {
  eventId: string;
  type: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  attemptLog: { at: string; status: number | null; error: string | null }[];
  deadLetterId: number | null;
};

const standIn = () => inject("partnerStandIn").url;
const control = (partnerId: string, body: Record<string, unknown>) =>
  fetch(`${standIn()}/__control`, { method: "POST", body: JSON.stringify({ partnerId, ...body }) });
const received = async (partnerId: string) =>
  (await (await fetch(`${standIn()}/__received?partnerId=${partnerId}`)).json()) as Received;

let admin: string;
let assembler: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  assembler = await personWith("assembler");
  key = (await deviceKey()).key;
});

/** A partner whose webhook is the stand-in, serving the containers given (by id). */
async function standInPartner(containerIds: string[]) {
  const id = `stand-${crypto.randomUUID().slice(0, 8)}`;
  const body = await json<{ secret: string }>(
    await api("/v1/partners", {
      method: "POST",
      token: admin,
      json: { id, name: "Stand-in Fuels", webhookUrl: `${standIn()}/partners/${id}/events`, serves: { containerIds } },
    }),
    201,
  );
  await control(id, { secret: body.secret, mode: "ok" });
  return { id, secret: body.secret };
}

async function lowContainer() {
  const containerId = uniqueContainer("out");
  await json(
    await api(`/v1/containers/${containerId}`, { method: "PUT", token: admin, json: { capacity: 5000, unit: "l" } }),
    200,
  );
  return containerId;
}

describe("events to partners", () => {
  it("an order opened, its lines set and assembling by us reach the partner, signed; the partner's own steps are not echoed", async () => {
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 30)), 200)
    ).results[0]!.orderOpened;
    const first = await eventually(
      async () => (await received(partner.id)).events.find((e) => e.type === "order.opened"),
      20_000,
      "order.opened at the partner",
    );
    expect(first).toMatchObject({
      orderId: opened.id,
      containerId,
      data: { order: { lines: [{ product: "diesel", quantity: 3500, unit: "l" }] } },
    });

    await json(await partnerEvent(partner, { type: "order.accepted", containerId, orderId: opened.id, data: {} }), 200);
    const lines = [{ product: "diesel", quantity: 3000, unit: "l" }];
    const patched = await json<OrderAnswer>(
      await api(`/v1/orders/${opened.id}`, {
        method: "PATCH",
        token: assembler,
        json: { lines, fulfilment: "assembling" },
      }),
      200,
    );
    expect(patched.order).toMatchObject({ fulfilment: "assembling", lines });
    const types = await eventually(
      async () => {
        const r = await received(partner.id);
        return r.events.some((e) => e.type === "order.assembling") ? r.events.map((e) => e.type) : undefined;
      },
      20_000,
      "order.assembling at the partner",
    );
    expect(types).toEqual(["order.opened", "order.lines_changed", "order.assembling"]);
    expect((await received(partner.id)).refusals).toEqual([]);

    // The log says delivered once the partner's answer is back (a moment after the partner has the event).
    const delivered = await eventually(
      async () => {
        const log = await json<{ deliveries: Delivery[] }>(
          await api(`/v1/partners/${partner.id}/deliveries`, { token: admin }),
          200,
        );
        const rows = log.deliveries.map((d) => [d.type, d.state, d.lastStatus]);
        return rows.filter((r) => r[1] === "delivered").length >= 3 ? rows : undefined;
      },
      20_000,
      "the delivery log",
    );
    expect(delivered).toEqual(
      expect.arrayContaining([
        ["order.opened", "delivered", 200],
        ["order.lines_changed", "delivered", 200],
        ["order.assembling", "delivered", 200],
      ]),
    );
  });

  it("a partner that is down: retries, then a dead letter and an error record; back up, a replay delivers once", async () => {
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    await control(partner.id, { mode: "fail" });
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 25)), 200)
    ).results[0]!.orderOpened;
    const dead = await eventually(
      async () => {
        const log = await json<{ deliveries: Delivery[] }>(
          await api(`/v1/partners/${partner.id}/deliveries?state=dead`, { token: admin }),
          200,
        );
        return log.deliveries[0];
      },
      30_000,
      "the delivery given up",
    );
    expect(dead).toMatchObject({ type: "order.opened", state: "dead", attempts: 6, lastStatus: 503 });
    expect((await received(partner.id)).requests).toBe(6);

    const letters = await json<{ deadLetters: DeadLetter[] }>(
      await api("/v1/dead-letters?pending=true&limit=500", { token: admin }),
      200,
    );
    const letter = letters.deadLetters.find(
      (l) => l.queue === "fillgrid-partner-events" && JSON.stringify(l.body).includes(opened.id),
    )!;
    expect(letter).toBeDefined();
    const records = await json<{ errors: { name: string; context: Record<string, unknown> }[] }>(
      await api("/v1/errors?status=open&limit=500", { token: admin }),
      200,
    );
    expect(records.errors.some((e) => e.name === "DeadLetter" && e.context.queue === "fillgrid-partner-events")).toBe(
      true,
    );
    // The log lists each attempt and links the dead letter to replay.
    expect(dead.attemptLog.map((a) => a.status)).toEqual([503, 503, 503, 503, 503, 503]);
    const linked = await eventually(
      async () =>
        (
          await json<{ deliveries: Delivery[] }>(
            await api(`/v1/partners/${partner.id}/deliveries?state=dead`, { token: admin }),
            200,
          )
        ).deliveries.find((d) => d.eventId === dead.eventId && d.deadLetterId !== null),
      10_000,
      "the dead letter linked",
    );
    expect(linked.deadLetterId).toBe(letter.id);

    await control(partner.id, { mode: "ok" });
    await json(await api(`/v1/dead-letters/${letter.id}/replay`, { method: "POST", token: admin }), 200);
    const eventId = dead.eventId;
    await eventually(
      async () => ((await received(partner.id)).accepted[eventId] === 1 ? true : undefined),
      20_000,
      "the replayed delivery",
    );
    await eventually(
      async () => {
        const log = await json<{ deliveries: Delivery[] }>(
          await api(`/v1/partners/${partner.id}/deliveries`, { token: admin }),
          200,
        );
        return log.deliveries.find((d) => d.eventId === eventId && d.state === "delivered");
      },
      20_000,
      "the delivery log saying delivered",
    );
    // The whole history across the replay: six failures, then the replay's success.
    const whole = (
      await json<{ deliveries: Delivery[] }>(await api(`/v1/partners/${partner.id}/deliveries`, { token: admin }), 200)
    ).deliveries.find((d) => d.eventId === eventId)!;
    expect(whole.attempts).toBe(7);
    expect(whole.attemptLog.map((a) => a.status)).toEqual([503, 503, 503, 503, 503, 503, 200]);
    // Once: a second replay sends nothing, and says so.
    const requests = (await received(partner.id)).requests;
    const again = await json<{ sent: boolean; note?: string }>(
      await api(`/v1/dead-letters/${letter.id}/replay`, { method: "POST", token: admin }),
      200,
    );
    expect(again.sent).toBe(false);
    expect(again.note).toMatch(
      new RegExp(`^event ${eventId} was delivered to partner ${partner.id} at .*; nothing was sent$`),
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect((await received(partner.id)).accepted[eventId]).toBe(1);
    expect((await received(partner.id)).requests).toBe(requests);
  });

  it("a partner that does not answer within the timeout is retried like one that fails", async () => {
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    await control(partner.id, { mode: "timeout" });
    await json(await postReadings(key, reading(containerId, 25)), 200);
    const retrying = await eventually(
      async () => {
        const log = await json<{ deliveries: Delivery[] }>(
          await api(`/v1/partners/${partner.id}/deliveries`, { token: admin }),
          200,
        );
        return log.deliveries.find((d) => d.attempts >= 1 && d.lastStatus === null);
      },
      30_000,
      "a timed-out attempt",
    );
    expect(retrying.lastError).toMatch(/no answer within 1500 ms/);
    await control(partner.id, { mode: "ok" });
    await eventually(
      async () => {
        const log = await json<{ deliveries: Delivery[] }>(
          await api(`/v1/partners/${partner.id}/deliveries`, { token: admin }),
          200,
        );
        return log.deliveries.find((d) => d.state === "delivered");
      },
      40_000,
      "delivered once the partner answers",
    );
  });
});

describe("assembly", () => {
  it("the queue holds accepted orders, oldest first, with their containers; lines until dispatched; a viewer may not; illegal steps are 409", async () => {
    const viewer = await personWith("viewer");
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 10)), 200)
    ).results[0]!.orderOpened;
    await json(await partnerEvent(partner, { type: "order.accepted", containerId, orderId: opened.id, data: {} }), 200);
    type Queue = { orders: Order[]; containers: Record<string, Record<string, unknown>> };
    const queue = await eventually(
      async () => {
        const q = await json<Queue>(await api("/v1/assembly/queue?limit=500", { token: assembler }), 200);
        return q.orders.some((o) => o.id === opened.id) ? q : undefined;
      },
      20_000,
      "the order in the queue",
    );
    expect(queue.orders.find((o) => o.id === opened.id)).toMatchObject({
      fulfilment: "accepted",
      partnerId: partner.id,
    });
    const ids = queue.orders.map((o) => o.id);
    expect(ids).toEqual([...ids].sort());
    // Where the goods go and how much fits: each listed order's container, as it is now.
    expect(Object.keys(queue.containers).sort()).toEqual([...new Set(queue.orders.map((o) => o.containerId))].sort());
    expect(queue.containers[containerId]).toMatchObject({
      contents: "diesel",
      fillPercent: 10,
      capacity: 5000,
      unit: "l",
    });
    await json(await api("/v1/assembly/queue", { token: viewer }), 403);
    await json(
      await api(`/v1/orders/${opened.id}`, { method: "PATCH", token: viewer, json: { fulfilment: "assembling" } }),
      403,
    );

    const bad = await json<ErrorBody>(
      await api(`/v1/orders/${opened.id}`, {
        method: "PATCH",
        token: assembler,
        json: { lines: [{ product: "diesel", quantity: -1, unit: "l" }] },
      }),
      400,
    );
    expect(bad.error.issues![0]!.path).toBe("lines[0].quantity");
    const dispatched = await json<OrderAnswer>(
      await api(`/v1/orders/${opened.id}`, {
        method: "PATCH",
        token: assembler,
        json: { fulfilment: "dispatched", eta: "2026-12-02T08:00:00Z", vehicle: "ZH 4711" },
      }),
      200,
    );
    expect(dispatched.order).toMatchObject({
      fulfilment: "dispatched",
      eta: "2026-12-02T08:00:00.000Z",
      vehicle: "ZH 4711",
    });
    const late = await json<ErrorBody & { error: { order: Order } }>(
      await api(`/v1/orders/${opened.id}`, {
        method: "PATCH",
        token: assembler,
        json: { lines: [{ product: "diesel", quantity: 1, unit: "l" }] },
      }),
      409,
    );
    expect(late.error.order.fulfilment).toBe("dispatched");
    const back = await json<ErrorBody>(
      await api(`/v1/orders/${opened.id}`, { method: "PATCH", token: assembler, json: { fulfilment: "assembling" } }),
      409,
    );
    expect(back.error.code).toBe("illegal_transition");
  });
});

describe("a secret rotation", () => {
  it("during the grace period each event carries both signatures: a partner that knows only the old secret, and one that knows only the new, both verify it", async () => {
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    const rotated = await json<{ secret: string; partner: { previousSecretValidUntil: string } }>(
      await api(`/v1/partners/${partner.id}/secret`, { method: "POST", token: admin }),
      200,
    );
    expect(rotated.secret).not.toBe(partner.secret);
    // The stand-in still knows only the old secret: the next event verifies with it.
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 30)), 200)
    ).results[0]!.orderOpened;
    await eventually(
      async () => (await received(partner.id)).events.find((e) => e.type === "order.opened" && e.orderId === opened.id),
      20_000,
      "order.opened verified with the old secret",
    );
    // Now it knows only the new one: the next event verifies with that.
    await control(partner.id, { secret: rotated.secret });
    await json(
      await api(`/v1/containers/${containerId}/orders/${opened.id}/close`, { method: "POST", token: admin }),
      200,
    );
    await eventually(
      async () => (await received(partner.id)).events.find((e) => e.type === "order.closed" && e.orderId === opened.id),
      20_000,
      "order.closed verified with the new secret",
    );
    expect((await received(partner.id)).refusals).toEqual([]);
  });
});

describe("the reference's webhooks", () => {
  it("every event a partner receives is valid against the reference's schema for its type, and carries the format's version", async () => {
    type Doc = {
      webhooks: Record<string, { post: { requestBody: { content: { "application/json": { schema: Schema } } } } }>;
      components: Record<string, unknown>;
    };
    const doc = await json<Doc>(await api("/openapi.json"), 200);
    const containerId = await lowContainer();
    const partner = await standInPartner([containerId]);
    const opened = (
      await json<{ results: { orderOpened: Order }[] }>(await postReadings(key, reading(containerId, 30)), 200)
    ).results[0]!.orderOpened;
    // Fillgrid's own steps: lines, assembling, dispatched; then an operator closes it with a note.
    const patch = (json: unknown) => api(`/v1/orders/${opened.id}`, { method: "PATCH", token: assembler, json });
    await json(await partnerEvent(partner, { type: "order.accepted", containerId, orderId: opened.id, data: {} }), 200);
    // The order is found through Postgres: once the projection has it.
    await eventually(
      async () => {
        const res = await patch({
          lines: [{ product: "diesel", quantity: 2500, unit: "l" }],
          fulfilment: "assembling",
        });
        return res.status === 200 ? true : undefined;
      },
      20_000,
      "assembling",
    );
    await json(
      await patch({ fulfilment: "dispatched", eta: new Date(Date.now() + 3600_000).toISOString(), vehicle: "ZH 42" }),
      200,
    );
    await json(
      await api(`/v1/containers/${containerId}/orders/${opened.id}/close`, {
        method: "POST",
        token: admin,
        json: { note: "Delivered by hand" },
      }),
      200,
    );
    const expected = ["order.opened", "order.lines_changed", "order.assembling", "order.dispatched", "order.closed"];
    const events = await eventually(
      async () => {
        const r = await received(partner.id);
        return expected.every((t) => r.events.some((e) => e.type === t)) ? r.events : undefined;
      },
      20_000,
      "every step at the partner",
    );
    for (const event of events) {
      const schema = doc.webhooks[event.type]?.post.requestBody.content["application/json"].schema;
      expect(schema, `${event.type} is in the reference`).toBeDefined();
      const result = new Validator({ ...schema!, components: doc.components } as Schema, "2020-12", false).validate(
        event,
      );
      expect(
        result.errors.map((e) => `${e.instanceLocation}: ${e.error}`),
        event.type,
      ).toEqual([]);
      expect((event as { schemaVersion?: number }).schemaVersion).toBe(WEBHOOK_SCHEMA_VERSION);
    }
    expect(events.find((e) => e.type === "order.closed")!.data).toMatchObject({
      reason: "manual",
      note: "Delivered by hand",
    });
    expect(events.find((e) => e.type === "order.dispatched")!.data).toMatchObject({
      from: "assembling",
      vehicle: "ZH 42",
    });
  });
});
