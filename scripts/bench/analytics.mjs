// Fleet analytics at fleet size, part of `npm run bench` and runnable alone (`npm run bench:analytics`):
// a fixture of BENCH_ANALYTICS_CONTAINERS containers (default 5,000) with BENCH_ANALYTICS_READINGS
// readings each (default 2,000, one every 20 minutes: 10 million readings over 28 days), their orders
// with the events of each step, loaded straight into Postgres with COPY. The daily rollups are built
// from it by the product's own rebuild (timed), then each analytics question is asked the way the API
// asks it (workers/db/analytics.ts, the same module) and the same question is asked of the raw rows
// (readings; the orders' events among every event), each p50/p95 over BENCH_ANALYTICS_SAMPLES runs (default 20; the raw
// ones BENCH_ANALYTICS_RAW_SAMPLES, default 5), one after the other on one connection.
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { drizzle } from "drizzle-orm/node-postgres";
import { benchDatabaseUrl, importTypeScript, random } from "../lib/bench-support.mjs";
import { startDatabaseStack } from "../lib/database.mjs";

const DAY = 86_400_000;
const EVERY_MINUTES = 20;
const CONTENTS = [
  ["diesel", "l"],
  ["heating-oil", "l"],
  ["grain", "kg"],
  ["pellets", "kg"],
  ["water", "l"],
];
/** Partners as the directory would hold them: one per contents, and one that serves everything. */
const PARTNERS = [
  { id: "p-fuel", containerIds: [], contents: ["diesel", "heating-oil"] },
  { id: "p-agri", containerIds: [], contents: ["grain", "pellets"] },
  { id: "p-any", containerIds: [], contents: [] },
];

/** The analytics queries and the rollups' rebuild, as the worker bundles them. */
const loadQueries = () =>
  importTypeScript(
    "bench-analytics",
    `export * from "./workers/db/analytics.ts"; export { rebuildRollups } from "./workers/db/rollups.ts";`,
  );

const iso = (t) => new Date(t).toISOString();
const round1 = (x) => Math.round(x * 10) / 10;

/** Each container's shape: what it holds, where, how fast it empties. */
function containerOf(i) {
  const rand = random(i + 1);
  const [contents, unit] = CONTENTS[i % CONTENTS.length];
  return {
    id: `c-${String(i).padStart(5, "0")}`,
    contents,
    unit,
    capacity: 1000 + Math.floor(rand() * 29) * 1000,
    lat: 36 + rand() * 24,
    lon: -8 + rand() * 32,
    rate: 0.5 + rand() * 7.5,
    start: 20 + rand() * 75,
    seed: i * 7919 + 3,
  };
}

/** COPY rows from a generator of text lines, in chunks. */
async function copy(client, statement, lines) {
  async function* chunks() {
    let chunk = "";
    for (const line of lines) {
      chunk += line;
      if (chunk.length > 1 << 20) {
        yield chunk;
        chunk = "";
      }
    }
    if (chunk) yield chunk;
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(statement)));
}

