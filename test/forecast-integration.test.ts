// Forecasts and forecast orders through the whole system: readings posted to the edge, the
// container's object, the API, the projection into Postgres, and a partner delivering.
import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { replay } from "../domain/container";
import type { Forecast } from "../domain/forecast";
import { ContainerLog } from "../durable-objects/container-log";
import type { ContainerDO } from "../durable-objects/container";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  eventually,
  json,
  newPartner,
  partnerEvent,
  postReadings,
  uniqueContainer,
  type FleetContainer,
  type Order,
  type OrderAnswer,
  type Page,
  type ReadingsAnswer,
} from "./helpers";
import { DAY, HOUR } from "./support/series";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

const settings = (id: string, body: Record<string, unknown>) =>
  api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: body });

/** Hourly readings ending now: `hours` of them falling `perDay` points a day to `endLevel`. */
function falling(id: string, hours: number, perDay: number, endLevel: number) {
  const now = Date.now();
  return Array.from({ length: hours }, (_, i) => {
    const hoursBefore = hours - 1 - i;
    return {
      containerId: id,
      readingId: `f-${i}`,
      fillPercent: Math.round((endLevel + (perDay * hoursBefore) / 24) * 10) / 10,
      contents: "diesel",
      measuredAt: new Date(now - hoursBefore * HOUR).toISOString(),
    };
  });
}

