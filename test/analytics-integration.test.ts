// Fleet analytics through the whole system: readings and partner events in, the projection's daily
// rollups in Postgres, and the three questions answered from them as JSON and as CSV.
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { parse } from "csv-parse/browser/esm/sync";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChangeRange } from "../domain/change-message";
import { csvColumns, type ConsumptionRow, type DemandRow, type FulfilmentRow } from "../domain/analytics";
import { withDatabase } from "../workers/db/client";
import { PROJECTION_QUEUE } from "../workers/queues";
import {
  adminToken,
  api,
  deliverBatch,
  deviceKey,
  eventually,
  json,
  newPartner,
  partnerEvent,
  postReadings,
  rangesOf,
  uniqueContainer,
  watchProjectionQueue,
  type ErrorBody,
  type Order,
  type OrderAnswer,
  type ReadingsAnswer,
} from "./helpers";
import { DAY, HOUR } from "./support/series";

let key: string;
let admin: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

const db = <T>(work: Parameters<typeof withDatabase<T>>[1]) => withDatabase(env, work);
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
/** 06:00 UTC of the day `daysAgo` before today, plus `hours`. */
const at = (daysAgo: number, hours: number) =>
  Date.parse(`${dayOf(Date.now() - daysAgo * DAY)}T06:00:00Z`) + hours * HOUR;

const deliver = (ranges: ChangeRange[]) => deliverBatch(PROJECTION_QUEUE, ranges);

type Day = Record<string, unknown> & { day: string; readings: number; refills: number; refilled: number };

const asDay = (r: Record<string, unknown>): Day => ({
  ...r,
  day: String(r.day),
  readings: Number(r.readings),
  refills: Number(r.refills),
  refilled: Number(r.refilled),
  first_at: new Date(String(r.first_at)).toISOString(),
  last_at: new Date(String(r.last_at)).toISOString(),
});

/** The container's days as the rollups hold them. */
const rollups = (id: string) =>
  db(async (d) =>
    (
      await d.execute(sql`select day::text, contents, readings, min_fill, max_fill, sum_fill, first_at, first_fill,
        last_at, last_fill, refills, refilled, deliveries, anomalies
        from container_days where container_id = ${id} order by day`)
    ).rows.map(asDay),
  );

/** The same, worked out here straight from the readings rows. */
const fromReadings = (id: string) =>
  db(async (d) =>
    (
      await d.execute(sql`
        with r as (select *, (measured_at at time zone 'UTC')::date as day,
            row_number() over (partition by container_id, (measured_at at time zone 'UTC')::date order by measured_at, fill_percent desc) as first,
            row_number() over (partition by container_id, (measured_at at time zone 'UTC')::date order by measured_at desc, fill_percent desc) as last
          from readings where container_id = ${id})
        select day::text, max(contents) filter (where last = 1) as contents, count(*)::int as readings,
          min(fill_percent) as min_fill, max(fill_percent) as max_fill, sum(fill_percent) as sum_fill,
          min(measured_at) as first_at, max(fill_percent) filter (where first = 1) as first_fill,
          max(measured_at) as last_at, max(fill_percent) filter (where last = 1) as last_fill,
          count(refill_rise)::int as refills, coalesce(sum(refill_rise), 0) as refilled,
          (select count(*) from orders o where o.container_id = ${id} and (o.delivered_at at time zone 'UTC')::date = day)::int as deliveries,
          (select count(*) from anomalies a where a.container_id = ${id} and (coalesce(a.measured_at, a.raised_at) at time zone 'UTC')::date = day)::int as anomalies
        from r group by day order by day`)
    ).rows.map(asDay),
  );

