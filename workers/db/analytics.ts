// The fleet analytics questions (domain/analytics.ts), asked of the daily rollups (container_days),
// the containers' forecasts and the orders' step times — never of the readings themselves.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "./client";
import type {
  Box,
  ConsumptionGroup,
  ConsumptionRow,
  DemandRow,
  FulfilmentRow,
  PartnerPlacement,
} from "../../domain/analytics";

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const round = (v: unknown, digits = 3) => {
  const n = num(v);
  return n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;
};

/**
 * Each container with the partner that serves it, as domain/partners.ts `partnerFor` places it: the
 * partner naming it, else one serving its contents, else one serving everything; by id among equals.
 */
function placedContainers(partners: readonly PartnerPlacement[], box?: Box): SQL {
  const list = JSON.stringify(partners.map((p) => ({ id: p.id, container_ids: p.containerIds, contents: p.contents })));
  const lon = sql`coalesce(c.lon, c.registered_lon)`;
  // A box whose west edge lies east of its east edge crosses the antimeridian.
  const inBox = box
    ? sql`and (${box.minLon <= box.maxLon ? sql`${lon} between ${box.minLon} and ${box.maxLon}` : sql`(${lon} >= ${box.minLon} or ${lon} <= ${box.maxLon})`})
          and coalesce(c.lat, c.registered_lat) between ${box.minLat} and ${box.maxLat}`
    : sql``;
  return sql`select c.id, c.contents, c.capacity, c.threshold, c.active_order_id, c.forecast, c.threshold_at,
      case when c.capacity is null then null else coalesce(c.unit, 'units') end as unit,
      (select p.id from jsonb_to_recordset(${list}::jsonb) as p(id text, container_ids jsonb, contents jsonb)
        where p.container_ids ? c.id or p.contents ? coalesce(c.contents, '')
          or (jsonb_array_length(p.container_ids) = 0 and jsonb_array_length(p.contents) = 0)
        order by case when p.container_ids ? c.id then 0 when p.contents ? coalesce(c.contents, '') then 1 else 2 end, p.id collate "C"
        limit 1) as partner_id
    from containers c where true ${inBox}`;
}

/** How many days before `from` a day looks back for the level it began at. */
export const OPENING_LOOKBACK_DAYS = 3;

export async function consumptionByDay(
  db: Database,
  q: { from: string; to: string; by: ConsumptionGroup; contents?: string; partnerId?: string; box?: Box },
  partners: readonly PartnerPlacement[],
): Promise<ConsumptionRow[]> {
  const key: Record<ConsumptionGroup, SQL> = {
    contents: sql`coalesce(d.contents, d.container_contents)`,
    partner: sql`d.partner_id`,
    container: sql`d.container_id`,
    all: sql`'all'`,
  };
  const where: SQL[] = [sql`d.day >= ${q.from}::date`];
  if (q.contents !== undefined) where.push(sql`coalesce(d.contents, d.container_contents) = ${q.contents}`);
  if (q.partnerId !== undefined) where.push(sql`d.partner_id = ${q.partnerId}`);
  // A day's consumption: the level it began at (the end of the newest day before with readings,
  // within the lookback; else its own first reading, before the refill if that reading was one)
  // less where it ended, plus what refills added.
  const result = await db.execute(sql`
    with p as (${placedContainers(partners, q.box)}),
    d as (
      select d.*, p.contents as container_contents, p.partner_id, p.unit, p.capacity,
        case when d.readings > 0 then greatest(0,
          case when lag(d.day) over w >= d.day - ${OPENING_LOOKBACK_DAYS}::int then lag(d.last_fill) over w
            else d.first_fill - d.first_rise end
          - d.last_fill + d.refilled) else 0 end as consumption
      from container_days d join p on p.id = d.container_id
      where d.day between ${q.from}::date - ${OPENING_LOOKBACK_DAYS}::int and ${q.to}::date
      window w as (partition by d.container_id, d.readings > 0 order by d.day))
    select d.day::text as day, ${key[q.by]} as key, d.unit,
      count(*) filter (where d.readings > 0)::int as containers, sum(d.readings)::int as readings,
      sum(d.consumption) as consumption, sum(d.consumption * d.capacity / 100) as quantity,
      sum(d.refills)::int as refills, sum(d.deliveries)::int as deliveries, sum(d.anomalies)::int as anomalies,
      sum(d.sum_fill) / nullif(sum(d.readings), 0) as mean_fill, min(d.min_fill) as min_fill, max(d.max_fill) as max_fill
    from d
    where ${sql.join(where, sql` and `)}
    group by 1, 2, 3 order by 1, 2 nulls last, 3 nulls last`);
  return (result.rows as Record<string, unknown>[]).map((r) => ({
    day: String(r.day),
    key: (r.key as string | null) ?? null,
    unit: (r.unit as string | null) ?? null,
    containers: Number(r.containers),
    readings: Number(r.readings),
    consumption: round(r.consumption)!,
    quantity: round(r.quantity),
    refills: Number(r.refills),
    deliveries: Number(r.deliveries),
    anomalies: Number(r.anomalies),
    meanFill: round(r.mean_fill),
    minFill: num(r.min_fill),
    maxFill: num(r.max_fill),
  }));
}