describe("forecasts", () => {
  it("a container says how fast it empties and when it reaches its threshold, in its API and in the fleet list", async () => {
    const id = uniqueContainer("fc");
    const flat = uniqueContainer("fc-flat");
    await json(await settings(id, { threshold: 30, capacity: 8000, unit: "l" }), 200);
    // 3 days at 6 points a day down to 54: 24 points above the threshold, 4 days to go.
    await json<ReadingsAnswer>(await postReadings(key, { readings: falling(id, 72, 6, 54) }), 200);
    await json<ReadingsAnswer>(await postReadings(key, { readings: falling(flat, 72, 0, 80) }), 200);

    const { container } = await json<{ container: { forecast: Forecast } }>(
      await api(`/v1/containers/${id}`, { token: admin }),
      200,
    );
    const f = container.forecast;
    expect(f).toMatchObject({ status: "ok", readings: 72, unit: "l" });
    expect(f.ratePerDay!).toBeCloseTo(6, 1);
    expect(f.daysToThreshold!).toBeCloseTo(4, 1);
    expect(f.daysOfSupply!).toBeCloseTo(9, 1);
    expect(f.quantityPerDay!).toBeCloseTo(480, -1);
    expect(Date.parse(f.thresholdAtP10!)).toBeLessThanOrEqual(Date.parse(f.thresholdAt!));
    expect(Date.parse(f.thresholdAtP90!)).toBeGreaterThanOrEqual(Date.parse(f.thresholdAt!));
    const flatState = await containerState(flat);
    expect(flatState!.forecast).toMatchObject({ status: "not_falling", thresholdAt: null });

    // Projected: soonest first, and the filter keeps only those forecast to reach it in time.
    const listed = await eventually(async () => {
      const page = await json<Page<"containers", FleetContainer>>(
        await api(`/v1/containers?sort=thresholdAt&runsOutWithinHours=120&limit=500`, { token: admin }),
        200,
      );
      return page.containers.some((c) => c.containerId === id) ? page.containers : undefined;
    });
    expect(listed.find((c) => c.containerId === id)!.forecast).toMatchObject({
      status: "ok",
      thresholdAt: f.thresholdAt,
      daysOfSupply: f.daysOfSupply,
    });
    expect(listed.some((c) => c.containerId === flat)).toBe(false);
    const times = listed.map((c) => Date.parse(c.forecast!.thresholdAt!));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const within3 = await json<Page<"containers", FleetContainer>>(
      await api(`/v1/containers?runsOutWithinHours=72&limit=500`, { token: admin }),
      200,
    );
    expect(within3.containers.some((c) => c.containerId === id)).toBe(false);

    // The cursor of the thresholdAt sort pages through those without a forecast (sorted last) too.
    let cursor: string | null = null;
    const seen: string[] = [];
    do {
      const page: Page<"containers", FleetContainer> = await json(
        await api(`/v1/containers?sort=thresholdAt&limit=200${cursor ? `&cursor=${cursor}` : ""}`, { token: admin }),
        200,
      );
      seen.push(...page.containers.map((c) => c.containerId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toContain(flat);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("refuses settings out of range, naming the field", async () => {
    const id = uniqueContainer("fc");
    const body = await json<{ error: { issues: { path: string; message: string }[] } }>(
      await settings(id, { leadTimeHours: -1, refillRise: 0 }),
      400,
    );
    expect(body.error.issues.map((i) => i.path).sort()).toEqual(["leadTimeHours", "refillRise"]);
    expect(await containerState(id)).toBeNull();
  });

  it("with a lead time, an order opens from the forecast before the level reaches the threshold; a refill closes it", async () => {
    const id = uniqueContainer("fc");
    await json(await settings(id, { threshold: 30, leadTimeHours: 120, capacity: 8000, unit: "l" }), 200);
    const answer = await json<ReadingsAnswer>(await postReadings(key, { readings: falling(id, 72, 6, 54) }), 200);
    const opened = answer.results.map((r) => r.orderOpened).filter((o) => o !== undefined);
    expect(opened).toHaveLength(1);
    const order = opened[0]!;
    expect(order).toMatchObject({ source: "forecast", status: "active", thresholdAtOpen: 30 });
    expect(order.fillAtOpen!).toBeGreaterThan(30);
    expect(order.forecast).toMatchObject({ status: "ok" });
    expect(Date.parse(order.forecast!.thresholdAt!) - Date.now()).toBeLessThanOrEqual(120 * HOUR);
    expect(order.lines).toEqual([{ product: "diesel", quantity: expect.any(Number), unit: "l" }]);

    // Postgres has the order with the forecast it acted on.
    const projected = await eventually(async () => {
      const res = await api(`/v1/orders/${order.id}`, { token: admin });
      return res.status === 200 ? ((await res.json()) as OrderAnswer).order : undefined;
    });
    expect(projected).toMatchObject({ source: "forecast", forecast: { thresholdAt: order.forecast!.thresholdAt } });

    // More readings above the threshold keep it; a refill closes it as refilled.
    const later = new Date(Date.now() + 60_000).toISOString();
    const kept = await json<ReadingsAnswer>(
      await postReadings(key, {
        readings: [{ containerId: id, readingId: "after", fillPercent: 53.8, measuredAt: later }],
      }),
      200,
    );
    expect(kept.results[0]).not.toHaveProperty("orderClosed");
    const refilled = await json<ReadingsAnswer>(
      await postReadings(key, {
        readings: [
          {
            containerId: id,
            readingId: "refill",
            fillPercent: 96,
            measuredAt: new Date(Date.now() + 120_000).toISOString(),
          },
        ],
      }),
      200,
    );
    expect(refilled.results[0]!.orderClosed).toMatchObject({ id: order.id, closeReason: "refilled", fillAtClose: 96 });
    const state = (await containerState(id))!;
    expect(state.activeOrder).toBeNull();
    expect(state.forecast).toMatchObject({ status: "too_few_readings", readings: 1 });

    // The object's log replays to its state, and a restart (its log loaded again) says the same.
    await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO, ctx) => {
      const live = instance.getState();
      expect(replay(id, instance.listEvents(0, 1000)!)).toEqual(live);
      const restarted = new ContainerLog(ctx.storage, ctx.storage.sql, id);
      restarted.load();
      expect(restarted.state).toEqual(live);
    });
  });

  it("a partner's default lead time applies to the containers it serves that set none; a container's own (even 0) wins", async () => {
    const own = uniqueContainer("fc-own");
    const inherits = uniqueContainer("fc-inh");
    await json(await settings(own, { threshold: 30, leadTimeHours: 0 }), 200);
    await json(await settings(inherits, { threshold: 30 }), 200);
    // Two days falling 6 a day to 54: four days to the threshold, inside 120 hours.
    for (const id of [own, inherits]) {
      const first = await json<ReadingsAnswer>(await postReadings(key, { readings: falling(id, 48, 6, 54) }), 200);
      expect(first.results.some((r) => r.orderOpened)).toBe(false);
    }
    await eventually(async () => {
      const res = await api(`/v1/containers?sort=thresholdAt&limit=500`, { token: admin });
      const page = await json<Page<"containers", FleetContainer>>(res, 200);
      return [own, inherits].every((id) => page.containers.some((c) => c.containerId === id)) ? true : undefined;
    });
    const partner = await newPartner({ serves: { containerIds: [own, inherits], contents: [] }, leadTimeHours: 120 });
    const listed = await json<{ partners: { id: string; leadTimeHours: number | null }[] }>(
      await api("/v1/partners", { token: admin }),
      200,
    );
    expect(listed.partners.find((p) => p.id === partner.id)!.leadTimeHours).toBe(120);
    const state = await eventually(async () => {
      const s = await containerState(inherits);
      return s?.partnerLeadTimeHours === 120 ? s : undefined;
    });
    expect(state.leadTimeHours).toBeNull();
    const next = (id: string) =>
      postReadings(key, {
        readings: [{ containerId: id, readingId: "next", fillPercent: 53.9, measuredAt: new Date().toISOString() }],
      });
    expect((await json<ReadingsAnswer>(await next(inherits), 200)).results[0]!.orderOpened).toMatchObject({
      source: "forecast",
    });
    await eventually(async () => ((await containerState(own))?.partnerLeadTimeHours === 120 ? true : undefined));
    expect((await json<ReadingsAnswer>(await next(own), 200)).results[0]).not.toHaveProperty("orderOpened");
    const events = await json<{ events: { type: string; actor: { kind: string; id: string } }[] }>(
      await api(`/v1/containers/${inherits}/events?after=0&limit=500`, { token: admin }),
      200,
    );
    expect(events.events.find((e) => e.type === "settings.changed" && e.actor.kind === "system")).toMatchObject({
      actor: { id: "partner-defaults" },
    });
  });

  it("a partner delivering closes a forecast order like any other", async () => {
    const partner = await newPartner();
    const id = uniqueContainer("fc");
    await json(await settings(id, { threshold: 30, leadTimeHours: 120 }), 200);
    const answer = await json<ReadingsAnswer>(await postReadings(key, { readings: falling(id, 48, 6, 54) }), 200);
    const order = answer.results.find((r) => r.orderOpened)!.orderOpened!;
    // The partner learns of it with the forecast, so it can plan for the expected thresholdAt.
    const sent = await eventually(async () => {
      const received = (await (
        await fetch(`${inject("partnerStandIn").url}/__received?partnerId=${partner.id}`)
      ).json()) as { events: { type: string; orderId: string; data: { order?: Order } }[] };
      return received.events.find((e) => e.type === "order.opened" && e.orderId === order.id);
    }, 20_000);
    expect(sent.data.order).toMatchObject({
      source: "forecast",
      forecast: { thresholdAt: order.forecast!.thresholdAt },
    });
    const delivered = await json<OrderAnswer>(
      await partnerEvent(partner, {
        type: "order.delivered",
        containerId: id,
        orderId: order.id,
        data: { lines: [{ product: "diesel", quantity: 3000, unit: "units" }], deliveryNote: "DN-F1" },
      }),
      200,
    );
    expect(delivered.order).toMatchObject({ source: "forecast", status: "closed", closeReason: "delivered" });
    expect((await containerState(id))!.activeOrder).toBeNull();
  });

  it("a restart rebuilds the forecast from the log as the container had it, four weeks of readings and a refill in it", async () => {
    const id = uniqueContainer("fc");
    await json(await settings(id, { threshold: 20 }), 200);
    const now = Date.now();
    const readings = Array.from({ length: 35 * 12 }, (_, i) => {
      const t = now - (35 * 12 - 1 - i) * 2 * HOUR;
      const day = (t - (now - 35 * DAY)) / DAY;
      // 3 a day with a weekly swing, refilled on day 20.
      const level = day < 20 ? 95 - 3 * day : 97 - 3 * (day - 20);
      return {
        containerId: id,
        readingId: `w-${i}`,
        fillPercent: Math.round((level + Math.sin(i) * 0.8) * 10) / 10,
        measuredAt: new Date(t).toISOString(),
      };
    });
    for (let i = 0; i < readings.length; i += 100)
      await json(await postReadings(key, { readings: readings.slice(i, i + 100) }), 200);
    await runInDurableObject(env.CONTAINERS.getByName(id), (instance: ContainerDO, ctx) => {
      const live = instance.getState()!;
      expect(live.forecast).toMatchObject({ status: "ok" });
      expect(Date.parse(live.forecast!.since)).toBeGreaterThan(now - 15.1 * DAY);
      const restarted = new ContainerLog(ctx.storage, ctx.storage.sql, id);
      restarted.load();
      expect(restarted.state).toEqual(live);
    });
  });
});
