// What the dashboard's chart and figures read: a container's fill over a range from Postgres,
// downsampled for long ranges, with the threshold and order marks; and the fleet's figures.
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { withDatabase } from "../workers/db/client";
import { adminToken, api, deviceKey, eventually, json, postReadings, uniqueContainer, type ErrorBody } from "./helpers";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

type History = {
  bucketSeconds: number | null;
  threshold: number | null;
  thresholdChanges: { at: string; threshold: number }[];
  points: { at: string; fillPercent: number; min: number; max: number; count: number }[];
  orders: { id: string; openedAt: string; closedAt: string | null }[];
};
const history = (id: string, query: string) => api(`/v1/containers/${id}/history?${query}`, { token: admin });

describe("GET /v1/containers/{containerId}/history", () => {
  const id = uniqueContainer("chart");
  const start = Date.now() - 10 * 3600_000;
  // 200 readings, one every 3 minutes over the last 10 hours: a fill that falls and is refilled.
  const fills = Array.from({ length: 200 }, (_, i) => Math.abs(((i * 2) % 160) - 80) + 10);

  beforeAll(async () => {
    await json(await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold: 40 } }), 200);
    const readings = fills.map((fill, i) => ({
      containerId: id,
      readingId: `h-${i}`,
      fillPercent: fill,
      measuredAt: new Date(start + i * 180_000).toISOString(),
    }));
    await json(await postReadings(key, { readings }), 200);
    await eventually(
      async () => {
        const body = await json<History>(
          await history(id, `from=${new Date(start - 1000).toISOString()}&points=500`),
          200,
        );
        return body.points.length === 200 ? body : undefined;
      },
      20_000,
      "the readings in Postgres",
    );
  });

  it("a range that fits is the readings themselves, with the threshold and the order marks", async () => {
    const body = await json<History>(await history(id, `from=${new Date(start - 1000).toISOString()}&points=500`), 200);
    expect(body.bucketSeconds).toBeNull();
    expect(body.points.map((p) => p.fillPercent)).toEqual(fills);
    expect(body.threshold).toBe(40);
    expect(body.orders.length).toBeGreaterThan(0);
    for (const o of body.orders) expect(o.closedAt === null || o.closedAt >= o.openedAt).toBe(true);
  });

  it("`all` starts at the oldest reading by when it was measured, buffered readings sent later included", async () => {
    const body = await json<History & { from: string }>(await history(id, "all=true&points=500"), 200);
    expect(body.from).toBe(new Date(start).toISOString());
    expect(body.points).toHaveLength(200);
    // A sensor that buffered: its readings measured days before they were received (and before its
    // first event) are all in "all".
    const buffered = uniqueContainer("buffered");
    const measured = Date.now() - 20 * 86_400_000;
    await json(
      await postReadings(key, {
        readings: Array.from({ length: 5 }, (_, i) => ({
          containerId: buffered,
          readingId: `b-${i}`,
          fillPercent: 90 - i,
          measuredAt: new Date(measured + i * 3600_000).toISOString(),
        })),
      }),
      200,
    );
    const all = await eventually(async () => {
      const got = await json<History & { from: string }>(await history(buffered, "all=true"), 200);
      return got.points.length === 5 ? got : undefined;
    });
    expect(all.from).toBe(new Date(measured).toISOString());
    expect((await json<History>(await history(buffered, "points=500"), 200)).points).toEqual([]);
  });

  it("a longer range is downsampled to at most `points` buckets that keep min, max and count", async () => {
    const body = await json<History>(await history(id, `from=${new Date(start - 1000).toISOString()}&points=20`), 200);
    expect(body.bucketSeconds).toBeGreaterThan(0);
    expect(body.points.length).toBeLessThanOrEqual(21);
    expect(body.points.reduce((n, p) => n + p.count, 0)).toBe(200);
    expect(Math.min(...body.points.map((p) => p.min))).toBe(Math.min(...fills));
    expect(Math.max(...body.points.map((p) => p.max))).toBe(Math.max(...fills));
    for (const p of body.points) {
      expect(p.fillPercent).toBeGreaterThanOrEqual(p.min);
      expect(p.fillPercent).toBeLessThanOrEqual(p.max);
    }
  });

  it("the default range is the last 24 hours; a threshold change in it is marked", async () => {
    await json(await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold: 35 } }), 200);
    const body = await eventually(
      async () => {
        const b = await json<History>(await history(id, ""), 200);
        return b.thresholdChanges.some((t) => t.threshold === 35) ? b : undefined;
      },
      20_000,
      "the threshold change in Postgres",
    );
    expect(body.threshold).toBe(35);
    expect(body.points.length).toBe(200);
  });

  it("a range that ends before it starts, or too many points, is a 400 naming the field", async () => {
    const backwards = await json<ErrorBody>(
      await history(id, "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z"),
      400,
    );
    expect(backwards.error.issues![0]).toMatchObject({ path: "from", message: "from must be before to" });
    const many = await json<ErrorBody>(await history(id, "points=100000"), 400);
    expect(many.error.issues![0]).toMatchObject({ path: "points", message: "must be at most 5000" });
  });
});

