// Daily rollups per container (the container_days table), kept by the projection and rebuildable.
//
// Readings are added to their day as their rows are first inserted: the writer's readings insert
// returns only the rows it inserted (a reading already there, from a redelivered message, returns
// nothing), and `addReadingsToDays` folds those into their days with sums, counts, minima, maxima
// and newest/oldest values, all of which combine the same in any order and under concurrent
// batches (each upsert adds to the row as it stands). What is counted again rather than added —
// a day's deliveries and anomalies, and a container's days recomputed after a repair — runs under a
// transaction advisory lock of the container (`lockContainers`), so two such counts never miss
// each other's rows.
import type { Database } from "./client";

/** The UTC day of a timestamptz expression, and the start of a date expression's UTC day. */
const dayOf = (at: string) => `(${at} at time zone 'UTC')::date`;
const startOf = (day: string) => `((${day})::timestamp at time zone 'UTC')`;

/**
 * The time before which readings have left Postgres for the archive (workers/archive/job.ts), as an SQL
 * timestamptz: the end of the newest month ever archived, or -infinity. The days before it keep the rows
 * they were summed into; nothing here recomputes them from readings that are gone.
 */
export const ARCHIVED_BEFORE = `(select coalesce((max(month) + interval '1 month') at time zone 'UTC', '-infinity'::timestamptz)
  from archive_months where finished_at is not null)`;

/**
 * The day rows of the readings in `source` (a table or CTE with the readings table's columns), one
 * per container and day. Ties in time go to the higher fill (and the later contents name), so the
 * result does not depend on the order rows arrive in.
 */
function daysOf(source: string, where = "true"): string {
  return `select container_id, ${dayOf("measured_at")} as day,
      (array_agg(contents order by measured_at desc, contents desc) filter (where contents is not null))[1] as contents,
      max(measured_at) filter (where contents is not null) as contents_at,
      count(*) as readings, min(fill_percent) as min_fill, max(fill_percent) as max_fill, sum(fill_percent) as sum_fill,
      min(measured_at) as first_at, (array_agg(fill_percent order by measured_at, fill_percent desc))[1] as first_fill,
      (array_agg(coalesce(refill_rise, 0) order by measured_at, fill_percent desc))[1] as first_rise,
      max(measured_at) as last_at, (array_agg(fill_percent order by measured_at desc, fill_percent desc))[1] as last_fill,
      count(refill_rise) as refills, coalesce(sum(refill_rise), 0) as refilled
    from ${source} where ${where} group by 1, 2`;
}

const DAY_COLUMNS =
  "container_id, day, contents, contents_at, readings, min_fill, max_fill, sum_fill, first_at, first_fill, first_rise, last_at, last_fill, refills, refilled";

/**
 * A data-modifying CTE body adding the readings `inserted` (a CTE returning the rows the readings
 * insert wrote) to their days.
 */
export function addReadingsToDays(inserted: string): string {
  const newer = (at: string, value: string) =>
    `(excluded.${at}, excluded.${value}) > (d.${at}, d.${value}) or d.${at} is null`;
  const older = `(excluded.first_at < d.first_at or (excluded.first_at = d.first_at and excluded.first_fill > d.first_fill) or d.first_at is null)`;
  // A reading below the archive's horizon is in its day already (a replay after a restore brings it
  // back to Postgres until the archive takes it again): it adds nothing.
  return `insert into container_days as d (${DAY_COLUMNS})
    ${daysOf(inserted, `measured_at >= ${ARCHIVED_BEFORE}`)}
    on conflict (container_id, day) do update set
      readings = d.readings + excluded.readings,
      min_fill = least(d.min_fill, excluded.min_fill),
      max_fill = greatest(d.max_fill, excluded.max_fill),
      sum_fill = d.sum_fill + excluded.sum_fill,
      first_fill = case when ${older} then excluded.first_fill else d.first_fill end,
      first_rise = case when ${older} then excluded.first_rise else d.first_rise end,
      first_at = least(d.first_at, excluded.first_at),
      last_fill = case when ${newer("last_at", "last_fill")} then excluded.last_fill else d.last_fill end,
      last_at = greatest(d.last_at, excluded.last_at),
      contents = case when excluded.contents is not null and (${newer("contents_at", "contents")}) then excluded.contents else d.contents end,
      contents_at = greatest(d.contents_at, excluded.contents_at),
      refills = d.refills + excluded.refills,
      refilled = d.refilled + excluded.refilled`;
}

/**
 * A statement taking the transaction advisory locks of the containers `ids` (a query of one text
 * column) in one order everywhere (their keys'), so two transactions never wait on each other in
 * a circle. Held to commit.
 */
export function lockContainers(ids: string): string {
  return `select pg_advisory_xact_lock(k) from (
      select distinct hashtextextended(id, 0) as k from (${ids}) as t(id) order by 1) as keys`;
}

/**
 * A statement counting again the deliveries (orders delivered that day) and anomalies (measured
 * that day: the reading that raised them, else when raised) of each container day in `pairs` (a
 * query of `container_id, day` rows). A day without readings gets a row only when it has either.
 * Run under `lockContainers` of the days' containers.
 */
