// Daily rollups per container (the container_days table), kept by the projection and rebuildable.
//
// Readings are added to their day as their rows are first inserted: the writer's readings insert
// returns only the rows it inserted (a reading already there, from a redelivered message, returns
// nothing), and `addReadingsToDays` folds those into their days with sums, counts, minima, maxima
// and newest/oldest values, all of which combine the same in any order. Two batches that touch the
// same container serialise on its containers row (both upsert it first), so a day's counts of
// deliveries and anomalies, counted again from their tables after the writes, see each other's rows.
import { sql } from "drizzle-orm";
import type { Database } from "./client";

/** The UTC day of a timestamptz expression, and the start of a date expression's UTC day. */
const dayOf = (at: string) => `(${at} at time zone 'UTC')::date`;
const startOf = (day: string) => `((${day})::timestamp at time zone 'UTC')`;

/**
 * The day rows of the readings in `source` (a table or CTE with the readings table's columns), one
 * per container and day. Ties in time go to the higher fill (and the later contents name), so the
 * result does not depend on the order rows arrive in.
 */
function daysOf(source: string): string {
  return `select container_id, ${dayOf("measured_at")} as day,
      (array_agg(contents order by measured_at desc, contents desc) filter (where contents is not null))[1] as contents,
      max(measured_at) filter (where contents is not null) as contents_at,
      count(*) as readings, min(fill_percent) as min_fill, max(fill_percent) as max_fill, sum(fill_percent) as sum_fill,
      min(measured_at) as first_at, (array_agg(fill_percent order by measured_at, fill_percent desc))[1] as first_fill,
      max(measured_at) as last_at, (array_agg(fill_percent order by measured_at desc, fill_percent desc))[1] as last_fill,
      count(refill_rise) as refills, coalesce(sum(refill_rise), 0) as refilled
    from ${source} group by 1, 2`;
}

const DAY_COLUMNS =
  "container_id, day, contents, contents_at, readings, min_fill, max_fill, sum_fill, first_at, first_fill, last_at, last_fill, refills, refilled";

/**
 * A data-modifying CTE body adding the readings `inserted` (a CTE returning the rows the readings
 * insert wrote) to their days.
 */
export function addReadingsToDays(inserted: string): string {
  const newer = (at: string, value: string) =>
    `(excluded.${at}, excluded.${value}) > (d.${at}, d.${value}) or d.${at} is null`;
  const older = (at: string, value: string) =>
    `(excluded.${at} < d.${at} or (excluded.${at} = d.${at} and excluded.${value} > d.${value}) or d.${at} is null)`;
  return `insert into container_days as d (${DAY_COLUMNS})
    ${daysOf(inserted)}
    on conflict (container_id, day) do update set
      readings = d.readings + excluded.readings,
      min_fill = least(d.min_fill, excluded.min_fill),
      max_fill = greatest(d.max_fill, excluded.max_fill),
      sum_fill = d.sum_fill + excluded.sum_fill,
      first_fill = case when ${older("first_at", "first_fill")} then excluded.first_fill else d.first_fill end,
      first_at = least(d.first_at, excluded.first_at),
      last_fill = case when ${newer("last_at", "last_fill")} then excluded.last_fill else d.last_fill end,
      last_at = greatest(d.last_at, excluded.last_at),
      contents = case when excluded.contents is not null and (${newer("contents_at", "contents")}) then excluded.contents else d.contents end,
      contents_at = greatest(d.contents_at, excluded.contents_at),
      refills = d.refills + excluded.refills,
      refilled = d.refilled + excluded.refilled`;
}

/**
 * A statement counting again the deliveries (orders delivered that day) and anomalies (measured
 * that day: the reading that raised them, else when raised) of each container day in `pairs` (a query of `container_id, day` rows). A day without readings
 * gets a row only when it has either.
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

/**
 * The whole table again from readings, orders and anomalies, in one transaction (readers see the
 * old rows until it commits). Returns the rows written.
 */
export async function rebuildRollups(db: Database): Promise<{ days: number; ms: number }> {
  const started = Date.now();
  const deliveredOrRaised = `select container_id, ${dayOf("delivered_at")} as day from orders where delivered_at is not null
    union select container_id, ${dayOf("coalesce(measured_at, raised_at)")} from anomalies`;
  const answer = await db.$client.query(
    [
      "begin",
      "lock table container_days in exclusive mode",
      "delete from container_days",
      `insert into container_days (${DAY_COLUMNS}) ${daysOf("readings")}`,
      recountDays(deliveredOrRaised),
      "select count(*)::int as days from container_days",
      "commit",
    ].join(";\n"),
  );
  const results = answer as unknown as Array<{ rows: Array<{ days: number }> }>;
  return { days: results[5]!.rows[0]!.days, ms: Date.now() - started };
}

/** The rollups' rows as they stand, for comparing with a rebuild. */
export async function rollupRows(db: Database, containerIds: readonly string[]) {
  const rows = await db.execute(
    sql`select container_id, day::text, contents, readings, min_fill, max_fill, sum_fill, first_at, first_fill,
      last_at, last_fill, refills, refilled, deliveries, anomalies
      from container_days where container_id in (select jsonb_array_elements_text(${JSON.stringify(containerIds)}::jsonb))
      order by container_id, day`,
  );
  return rows.rows;
}