/** Fulfilments a partner has taken on and not ended. */
const IN_FLIGHT = sql.raw("('accepted', 'assembling', 'dispatched')");

/**
 * What partners must deliver on each of the next `days` days (today first): orders not yet
 * delivered that are active or that a partner has taken on (a reading may have closed an order the
 * partner already dispatched), due at their ETA, else their forecast's thresholdAt, else today;
 * and containers with neither whose forecast reaches the threshold that day (or has: today), each
 * ordering what fills it back from the threshold, as a new order proposes (domain/fulfilment.ts
 * proposedLines).
 */
export async function demandByDay(
  db: Database,
  q: { days: number; contents?: string; partnerId?: string; now: number },
  partners: readonly PartnerPlacement[],
): Promise<{ from: string; to: string; rows: DemandRow[] }> {
  const from = new Date(q.now).toISOString().slice(0, 10);
  const to = new Date(q.now + (q.days - 1) * 86_400_000).toISOString().slice(0, 10);
  const filters: SQL[] = [sql`day <= ${to}::date`];
  if (q.contents !== undefined) filters.push(sql`contents = ${q.contents}`);
  if (q.partnerId !== undefined) filters.push(sql`partner_id = ${q.partnerId}`);
  const today = sql`${from}::date`;
  const result = await db.execute(sql`
    with p as (${placedContainers(partners)}),
    due as (
      select greatest(${today}, (coalesce(o.eta, (o.forecast->>'thresholdAt')::timestamptz, now()) at time zone 'UTC')::date) as day,
        coalesce(o.partner_id, p.partner_id) as partner_id,
        coalesce(l.line->>'product', p.contents) as contents, l.line->>'unit' as unit, 'order' as source,
        o.container_id, (l.line->>'quantity')::float8 as quantity
      from orders o join p on p.id = o.container_id
        left join lateral jsonb_array_elements(o.lines) as l(line) on true
      where o.status = 'active' or o.fulfilment in ${IN_FLIGHT}
      union all
      select greatest(${today}, (p.threshold_at at time zone 'UTC')::date), p.partner_id, p.contents, p.unit, 'forecast',
        p.id, p.capacity * (1 - p.threshold / 100)
      from p
      where p.active_order_id is null and p.forecast->>'status' = 'ok' and p.threshold_at is not null
        -- a delivery already on its way after a reading closed its order fills it first
        and not exists (select 1 from orders o where o.container_id = p.id and o.fulfilment in ${IN_FLIGHT}))
    select day::text as day, partner_id, contents, unit, source, count(distinct container_id)::int as containers,
      sum(quantity) as quantity
    from due where ${sql.join(filters, sql` and `)}
    group by 1, 2, 3, 4, 5 order by 1, 2 nulls last, 3 nulls last, 4 nulls last, 5`);
  const rows = (result.rows as Record<string, unknown>[]).map((r) => ({
    day: String(r.day),
    partnerId: (r.partner_id as string | null) ?? null,
    contents: (r.contents as string | null) ?? null,
    unit: (r.unit as string | null) ?? null,
    source: r.source as DemandRow["source"],
    containers: Number(r.containers),
    quantity: round(r.quantity, 2),
  }));
  return { from, to, rows };
}

