import {
  createExecutionContext,
  createMessageBatch,
  env,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
} from "cloudflare:test";
import { and, eq, getTableColumns, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { changesOf, textMessage, type ChangeMessage, type ChangeRange } from "../domain/change-message";
import { emptyContainer, type ContainerEvent, type Order } from "../domain/container";
import worker from "../workers/index";
import { withDatabase } from "../workers/db/client";
import { containerEvents, containers, deadLetters, orders, readings } from "../workers/db/schema";
import { planProjection } from "../workers/projection/plan";
import { DEAD_LETTER_QUEUE, PROJECTION_QUEUE } from "../workers/queues";
import {
  deviceKey,
  eventually,
  json,
  postReadings,
  rangesOf,
  reading,
  uniqueContainer,
  watchProjectionQueue,
  type ReadingsAnswer,
} from "./helpers";

let key: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
});

const db = <T>(work: Parameters<typeof withDatabase<T>>[1]) => withDatabase(env, work);

function ordersOf(containerId: string) {
  return db((d) => d.select().from(orders).where(eq(orders.containerId, containerId)).orderBy(orders.id));
}

/**
 * Take the ranges of a container's events, sent by it or relayed for it, without sending them; post
 * its readings with `post`.
 */
async function captureRanges(
  containerId: string,
): Promise<{ ranges: ChangeRange[]; post: (key: string, body: unknown) => Promise<Response> }> {
  const ranges: ChangeRange[] = [];
  const { post } = await watchProjectionQueue(
    containerId,
    async (bodies) => void ranges.push(...bodies.flatMap(rangesOf)),
  );
  return { ranges, post };
}

/** The same, as the single changes the ranges stand for (the consumer takes both forms). */
async function captureOutbox(
  containerId: string,
): Promise<{ captured: ChangeMessage[]; post: (key: string, body: unknown) => Promise<Response> }> {
  const captured: ChangeMessage[] = [];
  const { post } = await watchProjectionQueue(
    containerId,
    async (bodies) => void captured.push(...bodies.flatMap(rangesOf).flatMap(changesOf)),
  );
  return { captured, post };
}

