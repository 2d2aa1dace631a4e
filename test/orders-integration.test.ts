import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { replay, type ContainerEvent, type ContainerState } from "../domain/container";
import { idTime } from "../domain/ids";
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
  type Page,
  type Order,
  type OrderAnswer,
  type ErrorBody,
} from "./helpers";

let key: string;
let operator: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  operator = await personWith("operator");
  admin = await adminToken();
});

const openOrder = (id: string) => api(`/v1/containers/${id}/orders`, { method: "POST", token: operator });
const closeOrder = (id: string, orderId: string) =>
  api(`/v1/containers/${id}/orders/${orderId}/close`, { method: "POST", token: operator });

describe("manual orders", () => {
  it("an operator opens an order (201); a second is refused with 409 and the active order", async () => {
    const id = uniqueContainer();
    await json(await postReadings(key, reading(id, 70)), 200);
    const created = await json<OrderAnswer>(await openOrder(id), 201);
    expect(created.order).toMatchObject({
      containerId: id,
      status: "active",
      source: "manual",
      fillAtOpen: 70,
      fulfilment: "pending",
    });
    expect(created.order.openedBy).toMatch(/^operator/);
    const conflict = await json<ErrorBody>(await openOrder(id), 409);
    expect(conflict.error.code).toBe("order_active");
    expect(conflict.error.order).toEqual(created.order);
  });

  it("a manual order opened above the threshold survives readings above it", async () => {
    const id = uniqueContainer();
    await json(await postReadings(key, reading(id, 70)), 200);
    const { order } = await json<OrderAnswer>(await openOrder(id), 201);
    await json(await postReadings(key, { readings: [reading(id, 85), reading(id, 99)] }), 200);
    expect((await containerState(id))!.activeOrder!.id).toBe(order.id);
  });

  it("close: 200, then 409 when no longer active, 404 when unknown", async () => {
    const id = uniqueContainer();
    const opened = await json<ReadingsAnswer>(await postReadings(key, reading(id, 20)), 200);
    const orderId = opened.results[0]!.orderOpened!.id;
    const closed = await json<OrderAnswer>(await closeOrder(id, orderId), 200);
    expect(closed.order).toMatchObject({ id: orderId, status: "closed", closeReason: "manual", fillAtClose: 20 });
    const again = await json<ErrorBody>(await closeOrder(id, orderId), 409);
    expect(again.error).toMatchObject({ code: "order_not_active", order: { id: orderId, status: "closed" } });
    await json(await closeOrder(id, "ord_01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404);
    const bad = await json<ErrorBody>(await closeOrder(id, "42"), 400);
    expect(bad.error.issues![0]!.path).toBe("orderId");
  });

  it("close with a reason: kept on the order.closed event; an empty or non-JSON reason is refused and closes nothing", async () => {
    const id = uniqueContainer();
    const opened = await json<ReadingsAnswer>(await postReadings(key, reading(id, 20)), 200);
    const orderId = opened.results[0]!.orderOpened!.id;
    const path = `/v1/containers/${id}/orders/${orderId}/close`;
    const empty = await json<ErrorBody>(await api(path, { method: "POST", token: operator, json: { note: " " } }), 400);
    expect(empty.error.issues![0]).toEqual({ path: "note", message: "must not be empty" });
    await json(
      await api(path, { method: "POST", token: operator, body: "why", headers: { "content-type": "text/plain" } }),
      415,
    );
    expect((await containerState(id))!.activeOrder?.id).toBe(orderId);
    await json(await api(path, { method: "POST", token: operator, json: { note: "site closed for winter" } }), 200);
    const events = (await env.CONTAINERS.getByName(id).listEvents(0, 100)) ?? [];
    expect(events.find((e) => e.type === "order.closed")).toMatchObject({
      closeReason: "manual",
      note: "site closed for winter",
    });
  });

  it("the event log names each device key by its label", async () => {
    const id = uniqueContainer();
    const labelled = await json<{ key: string; deviceKey: { id: string } }>(
      await api("/v1/device-keys", {
        method: "POST",
        token: admin,
        json: { label: "north gate sensor", containerId: id },
      }),
      201,
    );
    await json(await postReadings(labelled.key, reading(id, 70)), 200);
    const body = await json<{ events: { actor: { kind: string; id: string } }[]; actors: Record<string, string> }>(
      await api(`/v1/containers/${id}/events`, { token: operator }),
      200,
    );
    expect(body.events[0]!.actor).toEqual({ kind: "device", id: labelled.deviceKey.id });
    expect(body.actors).toEqual({ [labelled.deviceKey.id]: "north gate sensor" });
  });

  it("an order for a container that never reported is 404", async () => {
    await json(await openOrder(uniqueContainer()), 404);
  });

  it("after a manual close, readings below the threshold open nothing until one reads above it", async () => {
    const id = uniqueContainer();
    const opened = await json<ReadingsAnswer>(await postReadings(key, reading(id, 20)), 200);
    await json(await closeOrder(id, opened.results[0]!.orderOpened!.id), 200);
    const stuck = await json<ReadingsAnswer>(
      await postReadings(key, { readings: [reading(id, 19), reading(id, 18), reading(id, 50)] }),
      200,
    );
    expect(stuck.results.every((r) => r.orderOpened === undefined)).toBe(true);
    expect(await containerState(id)).toMatchObject({ activeOrder: null, autoOpenArmed: false });
    const refilled = await json<ReadingsAnswer>(
      await postReadings(key, { readings: [reading(id, 90), reading(id, 30)] }),
      200,
    );
    expect(refilled.results[1]!.orderOpened).toMatchObject({ source: "auto", fillAtOpen: 30 });
  });

  it("settings change the threshold the next reading is judged against", async () => {
    const id = uniqueContainer();
    const updated = await json<{ container: ContainerState }>(
      await api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { threshold: 20, capacity: 12000, name: "Depot 4" },
      }),
      200,
    );
    expect(updated.container).toMatchObject({ threshold: 20, capacity: 12000, name: "Depot 4" });
    const r = await json<ReadingsAnswer>(await postReadings(key, reading(id, 25)), 200);
    expect(r.results[0]!.orderOpened).toBeUndefined();
    const r2 = await json<ReadingsAnswer>(await postReadings(key, reading(id, 19)), 200);
    expect(r2.results[0]!.orderOpened).toBeDefined();
  });

  it("lists a container's orders newest first; ids sort by time", async () => {
    const id = uniqueContainer();
    const steps = [20, 80, 20, 80, 20];
    for (const fill of steps) await json(await postReadings(key, reading(id, fill)), 200);
    const page1 = await json<Page<"orders", Order>>(
      await api(`/v1/containers/${id}/orders?limit=2`, { token: admin }),
      200,
    );
    const page2 = await json<Page<"orders", Order>>(
      await api(`/v1/containers/${id}/orders?limit=2&cursor=${page1.nextCursor}`, { token: admin }),
      200,
    );
    const ids = [...page1.orders, ...page2.orders].map((o: { id: string }) => o.id);
    expect(ids).toHaveLength(3);
    expect([...ids].sort().reverse()).toEqual(ids);
    expect(page2.nextCursor).toBeNull();
    const times = ids.map((o) => idTime(o, "ord_"));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(page1.orders[0]!.status).toBe("active");
  });
});