describe("GET /v1/fleet/summary", () => {
  it("counts containers, those below threshold, active orders, silent sensors and open errors", async () => {
    type Summary = {
      containers: number;
      belowThreshold: number;
      activeOrders: number;
      silent: number;
      openErrors: number;
    };
    const before = await json<Summary>(await api("/v1/fleet/summary", { token: admin }), 200);
    const low = uniqueContainer("sum-low");
    const never = uniqueContainer("sum-never");
    await json(await postReadings(key, { containerId: low, fillPercent: 10 }), 200);
    // Registered by an admin, never heard from: silent.
    await json(
      await api(`/v1/containers/${never}`, {
        method: "PUT",
        token: admin,
        json: { name: "Spare tank", reportIntervalSeconds: 600 },
      }),
      200,
    );
    await json(await api("/v1/diagnostics/fail", { method: "POST", token: admin }), 500);
    await eventually(
      async () => {
        const s = await json<Summary>(await api("/v1/fleet/summary", { token: admin }), 200);
        return s.containers >= before.containers + 2 && s.openErrors >= 1 ? s : undefined;
      },
      20_000,
      "both containers and the failure counted",
    );
    // Other tests move the fleet meanwhile, so each figure is checked against Postgres's own count
    // just before and just after it was asked for; and these two containers are among those counted.
    const counts = async () => {
      const r = (
        await withDatabase(env, (db) =>
          db.execute<{ below: number; active: number; containers: number }>(sql`
            select count(*) filter (where fill_percent < threshold)::int as below,
              count(*) filter (where active_order_id is not null)::int as active, count(*)::int as containers
            from containers`),
        )
      ).rows[0]!;
      return r;
    };
    const lower = await counts();
    const now = await json<Summary>(await api("/v1/fleet/summary", { token: admin }), 200);
    const upper = await counts();
    const within = (v: number, a: number, b: number) =>
      expect(v).toSatisfy((x: number) => x >= Math.min(a, b) && x <= Math.max(a, b));
    within(now.belowThreshold, lower.below, upper.below);
    within(now.activeOrders, lower.active, upper.active);
    within(now.containers, lower.containers, upper.containers);
    // Every page of the list: the other tests' containers share the database, more than a page of them.
    const listed = async (query: string) => {
      const ids: string[] = [];
      for (let cursor: string | null = ""; cursor !== null;) {
        const page: { containers: { containerId: string }[]; nextCursor: string | null } = await json(
          await api(`/v1/containers?${query}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
            token: admin,
          }),
          200,
        );
        ids.push(...page.containers.map((c) => c.containerId));
        cursor = page.nextCursor;
      }
      return ids;
    };
    const ours = await json<{ container: { fillPercent: number; threshold: number; activeOrder: unknown } }>(
      await api(`/v1/containers/${low}`, { token: admin }),
      200,
    );
    expect(ours.container.fillPercent).toBeLessThan(ours.container.threshold);
    expect(ours.container.activeOrder).not.toBeNull();
    expect(await listed(`silentSince=${encodeURIComponent(new Date().toISOString())}`)).toContain(never);
    await json(await api("/v1/fleet/summary"), 401);
  });
});
