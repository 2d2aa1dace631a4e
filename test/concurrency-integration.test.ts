import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, expect, it } from "vitest";
import type { ContainerEvent } from "../domain/container";
import type { ContainerDO } from "../durable-objects/container";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  type ReadingsAnswer,
} from "./helpers";

let key: string;
/** Keys of their own for the storm, so the per-key rate limit (100 requests per 10 s) is not what is tested. */
let stormKeys: string[];
let operator: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  stormKeys = await Promise.all(Array.from({ length: 6 }, async () => (await deviceKey()).key));
  operator = await personWith("operator");
});

/** Deterministic shuffle, so a failure can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = items.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Walk the log: every order opened while none was active, every close closing the active one. */
function assertOneActiveAtMost(events: ContainerEvent[]): number {
  let active: string | null = null;
  let opened = 0;
  for (const e of events) {
    if (e.type === "order.opened") {
      expect(active, `order ${e.order.id} opened while ${active} was active (seq ${e.seq})`).toBeNull();
      active = e.order.id;
      opened++;
    }
    if (e.type === "order.closed") {
      expect(e.orderId).toBe(active);
      active = null;
    }
  }
  return opened;
}

it("hundreds of concurrent readings and manual commands never give a container two active orders", async () => {
  const id = uniqueContainer("race");
  // The container exists before the storm, so manual creates have something to act on.
  await json(await postReadings(key, reading(id, 60)), 200);
  // 300 readings crossing 50 back and forth, sent at once in shuffled order, as singles and small batches.
  const sent = Array.from({ length: 300 }, (_, i) => reading(id, i % 3 === 0 ? 80 : i % 3 === 1 ? 20 : 50));
  const newest = sent[sent.length - 1]!;
  const shuffled = shuffle(sent, 7);
  const requests: Array<Promise<Response>> = [];
  const manual: Array<Promise<Response>> = [];
  // Readings go out in waves without waiting for answers; between waves, operators open an order and
  // close whichever order they last saw active, racing the readings still in flight.
  for (let i = 0; i < shuffled.length;) {
    for (const end = i + 30; i < end && i < shuffled.length;) {
      const size = i % 4 === 0 ? 5 : 1;
      const chunk = shuffled.slice(i, i + size);
      requests.push(
        postReadings(stormKeys[requests.length % stormKeys.length]!, size === 1 ? chunk[0] : { readings: chunk }),
      );
      i += size;
    }
    const seen = (await containerState(id))?.activeOrder;
    if (seen) manual.push(api(`/v1/containers/${id}/orders/${seen.id}/close`, { method: "POST", token: operator }));
    manual.push(api(`/v1/containers/${id}/orders`, { method: "POST", token: operator }));
    manual.push(api(`/v1/containers/${id}/orders`, { method: "POST", token: operator }));
  }
  const answers = await Promise.all([...requests, ...manual]);
  for (const res of answers.slice(0, requests.length)) expect(res.status).toBe(200);
  const manualStatuses = answers.slice(requests.length).map((r) => r.status);
  for (const status of manualStatuses) expect([200, 201, 409]).toContain(status);
  // The race was real: some manual commands won and some lost.
  expect(manualStatuses).toContain(409);
  expect(manualStatuses.filter((s) => s === 200 || s === 201).length).toBeGreaterThan(0);

  await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO, state) => {
    const events = instance.listEvents(0, 100_000)!;
    const opened = assertOneActiveAtMost(events);
    expect(opened).toBeGreaterThan(1);
    // The active order lives in the state; the orders' rows are those that left it, all closed.
    expect(state.storage.sql.exec<{ id: string }>("SELECT id FROM orders WHERE status = 'active'").toArray()).toEqual(
      [],
    );
    const listed = instance.listOrders(1000, null)!.items.filter((o) => o.status === "active");
    expect(listed.length).toBeLessThanOrEqual(1);
    expect(instance.getState()!.activeOrder?.id ?? null).toBe(listed[0]?.id ?? null);
    const recorded = events.filter((e) => e.type === "reading.recorded");
    expect(new Set(recorded.map((e) => e.readingId)).size).toBe(recorded.length);
  });

  const final = await containerState(id);
  expect(final).toMatchObject({
    fillPercent: newest.fillPercent,
    measuredAt: newest.measuredAt,
    lastReadingId: newest.readingId,
  });
});

