import { and, desc, eq, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { Database, Transaction } from "./client";
import type { Anomaly } from "../../domain/anomalies";
import type { Order } from "../../domain/container";
import type { FleetContainer } from "../../domain/fleet";
import { summaryOf } from "../../domain/forecast";
import { bucketSecondsFor, mergeBuckets, type ArchivedReading, type HistoryPoint } from "../../domain/archive";
import { anomalies, containerEvents, containers, orders, partnerDeliveries, readings } from "./schema";

const iso = (value: string | null) => (value === null ? null : new Date(value).toISOString());

export type ContainerSort = "id" | "fillPercent" | "lastSeenAt" | "thresholdAt";

export interface ContainerFilters {
  belowThreshold?: boolean | undefined;
  hasActiveOrder?: boolean | undefined;
  contents?: string | undefined;
  /** Containers that have reported nothing since this instant (or never). */
  silentSince?: string | undefined;
  /** Containers forecast to reach their threshold before this instant (or that have). */
  runsOutBefore?: string | undefined;
  sort: ContainerSort;
  order: "asc" | "desc";
  limit: number;
  after?: { value: string | number; id: string } | undefined;
}

// Sort keys never null, so keyset comparisons stay total.
const sortKey: Record<ContainerSort, SQL> = {
  id: sql`${containers.id}`,
  fillPercent: sql`coalesce(${containers.fillPercent}, -1)`,
  lastSeenAt: sql`coalesce(${containers.lastSeenAt}, 'epoch'::timestamptz)`,
  // No forecast sorts last.
  thresholdAt: sql`coalesce(${containers.thresholdAt}, 'infinity'::timestamptz)`,
};
const isTime = (sort: ContainerSort) => sort === "lastSeenAt" || sort === "thresholdAt";

export async function listContainers(db: Database, f: ContainerFilters) {
  const where: SQL[] = [];
  if (f.belowThreshold !== undefined) {
    where.push(
      f.belowThreshold
        ? sql`${containers.fillPercent} < ${containers.threshold}`
        : sql`not coalesce(${containers.fillPercent} < ${containers.threshold}, false)`,
    );
  }
  if (f.hasActiveOrder !== undefined) {
    where.push(
      f.hasActiveOrder ? sql`${containers.activeOrderId} is not null` : sql`${containers.activeOrderId} is null`,
    );
  }
  if (f.contents !== undefined) where.push(eq(containers.contents, f.contents));
  if (f.silentSince !== undefined) {
    where.push(sql`(${containers.lastSeenAt} is null or ${containers.lastSeenAt} < ${f.silentSince})`);
  }
  if (f.runsOutBefore !== undefined) where.push(sql`${containers.thresholdAt} <= ${f.runsOutBefore}`);
  const key = sortKey[f.sort];
  if (f.after) {
    const value = isTime(f.sort) ? sql`${f.after.value}::timestamptz` : sql`${f.after.value}`;
    where.push(
      f.order === "asc"
        ? sql`(${key}, ${containers.id}) > (${value}, ${f.after.id})`
        : sql`(${key}, ${containers.id}) < (${value}, ${f.after.id})`,
    );
  }
  const direction = f.order === "asc" ? sql`asc` : sql`desc`;
  const rows = await db
    .select({ container: containers, order: orders, sortValue: sql<string | number>`${key}` })
    .from(containers)
    .leftJoin(orders, eq(orders.id, containers.activeOrderId))
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(sql`${key} ${direction}`, sql`${containers.id} ${direction}`)
    .limit(f.limit + 1);

  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(({ container: c, order }) => toFleetContainer(c, order)),
    next:
      rows.length > f.limit && last
        ? {
            value: isTime(f.sort) ? timeText(String(last.sortValue)) : last.sortValue,
            id: last.container.id,
          }
        : null,
  };
}