describe("daily rollups", () => {
  it("equal what the readings say, however often and in whatever order their messages arrive", async () => {
    const id = uniqueContainer("days");
    await json(
      await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { capacity: 1000, unit: "l" } }),
      200,
    );
    const ranges: ChangeRange[] = [];
    const { post, unwatch } = await watchProjectionQueue(
      id,
      async (bodies) => void ranges.push(...bodies.flatMap(rangesOf)),
    );
    const send = async (readingId: string, fillPercent: number, measuredAt: number) =>
      json<ReadingsAnswer>(
        await post(key, {
          containerId: id,
          readingId,
          fillPercent,
          contents: "diesel",
          measuredAt: new Date(measuredAt).toISOString(),
        }),
        200,
      );
    // Three days ago falling 90 → 80; the day after on to 70, a refill to 95, then 93; yesterday 91 and 90.
    let n = 0;
    for (const [days, hours, fill] of [
      [3, 0, 90],
      [3, 4, 86],
      [3, 8, 82],
      [3, 12, 80],
      [2, 0, 78],
      [2, 4, 74],
      [2, 8, 70],
      [2, 9, 95],
      [2, 12, 93],
      [1, 0, 91],
      [1, 2, 90],
    ] as const)
      await send(`r${++n}`, fill, at(days, hours));
    // Late: a reading of the first day arriving now, in the middle of that day (stale, still counted).
    await send("late", 84, at(3, 6));
    await unwatch();
    expect(ranges.length).toBeGreaterThanOrEqual(12);

    // Newest first, then every message again, then the first half once more.
    await deliver([...ranges].reverse());
    await deliver(ranges);
    await deliver(ranges.slice(0, 6));
    const kept = await rollups(id);
    expect(kept).toEqual(await fromReadings(id));
    expect(kept.map((d) => [d.readings, d.refills])).toEqual([
      [5, 0],
      [5, 1],
      [2, 0],
    ]);
    expect(kept[0]).toMatchObject({ min_fill: 80, max_fill: 90, first_fill: 90, last_fill: 80, sum_fill: 422 });
    // The refill with no order is an anomaly of its day (the reading's), not of the day it arrived.
    expect(kept.map((d) => d.anomalies)).toEqual([0, 1, 0]);

    // Consumption: the day before's end less the day's end plus the refill, in litres at 1000 l.
    // The rise the container saw: from the median of the hours before (78, 74, 70) to 95.
    const rise = Number(kept[1]!.refilled);
    expect(rise).toBe(95 - 74);
    const { rows } = await json<{ rows: ConsumptionRow[] }>(
      await api(`/v1/analytics/consumption?by=container&from=${dayOf(at(3, 0))}&to=${dayOf(at(1, 0))}`, {
        token: admin,
      }),
      200,
    );
    const mine = rows.filter((r) => r.key === id);
    expect(mine.map((r) => r.day)).toEqual(kept.map((d) => d.day));
    expect(mine[0]).toMatchObject({ consumption: 10, quantity: 100, unit: "l", readings: 5, meanFill: 84.4 });
    expect(mine[1]!.consumption).toBeCloseTo(80 - 93 + rise, 6);
    expect(mine[1]!.quantity).toBeCloseTo((80 - 93 + rise) * 10, 3);
    expect(mine[2]).toMatchObject({ consumption: 3, quantity: 30 });

    // A rebuild from the rows writes the same days.
    await json(await api("/v1/projection/rollups/rebuild", { method: "POST", token: admin }), 200);
    expect(await rollups(id)).toEqual(kept);
  });
});

describe("a day's consumption", () => {
  it("begins at the day before's end, up to 3 days back; after a longer silence at the day's own first reading, before its refill", async () => {
    const id = uniqueContainer("gap");
    await json(await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { capacity: 1000 } }), 200);
    // Six days ago falling 60 → 50; silent five days; yesterday refilled to 95 (the first reading), then 93.
    let n = 0;
    for (const [days, hours, fill] of [
      [6, 0, 60],
      [6, 4, 55],
      [6, 8, 50],
      [1, 0, 95],
      [1, 4, 93],
    ] as const)
      await json<ReadingsAnswer>(
        await postReadings(key, {
          containerId: id,
          readingId: `g${++n}`,
          fillPercent: fill,
          contents: "diesel",
          measuredAt: new Date(at(days, hours)).toISOString(),
        }),
        200,
      );
    const path = `/v1/analytics/consumption?by=container&from=${dayOf(at(6, 0))}&to=${dayOf(at(1, 0))}`;
    const rows = await eventually(async () => {
      const body = await json<{ rows: ConsumptionRow[] }>(await api(path, { token: admin }), 200);
      const mine = body.rows.filter((r) => r.key === id);
      return mine.reduce((sum, r) => sum + r.readings, 0) === 5 ? mine : undefined;
    });
    expect(rows.map((r) => [r.day, r.consumption, r.refills, r.quantity])).toEqual([
      [dayOf(at(6, 0)), 10, 0, 100],
      [dayOf(at(1, 0)), 2, 1, 20],
    ]);
  });
});

