// Archival through the runtime, against the real PostgreSQL: a month past READINGS_HOT_DAYS waits
// until every one of its readings' events is in the backup, then leaves as Parquet (readable back to
// the same rows), the containers drop their own old reading rows, the month's partition goes, and a
// container's history across the boundary reads as it did before. A run stopped after any step
// picks up where it stood; the projection's full sweep does not ask for the archived rows again.
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { readingsFromParquet } from "../workers/archive/parquet";
import { ensurePartitions, runArchival } from "../workers/archive/job";
import { takeHourlyBackup } from "../workers/backups";
import { withDatabase } from "../workers/db/client";
import { BACKUP_QUEUE } from "../workers/queues";
import {
  adminToken,
  logAsRange,
  api,
  containerHoldings,
  deliverBatch,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
} from "./helpers";

const DAY = 24 * 3600_000;
// The archived month, long before anything another test writes; "now" puts it just past 400 days.
const MONTH = "2024-03-01";
const NEXT = Date.parse("2024-04-01T00:00:00Z");
const NOW = NEXT + 400 * DAY + 5 * DAY;

let key: string;
let admin: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
  // As migration 0010 made for a database that held readings of that month: its own partition.
  await withDatabase(env, (db) =>
    db.execute(
      sql.raw(`create table if not exists readings_2024_03 partition of readings
      for values from ('2024-03-01T00:00:00Z') to ('2024-04-01T00:00:00Z')`),
    ),
  );
});

const q = <T extends Record<string, unknown>>(query: ReturnType<typeof sql>) =>
  withDatabase(env, async (db) => (await db.execute<T>(query)).rows);

/** Readings every 6 hours from `start`, `n` of them, falling slowly with some wobble. */
function series(containerId: string, start: number, n: number, from = 90) {
  return Array.from({ length: n }, (_, i) =>
    reading(containerId, Math.round((from - i * 0.4 + Math.sin(i) * 2) * 100) / 100, {
      readingId: `${containerId}-${start + i * 6 * 3600_000}`,
      measuredAt: new Date(start + i * 6 * 3600_000).toISOString(),
    }),
  );
}

async function post(containerId: string, readings: ReturnType<typeof series>) {
  for (let i = 0; i < readings.length; i += 100)
    await json(await postReadings(key, { readings: readings.slice(i, i + 100) }), 200);
}

const monthRows = (id: string) =>
  q<{ reading_id: string; measured_at: string; fill_percent: number; seq: number; status: string }>(
    sql`select reading_id, measured_at, fill_percent, seq, status from readings
        where container_id = ${id} and measured_at >= '2024-03-01T00:00:00Z' and measured_at < '2024-04-01T00:00:00Z'
        order by reading_id`,
  );

const history = async (id: string, points: number) =>
  json<{
    bucketSeconds: number | null;
    points: { at: string; fillPercent: number; min: number; max: number; count: number }[];
  }>(
    await api(`/v1/containers/${id}/history?from=2024-02-20T00:00:00Z&to=2024-04-20T00:00:00Z&points=${points}`, {
      token: admin,
    }),
    200,
  );

const archive = (options: { budgetMs?: number; partRows?: number } = {}) => runArchival(env, { now: NOW, ...options });

