import { env, runInDurableObject } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../workers/db/client";
import { containers as containerTable, orders as orderTable } from "../workers/db/schema";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  reading,
  type ReadingsAnswer,
  type OrderAnswer,
  type ErrorBody,
  type FleetContainer,
  type Order,
  type Page,
} from "./helpers";

// One fleet of 13 containers holding a contents tag no other test file uses, so the lists can be
// filtered down to exactly these rows.
const tag = `grain-${crypto.randomUUID().slice(0, 8)}`;
const fills = [5, 95, 45, 50, 51, 12, 88, 30, 70, 49, 99, 0, 64];
const ids = fills.map((_, i) => `list-${tag}-${String(i).padStart(2, "0")}`);
let viewer: string;
let orderIds: string[] = [];

beforeAll(async () => {
  const key = (await deviceKey()).key;
  viewer = await personWith("viewer");
  const admin = await adminToken();
  // The last container reports nothing: it exists through its settings alone.
  const reporting = ids.slice(0, -1);
  const answer = await json<ReadingsAnswer>(
    await postReadings(key, { readings: reporting.map((id, i) => reading(id, fills[i]!, { contents: tag })) }),
    200,
  );
  orderIds = answer.results.flatMap((r: { orderOpened?: { id: string } }) => (r.orderOpened ? [r.orderOpened.id] : []));
  await json(
    await api(`/v1/containers/${ids.at(-1)}`, { method: "PUT", token: admin, json: { name: "New tank" } }),
    200,
  );
  await eventually(
    async () => {
      const rows = await withDatabase(env, (db) =>
        db.select().from(containerTable).where(inArray(containerTable.id, ids)),
      );
      const orderRows = await withDatabase(env, (db) =>
        db.select().from(orderTable).where(inArray(orderTable.id, orderIds)),
      );
      return rows.length === ids.length && orderRows.length === orderIds.length ? true : undefined;
    },
    20_000,
    "fleet projected",
  );
});

type Listed = { containers: FleetContainer; orders: Order };