/** Fulfilment times of the orders opened between `from` and `to` (UTC days, included), per partner and in all. */
export async function fulfilmentTimes(
  db: Database,
  q: { from: string; to: string; partnerId?: string },
): Promise<FulfilmentRow[]> {
  const steps = [
    ["openedToAccepted", "opened_at", "accepted_at"],
    ["acceptedToDispatched", "accepted_at", "dispatched_at"],
    ["dispatchedToDelivered", "dispatched_at", "delivered_at"],
    ["openedToDelivered", "opened_at", "delivered_at"],
  ] as const;
  // The median and the 90th percentile of each step from one sort of its times. The sorts are the
  // query's cost: date_part gives a float8 where extract gives a numeric (since PostgreSQL 14),
  // whose arithmetic and comparisons make the whole question about 1.5 times slower.
  const percentiles = steps.map(([name, from, to]) =>
    sql.raw(`percentile_cont(array[0.5, 0.9]) within group (order by date_part('epoch', ${to} - ${from}) / 3600)
      filter (where ${to} is not null and ${from} is not null) as "${name}"`),
  );
  const partner = q.partnerId !== undefined ? sql`and o.partner_id = ${q.partnerId}` : sql``;
  const result = await db.execute(sql`
    with o as (
      select o.partner_id, o.fulfilment, o.opened_at, o.accepted_at, o.dispatched_at, o.delivered_at,
        coalesce((o.forecast->>'thresholdAt')::timestamptz, o.eta) as due from orders o
      where o.opened_at >= (${q.from}::date::timestamp at time zone 'UTC')
        and o.opened_at < ((${q.to}::date + 1)::timestamp at time zone 'UTC') ${partner})
    select grouping(o.partner_id) as total, o.partner_id, count(*)::int as orders,
      count(*) filter (where fulfilment = 'delivered')::int as delivered,
      count(*) filter (where fulfilment in ('rejected', 'cancelled'))::int as cancelled,
      count(*) filter (where fulfilment not in ('delivered', 'rejected', 'cancelled'))::int as open,
      ${sql.join(percentiles, sql`, `)},
      count(*) filter (where delivered_at is not null and due is not null and delivered_at <= due)::int as on_time,
      count(*) filter (where delivered_at is not null and due is not null)::int as on_time_of
    from o group by grouping sets ((o.partner_id), ())
    order by total, o.partner_id nulls last`);
  return (result.rows as Record<string, unknown>[]).map((r) => {
    const times = Object.fromEntries(
      steps.flatMap(([name]) => {
        const [p50, p90] = (r[name] as (number | string)[] | null) ?? [null, null];
        return [
          [`${name}P50`, round(p50, 2)],
          [`${name}P90`, round(p90, 2)],
        ];
      }),
    ) as Pick<FulfilmentRow, `${(typeof steps)[number][0]}${"P50" | "P90"}`>;
    const onTime = Number(r.on_time);
    const onTimeOf = Number(r.on_time_of);
    const partnerId = (r.partner_id as string | null) ?? null;
    return {
      scope: Number(r.total) === 1 ? "all" : partnerId === null ? "unassigned" : "partner",
      partnerId: Number(r.total) === 1 ? null : partnerId,
      orders: Number(r.orders),
      delivered: Number(r.delivered),
      cancelled: Number(r.cancelled),
      open: Number(r.open),
      ...times,
      onTime,
      onTimeOf,
      onTimeShare: onTimeOf === 0 ? null : Math.round((onTime / onTimeOf) * 1000) / 1000,
    };
  });
}