it("with forecast orders in the mix (a lead time, refills, manual commands), a container never has two active orders", async () => {
  const id = uniqueContainer("race-fc");
  await json(
    await api(`/v1/containers/${id}`, {
      method: "PUT",
      token: await adminToken(),
      json: { threshold: 30, leadTimeHours: 96 },
    }),
    200,
  );
  // 20 days, a reading every 2 hours ending now: falling 8 points a day, refilled to 95 every 6 days
  // (the threshold forecast within 96 hours from about the fourth day after each refill).
  const now = Date.now();
  const sent = Array.from({ length: 240 }, (_, i) => {
    const t = now - (239 - i) * 2 * 3_600_000;
    const day = (i * 2) / 24;
    return reading(id, Math.round((95 - 8 * (day % 6) + (i % 5) * 0.3) * 10) / 10, {
      measuredAt: new Date(t).toISOString(),
    });
  });
  const requests: Array<Promise<Response>> = [];
  const manual: Array<Promise<Response>> = [];
  // Waves of a day's readings, each all at once in shuffled order. In the first and third 6-day
  // cycles an operator opens an order by hand on day 2 and closes the active one on day 3, each
  // racing that day's readings; the other cycles are left to the forecast (it opens an order about
  // day 4) and the refill on day 6 (it closes it). A wave waits for the one before, so the days
  // arrive in order however slow the machine is.
  for (let wave = 0; wave * 12 < sent.length; wave++) {
    const inWave: Array<Promise<Response>> = shuffle(sent.slice(wave * 12, wave * 12 + 12), wave + 1).map((r) =>
      postReadings(stormKeys[requests.length % stormKeys.length]!, r),
    );
    requests.push(...inWave);
    const day = wave % 12;
    if (day === 2) {
      const opening = api(`/v1/containers/${id}/orders`, { method: "POST", token: operator });
      manual.push(opening);
      inWave.push(opening);
    }
    if (day === 3) {
      const seen = (await containerState(id))?.activeOrder;
      if (seen) {
        const closing = api(`/v1/containers/${id}/orders/${seen.id}/close`, { method: "POST", token: operator });
        manual.push(closing);
        inWave.push(closing);
      }
    }
    await Promise.all(inWave);
  }
  const answers = await Promise.all([...requests, ...manual]);
  for (const res of answers.slice(0, requests.length)) expect(res.status).toBe(200);
  for (const res of answers.slice(requests.length)) expect([200, 201, 409]).toContain(res.status);

  await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO, state) => {
    const events = instance.listEvents(0, 100_000)!;
    assertOneActiveAtMost(events);
    const opened = events.filter((e) => e.type === "order.opened");
    // The forecast did open orders, and refills closed some of them.
    expect(opened.filter((e) => e.order.source === "forecast").length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === "order.closed" && e.closeReason === "refilled")).toBe(true);
    // The active order lives in the state; the orders' rows are those that left it, all closed.
    expect(state.storage.sql.exec<{ id: string }>("SELECT id FROM orders WHERE status = 'active'").toArray()).toEqual(
      [],
    );
    const listed = instance.listOrders(1000, null)!.items.filter((o) => o.status === "active");
    expect(listed.length).toBeLessThanOrEqual(1);
    expect(instance.getState()!.activeOrder?.id ?? null).toBe(listed[0]?.id ?? null);
  });
});

it("the same batch sent many times at once applies once; every answer agrees", async () => {
  const id = uniqueContainer("retry");
  const batch = { readings: [reading(id, 10), reading(id, 90), reading(id, 15)] };
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => postReadings(key, batch).then((r) => json<ReadingsAnswer>(r, 200))),
  );
  const firsts = answers.filter((a) => a.results[0]!.status === "applied");
  expect(firsts).toHaveLength(1);
  for (const a of answers) {
    if (a === firsts[0]) continue;
    expect(a.results.map((r) => r.original)).toEqual(firsts[0]!.results);
  }
  await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO) => {
    const events = instance.listEvents(0, 1000)!;
    expect(events.filter((e) => e.type === "reading.recorded")).toHaveLength(3);
    expect(assertOneActiveAtMost(events)).toBe(2);
  });
});