async function deliver(messages: (ChangeMessage | ChangeRange)[]) {
  const batch = createMessageBatch(
    PROJECTION_QUEUE,
    messages.map((body, i) => ({
      id: `m-${"range" in body ? body.events[0]!.id : body.event.id}-${i}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    })),
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
    const active = await eventually(
      async () => (await ordersOf(id)).find((o) => o.status === "active"),
      15_000,
      "active order row",
    );
    expect(active).toMatchObject({
      id: orderId,
      containerId: id,
      source: "auto",
      fillAtOpen: 25,
      fulfilment: "pending",
    });
    const containerRow = await eventually(
      async () => (await db((d) => d.select().from(containers).where(eq(containers.id, id))))[0],
    );
    expect(containerRow).toMatchObject({ fillPercent: 25, activeOrderId: orderId, contents: "diesel" });

    await json(await postReadings(key, reading(id, 75)), 200);
    const closed = await eventually(
      async () => (await ordersOf(id)).find((o) => o.status === "closed"),
      15_000,
      "closed order row",
    );
    expect(closed).toMatchObject({ id: orderId, closeReason: "fill_above_threshold", fillAtClose: 75 });
    await eventually(async () => {
      const [row] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
      return row?.activeOrderId === null && row.fillPercent === 75 ? row : undefined;
    });
    const readingRows = await db((d) => d.select().from(readings).where(eq(readings.containerId, id)));
    expect(readingRows.map((r) => r.fillPercent).sort()).toEqual([25, 75]);
    const eventRows = await db((d) =>
      d.select().from(containerEvents).where(eq(containerEvents.containerId, id)).orderBy(containerEvents.seq),
    );
    expect(eventRows.map((e) => e.type)).toEqual([
      "reading.recorded",
      "order.opened",
      "reading.recorded",
      "order.closed",
    ]);
    expect(eventRows.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe("the projection consumer", () => {
  it("text with quotes, backslashes, escapes and SQL in it lands exactly as sent", async () => {
    // The batch reaches Postgres as one SQL text with its values written in as literals.
    const id = uniqueContainer("quote");
    const awkward = [
      `O'Brien's "diesel" \\ \\' \\\\`,
      "E'\\x41' $$ $1 ; drop table readings; --",
      "line\nbreak\ttab \u00e9 \u{1F6E2} \\u0041",
      // The literal's own quoting tag, and its ends: such a text is written escaped instead.
      "$fg$'; drop table readings; --$fg$ $fg",
    ];
    const sent = awkward.map((contents, i) => reading(id, 80 - i, { contents }));
    // Apart, so that the first three go dollar-quoted and the last escaped.
    await json(await postReadings(key, { readings: sent.slice(0, 3) }), 200);
    await json(await postReadings(key, { readings: sent.slice(3) }), 200);
    const rows = await eventually(
      async () => {
        const r = await db((d) =>
          d.select().from(readings).where(eq(readings.containerId, id)).orderBy(readings.measuredAt),
        );
        return r.length === sent.length ? r : undefined;
      },
      15_000,
      "every reading row",
    );
    expect(rows.map((r) => [r.readingId, r.contents])).toEqual(sent.map((r) => [r.readingId, r.contents]));
    const events = await db((d) =>
      d.select().from(containerEvents).where(eq(containerEvents.containerId, id)).orderBy(containerEvents.seq),
    );
    expect(events.map((e) => (e.body as { reading?: { contents?: string } }).reading?.contents)).toEqual(awkward);
    const [row] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(row?.contents).toBe(awkward.at(-1));
  });

  it("each event's row, and each recorded reading's, holds what the event says in every column", async () => {
    // Postgres reads both rows from the events' bodies (workers/projection/writer.ts).
    const id = uniqueContainer("cols");
    const { captured, post } = await captureOutbox(id);
    const first = reading(id, 20, { contents: "heating oil", battery: 42.5, location: { lat: 48.137, lon: 11.575 } });
    // Ahead of the receiving clock (kept as skew), and 70 points up: a refill.
    const ahead = reading(id, 90, { measuredAt: new Date(Date.now() + 60_000).toISOString() });
    // Neither place, battery nor contents; and measured before the one ahead (taken as now): stale.
    const bare = {
      containerId: id,
      readingId: `r-${crypto.randomUUID()}`,
      fillPercent: 85,
      measuredAt: new Date(Date.parse(first.measuredAt) + 1).toISOString(),
    };
    await json(await post(key, { readings: [first, ahead] }), 200);
    await json(await post(key, bare), 200);
    const result = await deliver(captured);
    expect(result.explicitAcks.length).toBe(captured.length);

    const events = captured.map((c) => c.event);
    const recorded = events.flatMap((e) => (e.type === "reading.recorded" ? [e] : []));
    const expected = recorded.map((e) => ({
      containerId: id,
      readingId: e.reading.readingId,
      measuredAt: e.reading.measuredAt,
      receivedAt: e.reading.receivedAt,
      fillPercent: e.reading.fillPercent,
      contents: e.reading.contents ?? null,
      lat: e.reading.location?.lat ?? null,
      lon: e.reading.location?.lon ?? null,
      battery: e.reading.battery ?? null,
      clockSkewMs: e.reading.clockSkewMs ?? 0,
      status: e.outcome,
      refillRise: e.refill?.rise ?? null,
      eventId: e.id,
      seq: e.seq,
    }));
    // What this test is about: every kind of value is among them.
    expect(expected.map((r) => [r.status, r.clockSkewMs > 0, r.refillRise, r.contents, r.battery, r.lat])).toEqual([
      ["applied", false, null, "heating oil", 42.5, 48.137],
      ["applied", true, 70, "diesel", 90, 59.33],
      ["stale", false, null, null, null, null],
    ]);
    const readingRows = await db((d) =>
      d.select().from(readings).where(eq(readings.containerId, id)).orderBy(readings.seq),
    );
    const instant = (text: string) => new Date(text).toISOString();
    expect(
      readingRows.map((r) => ({ ...r, measuredAt: instant(r.measuredAt), receivedAt: instant(r.receivedAt) })),
    ).toEqual(expected);

    const eventRows = await db((d) =>
      d.select().from(containerEvents).where(eq(containerEvents.containerId, id)).orderBy(containerEvents.seq),
    );
    expect(eventRows.map((r) => ({ ...r, at: instant(r.at) }))).toEqual(
      events.map((e) => ({
        id: e.id,
        containerId: id,
        seq: e.seq,
        type: e.type,
        at: e.at,
        actorKind: e.actor.kind,
        actorId: e.actor.id,
        readingId: e.readingId,
        body: e,
      })),
    );
    expect(events.map((e) => e.type)).toContain("order.opened");

    // The container's row and its order's, every column as the plan has it (each row goes in as an
    // array of values in column order, each read with its column's type).
    const plan = planProjection(captured);
    const asStored = (row: Record<string, unknown>, planned: Record<string, unknown>) =>
      Object.fromEntries(
        Object.keys(planned).map((field) => {
          const value = row[field];
          const isTime = typeof planned[field] === "string" && /^\d{4}-\d\d-\d\dT/.test(planned[field] as string);
          return [field, isTime && typeof value === "string" ? instant(value) : value];
        }),
      );
    const [containerRow] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(plan.containers).toHaveLength(1);
    expect(asStored(containerRow!, plan.containers[0]!)).toEqual(plan.containers[0]);
    expect(plan.containers[0]!.forecast).not.toBeNull();
    const orderRows = await ordersOf(id);
    expect(orderRows).toHaveLength(plan.orders.length);
    for (const planned of plan.orders)
      expect(
        asStored(
          orderRows.find((o) => o.id === planned.id)!,
          planned,
        ),
      ).toEqual(planned);
  });

  it("a delivery holding more rows than Postgres binds parameters to a statement is written whole in one go", async () => {
    const prefix = uniqueContainer("many");
    const at = new Date().toISOString();
    // 150 containers with 20 orders each: their order rows alone would bind more than 65,535 values.
    const perContainer = 20;
    const n = Math.ceil(70_000 / (perContainer * Object.keys(getTableColumns(orders)).length));
    const ranges: ChangeRange[] = Array.from({ length: n }, (_, i) => {
      const containerId = `${prefix}-${i}`;
      const made = Array.from(
        { length: perContainer },
        (_, k) =>
          ({
            id: `ord_${containerId}_${k}`,
            containerId,
            status: "closed",
            source: "manual",
            openedAt: at,
            openedBy: "op@fillgrid.test",
            fillAtOpen: 40,
            thresholdAtOpen: 20,
            closedAt: at,
            closedBy: "op@fillgrid.test",
            closeReason: "manual",
            fillAtClose: 40,
            fulfilment: "pending",
            partnerId: null,
            lines: [],
            eta: null,
            vehicle: null,
            deliveryNote: null,
            delivered: [],
            deliveredAt: null,
            fulfilmentReason: null,
            fulfilmentAt: null,
            acceptedAt: null,
            dispatchedAt: null,
          }) as Order,
      );
      const events = made.map(
        (order, k) =>
          ({
            id: `evt_${containerId}_${k}`,
            seq: k + 1,
            containerId,
            at,
            actor: { kind: "user", id: "op@fillgrid.test" },
            readingId: null,
            type: "order.opened",
            order,
          }) as ContainerEvent,
      );
      const state = { ...emptyContainer(containerId), fillPercent: 40, version: perContainer };
      return { range: true, containerId, events, state, orders: made.map((order, k) => ({ order, version: k + 1 })) };
    });
    const messages = [{ id: `many-${prefix}`, timestamp: new Date(), attempts: 1, body: { ranges } }];
    const batch = createMessageBatch(PROJECTION_QUEUE, messages);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([messages[0]!.id]);
    expect(result.retryMessages).toEqual([]);
    const ids = ranges.map((r) => r.containerId);
    const written = await db((d) =>
      d
        .select({ id: containers.id, projectedSeq: containers.projectedSeq })
        .from(containers)
        .where(inArray(containers.id, ids)),
    );
    expect(written).toHaveLength(n);
    expect(written.every((r) => r.projectedSeq === perContainer)).toBe(true);
    expect(
      await db((d) => d.select({ id: orders.id }).from(orders).where(inArray(orders.containerId, ids))),
    ).toHaveLength(n * perContainer);
    // These containers exist only in Postgres: gone again, so that reconciliation elsewhere does
    // not ask objects that never held anything.
    await db(async (d) => {
      await d.delete(orders).where(inArray(orders.containerId, ids));
      await d.delete(containerEvents).where(inArray(containerEvents.containerId, ids));
      await d.delete(containers).where(inArray(containers.id, ids));
    });
  });

  it("the same batch delivered twice, and batches out of order, leave exactly the right rows", async () => {
    const id = uniqueContainer("dup");
    const { captured, post } = await captureOutbox(id);
    await json(await post(key, { readings: [reading(id, 20), reading(id, 80), reading(id, 10)] }), 200);
    await json(await post(key, reading(id, 90)), 200);
    expect(captured.map((m) => m.event.type)).toEqual([
      "reading.recorded",
      "order.opened",
      "reading.recorded",
      "order.closed",
      "reading.recorded",
      "order.opened",
      "reading.recorded",
      "order.closed",
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
    expect(await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)))).toHaveLength(
      8,
    );
  });

  it("a range message redelivered, or ranges out of order, change nothing", async () => {
    const id = uniqueContainer("ranges");
    const { ranges, post } = await captureRanges(id);
    await json(await post(key, { readings: [reading(id, 20), reading(id, 80)] }), 200);
    await json(await post(key, reading(id, 10)), 200);
    await json(await post(key, reading(id, 90)), 200);
    expect(ranges.map((r) => r.events.length)).toEqual([4, 2, 2]);
    const snapshot = async () => ({
      container: (await db((d) => d.select().from(containers).where(eq(containers.id, id))))[0],
      orders: await ordersOf(id),
      events: (await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)))).length,
      readings: (await db((d) => d.select().from(readings).where(eq(readings.containerId, id)))).length,
    });
    for (const batch of [[ranges[2]!], [ranges[0]!, ranges[1]!], [ranges[1]!]]) {
      const result = await deliver(batch);
      expect(result.retryMessages).toEqual([]);
    }
    const once = await snapshot();
    expect(once.container).toMatchObject({ fillPercent: 90, version: 8, activeOrderId: null, projectedSeq: 8 });
    expect(once.orders.map((o) => [o.status, o.fillAtClose])).toEqual([
      ["closed", 80],
      ["closed", 90],
    ]);
    expect([once.events, once.readings]).toEqual([8, 4]);
    // All of them again, newest first: the same rows.
    await deliver([...ranges].reverse());
    const { container: again, ...rest } = await snapshot();
    expect(rest).toEqual({ orders: once.orders, events: 8, readings: 4 });
    expect(again).toMatchObject({ fillPercent: 90, version: 8, projectedSeq: 8 });
  });

  it("never shows two active orders for a container, even when an order's close arrives late", async () => {
    const id = uniqueContainer("late");
    const { ranges, post } = await captureRanges(id);
    // Three commits: three ranges, each with its reading and the order event it led to.
    for (const fill of [20, 80, 10]) await json(await post(key, reading(id, fill)), 200);
    const [firstOpen, firstClose, secondOpen] = ranges;
    expect(ranges.map((r) => r.events.map((e) => e.type))).toEqual([
      ["reading.recorded", "order.opened"],
      ["reading.recorded", "order.closed"],
      ["reading.recorded", "order.opened"],
    ]);
    const firstOrder = firstOpen!.orders[0]!.order.id;

    await deliver([firstOpen!]);
    await deliver([secondOpen!]);
    const before = await ordersOf(id);
    expect(before.filter((o) => o.status === "active").map((o) => o.id)).toEqual([secondOpen!.orders[0]!.order.id]);
    expect(before.find((o) => o.id === firstOrder)).toMatchObject({ status: "closed", closedAt: null });

    await deliver([firstClose!]);
    const after = await ordersOf(id);
    expect(after.find((o) => o.id === firstOrder)).toMatchObject({
      status: "closed",
      closeReason: "fill_above_threshold",
      fillAtClose: 80,
    });
    expect(after.filter((o) => o.status === "active")).toHaveLength(1);
  });

  it("an older message never overwrites a newer container state", async () => {
    const id = uniqueContainer("order");
    const { ranges, post } = await captureRanges(id);
    await json(await post(key, reading(id, 60)), 200);
    await json(await post(key, reading(id, 70)), 200);
    expect(ranges.map((r) => r.state.version)).toEqual([1, 2]);
    await deliver([ranges[1]!]);
    await deliver([ranges[0]!]);
    const [row] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(row).toMatchObject({ fillPercent: 70, version: 2 });
  });

  it("a message it cannot use is retried and does not hold back its neighbours", async () => {
    const id = uniqueContainer("poison");
    const { captured, post } = await captureOutbox(id);
    await json(await post(key, reading(id, 30)), 200);
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
    const rows = await db((d) =>
      d
        .select()
        .from(deadLetters)
        .where(eq(deadLetters.messageId, `dl-${marker}`)),
    );
    expect(rows).toHaveLength(1);
  });

  it("a dead letter sent as JSON text is kept as the message it holds, readable and replayable as one", async () => {
    const id = uniqueContainer("dltext");
    const { ranges, post } = await captureRanges(id);
    await json(await post(key, reading(id, 60)), 200);
    const range = ranges[0]!;
    const message = textMessage(JSON.stringify(range));
    const batch = createMessageBatch(DEAD_LETTER_QUEUE, [
      { id: `dl-${id}`, timestamp: new Date(), attempts: 4, body: message.body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`dl-${id}`]);
    const [row] = await db((d) =>
      d
        .select()
        .from(deadLetters)
        .where(eq(deadLetters.messageId, `dl-${id}`)),
    );
    expect(row?.body).toEqual(JSON.parse(message.body));
    expect(row?.poison).toBe(false);
  });
});