function toFleetContainer(c: typeof containers.$inferSelect, order: typeof orders.$inferSelect | null): FleetContainer {
  return {
    containerId: c.id,
    name: c.name,
    threshold: c.threshold,
    capacity: c.capacity,
    unit: c.unit,
    registeredLocation:
      c.registeredLat === null || c.registeredLon === null ? null : { lat: c.registeredLat, lon: c.registeredLon },
    reportIntervalSeconds: c.reportIntervalSeconds,
    fillPercent: c.fillPercent,
    contents: c.contents,
    location: c.lat === null || c.lon === null ? null : { lat: c.lat, lon: c.lon },
    battery: c.battery,
    measuredAt: iso(c.measuredAt),
    lastSeenAt: iso(c.lastSeenAt),
    autoOpenArmed: c.autoOpenArmed,
    activeOrder: order ? toOrder(order) : null,
    leadTimeHours: c.leadTimeHours,
    partnerLeadTimeHours: c.partnerLeadTimeHours,
    fleetNoise: c.fleetNoise,
    refillRise: c.refillRise,
    forecastArmed: c.forecastArmed,
    suddenDrop: c.suddenDrop,
    anomalies: c.anomalies,
    forecast: summaryOf(c.forecast),
    version: c.version,
  };
}

/** A timestamp as Postgres gives it, as RFC 3339 (infinity as Postgres spells it, for a cursor). */
function timeText(value: string): string {
  return value === "infinity" ? value : new Date(value).toISOString();
}

/** Every container, by id: the dashboard's starting point before it follows the fleet stream. */
export async function wholeFleet(db: Database): Promise<FleetContainer[]> {
  const rows = await db
    .select({ container: containers, order: orders })
    .from(containers)
    .leftJoin(orders, eq(orders.id, containers.activeOrderId))
    .orderBy(containers.id);
  return rows.map(({ container, order }) => toFleetContainer(container, order));
}

export function toOrder(o: typeof orders.$inferSelect): Order {
  const { version: _version, forecast, ...order } = o;
  return {
    ...order,
    ...(forecast ? { forecast } : {}),
    status: order.status as Order["status"],
    source: order.source as Order["source"],
    closeReason: order.closeReason as Order["closeReason"],
    fulfilment: order.fulfilment as Order["fulfilment"],
    openedAt: iso(order.openedAt)!,
    closedAt: iso(order.closedAt),
    eta: iso(order.eta),
    deliveredAt: iso(order.deliveredAt),
    fulfilmentAt: iso(order.fulfilmentAt),
    acceptedAt: iso(order.acceptedAt),
    dispatchedAt: iso(order.dispatchedAt),
  };
}

export interface OrderFilters {
  status?: "active" | "closed" | undefined;
  fulfilment?: Order["fulfilment"] | undefined;
  containerId?: string | undefined;
  /** Part of the container's id or name (any case). */
  container?: string | undefined;
  openedFrom?: string | undefined;
  openedTo?: string | undefined;
  limit: number;
  /** Orders older than this id (ids sort by opening time). */
  before?: string | undefined;
  /** Oldest first (the assembly queue); newest first otherwise. */
  oldestFirst?: boolean | undefined;
  /** A partner's own: those it has taken, or that were sent to it and no partner has taken. */
  partnerId?: string | undefined;
}

