import { getTableColumns, sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../db/client";
import { containerEvents, containers, orders, readings } from "../db/schema";
import type { ProjectionPlan } from "./plan";

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/**
 * Container or order rows upserted by id from one JSON parameter (`jsonb_populate_recordset` gives
 * each value its column's type), moving a row only to a higher version. One parameter however many
 * rows: building and binding a value per column of each row was most of what a large batch cost
 * the consumer. `keep`: fields the projection keeps itself, never overwritten; `extra`: more to set.
 */
function upsertRows(table: PgTable, rows: readonly Record<string, unknown>[], keep: string[], extra?: string): SQL {
  const columns = Object.entries(getTableColumns(table));
  const fields = columns.filter(([field]) => rows.some((r) => r[field] !== undefined));
  const names = fields.map(([, c]) => `"${c.name}"`).join(", ");
  const json = JSON.stringify(rows.map((r) => Object.fromEntries(fields.map(([field, c]) => [c.name, r[field] ?? null]))));
  const set = [...fields.filter(([field]) => !keep.includes(field)).map(([, c]) => `"${c.name}" = excluded."${c.name}"`), ...(extra ? [extra] : [])].join(", ");
  return sql`insert into ${table} (${sql.raw(names)})
    select ${sql.raw(names)} from jsonb_populate_recordset(null::${table}, ${json}::jsonb)
    on conflict (id) do update set ${sql.raw(set)} where ${table}.version < excluded.version`;
}

/** A container whose projection lacks events: Postgres has every event up to `projectedSeq`, and has seen `version`. */
export interface ProjectionGap {
  containerId: string;
  projectedSeq: number;
  version: number;
  /** How long Postgres has lacked events of this container, in seconds (0 when found just now). */
  ageSeconds?: number;
}

/** Plans one after the other in the caller's transaction; the gaps all of them showed. */
export async function writePlans(tx: Transaction, plans: readonly ProjectionPlan[], trackCompleteness = true): Promise<ProjectionGap[]> {
  const gaps: ProjectionGap[] = [];
  for (const plan of plans) gaps.push(...(await writeProjection(tx, plan, trackCompleteness)));
  return gaps;
}

/**
 * Write a plan in the caller's transaction. Every statement is idempotent: events and readings are
 * inserted once by key, and container and order rows move only to a higher version, so replaying any
 * message, or applying messages out of order, ends in the same rows. Two statements, so a batch
 * costs two round trips to Postgres besides its transaction: every insert as one data-modifying
 * `WITH`, then, over what that wrote, the orders superseded and each container's `projected_seq`.
 */
export async function writeProjection(tx: Transaction, plan: ProjectionPlan, trackCompleteness = true): Promise<ProjectionGap[]> {
  const writes: SQL[] = [];
  if (plan.events.length > 0) writes.push(sql`events_in as (${insertEvents(plan.events)})`);
  if (plan.readings.length > 0) writes.push(sql`readings_in as (${insertReadings(plan.readings)})`);
  if (plan.containers.length > 0) writes.push(sql`containers_in as (${upsertRows(containers, plan.containers, ["id", "projectedSeq", "gapSince"], "projected_at = now()")})`);
  if (plan.orders.length > 0) writes.push(sql`orders_in as (${upsertRows(orders, plan.orders, ["id"])})`);
  if (writes.length === 0) return [];
  await tx.execute(sql`with ${sql.join(writes, sql`, `)} select 1`);

  const orderContainers = [...new Set(plan.orders.map((o) => o.containerId))];
  const tracked = trackCompleteness ? plan.containers.map((c) => c.id) : [];
  if (orderContainers.length === 0 && tracked.length === 0) return [];
  return afterWrites(tx, orderContainers, tracked);
}

/** One array parameter per column: the rows of a table as `unnest` of arrays. */
const column = <T>(rows: readonly T[], pick: (row: T) => unknown) => sql.param(rows.map(pick));
const iso = (v: Date | string | null | undefined) => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : v);

/**
 * Events and readings, the two tables every reading writes to, go in as `unnest` of one array per
 * column: one parameter per column rather than per value, which is what the driver spends its time
 * on for a batch of hundreds of rows. Each is inserted once by key.
 */