describe("archival of old readings", () => {
  it("waits for the backup, then moves a month to Parquet, prunes it everywhere, and history reads the same", async () => {
    const a = uniqueContainer("arc");
    const b = uniqueContainer("arc");
    // 2024-03 (to be archived) and the first days of April (hot) for a; March only for b.
    await post(a, [...series(a, Date.parse("2024-03-01T03:00:00Z"), 124), ...series(a, NEXT + 3 * 3600_000, 40, 40)]);
    await post(b, series(b, Date.parse("2024-03-10T00:00:00Z"), 20));
    await eventually(async () =>
      (await monthRows(a)).length === 124 && (await monthRows(b)).length === 20 ? true : undefined,
    );
    let rowsBefore = [...(await monthRows(a)), ...(await monthRows(b))];
    const raw = await history(a, 5000);
    const bucketed = await history(a, 40);
    expect(raw.bucketSeconds).toBeNull();
    expect(raw.points).toHaveLength(164);
    expect(bucketed.bucketSeconds).not.toBeNull();

    const appliedTotal = async () => {
      const text = await (await api("/metrics", { headers: { authorization: "Bearer test-metrics-token" } })).text();
      return Number(/^fillgrid_readings_total\{outcome="applied"\} (\d+)$/m.exec(text)?.[1]);
    };
    const countedBefore = await appliedTotal();

    // Nothing in the backup: the month waits, and nothing moves.
    const waiting = await archive();
    expect(waiting.join("\n")).toMatch(/2024-03-01: waiting: /);
    expect((await monthRows(a)).length).toBe(124);
    expect((await env.ARCHIVE.list({ prefix: "readings/month=2024-03/" })).objects).toEqual([]);

    // a's events in the bucket and a complete backup; b's not yet: still waiting, and it says on whom.
    await deliverBatch(BACKUP_QUEUE, [await logAsRange(a)]);
    await takeHourlyBackup(env, Date.parse("2024-01-01T00:00:00Z"));
    const onB = await archive();
    expect(onB.join("\n")).toMatch(
      new RegExp(`waiting: 1 container not yet in a backup \\(${b} needs seq \\d+, the backup holds 0\\)`),
    );
    const status = await json<{ months: { month: string; state: string; blocked: string | null }[] }>(
      await api("/v1/archive/status", { token: admin }),
      200,
    );
    expect(status.months.find((m) => m.month === MONTH)).toMatchObject({
      state: "waiting",
      blocked: expect.stringContaining(b),
    });
    expect((await monthRows(b)).length).toBe(20);
    expect((await containerHoldings(b)).readings).toHaveLength(20);

    // b backed up: the month goes, a step at a time (parts of 25 rows, each run stopping after one step).
    await deliverBatch(BACKUP_QUEUE, [await logAsRange(b)]);
    const stateOf = async () =>
      (
        await json<{ months: { month: string; state: string; generation: number; blocked: string | null }[] }>(
          await api("/v1/archive/status", { token: admin }),
          200,
        )
      ).months.find((m) => m.month === MONTH)!;
    const steps: string[] = [];
    let runs = 0;
    const runUntil = async (done: (steps: string[]) => Promise<boolean>) => {
      while (!(await done(steps))) {
        runs++;
        steps.push(...(await archive({ budgetMs: 0, partRows: 25 })));
        expect(runs, steps.join("\n")).toBeLessThan(60);
      }
    };
    await runUntil(async () => (await stateOf()).state === "pruning");
    expect(runs).toBeGreaterThan(5);
    const firstParts = (await env.ARCHIVE.list({ prefix: "readings/month=2024-03/g0-" })).objects;
    expect(firstParts).toHaveLength(Math.ceil(144 / 25));

    // A late March reading for b while the month is on its way. b's container checks its own log
    // against the backup before it prunes, and waits for the new event; once that is backed up, the
    // drop finds a row it did not export, and the export begins again (generation 1).
    await post(b, [reading(b, 33, { readingId: `${b}-late`, measuredAt: "2024-03-28T12:00:00Z" })]);
    await eventually(async () => ((await monthRows(b)).length === 21 ? true : undefined));
    rowsBefore = [...(await monthRows(a)), ...(await monthRows(b))];
    await runUntil(async () => (await stateOf()).blocked !== null);
    expect(await stateOf()).toMatchObject({
      state: "pruning",
      blocked: expect.stringMatching(new RegExp(`^1 container not yet in a backup \\(${b} needs seq`)),
    });
    expect(await monthRows(b)).toHaveLength(21);
    await deliverBatch(BACKUP_QUEUE, [await logAsRange(b)]);
    await runUntil(async (s) => s.some((x) => x.includes("rows changed during the export")));
    expect(await stateOf()).toMatchObject({ state: "waiting", generation: 1 });
    expect((await env.ARCHIVE.list({ prefix: "readings/month=2024-03/g0-" })).objects).toEqual([]);
    await runUntil(async (s) => s.some((x) => x.startsWith(`${MONTH}: archived`)));

    // Postgres: the month's rows and its partition are gone; April stays.
    expect(await monthRows(a)).toEqual([]);
    expect(await monthRows(b)).toEqual([]);
    expect((await q<{ t: string | null }>(sql`select to_regclass('readings_2024_03')::text as t`))[0]!.t).toBeNull();
    expect((await q<{ n: number }>(sql`select count(*)::int as n from readings where container_id = ${a}`))[0]!.n).toBe(
      40,
    );

    // The Parquet parts hold exactly the rows that left, and the parts' checksums match.
    const listed = await json<{
      archivedBefore: string;
      months: { month: string; state: string; rows: number; parts: number; bytes: number; postgresBytes: number }[];
    }>(await api("/v1/archive/status", { token: admin }), 200);
    const month = listed.months.find((m) => m.month === MONTH)!;
    expect(month).toMatchObject({ state: "archived", rows: 145, parts: Math.ceil(145 / 25), generation: 1 });
    expect(listed.archivedBefore).toBe("2024-04-01T00:00:00.000Z");
    const objects = (await env.ARCHIVE.list({ prefix: "readings/month=2024-03/" })).objects;
    expect(objects).toHaveLength(month.parts);
    const archived = [];
    for (const o of objects) {
      const object = await env.ARCHIVE.get(o.key);
      archived.push(...(await readingsFromParquet(await object!.arrayBuffer())));
    }
    expect(archived.map((r) => r.readingId).sort()).toEqual(rowsBefore.map((r) => r.reading_id).sort());
    const byId = new Map(rowsBefore.map((r) => [r.reading_id, r]));
    for (const r of archived) {
      const row = byId.get(r.readingId)!;
      expect(r.measuredAt).toBe(Date.parse(row.measured_at));
      expect(r.fillPercent).toBe(row.fill_percent);
      expect(r.seq).toBe(row.seq);
      expect(r.status).toBe(row.status);
    }
    const download = await api(`/v1/archive/object?key=${encodeURIComponent(objects[0]!.key)}`, { token: admin });
    expect(download.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    expect((await download.arrayBuffer()).byteLength).toBe(objects[0]!.size);

    // The containers dropped their own March rows; their logs (and so a restore) keep every reading.
    const holdings = await containerHoldings(a);
    expect(holdings.readings).toHaveLength(40);
    expect(holdings.readings.every((r) => Date.parse(r.measuredAt) >= NEXT)).toBe(true);
    expect(holdings.events.filter((e) => e.type === "reading.recorded")).toHaveLength(164);
    expect((await containerHoldings(b)).readings).toEqual([]);

    // A reading of the archived month sent now (again, or for the first time) cannot be told from
    // one seen before: it is answered "archived" and recorded nowhere.
    const eventsBefore = holdings.events.length;
    const late = await json<{ results: { status: string }[] }>(
      await postReadings(key, {
        readings: [
          reading(a, 61, {
            readingId: rowsBefore[0]!.reading_id,
            measuredAt: new Date(Date.parse(rowsBefore[0]!.measured_at)).toISOString(),
          }),
          reading(a, 62, { readingId: `${a}-new-in-march`, measuredAt: "2024-03-30T00:00:00Z" }),
        ],
      }),
      200,
    );
    expect(late.results.map((r) => r.status)).toEqual(["archived", "archived"]);
    expect((await containerHoldings(a)).events).toHaveLength(eventsBefore);

    // "All" of a's history begins in the archived month.
    const everything = await json<{ from: string; points: unknown[] }>(
      await api(`/v1/containers/${a}/history?all=true&points=5000`, { token: admin }),
      200,
    );
    expect(everything.from).toBe("2024-03-01T03:00:00.000Z");
    expect(everything.points).toHaveLength(164);

    // Its readings of a range as CSV: the archived ones and the hot ones, oldest first.
    const csv = await api(`/v1/containers/${a}/readings?from=2024-02-20T00:00:00Z&to=2024-04-20T00:00:00Z&format=csv`, {
      token: admin,
    });
    expect(csv.headers.get("content-disposition")).toBe(
      `attachment; filename="readings-${a}-2024-02-20-2024-04-20.csv"`,
    );
    const csvLines = (await csv.text()).trim().split("\n");
    expect(csvLines[0]).toBe("readingId,measuredAt,receivedAt,fillPercent,status,contents,battery,lat,lon,refillRise");
    expect(csvLines).toHaveLength(165);
    const measured = csvLines.slice(1).map((l) => l.split(",")[1]!);
    expect([...measured].sort()).toEqual(measured);
    expect(measured[0]).toBe("2024-03-01T03:00:00.000Z");
    expect(measured.at(-1)! >= "2024-04-01").toBe(true);

    // History across the boundary: the same points as before, raw and in buckets.
    expect(await history(a, 5000)).toEqual(raw);
    const after = await history(a, 40);
    expect(after.bucketSeconds).toBe(bucketed.bucketSeconds);
    expect(after.points.map((p) => [p.at, p.count, p.min, p.max])).toEqual(
      bucketed.points.map((p) => [p.at, p.count, p.min, p.max]),
    );
    after.points.forEach((p, i) => expect(p.fillPercent).toBeCloseTo(bucketed.points[i]!.fillPercent, 9));

    // The projection's full sweep takes the archived rows as archived: nothing is sent again.
    const swept = await json<{ containersBehind: number }>(
      await api("/v1/projection/reconcile?sweep=full", { method: "POST", token: admin }),
      200,
    );
    expect(swept).toBeDefined();
    const [row] = await q<{ projected_seq: number; version: number; gap_since: string | null }>(
      sql`select projected_seq, version, gap_since from containers where id = ${a}`,
    );
    expect(row).toMatchObject({ gap_since: null });
    expect(row!.projected_seq).toBe(row!.version);
    expect(await monthRows(a)).toEqual([]);

    // Everything sent to Postgres again (as after a restore): the March rows come back below the
    // horizon without adding to their days twice or showing twice; the next run archives them again.
    const days = () =>
      q(
        sql`select day::text, readings, sum_fill from container_days where container_id = ${a} and day < '2024-04-01' order by day`,
      );
    const daysBefore = await days();
    expect(daysBefore).toHaveLength(31);
    await env.CONTAINERS.getByName(a).projectionCheck(0);
    await eventually(async () => ((await monthRows(a)).length === 124 ? true : undefined));
    expect(await days()).toEqual(daysBefore);
    expect(await history(a, 5000)).toEqual(raw);
    await runUntil(async (s) => s.filter((x) => x.startsWith(`${MONTH}: archived`)).length === 2);
    expect(await stateOf()).toMatchObject({ state: "archived", generation: 2 });
    expect(await monthRows(a)).toEqual([]);
    expect(await history(a, 5000)).toEqual(raw);
    expect(await days()).toEqual(daysBefore);

    // /metrics still counts the archived readings, and shows the archive.
    const metrics = await (await api("/metrics", { headers: { authorization: "Bearer test-metrics-token" } })).text();
    expect(Number(/^fillgrid_archive_readings (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(145);
    expect(metrics).toMatch(/^fillgrid_archive_months_due \d+$/m);
    // The readings counter did not fall as the month left Postgres (other tests only add to it).
    expect(await appliedTotal()).toBeGreaterThanOrEqual(countedBefore);
  });
});

describe("partitions", () => {
  it("are kept ready from last month to two ahead (the hourly job's first step); rows the default partition holds move into a new month's own", async () => {
    const id = uniqueContainer("part");
    // A row of October 2027, before that month has a partition: it lands in the default one.
    await q(sql`insert into readings (container_id, reading_id, measured_at, received_at, fill_percent, status, event_id, seq)
      values (${id}, 'r1', '2027-10-15T00:00:00Z', '2027-10-15T00:00:00Z', 50, 'applied', 'evt_x', 1)`);
    const where = () =>
      q<{ t: string }>(sql`select tableoid::regclass::text as t from readings where container_id = ${id}`);
    expect(await where()).toEqual([{ t: "readings_default" }]);
    await withDatabase(env, (db) => ensurePartitions(db.$client, Date.parse("2027-11-03T00:00:00Z")));
    expect(await where()).toEqual([{ t: "readings_2027_10" }]);
    const partitions = await q<{ t: string }>(
      sql`select c.relname as t from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'readings'::regclass and c.relname >= 'readings_2027_10' order by 1`,
    );
    expect(partitions.map((p) => p.t)).toEqual([
      "readings_2027_10",
      "readings_2027_11",
      "readings_2027_12",
      "readings_2028_01",
      "readings_default",
    ]);
    await q(sql`delete from readings where container_id = ${id}`);
  });
});

describe("the archive's API", () => {
  it("serves a month's rows as Parquet pages, its parts and a run, to admins only, and names what is wrong", async () => {
    const id = uniqueContainer("arcapi");
    await post(id, series(id, Date.parse("2023-07-02T00:00:00Z"), 60));
    await eventually(async () =>
      (await q<{ n: number }>(sql`select count(*)::int as n from readings where container_id = ${id}`))[0]!.n === 60
        ? true
        : undefined,
    );
    const page = (query: string, token = admin) =>
      api(`/v1/archive/months/2023-07/readings.parquet${query}`, { token });
    const first = await page("?limit=40");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    expect(first.headers.get("x-rows")).toBe("40");
    const cursor = first.headers.get("x-next-cursor")!;
    expect(cursor).toBeTruthy();
    const second = await page(`?limit=40&cursor=${cursor}`);
    expect(second.headers.get("x-rows")).toBe("20");
    expect(second.headers.get("x-next-cursor")).toBeNull();
    // A page that ends exactly at the last row says so: no cursor to an empty page.
    const whole = await page("?limit=60");
    expect([whole.headers.get("x-rows"), whole.headers.get("x-next-cursor")]).toEqual(["60", null]);
    const rows = [
      ...(await readingsFromParquet(await first.arrayBuffer())),
      ...(await readingsFromParquet(await second.arrayBuffer())),
    ];
    expect(rows.filter((r) => r.containerId === id)).toHaveLength(60);
    expect(new Set(rows.map((r) => r.readingId)).size).toBe(rows.length);

    const problem = async (res: Response, status: number) =>
      (await json<{ error: { issues?: { path: string; message: string }[] } }>(res, status)).error.issues?.[0];
    expect(await problem(await api("/v1/archive/months/2023-13/readings.parquet", { token: admin }), 400)).toEqual({
      path: "month",
      message: "must be a month as YYYY-MM",
    });
    expect(await problem(await page("?cursor=nonsense"), 400)).toMatchObject({ path: "cursor" });
    expect(await problem(await api("/v1/archive/object?key=events/x", { token: admin }), 400)).toMatchObject({
      path: "key",
    });
    await json(await api("/v1/archive/object?key=readings/month=1999-01/g0-part-00000.parquet", { token: admin }), 404);
    await json(await api("/v1/archive/months/1999-01/readings.parquet", { token: admin }), 404);
    const operator = await personWith("operator");
    await json(await page("", operator), 403);
    await json(await api("/v1/archive/status", { token: operator }), 403);
    await json(await api("/v1/archive/run", { method: "POST", token: operator }), 403);

    // A run now, as the hourly job's: what it did, and where the archive stands.
    const ran = await json<{ steps: string[]; status: { hotDays: number; firstHotMonth: string } }>(
      await api("/v1/archive/run", { method: "POST", token: admin, json: { budgetSeconds: 5 } }),
      200,
    );
    expect(ran.steps.length).toBeGreaterThan(0);
    expect(ran.status).toMatchObject({ hotDays: 400 });
    expect(ran.status.firstHotMonth).toMatch(/^\d{4}-\d{2}-01$/);
    expect(
      await problem(await api("/v1/archive/run", { method: "POST", token: admin, json: { budgetSeconds: 0 } }), 400),
    ).toMatchObject({
      path: "budgetSeconds",
    });
  });
});
