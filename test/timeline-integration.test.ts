// Within a container, time order is log order: event times, openedAt and closedAt come from the
// container's clock at commit, which never reads earlier than its newest event.
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ContainerEvent, Order } from "../domain/container";
import { idTime } from "../domain/ids";
import type { ContainerDO } from "../durable-objects/container";
import { relayRanges } from "../workers/projection/relay";
import { api, deviceKey, json, personWith, postReadings, uniqueContainer } from "./helpers";

let keys: string[];
/** Admins of their own (settings need one), enough that the per-token rate limit is not what is tested. */
let admins: string[];

beforeAll(async () => {
  keys = await Promise.all(Array.from({ length: 12 }, async () => (await deviceKey()).key));
  admins = [];
  for (let i = 0; i < 4; i++) admins.push(await personWith("admin"));
});

function checkTimeline(events: ContainerEvent[], orders: Order[]) {
  const times = events.map((e) => Date.parse(e.at));
  for (let i = 1; i < times.length; i++)
    expect(times[i], `event ${events[i]!.seq}`).toBeGreaterThanOrEqual(times[i - 1]!);
  for (const o of orders) {
    if (o.closedAt) expect(Date.parse(o.closedAt)).toBeGreaterThanOrEqual(Date.parse(o.openedAt));
    expect(idTime(o.id, "ord_")).toBe(Date.parse(o.openedAt));
  }
  const byId = [...orders].sort((a, b) => (a.id < b.id ? -1 : 1));
  const byOpened = [...orders].sort(
    (a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt) || (a.id < b.id ? -1 : 1),
  );
  expect(byId.map((o) => o.id)).toEqual(byOpened.map((o) => o.id));
}

describe("an honest timeline", () => {
  afterEach(() => vi.useRealTimers());

  it("1,000 concurrent mixed operations on one container: times follow the log, orders close after they open", async () => {
    const id = uniqueContainer("timeline");
    await json(await postReadings(keys[0]!, { containerId: id, fillPercent: 60 }), 200);
    const operations: Array<Promise<Response>> = [];
    for (let i = 0; i < 1000; i++) {
      const kind = i % 10;
      const token = admins[i % admins.length]!;
      if (kind < 7) {
        const fill = [10, 90, 50, 30, 70][i % 5]!;
        operations.push(
          postReadings(keys[i % keys.length]!, { containerId: id, readingId: `t-${i}`, fillPercent: fill }),
        );
      } else if (kind === 7) {
        operations.push(api(`/v1/containers/${id}/orders`, { method: "POST", token }));
      } else if (kind === 8) {
        operations.push(api(`/v1/containers/${id}`, { method: "PUT", token, json: { threshold: 40 + (i % 20) } }));
      } else {
        operations.push(
          api(`/v1/containers/${id}`, { token }).then(async (res) => {
            const { container } = (await res.json()) as { container: { activeOrder: Order | null } };
            return container.activeOrder
              ? api(`/v1/containers/${id}/orders/${container.activeOrder.id}/close`, { method: "POST", token })
              : res;
          }),
        );
      }
    }
    const statuses = (await Promise.all(operations)).map((r) => r.status);
    expect(statuses.filter((s) => ![200, 201, 409].includes(s))).toEqual([]);
    // However the storm interleaved, end with orders opened and closed by readings and by hand.
    for (let i = 0; i < 3; i++) {
      await json(await postReadings(keys[0]!, { containerId: id, readingId: `after-${i}-up`, fillPercent: 95 }), 200);
      await json(await postReadings(keys[0]!, { containerId: id, readingId: `after-${i}-down`, fillPercent: 5 }), 200);
      await json(await postReadings(keys[0]!, { containerId: id, readingId: `after-${i}-full`, fillPercent: 95 }), 200);
    }
    await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO) => {
      const events = instance.listEvents(0, 100_000)!;
      expect(events.length).toBeGreaterThan(500);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const orders = instance.listOrders(500, null)!.items;
      expect(orders.filter((o) => o.status === "closed").length).toBeGreaterThanOrEqual(3);
      checkTimeline(events, orders);
    });
  });

  it("a clock that steps back does not make the log run backwards; the reading keeps when it was received", async () => {
    const id = uniqueContainer("clock");
    await json(await postReadings(keys[0]!, { containerId: id, fillPercent: 80 }), 200);
    const stub = env.CONTAINERS.getByName(id);
    const first = await runInDurableObject(stub, (instance: ContainerDO) => instance.listEvents(0, 10)!.at(-1)!);
    const sensorTime = Date.parse(first.at) + 1000;
    // The host clock jumps an hour back, as a misbehaving one might; the sensor's own clock is right.
    const stepBack = Date.parse(first.at) - 3_600_000;
    vi.useFakeTimers({ now: stepBack, toFake: ["Date"] });
    const {
      results: [result],
      relayed,
    } = await runInDurableObject(stub, (instance: ContainerDO) =>
      instance.ingestRelayed(
        [
          {
            readingId: "after-step",
            containerId: id,
            fillPercent: 20,
            measuredAt: sensorTime,
            clockSkewMs: 0,
            fingerprint: "20",
          },
        ],
        { kind: "device", id: "test" },
        stepBack,
      ),
    );
    vi.useRealTimers();
    if (relayed) await relayRanges(env, [{ containerId: id, relayed }]);
    expect(Date.parse(result!.orderOpened!.openedAt)).toBeGreaterThanOrEqual(Date.parse(first.at));
    await runInDurableObject(stub, (instance: ContainerDO) => {
      checkTimeline(instance.listEvents(0, 10)!, instance.listOrders(10, null)!.items);
      // The reading says when the worker received it, by the clock it had.
      expect(instance.listReadings(10, null)!.items.find((r) => r.readingId === "after-step")!.receivedAt).toBe(
        new Date(stepBack).toISOString(),
      );
    });
  });
});