function insertEvents(rows: ProjectionPlan["events"]): SQL {
  return sql`
    insert into ${containerEvents} (id, container_id, seq, type, at, actor_kind, actor_id, reading_id, body)
    select * from unnest(
      ${column(rows, (r) => r.id)}::text[], ${column(rows, (r) => r.containerId)}::text[], ${column(rows, (r) => r.seq)}::int[],
      ${column(rows, (r) => r.type)}::text[], ${column(rows, (r) => iso(r.at))}::timestamptz[], ${column(rows, (r) => r.actorKind)}::text[],
      ${column(rows, (r) => r.actorId)}::text[], ${column(rows, (r) => r.readingId ?? null)}::text[], ${column(rows, (r) => JSON.stringify(r.body))}::jsonb[])
    on conflict do nothing`;
}

function insertReadings(rows: ProjectionPlan["readings"]): SQL {
  return sql`
    insert into ${readings} (container_id, reading_id, measured_at, received_at, fill_percent, contents, lat, lon, battery, clock_skew_ms, status, event_id)
    select * from unnest(
      ${column(rows, (r) => r.containerId)}::text[], ${column(rows, (r) => r.readingId)}::text[], ${column(rows, (r) => iso(r.measuredAt))}::timestamptz[],
      ${column(rows, (r) => iso(r.receivedAt))}::timestamptz[], ${column(rows, (r) => r.fillPercent)}::float8[], ${column(rows, (r) => r.contents ?? null)}::text[],
      ${column(rows, (r) => r.lat ?? null)}::float8[], ${column(rows, (r) => r.lon ?? null)}::float8[], ${column(rows, (r) => r.battery ?? null)}::float8[],
      ${column(rows, (r) => r.clockSkewMs ?? 0)}::int[], ${column(rows, (r) => r.status)}::text[], ${column(rows, (r) => r.eventId)}::text[])
    on conflict do nothing`;
}

/**
 * Over what the writes left, in one statement: a container opens an order only once the one before
 * is closed, so an active row older than the container's newest active order is closed, even if its
 * closing event has not arrived yet (delayed or redelivered late; its version stays, so that event
 * still fills in the details). And each tracked container's `projected_seq` moves to the end of the
 * unbroken run of events from 1, with `gap_since` saying since when a gap has stood. Returns the
 * containers that still lack events below their version.
 */
async function afterWrites(tx: Transaction, orderContainers: string[], tracked: string[]): Promise<ProjectionGap[]> {
  const list = (ids: string[]) => sql.join(ids.map((id) => sql`${id}`), sql`, `);
  const steps: SQL[] = [];
  if (orderContainers.length > 0) {
    steps.push(sql`superseded as (
      update ${orders} as older set status = 'closed'
      from ${orders} as newer
      where newer.container_id = older.container_id
        and newer.status = 'active' and older.status = 'active'
        and older.version < newer.version
        and newer.container_id in (${list(orderContainers)}))`);
  }
  if (tracked.length === 0) {
    await tx.execute(sql`with ${sql.join(steps, sql`, `)} select 1`);
    return [];
  }
  steps.push(sql`next as (
      select c.id,
        case when exists (select 1 from ${containerEvents} e where e.container_id = c.id and e.seq = c.projected_seq + 1)
          then (select min(e.seq) from ${containerEvents} e
                where e.container_id = c.id and e.seq > c.projected_seq
                  and not exists (select 1 from ${containerEvents} f where f.container_id = c.id and f.seq = e.seq + 1))
          else c.projected_seq end as projected_seq
      from ${containers} c where c.id in (${list(tracked)}))`);
  const result = await tx.execute<{ id: string; projected_seq: number; version: number; age: number }>(sql`
    with ${sql.join(steps, sql`, `)}
    update ${containers} c set
      projected_seq = next.projected_seq,
      gap_since = case when next.projected_seq < c.version then coalesce(c.gap_since, now()) else null end
    from next where next.id = c.id
    returning c.id, c.projected_seq, c.version, coalesce(extract(epoch from now() - c.gap_since), 0)::float8 as age`);
  return result.rows
    .filter((r) => r.projected_seq < r.version)
    .map((r) => ({ containerId: r.id, projectedSeq: r.projected_seq, version: r.version, ageSeconds: Number(r.age) }));
}