describe("the outbox", () => {
  it("commits while a send is on its way go in one range; evicted mid-burst while the queue refuses, the alarm sends the rest from the log, nothing lost or doubled", async () => {
    const id = uniqueContainer("burst");
    const stub = env.CONTAINERS.getByName(id);
    const sent: ChangeRange[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    await watchProjectionQueue(id, async (bodies) => {
      sent.push(...bodies.flatMap(rangesOf));
      // The first send hangs, as a slow queue would, while the burst commits.
      if (sent.length === 1) await held;
      await env.PROJECTION_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: "json" as const })));
    });
    // A new container sends its first events itself; while that send is on its way, so do the next.
    await json(await postReadings(key, reading(id, 70)), 200);
    await Promise.all([71, 72, 73, 74, 75].map(async (fill) => json(await postReadings(key, reading(id, fill)), 200)));
    expect(sent).toHaveLength(1);
    expect(await stub.pendingOutbox()).toBe(6);
    release();
    // The five commits made while the first was on its way: one more range.
    await eventually(async () => ((await stub.pendingOutbox()) === 0 ? true : undefined), 10_000, "the drain");
    expect(sent.map((r) => r.events.length)).toEqual([1, 5]);

    // A second burst while the queue refuses everything (the worker's relay, then the container's own
    // sends), and the object evicted: its in-memory drain is gone, the log and the watermark are not.
    const refusing = await watchProjectionQueue(id, async () => {
      throw new Error("queue unavailable");
    });
    for (const fill of [76, 77, 78]) await json(await refusing.post(key, reading(id, fill)), 200);
    expect(await stub.pendingOutbox()).toBe(3);
    await evictDurableObject(stub);
    // The alarm the failed send left sends the rest from the log, through the real queue.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingOutbox()).toBe(0);
    const rows = await eventually(
      async () => {
        const found = await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)));
        return found.length >= 9 ? found : undefined;
      },
      15_000,
      "every event in Postgres",
    );
    expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const [container] = await db((d) => d.select().from(containers).where(eq(containers.id, id)));
    expect(container).toMatchObject({ fillPercent: 78, version: 9 });
  });

  it("a failing queue send delays nothing, loses nothing, and the alarm sends each event once", async () => {
    const id = uniqueContainer("outbox");
    const stub = env.CONTAINERS.getByName(id);
    let attempts = 0;
    await watchProjectionQueue(id, async () => {
      attempts++;
      throw new Error("queue unavailable");
    });
    const answer = await json<ReadingsAnswer>(
      await postReadings(key, { readings: [reading(id, 15), reading(id, 55)] }),
      200,
    );
    expect(answer.results.map((r: { status: string }) => r.status)).toEqual(["applied", "applied"]);
    await eventually(async () => (attempts > 0 ? true : undefined));
    expect(await stub.pendingOutbox()).toBe(4);

    // Still failing when the alarm fires: nothing lost, tried again later.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(await stub.pendingOutbox()).toBe(4);

    // The queue is back: the next alarm drains the outbox.
    const sent: ChangeRange[] = [];
    await watchProjectionQueue(id, async (bodies) => {
      sent.push(...bodies.flatMap(rangesOf));
      await env.PROJECTION_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: "json" as const })));
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.pendingOutbox()).toBe(0);
    // Four events, handed over as one range message.
    expect(sent.flatMap((m) => m.events.map((e) => e.seq))).toEqual([1, 2, 3, 4]);
    expect(sent).toHaveLength(1);

    const rows = await eventually(
      async () => {
        const found = await db((d) => d.select().from(containerEvents).where(eq(containerEvents.containerId, id)));
        return found.length === 4 ? found : undefined;
      },
      15_000,
      "events in Postgres",
    );
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
    const rows = await db((d) =>
      d
        .select()
        .from(orders)
        .where(and(inArray(orders.containerId, ["nope"]), eq(orders.status, "active"))),
    );
    expect(rows).toEqual([]);
  });
});