/** The fixture: readings, containers with their forecasts, orders and their events. */
async function loadFixture(client, { containers, perContainer, now }) {
  const first = now - perContainer * EVERY_MINUTES * 60_000;
  /** A container's readings: falling at its rate with a weekly pattern and noise, refilled below 15. */
  function* series(c) {
    const rand = random(c.seed);
    let level = c.start;
    for (let k = 0; k < perContainer; k++) {
      const t = first + (k + 1) * EVERY_MINUTES * 60_000;
      const weekday = (Math.floor(t / DAY) + 4) % 7;
      level -= (c.rate * (1 + 0.3 * Math.cos((2 * Math.PI * (weekday - 3)) / 7)) * EVERY_MINUTES) / 1440;
      let rise = null;
      if (level < 15) {
        const to = 88 + rand() * 10;
        rise = round1(to - level);
        level = to;
      }
      yield { k, at: iso(t), level, rise, fill: round1(Math.max(0, Math.min(100, level + (rand() - 0.5) * 2))) };
    }
  }
  const last = new Map();
  function* readingLines() {
    for (let i = 0; i < containers; i++) {
      const c = containerOf(i);
      for (const r of series(c)) {
        yield `${c.id}\tr${r.k}\t${r.at}\t${r.at}\t${r.fill}\t${c.contents}\t${c.lat}\t${c.lon}\t80\t0\tapplied\te-${c.id}-${r.k}\t${r.rise ?? "\\N"}\n`;
        if (r.k === perContainer - 1) last.set(c.id, r);
      }
    }
  }
  // Each reading's event, as a container logs it (the events table holds these beside the orders').
  function* readingEventLines() {
    for (let i = 0; i < containers; i++) {
      const c = containerOf(i);
      for (const r of series(c)) {
        const body = {
          id: `e-${c.id}-${r.k}`,
          seq: r.k + 1,
          containerId: c.id,
          type: "reading.recorded",
          at: r.at,
          actor: { kind: "device", id: "key-bench" },
          readingId: `r${r.k}`,
          outcome: "applied",
          reading: {
            readingId: `r${r.k}`,
            fillPercent: r.fill,
            contents: c.contents,
            location: { lat: c.lat, lon: c.lon },
            battery: 80,
            measuredAt: r.at,
            receivedAt: r.at,
          },
          ...(r.rise !== null ? { refill: { rise: r.rise } } : {}),
        };
        yield `e-${c.id}-${r.k}\t${c.id}\t${r.k + 1}\treading.recorded\t${r.at}\tdevice\tkey-bench\tr${r.k}\t${JSON.stringify(body)}\n`;
      }
    }
  }
  await copy(
    client,
    "COPY readings (container_id, reading_id, measured_at, received_at, fill_percent, contents, lat, lon, battery, clock_skew_ms, status, event_id, refill_rise) FROM STDIN",
    readingLines(),
  );
  await copy(
    client,
    "COPY container_events (id, container_id, seq, type, at, actor_kind, actor_id, reading_id, body) FROM STDIN",
    readingEventLines(),
  );

  // Containers with a forecast from their rate (the model's own output is measured by the backtest;
  // here only its shape matters), a tenth with an active order.
  const orderLines = [];
  const eventLines = [];
  const containerRows = [];
  for (let i = 0; i < containers; i++) {
    const c = containerOf(i);
    const rand = random(c.seed + 1);
    const { fill, at, level } = last.get(c.id);
    const thresholdAt = iso(Date.parse(at) + ((level - 25) / c.rate) * DAY);
    const active = i % 10 === 0 ? `o-${c.id}-active` : null;
    const partner = PARTNERS.find((p) => p.contents.includes(c.contents))?.id ?? "p-any";
    containerRows.push({
      id: c.id,
      threshold: 25,
      capacity: c.capacity,
      unit: c.unit,
      registered_lat: c.lat,
      registered_lon: c.lon,
      fill_percent: fill,
      contents: c.contents,
      lat: c.lat,
      lon: c.lon,
      battery: 80,
      measured_at: at,
      last_seen_at: at,
      auto_open_armed: true,
      active_order_id: active,
      forecast: { status: "ok", asOf: at, ratePerDay: c.rate, thresholdAt },
      threshold_at: thresholdAt,
      version: perContainer,
      projected_seq: perContainer,
    });
    // Eight orders over the period, each through its steps; the active one opened today.
    for (let k = 0; k < 9; k++) {
      const isActive = k === 8;
      if (isActive && !active) break;
      const id = isActive ? active : `o-${c.id}-${k}`;
      const opened = isActive ? now - 2 * 3_600_000 : first + (k + rand()) * ((now - first) / 8.5);
      const accepted = opened + (0.5 + rand() * 3.5) * 3_600_000;
      const dispatched = accepted + (4 + rand() * 26) * 3_600_000;
      const delivered = dispatched + (1 + rand() * 7) * 3_600_000;
      const eta = dispatched + 6 * 3_600_000;
      const cancelled = !isActive && rand() < 0.05;
      const quantity = Math.round(c.capacity * 0.7);
      const lines = JSON.stringify([{ product: c.contents, quantity, unit: c.unit }]);
      orderLines.push(
        [
          id,
          c.id,
          isActive ? "active" : "closed",
          "auto",
          iso(opened),
          "rule",
          isActive ? "accepted" : cancelled ? "cancelled" : "delivered",
          partner,
          lines,
          isActive || cancelled ? "\\N" : iso(eta),
          isActive || cancelled ? "\\N" : iso(delivered),
          iso(accepted),
          isActive || cancelled ? "\\N" : iso(dispatched),
          k + 1,
          isActive ? "\\N" : iso(cancelled ? accepted : delivered),
        ].join("\t") + "\n",
      );
      const steps = isActive
        ? [["accepted", accepted]]
        : cancelled
          ? [
              ["accepted", accepted],
              ["cancelled", accepted],
            ]
          : [
              ["accepted", accepted],
              ["dispatched", dispatched],
              ["delivered", delivered],
            ];
      const events = [["order.opened", opened, { type: "order.opened", order: { id } }]].concat(
        steps.map(([to, t]) => [
          "order.fulfilment_changed",
          t,
          { type: "order.fulfilment_changed", orderId: id, to, changedAt: iso(t), partnerId: partner },
        ]),
      );
      events.forEach(([type, t, body], n) =>
        eventLines.push(
          `e-${id}-${n}\t${c.id}\t${perContainer + k * 4 + n + 1}\t${type}\t${iso(t)}\tpartner\t${partner}\t${JSON.stringify(body).replace(/\\/g, "\\\\")}\n`,
        ),
      );
    }
  }
  const columns = Object.keys(containerRows[0]).join(", ");
  await client.query(
    `insert into containers (${columns}) select ${columns} from jsonb_populate_recordset(null::containers, $1::jsonb)`,
    [JSON.stringify(containerRows)],
  );
  await copy(
    client,
    "COPY orders (id, container_id, status, source, opened_at, opened_by, fulfilment, partner_id, lines, eta, delivered_at, accepted_at, dispatched_at, version, closed_at) FROM STDIN",
    orderLines,
  );
  await copy(
    client,
    "COPY container_events (id, container_id, seq, type, at, actor_kind, actor_id, body) FROM STDIN",
    eventLines,
  );
  return { orders: orderLines.length, events: eventLines.length };
}