describe("analytics", () => {
  it("consumption by contents, partner and box; demand from forecasts and open orders; fulfilment times; as JSON and CSV", async () => {
    const contents = `gas-${crypto.randomUUID().slice(0, 6)}`;
    const partner = await newPartner({ serves: { containerIds: [], contents: [contents] } });
    const inBox = uniqueContainer("an-in");
    const outside = uniqueContainer("an-out");
    const settings = (id: string, lat: number, lon: number) =>
      api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { threshold: 30, capacity: 2000, unit: "l", location: { lat, lon } },
      });
    await json(await settings(inBox, 47.4, 8.5), 200);
    await json(await settings(outside, 40.4, -3.7), 200);
    // 3 days of hourly readings falling 6 points a day to 54: the threshold (30) in 4 days.
    const now = Date.now();
    for (const id of [inBox, outside]) {
      const readings = Array.from({ length: 72 }, (_, i) => ({
        containerId: id,
        readingId: `h-${i}`,
        fillPercent: Math.round((54 + (6 * (71 - i)) / 24) * 100) / 100,
        contents,
        measuredAt: new Date(now - (71 - i) * HOUR).toISOString(),
      }));
      await json<ReadingsAnswer>(await postReadings(key, { readings }), 200);
    }
    // A third container runs low: its order goes to the partner, who delivers it.
    const low = uniqueContainer("an-low");
    await json(await settings(low, 47.5, 8.6), 200);
    const opened = await json<ReadingsAnswer>(
      await postReadings(key, { containerId: low, readingId: "l1", fillPercent: 20, contents }),
      200,
    );
    const orderId = opened.results[0]!.orderOpened!.id;
    const eta = new Date(now + DAY).toISOString();
    const step = (type: string, data: Record<string, unknown> = {}) =>
      partnerEvent(partner, { type, containerId: low, orderId, data });

    // Before the partner moves: the open order is demand today, the two forecasts in 4 days.
    const demandPath = `/v1/analytics/demand?days=7&contents=${contents}`;
    const demand = await eventually(async () => {
      const body = await json<{ from: string; rows: DemandRow[] }>(await api(demandPath, { token: admin }), 200);
      const forecast = body.rows.find((r) => r.source === "forecast");
      return forecast?.containers === 2 && body.rows.some((r) => r.source === "order") ? body : undefined;
    });
    expect(demand.from).toBe(dayOf(now));
    const forecast = demand.rows.find((r) => r.source === "forecast")!;
    expect(forecast).toMatchObject({ partnerId: partner.id, contents, unit: "l", quantity: 2 * 1400 });
    // Due the day the container's own forecast reaches the threshold (about 4 days ahead).
    const own = await json<{ container: { forecast: { thresholdAt: string } } }>(
      await api(`/v1/containers/${inBox}`, { token: admin }),
      200,
    );
    expect(forecast.day).toBe(dayOf(Date.parse(own.container.forecast.thresholdAt)));
    expect(Math.abs(Date.parse(own.container.forecast.thresholdAt) - (now + 4 * DAY))).toBeLessThan(6 * HOUR);
    expect(demand.rows.find((r) => r.source === "order")).toMatchObject({
      day: dayOf(now),
      partnerId: partner.id,
      containers: 1,
      quantity: 1600,
      unit: "l",
    });

    await json(await step("order.accepted"), 200);
    await json(await step("order.dispatched", { eta, vehicle: "ZH 1" }), 200);
    await json(
      await step("order.delivered", {
        lines: [{ product: contents, quantity: 1600, unit: "l" }],
        deliveryNote: "DN-1",
      }),
      200,
    );
    const fulfilmentPath = `/v1/analytics/fulfilment?partnerId=${partner.id}`;
    const times = await eventually(async () => {
      const { rows } = await json<{ rows: FulfilmentRow[] }>(await api(fulfilmentPath, { token: admin }), 200);
      return rows.find((r) => r.scope === "partner")?.delivered === 1 ? rows : undefined;
    });
    const mine = times.find((r) => r.scope === "partner")!;
    expect(mine).toMatchObject({
      partnerId: partner.id,
      orders: 1,
      delivered: 1,
      cancelled: 0,
      open: 0,
      onTime: 1,
      onTimeOf: 1,
      onTimeShare: 1,
    });
    for (const step of [
      "openedToAccepted",
      "acceptedToDispatched",
      "dispatchedToDelivered",
      "openedToDelivered",
    ] as const) {
      expect(mine[`${step}P50`]).toBeGreaterThanOrEqual(0);
      expect(mine[`${step}P90`]!).toBeLessThan(1);
    }
    expect(times.find((r) => r.scope === "all")).toMatchObject({ partnerId: null, orders: 1, delivered: 1 });
    const order = await json<{ order: Order }>(await api(`/v1/orders/${orderId}`, { token: admin }), 200);
    expect(order.order.acceptedAt).not.toBeNull();
    expect(Date.parse(order.order.dispatchedAt!)).toBeGreaterThanOrEqual(Date.parse(order.order.acceptedAt!));

    // An order the partner accepted and an operator then closed is still on its way: it is demand,
    // and its container's forecast is not demand as well.
    const manual = await json<OrderAnswer>(
      await api(`/v1/containers/${outside}/orders`, { method: "POST", token: admin }),
      201,
    );
    await json(
      await partnerEvent(partner, { type: "order.accepted", containerId: outside, orderId: manual.order.id, data: {} }),
      200,
    );
    await json(
      await api(`/v1/containers/${outside}/orders/${manual.order.id}/close`, { method: "POST", token: admin }),
      200,
    );
    const onItsWay = await eventually(async () => {
      const body = await json<{ rows: DemandRow[] }>(await api(demandPath, { token: admin }), 200);
      return body.rows.find((r) => r.source === "forecast")?.containers === 1 ? body.rows : undefined;
    });
    expect(onItsWay.find((r) => r.source === "forecast")).toMatchObject({ quantity: 1400 });
    expect(onItsWay.filter((r) => r.source === "order")).toEqual([
      { day: dayOf(now), partnerId: partner.id, contents, unit: "l", source: "order", containers: 1, quantity: 920 },
    ]);

    // Consumption: by partner, every container it serves; in the box, only the two inside it.
    const consumptionPath = (q: string) => `/v1/analytics/consumption?contents=${contents}&${q}`;
    const byPartner = await eventually(async () => {
      const { rows } = await json<{ rows: ConsumptionRow[] }>(
        await api(consumptionPath("by=partner"), { token: admin }),
        200,
      );
      return rows.some((r) => r.deliveries === 1) ? rows : undefined;
    });
    expect(new Set(byPartner.map((r) => r.key))).toEqual(new Set([partner.id]));
    expect(byPartner.reduce((sum, r) => sum + r.readings, 0)).toBe(72 * 2 + 1);
    const total = byPartner.reduce((sum, r) => sum + r.consumption, 0);
    // Two containers falling 71 hours at 6 a day (the third has one reading: nothing consumed).
    expect(total).toBeCloseTo(2 * 6 * (71 / 24), 0);
    const boxed = await json<{ rows: ConsumptionRow[] }>(
      await api(consumptionPath("by=container&box=8,47,9,48"), { token: admin }),
      200,
    );
    expect(new Set(boxed.rows.map((r) => r.key))).toEqual(new Set([inBox, low]));

    // CSV: by format or by Accept, the header the columns, a line per row.
    for (const init of [
      { path: consumptionPath("by=container&format=csv"), accept: undefined },
      { path: consumptionPath("by=container"), accept: "text/csv" },
    ]) {
      const res = await api(init.path, { token: admin, ...(init.accept ? { headers: { Accept: init.accept } } : {}) });
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("Content-Disposition")).toMatch(/^attachment; filename="consumption-.*\.csv"$/);
      const [header, ...lines] = parse(await res.text()) as string[][];
      expect(header).toEqual(csvColumns.consumption);
      expect(lines.length).toBe(
        boxed.rows.length +
          (
            await json<{ rows: ConsumptionRow[] }>(
              await api(consumptionPath("by=container&box=-4,40,-3,41"), { token: admin }),
              200,
            )
          ).rows.length,
      );
    }
    const demandCsv = parse(await (await api(`${demandPath}&format=csv`, { token: admin })).text()) as string[][];
    expect(demandCsv[0]).toEqual(csvColumns.demand);
    const fulfilmentCsv = parse(
      await (await api(`${fulfilmentPath}&format=csv`, { token: admin })).text(),
    ) as string[][];
    expect(fulfilmentCsv[0]).toEqual(csvColumns.fulfilment);
    expect(fulfilmentCsv.slice(1).map((line) => line.slice(0, 2))).toEqual([
      ["partner", partner.id],
      ["all", ""],
    ]);
  });

  it("fulfilment's p50 and p90 interpolate between the orders' times; on time is delivered by the due time", async () => {
    const partner = await newPartner();
    const containerId = uniqueContainer("an-ful");
    // Five delivered orders opened yesterday: accepted after 1, 2, 3, 4 and 10 hours, each dispatched
    // 2 hours later and delivered 5 hours after that; due at the ETA, which the last one missed.
    const acceptedAfter = [1, 2, 3, 4, 10];
    await db((d) =>
      d.execute(sql`insert into orders (id, container_id, status, source, opened_at, opened_by, fulfilment,
          partner_id, eta, accepted_at, dispatched_at, delivered_at, closed_at, version)
        select 'ord_' || ${containerId} || '_' || h, ${containerId}, 'closed', 'auto', o, 'rule:threshold',
          'delivered', ${partner.id}, o + interval '15 hours', o + h * interval '1 hour',
          o + (h + 2) * interval '1 hour', o + (h + 7) * interval '1 hour', o + (h + 7) * interval '1 hour', 4
        from unnest(${`{${acceptedAfter.join(",")}}`}::float8[]) h, (select ${new Date(at(1, 0)).toISOString()}::timestamptz as o) x`),
    );
    const { rows } = await json<{ rows: FulfilmentRow[] }>(
      await api(`/v1/analytics/fulfilment?partnerId=${partner.id}`, { token: admin }),
      200,
    );
    expect(rows.find((r) => r.scope === "partner")).toEqual({
      scope: "partner",
      partnerId: partner.id,
      orders: 5,
      delivered: 5,
      cancelled: 0,
      open: 0,
      // Sorted 1, 2, 3, 4, 10: the median is the third; the 90th percentile lies 0.6 of the way from 4 to 10.
      openedToAcceptedP50: 3,
      openedToAcceptedP90: 7.6,
      acceptedToDispatchedP50: 2,
      acceptedToDispatchedP90: 2,
      dispatchedToDeliveredP50: 5,
      dispatchedToDeliveredP90: 5,
      openedToDeliveredP50: 10,
      openedToDeliveredP90: 14.6,
      onTime: 4,
      onTimeOf: 5,
      onTimeShare: 0.8,
    });
  });

  it("refuses a question it cannot answer, naming the parameter", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["/v1/analytics/consumption?from=2026-03-10&to=2026-03-01", "from", /not be after to/],
      ["/v1/analytics/consumption?from=2020-01-01&to=2026-03-01", "from", /at most 366 days/],
      ["/v1/analytics/consumption?from=2026-02-30", "from", /date that exists/],
      ["/v1/analytics/consumption?box=8,47,9", "box", /minLon,minLat,maxLon,maxLat/],
      ["/v1/analytics/consumption?by=region", "by", /must be one of/],
      ["/v1/analytics/demand?days=30", "days", /at most 14/],
      ["/v1/analytics/fulfilment?to=yesterday", "to", /YYYY-MM-DD/],
      ["/v1/analytics/fulfilment?format=xml", "format", /must be one of/],
      ["/v1/analytics/consumption?box=,,,", "box", /four numbers/],
      ["/v1/analytics/consumption?from=0000-01-01&to=0000-12-31", "from", /1970-01-01 or later/],
      ["/v1/analytics/consumption?by=", "by", /must be one of/],
      ["/v1/analytics/demand?partnerId=nobody-at-all", "partnerId", /is not a partner/],
      ["/v1/analytics/fulfilment?partnerId=nobody-at-all", "partnerId", /is not a partner/],
      ["/v1/projection/rollups/rebuild?from=2026-02-30", "from", /date that exists/],
    ];
    for (const [path, field, message] of cases) {
      const method = path.includes("/rebuild") ? "POST" : "GET";
      const body = await json<ErrorBody>(await api(path, { method, token: admin }), 400);
      expect(body.error.issues?.[0]?.path, path).toBe(field);
      expect(body.error.issues?.[0]?.message, path).toMatch(message);
    }
    const viewer = await api("/v1/analytics/consumption");
    expect(viewer.status).toBe(401);
  });
});