describe("the event log", () => {
  it("records who did what, when and from which reading, and replays to the live state", async () => {
    const id = uniqueContainer();
    const first = reading(id, 30);
    await json(await postReadings(key, first), 200);
    await json(await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold: 40 } }), 200);
    const active = (await containerState(id))!.activeOrder!;
    await json(await closeOrder(id, active.id), 200);
    await json(await postReadings(key, reading(id, 90)), 200);
    await json(await openOrder(id), 201);

    const { events } = await json<{ events: ContainerEvent[] }>(
      await api(`/v1/containers/${id}/events`, { token: admin }),
      200,
    );
    expect(events.map((e) => e.type)).toEqual([
      "reading.recorded",
      "order.opened",
      "settings.changed",
      "order.closed",
      "reading.recorded",
      "order.opened",
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[1]).toMatchObject({ actor: { kind: "device" }, readingId: first.readingId });
    expect(events[2]).toMatchObject({
      actor: { kind: "user", id: expect.stringMatching(/^admin/) },
      changes: { threshold: 40 },
      previous: { threshold: 50 },
    });
    expect(events[3]).toMatchObject({ actor: { kind: "user" }, closeReason: "manual" });
    expect(events.every((e) => !Number.isNaN(Date.parse(e.at)))).toBe(true);

    const live = await containerState(id);
    expect(replay(id, events)).toEqual(live);
    await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO) => {
      expect(replay(id, instance.listEvents(0, 1000)!)).toEqual(instance.getState());
    });
  });
});