export function recountDays(pairs: string): string {
  const within = (at: string) => `${at} >= ${startOf("p.day")} and ${at} < ${startOf("p.day + 1")}`;
  return `insert into container_days as d (container_id, day, deliveries, anomalies)
    select * from (
      select p.container_id, p.day,
        (select count(*) from orders o where o.container_id = p.container_id and ${within("o.delivered_at")}) as deliveries,
        (select count(*) from anomalies a where a.container_id = p.container_id
          and ${within("coalesce(a.measured_at, a.raised_at)")}) as anomalies
      from (select distinct container_id, day from (${pairs}) q) p) counted
    where deliveries > 0 or anomalies > 0
      or exists (select 1 from container_days e where e.container_id = counted.container_id and e.day = counted.day)
    on conflict (container_id, day) do update set deliveries = excluded.deliveries, anomalies = excluded.anomalies`;
}

/** The container days a plan's orders and anomalies touch, as `recountDays` takes them (JSON rows). */
export function touchedDays(
  orders: readonly { containerId: string; deliveredAt?: string | null }[],
  anomalies: readonly { containerId: string; raisedAt: string; measuredAt?: string | null }[],
): { container_id: string; day: string }[] {
  const days = new Map<string, { container_id: string; day: string }>();
  const add = (containerId: string, at: string) => {
    const day = new Date(at).toISOString().slice(0, 10);
    days.set(`${containerId}\u0000${day}`, { container_id: containerId, day });
  };
  for (const o of orders) if (o.deliveredAt) add(o.containerId, o.deliveredAt);
  for (const a of anomalies) add(a.containerId, a.measuredAt ?? a.raisedAt);
  return [...days.values()];
}

/** Deliveries and anomalies of the days they fall on, from `fromAt` on (an SQL timestamptz). */
const deliveredOrRaised = (fromAt: string, containers = "true") =>
  `select container_id, ${dayOf("delivered_at")} as day from orders
      where delivered_at is not null and delivered_at >= ${fromAt} and ${containers}
    union select container_id, ${dayOf("coalesce(measured_at, raised_at)")} from anomalies
      where coalesce(measured_at, raised_at) >= ${fromAt} and ${containers}`;

/**
 * Statements recomputing the days of the containers `ids` (a query of one text column) from their
 * rows: for a repair, before the rows it found missing come back (each then adds itself once
 * more). Separate statements, so the insert reads the readings as they stand after the delete has
 * waited out any batch adding to those days.
 */
export function recomputeContainers(ids: string): string[] {
  const mine = `container_id in (${ids})`;
  return [
    lockContainers(ids),
    `delete from container_days where ${mine} and day >= ${dayOf(ARCHIVED_BEFORE)}`,
    `insert into container_days (${DAY_COLUMNS}) ${daysOf("readings", `${mine} and measured_at >= ${ARCHIVED_BEFORE}`)}`,
    recountDays(deliveredOrRaised("'-infinity'::timestamptz", mine)),
  ];
}

/**
 * The days from `from` (a UTC day; every day when null) written again from the readings, orders
 * and anomalies, in one transaction that holds the table (the projection waits meanwhile; readers
 * see the old rows until it commits). With `from`, first fills in what rows written since then
 * may lack (a refill's rise on its reading, an order's step times), from the events: what a
 * consumer older than the rollups wrote while a deploy was under way. Returns the days written.
 */
export async function rebuildRollups(db: Database, from: string | null = null): Promise<{ days: number; ms: number }> {
  const started = Date.now();
  // Never before the archive's horizon: the days before it stay as they were summed.
  const fromAt = `greatest(${from === null ? "'-infinity'::timestamptz" : `(${literalDay(from)}::date::timestamp at time zone 'UTC')`}, ${ARCHIVED_BEFORE})`;
  const since = `measured_at >= ${fromAt}`;
  const backfill =
    from === null
      ? []
      : [
          `update readings r set refill_rise = (e.body->'refill'->>'rise')::float8 from container_events e
            where e.at >= ${fromAt} and e.type = 'reading.recorded' and e.body ? 'refill'
              and r.container_id = e.container_id and r.reading_id = e.reading_id and r.refill_rise is null`,
          `update orders o set accepted_at = coalesce(o.accepted_at, f.accepted), dispatched_at = coalesce(o.dispatched_at, f.dispatched)
            from (select body->>'orderId' as order_id,
                min((body->>'changedAt')::timestamptz) filter (where body->>'to' = 'accepted') as accepted,
                min((body->>'changedAt')::timestamptz) filter (where body->>'to' = 'dispatched') as dispatched
              from container_events where at >= ${fromAt} and type = 'order.fulfilment_changed' group by 1) f
            where o.id = f.order_id and (o.accepted_at is null or o.dispatched_at is null)`,
        ];
  const statements = [
    "begin",
    "lock table container_days in exclusive mode",
    ...backfill,
    `delete from container_days where day >= ${dayOf(fromAt)}`,
    `insert into container_days (${DAY_COLUMNS}) ${daysOf("readings", since)}`,
    recountDays(deliveredOrRaised(fromAt)),
    `select count(*)::int as days from container_days where day >= coalesce(${from === null ? "null" : literalDay(from)}::date, '-infinity'::date)`,
    "commit",
  ];
  const answer = (await db.$client.query(statements.join(";\n"))) as unknown as Array<{
    rows: Array<{ days: number }>;
  }>;
  return { days: answer[statements.length - 2]!.rows[0]!.days, ms: Date.now() - started };
}

/** A day checked by its caller (YYYY-MM-DD) as an SQL literal. */
function literalDay(day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a day: ${day}`);
  return `'${day}'`;
}