// The same questions asked of the raw rows: what the rollups stand in for.
const RAW = {
  consumption: `
    with r as (select container_id, measured_at, fill_percent, contents, refill_rise, (measured_at at time zone 'UTC')::date as day
      from readings where measured_at >= ($1::date - 3)::timestamp at time zone 'UTC' and measured_at < ($2::date + 1)::timestamp at time zone 'UTC'),
    days as (select container_id, day, count(*) as readings, sum(fill_percent) as sum_fill, min(fill_percent) as min_fill, max(fill_percent) as max_fill,
        (array_agg(fill_percent order by measured_at, fill_percent desc))[1] as first_fill,
        (array_agg(coalesce(refill_rise, 0) order by measured_at, fill_percent desc))[1] as first_rise,
        (array_agg(fill_percent order by measured_at desc, fill_percent desc))[1] as last_fill,
        (array_agg(contents order by measured_at desc) filter (where contents is not null))[1] as contents,
        count(refill_rise) as refills, coalesce(sum(refill_rise), 0) as refilled
      from r group by 1, 2),
    d as (select days.*, greatest(0, case when lag(day) over w >= day - 3 then lag(last_fill) over w else first_fill - first_rise end
        - last_fill + refilled) as consumption
      from days window w as (partition by container_id order by day))
    select d.day::text, coalesce(d.contents, c.contents) as key, c.unit, count(*) as containers, sum(d.readings) as readings,
      sum(d.consumption) as consumption, sum(d.consumption * c.capacity / 100) as quantity, sum(d.refills) as refills,
      sum(d.sum_fill) / sum(d.readings) as mean_fill, min(d.min_fill), max(d.max_fill)
    from d join containers c on c.id = d.container_id where d.day >= $1::date
    group by 1, 2, 3 order by 1, 2, 3`,
  // The rate from the last 14 days of readings (least squares), the day the threshold is reached.
  demand: `
    with fit as (select container_id, regr_slope(fill_percent, extract(epoch from measured_at) / 86400) as slope,
        (array_agg(fill_percent order by measured_at desc))[1] as level, max(measured_at) as at
      from readings where measured_at >= now() - interval '14 days' group by 1)
    select greatest(current_date, (f.at + ((f.level - c.threshold) / -f.slope) * interval '1 day')::date)::text as day,
      c.contents, count(*) as containers, sum(c.capacity * (1 - c.threshold / 100)) as quantity
    from fit f join containers c on c.id = f.container_id
    where f.slope < 0 and c.active_order_id is null
      and (f.at + ((f.level - c.threshold) / -f.slope) * interval '1 day')::date < current_date + $1::int
    group by 1, 2 order by 1, 2`,
  fulfilment: `
    with steps as (select body->>'orderId' as order_id,
        min((body->>'changedAt')::timestamptz) filter (where body->>'to' = 'accepted') as accepted_at,
        min((body->>'changedAt')::timestamptz) filter (where body->>'to' = 'dispatched') as dispatched_at,
        min((body->>'changedAt')::timestamptz) filter (where body->>'to' = 'delivered') as delivered_at
      from container_events where type = 'order.fulfilment_changed' group by 1),
    o as (select o.partner_id, o.fulfilment, o.opened_at, s.accepted_at, s.dispatched_at, s.delivered_at,
        coalesce((o.forecast->>'thresholdAt')::timestamptz, o.eta) as due
      from orders o left join steps s on s.order_id = o.id
      where o.opened_at >= ($1::date)::timestamp at time zone 'UTC' and o.opened_at < ($2::date + 1)::timestamp at time zone 'UTC')
    select grouping(partner_id), partner_id, count(*),
      count(*) filter (where fulfilment = 'delivered'), count(*) filter (where fulfilment in ('rejected', 'cancelled')),
      percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', accepted_at - opened_at) / 3600),
      percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', dispatched_at - accepted_at) / 3600),
      percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', delivered_at - dispatched_at) / 3600),
      percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', delivered_at - opened_at) / 3600),
      count(*) filter (where delivered_at <= due), count(*) filter (where delivered_at is not null and due is not null)
    from o group by grouping sets ((partner_id), ())`,
};

