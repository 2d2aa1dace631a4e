import { createExecutionContext, createMessageBatch, env, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChangeMessage } from "../domain/change-message";
import type { ContainerDO } from "../durable-objects/container";
import worker from "../workers/index";
import { withDatabase } from "../workers/db/client";
import { containerEvents, containers, deadLetters, orders, readings } from "../workers/db/schema";
import { DEAD_LETTER_QUEUE, PROJECTION_QUEUE } from "../workers/queues";
import {deviceKey, eventually, json, postReadings, reading, uniqueContainer, type ReadingsAnswer } from "./helpers";

let key: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
});

const db = <T>(work: Parameters<typeof withDatabase<T>>[1]) => withDatabase(env, work);

function ordersOf(containerId: string) {
  return db((d) => d.select().from(orders).where(eq(orders.containerId, containerId)).orderBy(orders.id));
}

/** Take the messages a container would send, without sending them. */
async function captureOutbox(containerId: string): Promise<ChangeMessage[]> {
  const captured: ChangeMessage[] = [];
  await runInDurableObject(env.CONTAINERS.getByName(containerId), (instance: ContainerDO) => {
    instance.outbox = { send: async (messages) => void captured.push(...messages) };
  });
  return captured;
}

async function deliver(messages: ChangeMessage[]) {
  const batch = createMessageBatch(
    PROJECTION_QUEUE,
    messages.map((body, i) => ({ id: `m-${body.event.id}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  return getQueueResult(batch, ctx);
}

describe("readings reach Postgres through the outbox and the queue", () => {
  it("a reading below the threshold ends as an active order row; one above closes it", async () => {
    const id = uniqueContainer("pg");
    const low = await json<ReadingsAnswer>(await postReadings(key, reading(id, 25)), 200);
    const orderId = low.results[0]!.orderOpened!.id;
    const active = await eventually(async () => (await ordersOf(id)).find((o) => o.status === "active"), 15_000, "active order row");
    expect(active).toMatchObject({ id: orderId, containerId: id, source: "auto", fillAtOpen: 25, fulfilment: "pending" });
    const containerRow = await eventually(async () => (await db((d) => d.select().from(containers).where(eq(containers.id, id))))[0]);
    expect(containerRow).toMatchObject({ fillPercent: 25, activeOrderId: orderId, contents: "diesel" });

    await json(await postReadings(key, reading(id, 75)), 200);
    const closed = await eventually(async () => (await ordersOf(id)).find((o) => o.status === "closed"), 15_000, "closed order row");
    expect(closed).toMatchObject({ id: orderId, closeReason: "fill_above_threshold", fillAtClose: 75 });
    await eventually(async () => {
      const [row] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
      return row?.activeOrderId === null && row.fillPercent === 75 ? row : undefined;
    });
    const readingRows = await db((d) => d.select().from(readings).where(eq(readings.containerId, id)));
    expect(readingRows.map((r) => r.fillPercent).sort()).toEqual([25, 75]);
    const eventRows = await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)).orderBy(containerEvents.seq));
    expect(eventRows.map((e) => e.type)).toEqual(["reading.recorded", "order.opened", "reading.recorded", "order.closed"]);
    expect(eventRows.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe("the projection consumer", () => {
  it("the same batch delivered twice, and batches out of order, leave exactly the right rows", async () => {
    const id = uniqueContainer("dup");
    const captured = await captureOutbox(id);
    await json(await postReadings(key, { readings: [reading(id, 20), reading(id, 80), reading(id, 10)] }), 200);
    await json(await postReadings(key, reading(id, 90)), 200);
    expect(captured.map((m) => m.event.type)).toEqual([
      "reading.recorded", "order.opened", "reading.recorded", "order.closed", "reading.recorded", "order.opened",
      "reading.recorded", "order.closed",
    ]);
    const first = captured.slice(0, 4);
    const second = captured.slice(4);

    // Newer batch first, then the older one twice, then everything again.
    for (const batch of [second, first, first, captured]) {
      const result = await deliver(batch);
      expect(result.explicitAcks.length).toBe(batch.length);
      expect(result.retryMessages).toEqual([]);
    }

    const rows = await ordersOf(id);
    expect(rows).toHaveLength(2);
    expect(rows.every((o) => o.status === "closed")).toBe(true);
    expect(rows.map((o) => o.fillAtClose)).toEqual([80, 90]);
    const [container] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(container).toMatchObject({ fillPercent: 90, activeOrderId: null, version: 8 });
    expect(await db((d) => d.select().from(readings).where(eq(readings.containerId, id)))).toHaveLength(4);
    expect(await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)))).toHaveLength(8);
  });

  it("never shows two active orders for a container, even when an order's close arrives late", async () => {
    const id = uniqueContainer("late");
    const captured = await captureOutbox(id);
    await json(await postReadings(key, { readings: [reading(id, 20), reading(id, 80), reading(id, 10)] }), 200);
    const [, firstOpen, , firstClose, , secondOpen] = captured;
    expect([firstOpen!.event.type, firstClose!.event.type, secondOpen!.event.type]).toEqual(["order.opened", "order.closed", "order.opened"]);

    await deliver([firstOpen!]);
    await deliver([secondOpen!]);
    const before = await ordersOf(id);
    expect(before.filter((o) => o.status === "active").map((o) => o.id)).toEqual([secondOpen!.order!.id]);
    expect(before.find((o) => o.id === firstOpen!.order!.id)).toMatchObject({ status: "closed", closedAt: null });

    await deliver([firstClose!]);
    const after = await ordersOf(id);
    expect(after.find((o) => o.id === firstOpen!.order!.id)).toMatchObject({ status: "closed", closeReason: "fill_above_threshold", fillAtClose: 80 });
    expect(after.filter((o) => o.status === "active")).toHaveLength(1);
  });

  it("an older message never overwrites a newer container state", async () => {
    const id = uniqueContainer("order");
    const captured = await captureOutbox(id);
    await json(await postReadings(key, { readings: [reading(id, 60), reading(id, 70)] }), 200);
    await deliver([captured[1]!]);
    await deliver([captured[0]!]);
    const [row] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(row).toMatchObject({ fillPercent: 70, version: 2 });
  });

  it("a message it cannot use is retried and does not hold back its neighbours", async () => {
    const id = uniqueContainer("poison");
    const captured = await captureOutbox(id);
    await json(await postReadings(key, reading(id, 30)), 200);
    const batch = createMessageBatch<unknown>(PROJECTION_QUEUE, [
      { id: "bad-1", timestamp: new Date(), attempts: 1, body: { hello: "world" } },
      ...captured.map((body, i) => ({ id: `good-${i}`, timestamp: new Date(), attempts: 1, body })),
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["bad-1"]);
    expect(result.explicitAcks.sort()).toEqual(captured.map((_, i) => `good-${i}`).sort());
    expect(await ordersOf(id)).toHaveLength(1);
  });

  it("a message that keeps failing is retried 3 times, then lands in the dead-letter queue", async () => {
    const marker = crypto.randomUUID();
    await env.PROJECTION_QUEUE.send({ poison: marker });
    const row = await eventually(
      async () => (await db((d) => d.select().from(deadLetters))).find((r) => JSON.stringify(r.body).includes(marker)),
      30_000,
      "dead letter",
    );
    expect(row).toMatchObject({ queue: PROJECTION_QUEUE, body: { poison: marker } });
  });

  it("the dead-letter consumer stores each message once, however often it is delivered", async () => {
    const marker = crypto.randomUUID();
    const messages = [{ id: `dl-${marker}`, timestamp: new Date(), attempts: 1, body: { marker } }];
    for (let i = 0; i < 2; i++) {
      const batch = createMessageBatch(DEAD_LETTER_QUEUE, messages);
      const ctx = createExecutionContext();
      await worker.queue(batch, env);
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`dl-${marker}`]);
    }
    const rows = await db((d) => d.select().from(deadLetters).where(eq(deadLetters.messageId, `dl-${marker}`)));
    expect(rows).toHaveLength(1);
  });
});

describe("the outbox", () => {
  it("a failing queue send delays nothing, loses nothing, and the alarm sends each event once", async () => {
    const id = uniqueContainer("outbox");
    const stub = env.CONTAINERS.getByName(id);
    let attempts = 0;
    await runInDurableObject(stub, (instance: ContainerDO) => {
      instance.outbox = {
        send: async () => {
          attempts++;
          throw new Error("queue unavailable");
        },
      };
    });
    const answer = await json<ReadingsAnswer>(await postReadings(key, { readings: [reading(id, 15), reading(id, 55)] }), 200);
    expect(answer.results.map((r: { status: string }) => r.status)).toEqual(["applied", "applied"]);
    await eventually(async () => (attempts > 0 ? true : undefined));
    expect(await stub.pendingOutbox()).toBe(4);

    // Still failing when the alarm fires: nothing lost, tried again later.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(await stub.pendingOutbox()).toBe(4);

    // The queue is back: the next alarm drains the outbox.
    const sent: ChangeMessage[] = [];
    await runInDurableObject(stub, (instance: ContainerDO) => {
      instance.outbox = {
        send: async (messages) => {
          sent.push(...messages);
          await env.PROJECTION_QUEUE.sendBatch(messages.map((body) => ({ body, contentType: "json" as const })));
        },
      };
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingOutbox()).toBe(0);
    expect(sent.map((m) => m.event.seq)).toEqual([1, 2, 3, 4]);

    const rows = await eventually(async () => {
      const found = await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)));
      return found.length === 4 ? found : undefined;
    }, 15_000, "events in Postgres");
    expect(rows.map((r) => r.seq).sort()).toEqual([1, 2, 3, 4]);
    const [order] = await ordersOf(id);
    expect(order).toMatchObject({ status: "closed", fillAtClose: 55 });
  });
});

describe("lists from Postgres", () => {
  it("uses the Neon driver against the real database", async () => {
    const rows = await db(async (d) => (await d.execute<{ version: string }>("select version() as version")).rows);
    expect(rows[0]!.version).toMatch(/PostgreSQL/);
  });

  it("unknown ids in filters find nothing", async () => {
    const rows = await db((d) => d.select().from(orders).where(and(inArray(orders.containerId, ["nope"]), eq(orders.status, "active"))));
    expect(rows).toEqual([]);
  });
});