async function pageAll<L extends keyof Listed = "containers">(
  query: string,
  limit: number,
  list: L = "containers" as L,
): Promise<Listed[L][]> {
  const seen: Listed[L][] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const body: Page<L, Listed[L]> = await json<Page<L, Listed[L]>>(
      await api(`/v1/${list}?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
        token: viewer,
      }),
      200,
    );
    expect(body[list].length).toBeLessThanOrEqual(limit);
    seen.push(...body[list]);
    cursor = body.nextCursor;
    if (++pages > 100) throw new Error("paging does not end");
  } while (cursor);
  return seen;
}

const reporting = () => ids.slice(0, -1).map((id, i) => ({ id, fill: fills[i]! }));

describe("GET /v1/containers", () => {
  it("filters by contents and returns state with the active order", async () => {
    const all = await pageAll(`contents=${tag}`, 50);
    expect(all.map((c) => c.containerId)).toEqual(ids.slice(0, -1));
    const first = all[0]!;
    expect(first).toMatchObject({ fillPercent: 5, contents: tag, threshold: 50, location: { lat: 59.33, lon: 18.06 } });
    expect(first.activeOrder).toMatchObject({ status: "active", fillAtOpen: 5, containerId: ids[0] });
    expect(Date.parse(first.lastSeenAt!)).not.toBeNaN();
  });

  for (const limit of [1, 2, 3, 5, 12, 13]) {
    it(`pages by ${limit} without repeating or skipping a row, for every sort`, async () => {
      const expectedById = ids.slice(0, -1);
      expect((await pageAll(`contents=${tag}`, limit)).map((c) => c.containerId)).toEqual(expectedById);
      const byFill = [...reporting()].sort((a, b) => a.fill - b.fill || a.id.localeCompare(b.id)).map((c) => c.id);
      expect((await pageAll(`contents=${tag}&sort=fillPercent`, limit)).map((c) => c.containerId)).toEqual(byFill);
      expect((await pageAll(`contents=${tag}&sort=fillPercent&order=desc`, limit)).map((c) => c.containerId)).toEqual(
        [...byFill].reverse(),
      );
      const bySeen = await pageAll(`contents=${tag}&sort=lastSeenAt&order=desc`, limit);
      expect(new Set(bySeen.map((c) => c.containerId)).size).toBe(expectedById.length);
      const seenTimes = bySeen.map((c) => `${c.lastSeenAt}|${c.containerId}`);
      expect([...seenTimes].sort().reverse()).toEqual(seenTimes);
    });
  }

  it("filters below the threshold and with an active order", async () => {
    const below = reporting()
      .filter((c) => c.fill < 50)
      .map((c) => c.id);
    expect((await pageAll(`contents=${tag}&belowThreshold=true`, 4)).map((c) => c.containerId)).toEqual(below);
    expect((await pageAll(`contents=${tag}&hasActiveOrder=true`, 4)).map((c) => c.containerId)).toEqual(below);
    const notBelow = reporting()
      .filter((c) => c.fill >= 50)
      .map((c) => c.id);
    expect((await pageAll(`contents=${tag}&belowThreshold=false`, 4)).map((c) => c.containerId)).toEqual(notBelow);
    expect((await pageAll(`contents=${tag}&hasActiveOrder=false`, 4)).map((c) => c.containerId)).toEqual(notBelow);
  });

  it("finds containers silent since a time, including those never heard from", async () => {
    const silent = await pageAll(
      `silentSince=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&sort=id`,
      500,
    );
    const mine = silent.map((c) => c.containerId).filter((id) => id.includes(tag));
    expect(mine).toEqual(ids);
    expect(silent.find((c) => c.containerId === ids.at(-1))).toMatchObject({
      name: "New tank",
      lastSeenAt: null,
      fillPercent: null,
    });
    const none = await pageAll(`contents=${tag}&silentSince=2000-01-01T00:00:00Z`, 50);
    expect(none).toEqual([]);
  });

  it("answers the fleet as CSV, every container the filters match, in the order asked for", async () => {
    const res = await api(`/v1/containers?contents=${tag}&sort=fillPercent&order=desc&format=csv`, { token: viewer });
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="fleet.csv"');
    const [head, ...lines] = (await res.text()).trim().split("\n");
    expect(head).toBe(
      "containerId,name,contents,fillPercent,threshold,capacity,unit,remaining,battery,measuredAt,lastSeenAt,lat,lon,activeOrderId,fulfilment,thresholdAt,runsOutAt",
    );
    const expected = reporting().sort((a, b) => b.fill - a.fill || (a.id < b.id ? -1 : 1));
    expect(lines.map((l) => l.split(",")[0])).toEqual(expected.map((r) => r.id));
    expect(lines.map((l) => Number(l.split(",")[3]))).toEqual(expected.map((r) => r.fill));
    // The one below its threshold with an order names it.
    const low = lines.find((l) => l.startsWith(`${ids[0]},`))!;
    expect(low).toContain(`,${orderIds[0]},pending,`);
  });

  it("refuses bad parameters, naming each", async () => {
    const body = await json<ErrorBody>(
      await api(`/v1/containers?belowThreshold=yes&sort=size&limit=0&silentSince=today&colour=red`, { token: viewer }),
      400,
    );
    expect(body.error.issues!.map((i: { path: string }) => i.path).sort()).toEqual([
      "belowThreshold",
      "colour",
      "limit",
      "silentSince",
      "sort",
    ]);
  });

  it("refuses a cursor issued for another sort", async () => {
    const first = await json<Page<"containers", FleetContainer>>(
      await api(`/v1/containers?contents=${tag}&limit=2`, { token: viewer }),
      200,
    );
    const body = await json<ErrorBody>(
      await api(`/v1/containers?contents=${tag}&limit=2&sort=fillPercent&cursor=${first.nextCursor}`, {
        token: viewer,
      }),
      400,
    );
    expect(body.error.issues![0]).toMatchObject({
      path: "cursor",
      message: expect.stringMatching(/issued for sort id:asc/),
    });
  });
});

describe("GET /v1/orders", () => {
  it("filters by status and container, and pages newest first without gaps", async () => {
    const mine = await pageAll(`status=active`, 3, "orders");
    const ours = mine.filter((o) => orderIds.includes(o.id)).map((o) => o.id);
    expect(ours).toEqual([...orderIds].sort().reverse());
    const ids2 = mine.map((o) => o.id);
    expect(new Set(ids2).size).toBe(ids2.length);
    expect([...ids2].sort().reverse()).toEqual(ids2);
    const one = await pageAll(`containerId=${ids[0]}`, 1, "orders");
    expect(one.map((o) => o.id)).toEqual([orderIds[0]]);
    expect(one[0]).toMatchObject({ status: "active", source: "auto", fillAtOpen: 5 });
    expect(await pageAll(`containerId=${ids[0]}&status=closed`, 5, "orders")).toEqual([]);
  });

  it("finds orders by part of a container's id or name, counts what matches, names each container, and answers CSV", async () => {
    type Listing = {
      orders: Order[];
      total: number;
      containers: Record<string, { name: string | null; contents: string | null; fillPercent: number | null }>;
    };
    const part = tag.slice(6).toUpperCase();
    const listed = await json<Listing>(await api(`/v1/orders?container=${part}&limit=2`, { token: viewer }), 200);
    expect(listed.total).toBe(orderIds.length);
    expect(listed.orders).toHaveLength(2);
    for (const o of listed.orders)
      expect(listed.containers[o.containerId]).toMatchObject({ contents: tag, fillPercent: expect.any(Number) });
    // A name matches as well as an id: "New tank" has no order, so nothing; a wildcard is taken as text.
    expect((await json<Listing>(await api(`/v1/orders?container=new%20TANK`, { token: viewer }), 200)).total).toBe(0);
    expect((await json<Listing>(await api(`/v1/orders?container=%25`, { token: viewer }), 200)).total).toBe(0);

    const csv = await api(`/v1/orders?container=${part}&format=csv`, { token: viewer });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[0]).toBe(
      "id,containerId,containerName,contents,status,source,fulfilment,openedAt,fillAtOpen,closedAt,closeReason,fillAtClose,quantity,unit,lines,partnerId,eta,deliveredAt",
    );
    expect(lines).toHaveLength(orderIds.length + 1);
    expect(
      lines
        .slice(1)
        .map((l) => l.split(",")[0])
        .sort(),
    ).toEqual([...orderIds].sort());
    expect(lines[1]).toContain(`,${tag},active,auto,pending,`);
  });

  it("filters by fulfilment", async () => {
    const pending = await pageAll(`containerId=${ids[0]}&fulfilment=pending`, 5, "orders");
    expect(pending.map((o) => o.id)).toEqual([orderIds[0]]);
    expect(await pageAll(`containerId=${ids[0]}&fulfilment=delivered`, 5, "orders")).toEqual([]);
    const bad = await json<ErrorBody>(await api(`/v1/orders?fulfilment=lost`, { token: viewer }), 400);
    expect(bad.error.issues![0]!.path).toBe("fulfilment");
  });

  it("filters by time range on the opening time", async () => {
    const [row] = await withDatabase(env, (db) => db.select().from(orderTable).where(eq(orderTable.id, orderIds[0]!)));
    const at = new Date(row!.openedAt);
    const inside = await pageAll(
      `containerId=${ids[0]}&openedFrom=${encodeURIComponent(at.toISOString())}&openedTo=${encodeURIComponent(new Date(at.getTime() + 1).toISOString())}`,
      5,
      "orders",
    );
    expect(inside.map((o) => o.id)).toEqual([orderIds[0]]);
    const after = await pageAll(
      `containerId=${ids[0]}&openedFrom=${encodeURIComponent(new Date(at.getTime() + 1).toISOString())}`,
      5,
      "orders",
    );
    expect(after).toEqual([]);
  });

  it("a container that never reported and was never set up: its state, readings, orders and events are 404, and asking stores nothing", async () => {
    const unknown = `never-${crypto.randomUUID().slice(0, 8)}`;
    for (const path of ["", "/readings", "/orders", "/events"]) {
      const body = await json<ErrorBody>(await api(`/v1/containers/${unknown}${path}`, { token: viewer }), 404);
      expect(body.error).toEqual({ code: "not_found", message: `container ${unknown} not found` });
    }
    // Its object was started to answer, and has no table, no row: nothing persists of it.
    const tables = await runInDurableObject(env.CONTAINERS.getByName(unknown), (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master").toArray(),
    );
    expect(tables).toEqual([]);
    // A container with settings only exists, and answers.
    expect(
      (await json<{ readings: unknown[] }>(await api(`/v1/containers/${ids.at(-1)}/readings`, { token: viewer }), 200))
        .readings,
    ).toEqual([]);
  });

  it("GET /v1/orders/{id}: the order, 404 unknown, 400 malformed", async () => {
    const body = await json<OrderAnswer>(await api(`/v1/orders/${orderIds[0]}`, { token: viewer }), 200);
    expect(body.order).toMatchObject({ id: orderIds[0], containerId: ids[0], status: "active" });
    await json(await api(`/v1/orders/ord_01ARZ3NDEKTSV4RRFFQ69G5FAV`, { token: viewer }), 404);
    const bad = await json<ErrorBody>(await api(`/v1/orders/123`, { token: viewer }), 400);
    expect(bad.error.issues![0]!.path).toBe("id");
  });

  it("refuses bad parameters, naming each", async () => {
    const body = await json<ErrorBody>(
      await api(`/v1/orders?status=open&openedFrom=monday&containerId=a%20b`, { token: viewer }),
      400,
    );
    expect(body.error.issues!.map((i: { path: string }) => i.path).sort()).toEqual([
      "containerId",
      "openedFrom",
      "status",
    ]);
  });

  it("needs a viewer", async () => {
    await json(await api(`/v1/orders`), 401);
    await json(await api(`/v1/containers`), 401);
  });
});