async function timed(samples, work) {
  const times = [];
  await work(); // warm: plans and the first pages read
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)];
  return { samples, p50ms: at(0.5), p95ms: at(0.95) };
}

export async function benchAnalytics({
  databaseUrl,
  containers = Number(process.env.BENCH_ANALYTICS_CONTAINERS ?? 5000),
  perContainer = Number(process.env.BENCH_ANALYTICS_READINGS ?? 2000),
  samples = Number(process.env.BENCH_ANALYTICS_SAMPLES ?? 20),
  rawSamples = Number(process.env.BENCH_ANALYTICS_RAW_SAMPLES ?? 5),
} = {}) {
  const database = await startDatabaseStack({ databaseUrl, dataDir: null });
  const pool = new pg.Pool({ connectionString: database.url, max: 1 });
  const client = await pool.connect();
  try {
    const q = await loadQueries();
    const now = Date.now();
    const t0 = performance.now();
    // A bulk load: the indexes of the big tables are built after their rows are in, as a restore does.
    const bulk = ["readings", "container_events"];
    const constraints = (
      await client.query(
        `select conrelid::regclass::text as t, conname, pg_get_constraintdef(oid) as def from pg_constraint
         where conrelid::regclass::text = any($1) and contype in ('p', 'u')`,
        [bulk],
      )
    ).rows;
    const indexes = (
      await client.query(
        `select indexname, indexdef from pg_indexes where tablename = any($1)
         and indexname not in (select conname from pg_constraint where contype in ('p', 'u'))`,
        [bulk],
      )
    ).rows;
    for (const i of indexes) await client.query(`drop index "${i.indexname}"`);
    for (const c of constraints) await client.query(`alter table ${c.t} drop constraint "${c.conname}"`);
    const loaded = await loadFixture(client, { containers, perContainer, now });
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    for (const c of constraints) await client.query(`alter table ${c.t} add constraint "${c.conname}" ${c.def}`);
    for (const i of indexes) await client.query(i.indexdef);
    await client.query("vacuum analyze");
    const indexMs = performance.now() - t1;
    client.release();

    const db = drizzle(pool);
    const rebuild = await q.rebuildRollups(db);
    await pool.query("analyze container_days");
    const size = (
      await pool.query(`select (select count(*) from readings)::int as readings,
      (select count(*) from container_days)::int as days,
      (select sum(pg_total_relation_size(inhrelid)) from pg_inherits where inhparent = 'readings'::regclass) as readings_bytes, pg_total_relation_size('container_events') as events_bytes, pg_total_relation_size('container_days') as days_bytes`)
    ).rows[0];

    const today = new Date(now).toISOString().slice(0, 10);
    const daysBefore = (n) => new Date(now - n * DAY).toISOString().slice(0, 10);
    const month = { from: daysBefore(29), to: today };
    const questions = [
      {
        name: "consumption, 30 days by contents",
        rollup: () => q.consumptionByDay(db, { ...month, by: "contents" }, PARTNERS),
        raw: () => pool.query(RAW.consumption, [month.from, month.to]),
      },
      {
        name: "consumption, 7 days by partner in a box",
        rollup: () =>
          q.consumptionByDay(
            db,
            { from: daysBefore(6), to: today, by: "partner", box: { minLon: 5, minLat: 45, maxLon: 15, maxLat: 55 } },
            PARTNERS,
          ),
        raw: () => pool.query(RAW.consumption, [daysBefore(6), today]),
      },
      {
        name: "demand, next 14 days",
        rollup: () => q.demandByDay(db, { days: 14, now }, PARTNERS),
        raw: () => pool.query(RAW.demand, [14]),
      },
      {
        name: "fulfilment, 90 days per partner",
        rollup: () => q.fulfilmentTimes(db, { from: daysBefore(89), to: today }),
        raw: () => pool.query(RAW.fulfilment, [daysBefore(89), today]),
      },
    ];
    const results = [];
    for (const question of questions) {
      const rollup = await timed(samples, question.rollup);
      const raw = await timed(rawSamples, question.raw);
      results.push({ name: question.name, rollup, raw, speedup: raw.p50ms / rollup.p50ms });
    }
    return {
      containers,
      readings: size.readings,
      orders: loaded.orders,
      events: loaded.events,
      days: size.days,
      readingsMb: Math.round(Number(size.readings_bytes) / 2 ** 20),
      eventsMb: Math.round(Number(size.events_bytes) / 2 ** 20),
      daysMb: Math.round(Number(size.days_bytes) / 2 ** 20),
      loadMs,
      indexMs,
      rebuildMs: rebuild.ms,
      questions: results,
    };
  } finally {
    await pool.end();
    await database.stop();
  }
}