function orderFilter(f: OrderFilters): SQL[] {
  const where: SQL[] = [];
  if (f.status) where.push(eq(orders.status, f.status));
  if (f.fulfilment) where.push(eq(orders.fulfilment, f.fulfilment));
  if (f.containerId) where.push(eq(orders.containerId, f.containerId));
  if (f.container) {
    const like = `%${f.container.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(
      sql`(${orders.containerId} ilike ${like} or ${orders.containerId} in (select ${containers.id} from ${containers} where ${containers.name} ilike ${like}))`,
    );
  }
  if (f.openedFrom) where.push(gte(orders.openedAt, f.openedFrom));
  if (f.openedTo) where.push(lt(orders.openedAt, f.openedTo));
  if (f.partnerId)
    where.push(
      // Sent to it, while no partner has taken it: once another has, it is that one's.
      sql`(${orders.partnerId} = ${f.partnerId} or (${orders.partnerId} is null and ${orders.id} in (select ${partnerDeliveries.orderId} from ${partnerDeliveries} where ${partnerDeliveries.partnerId} = ${f.partnerId})))`,
    );
  return where;
}

export async function listOrders(db: Database, f: OrderFilters) {
  const where = orderFilter(f);
  if (f.before) where.push(lt(orders.id, f.before));
  const rows = await db
    .select()
    .from(orders)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(f.oldestFirst ? orders.id : desc(orders.id))
    .limit(f.limit + 1);
  const page = rows.slice(0, f.limit);
  return { items: page.map(toOrder), next: rows.length > f.limit ? page[page.length - 1]!.id : null };
}

/** How many orders the filters match (the cursor aside). */
export async function countOrders(db: Database, f: OrderFilters): Promise<number> {
  const where = orderFilter(f);
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(orders)
    .where(where.length > 0 ? and(...where) : undefined);
  return row?.n ?? 0;
}

/** What the orders list shows of each order's container: its name, contents, fill now and unit. */
export async function containerFacts(db: Database, ids: readonly string[]) {
  if (ids.length === 0) return {};
  const rows = await db
    .select({
      id: containers.id,
      name: containers.name,
      contents: containers.contents,
      fillPercent: containers.fillPercent,
      threshold: containers.threshold,
      capacity: containers.capacity,
      unit: containers.unit,
    })
    .from(containers)
    .where(inArray(containers.id, [...new Set(ids)]));
  return Object.fromEntries(rows.map(({ id, ...facts }) => [id, facts]));
}

export async function findOrder(db: Database, id: string) {
  const [row] = await db.select().from(orders).where(eq(orders.id, id));
  return row ? toOrder(row) : null;
}

export interface FleetSummary {
  containers: number;
  belowThreshold: number;
  activeOrders: number;
  /** Silent longer than their expected report interval (default an hour), or never heard from. */
  silent: number;
}

/** The fleet's figures, from Postgres, in one pass. */
export async function fleetSummary(db: Database, defaultIntervalSeconds: number): Promise<FleetSummary> {
  const result = await db.execute<{ containers: number; below: number; active: number; silent: number }>(sql`
    select count(*)::int as containers,
      count(*) filter (where ${containers.fillPercent} < ${containers.threshold})::int as below,
      count(*) filter (where ${containers.activeOrderId} is not null)::int as active,
      count(*) filter (where ${containers.lastSeenAt} is null
        or ${containers.lastSeenAt} < now() - make_interval(secs => coalesce(${containers.reportIntervalSeconds}, ${defaultIntervalSeconds})))::int as silent
    from ${containers}`);
  const r = result.rows[0]!;
  return { containers: r.containers, belowThreshold: r.below, activeOrders: r.active, silent: r.silent };
}

/**
 * A container's fill between `from` and `to` (applied readings), at most `points` of them: the
 * readings themselves when they fit, otherwise one point per equal time bucket (its mean, with the
 * bucket's min, max and count, at the bucket's start), so a long range stays a light answer. Readings
 * measured before `archivedBefore` come from the archive (`archived`, read by the caller from its
 * Parquet parts); Postgres answers from there on, and the two fold into the same points.
 */
export async function fillHistory(
  db: Database | Transaction,
  containerId: string,
  from: string,
  to: string,
  points: number,
  archived: { archivedBefore: string | null; readings: readonly { at: number; fill: number }[] } = {
    archivedBefore: null,
    readings: [],
  },
) {
  const hotFrom = archived.archivedBefore && archived.archivedBefore > from ? archived.archivedBefore : from;
  const inRange = sql`${readings.containerId} = ${containerId} and ${readings.status} = 'applied'
        and ${readings.measuredAt} >= ${hotFrom}::timestamptz and ${readings.measuredAt} < ${to}::timestamptz`;
  const [counted] = (await db.execute<{ n: number }>(sql`select count(*)::int as n from ${readings} where ${inRange}`))
    .rows;
  const fromMs = Date.parse(from);
  const bucketSeconds = bucketSecondsFor((counted?.n ?? 0) + archived.readings.length, fromMs, Date.parse(to), points);
  const rows: HistoryPoint[] =
    bucketSeconds === null
      ? [
          ...archived.readings.map((r) => ({ at: r.at, fill: r.fill })),
          ...(
            await db.execute<{ at: string; fill: number }>(sql`
          select ${readings.measuredAt} as at, ${readings.fillPercent} as fill from ${readings}
          where ${inRange} order by ${readings.measuredAt}`)
          ).rows.map((r) => ({ at: Date.parse(iso(r.at)!), fill: r.fill })),
        ]
          .sort((a, b) => a.at - b.at)
          .map((r) => ({ at: new Date(r.at).toISOString(), fillPercent: r.fill, min: r.fill, max: r.fill, count: 1 }))
      : mergeBuckets(
          fromMs,
          bucketSeconds,
          (
            await db.execute<{ bucket: number; sum: number; min: number; max: number; n: number }>(sql`
          select floor(extract(epoch from ${readings.measuredAt} - ${from}::timestamptz) / ${bucketSeconds})::int as bucket,
            sum(${readings.fillPercent}) as sum, min(${readings.fillPercent}) as min, max(${readings.fillPercent}) as max, count(*)::int as n
          from ${readings} where ${inRange}
          group by 1 order by 1`)
          ).rows.map((r) => ({ bucket: r.bucket, sum: Number(r.sum), min: Number(r.min), max: Number(r.max), n: r.n })),
          archived.readings,
        );
  const orderMarks = await db
    .select({ id: orders.id, openedAt: orders.openedAt, closedAt: orders.closedAt })
    .from(orders)
    .where(
      and(
        eq(orders.containerId, containerId),
        lt(orders.openedAt, to),
        sql`(${orders.closedAt} is null or ${orders.closedAt} >= ${from}::timestamptz)`,
      ),
    )
    .orderBy(orders.openedAt);
  return {
    bucketSeconds,
    points: rows,
    orders: orderMarks.map((o) => ({ id: o.id, openedAt: iso(o.openedAt)!, closedAt: iso(o.closedAt) })),
  };
}

/** Threshold changes of a container within a range, from its event log in Postgres. */
export async function thresholdChanges(db: Database | Transaction, containerId: string, from: string, to: string) {
  const rows = await db
    .select({
      at: containerEvents.at,
      threshold: sql<number>`(${containerEvents.body}->'changes'->>'threshold')::float8`,
    })
    .from(containerEvents)
    .where(
      and(
        eq(containerEvents.containerId, containerId),
        eq(containerEvents.type, "settings.changed"),
        sql`${containerEvents.body}->'changes' ? 'threshold'`,
        gte(containerEvents.at, from),
        lt(containerEvents.at, to),
      ),
    )
    .orderBy(containerEvents.seq);
  return rows.map((r) => ({ at: iso(r.at)!, threshold: Number(r.threshold) }));
}

export interface AnomalyFilters {
  status?: Anomaly["status"] | undefined;
  kind?: Anomaly["kind"] | undefined;
  containerId?: string | undefined;
  limit: number;
  /** Anomalies older than this id (ids sort by the time they were raised). */
  before?: string | undefined;
}

/** Anomalies across the fleet, newest first. */
export async function listAnomalies(db: Database, f: AnomalyFilters) {
  const where: SQL[] = [];
  if (f.status) where.push(eq(anomalies.status, f.status));
  if (f.kind) where.push(eq(anomalies.kind, f.kind));
  if (f.containerId) where.push(eq(anomalies.containerId, f.containerId));
  if (f.before) where.push(lt(anomalies.id, f.before));
  const rows = await db
    .select()
    .from(anomalies)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(anomalies.id))
    .limit(f.limit + 1);
  const page = rows.slice(0, f.limit);
  return { items: page.map(toAnomaly), next: rows.length > f.limit ? page[page.length - 1]!.id : null };
}

function toAnomaly(a: typeof anomalies.$inferSelect): Anomaly & { containerId: string } {
  return {
    id: a.id,
    containerId: a.containerId,
    kind: a.kind as Anomaly["kind"],
    status: a.status as Anomaly["status"],
    raisedAt: iso(a.raisedAt)!,
    measuredAt: iso(a.measuredAt),
    message: a.message,
    details: a.details,
    closedAt: iso(a.closedAt),
    closedBy: a.closedBy,
  };
}

/**
 * Readings stored, by outcome: the rows in Postgres and the archived ones, in one statement (one
 * snapshot), so the count never falls as a month leaves for the archive. The parts of a month's
 * export under way count once its rows have gone (the month archived), not while they are still here.
 */
export async function readingOutcomes(db: Database | Transaction): Promise<{ label: string; n: number }[]> {
  const { rows } = await db.execute<{ label: string; n: string }>(sql`
    select label, sum(n)::bigint as n from (
      select status as label, count(*) as n from ${readings} group by status
      union all
      select o.key, sum(o.value::bigint) from archive_months m
        cross join jsonb_array_elements(m.parts) p cross join jsonb_each_text(p->'outcomes') o
      where m.state = 'archived' or p->>'key' not like '%/g' || m.generation || '-%'
      group by o.key) counted
    group by label order by label`);
  return rows.map((r) => ({ label: r.label, n: Number(r.n) }));
}

/** When the container's oldest applied reading in Postgres was measured (null: none there). */
export async function oldestMeasured(db: Database | Transaction, containerId: string): Promise<string | null> {
  const { rows } = await db.execute<{ at: string | null }>(sql`
    select min(${readings.measuredAt}) as at from ${readings}
    where ${readings.containerId} = ${containerId} and ${readings.status} = 'applied'`);
  const at = rows[0]?.at ?? null;
  return at === null ? null : new Date(at).toISOString();
}

/** A container's reading rows measured in [from, to), oldest first, at most `limit`, as the archive keeps them. */
export async function readingsBetween(
  db: Database | Transaction,
  containerId: string,
  from: string,
  to: string,
  limit: number,
): Promise<ArchivedReading[]> {
  const { rows } = await db.execute<{
    reading_id: string;
    measured_at: number;
    received_at: number;
    fill_percent: number;
    contents: string | null;
    lat: number | null;
    lon: number | null;
    battery: number | null;
    clock_skew_ms: number;
    status: string;
    refill_rise: number | null;
    event_id: string;
    seq: number | null;
  }>(sql`
    select reading_id, (date_part('epoch', measured_at) * 1000)::float8 as measured_at,
      (date_part('epoch', received_at) * 1000)::float8 as received_at, fill_percent, contents, lat, lon, battery,
      clock_skew_ms, status, refill_rise, event_id, seq
    from ${readings}
    where ${readings.containerId} = ${containerId} and ${readings.measuredAt} >= ${from}::timestamptz
      and ${readings.measuredAt} < ${to}::timestamptz
    order by ${readings.measuredAt}, ${readings.readingId} limit ${limit}`);
  return rows.map((r) => ({
    containerId,
    readingId: r.reading_id,
    measuredAt: Math.round(r.measured_at),
    receivedAt: Math.round(r.received_at),
    fillPercent: r.fill_percent,
    contents: r.contents,
    lat: r.lat,
    lon: r.lon,
    battery: r.battery,
    clockSkewMs: r.clock_skew_ms,
    status: r.status,
    refillRise: r.refill_rise,
    eventId: r.event_id,
    seq: r.seq,
  }));
}
