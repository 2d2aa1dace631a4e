import { describe, expect, it } from "vitest";
import type { ChangeMessage } from "../domain/change-message";
import { emptyContainer, type ContainerEvent, type Order } from "../domain/container";
import { getTableColumns } from "drizzle-orm";
import { containers, orders } from "../workers/db/schema";
import { byContainers, planProjection } from "../workers/projection/plan";
import { fullSweepPerSecond, reconcileEveryMs } from "../domain/reconciliation";

function message(
  seq: number,
  fill: number,
  order: Order | null = null,
  type: ContainerEvent["type"] = "reading.recorded",
): ChangeMessage {
  const state = { ...emptyContainer("tank-1"), fillPercent: fill, version: seq, location: { lat: 1, lon: 2 } };
  const base = {
    id: `evt_${seq}`,
    seq,
    containerId: "tank-1",
    at: "2026-01-01T00:00:00.000Z",
    actor: { kind: "device" as const, id: "k" },
    readingId: `r${seq}`,
  };
  const event = (
    type === "reading.recorded"
      ? {
          ...base,
          type,
          outcome: "applied",
          reading: {
            readingId: `r${seq}`,
            fillPercent: fill,
            location: { lat: 1, lon: 2 },
            measuredAt: base.at,
            receivedAt: base.at,
          },
        }
      : { ...base, type, order }
  ) as ContainerEvent;
  return { event, state, order };
}

describe("planning a projection batch", () => {
  it("keeps the newest container state whatever the order of messages", () => {
    const plan = planProjection([message(3, 30), message(1, 10), message(2, 20)]);
    expect(plan.containers).toHaveLength(1);
    expect(plan.containers[0]).toMatchObject({ id: "tank-1", fillPercent: 30, version: 3, lat: 1, lon: 2 });
    expect(plan.events.map((e) => e.readingId).sort()).toEqual(["r1", "r2", "r3"]);
    expect(plan.events.map((e) => e.seq).sort()).toEqual([1, 2, 3]);
  });

  it("keeps each order at the version of the newest event that touched it", () => {
    const open = { id: "ord_1", status: "active" } as Order;
    const closed = { id: "ord_1", status: "closed" } as Order;
    const plan = planProjection([message(4, 60, closed, "order.closed"), message(2, 20, open, "order.opened")]);
    // An order stored before lines and partners were kept gets their defaults.
    expect(plan.orders).toEqual([
      {
        ...closed,
        partnerId: null,
        lines: [],
        eta: null,
        vehicle: null,
        deliveryNote: null,
        delivered: [],
        deliveryRevision: 0,
        deliveredAt: null,
        fulfilmentReason: null,
        fulfilmentAt: null,
        acceptedAt: null,
        dispatchedAt: null,
        thresholdAtOpen: null,
        // Only an order the forecast opened carries one.
        forecast: null,
        version: 4,
      },
    ]);
    expect(plan.events.map((e) => e.type)).toEqual(["order.closed", "order.opened"]);
  });

  it("every order row carries its delivery revision, so a corrected order and an ordinary one write in one batch", () => {
    const corrected = { id: "ord_1", status: "closed", deliveryRevision: 1 } as Order;
    const ordinary = { id: "ord_2", status: "active" } as Order;
    const plan = planProjection([message(2, 20, corrected, "order.closed"), message(3, 30, ordinary, "order.opened")]);
    // The writer makes one column list from the rows: a column one row lacks would be null in it.
    expect(plan.orders.map((o) => [o.id, o.deliveryRevision])).toEqual([
      ["ord_1", 1],
      ["ord_2", 0],
    ]);
  });

  it("the same message twice plans one row each", () => {
    const m = message(1, 10);
    const plan = planProjection([m, m]);
    expect([plan.containers.length, plan.events.length]).toEqual([1, 1]);
  });
});

describe("splitting a batch by container", () => {
  const of = (containerId: string, seq: number): ChangeMessage => {
    const m = message(seq, 50);
    return { ...m, event: { ...m.event, containerId }, state: { ...m.state, containerId } };
  };

  it("keeps each container's changes together and in order, each part within `max` bound values", () => {
    const changes = [of("a", 1), of("b", 1), of("a", 2), of("c", 1), of("d", 1), of("c", 2), of("e", 1)];
    // A container without orders weighs its row's columns: room for two of them in a part.
    const perContainer = Object.keys(getTableColumns(containers)).length;
    const parts = byContainers(changes, 2 * perContainer);
    expect(parts.map((p) => p.map((m) => `${m.event.containerId}${m.event.seq}`))).toEqual([
      ["a1", "a2", "b1"],
      ["c1", "c2", "d1"],
      ["e1"],
    ]);
    expect(parts.flat()).toHaveLength(changes.length);
    expect(byContainers([], 100)).toEqual([]);
  });

  it("counts the orders a container's changes carry: one with many orders fills a part of its own", () => {
    const order = (id: string) => ({ id }) as Order;
    const withOrders = Array.from({ length: 30 }, (_, i) => ({ ...of("busy", i + 1), order: order(`ord_${i}`) }));
    const parts = byContainers(
      [of("quiet", 1), ...withOrders, of("other", 1)],
      20 * Object.keys(getTableColumns(orders)).length,
    );
    expect(parts.map((p) => [...new Set(p.map((m) => m.event.containerId))])).toEqual([["quiet"], ["busy"], ["other"]]);
  });
});

describe("reconciliation settings", () => {
  it("the interval and a full sweep's pace come from their settings, with the defaults for what is missing or not a positive number", () => {
    expect(reconcileEveryMs("600")).toBe(600_000);
    expect(reconcileEveryMs("5")).toBe(5_000);
    for (const bad of [undefined, "", "0", "-1", "ten"]) expect(reconcileEveryMs(bad)).toBe(600_000);
    expect(fullSweepPerSecond("200")).toBe(200);
    for (const bad of [undefined, "0", "fast"]) expect(fullSweepPerSecond(bad)).toBe(500);
  });
});