export function printAnalytics(r) {
  console.log(
    `\nAnalytics on ${r.readings.toLocaleString("en")} readings over ${r.containers.toLocaleString("en")} containers (${r.readingsMb} MB with indexes), ${r.orders.toLocaleString("en")} orders; their events and the readings' in container_events (${r.eventsMb} MB)`,
  );
  console.log(
    `  fixture loaded by COPY in ${(r.loadMs / 1000).toFixed(0)} s, indexed in ${(r.indexMs / 1000).toFixed(0)} s; rollups rebuilt in ${(r.rebuildMs / 1000).toFixed(1)} s: ${r.days.toLocaleString("en")} container days, ${r.daysMb} MB`,
  );
  console.log(
    `  ${"question".padEnd(42)} ${"rollups p50 / p95".padStart(20)} ${"raw rows p50 / p95".padStart(22)}   raw ÷ rollups (p50)`,
  );
  for (const x of r.questions) {
    const pair = (t) => `${t.p50ms.toFixed(0)} / ${t.p95ms.toFixed(0)} ms`;
    console.log(
      `  ${x.name.padEnd(42)} ${pair(x.rollup).padStart(20)} ${pair(x.raw).padStart(22)}   ${x.speedup.toFixed(0).padStart(6)}×`,
    );
  }
  console.log("  (raw: the same question of the readings table, and for fulfilment of the orders' events)");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = await benchDatabaseUrl("fillgrid_bench_analytics");
  printAnalytics(await benchAnalytics({ databaseUrl }));
}
