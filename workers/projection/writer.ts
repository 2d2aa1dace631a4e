import { getTableColumns, getTableName } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../db/client";
import { addReadingsToDays, lockContainers, recountDays, touchedDays } from "../db/rollups";
import { anomalies, containerEvents, containers, orders, readings } from "../db/schema";
import type { ProjectionPlan } from "./plan";

/** A container whose projection lacks events: Postgres has every event up to `projectedSeq`, and has seen `version`. */
export interface ProjectionGap {
  containerId: string;
  projectedSeq: number;
  version: number;
  /** How long Postgres has lacked events of this container, in seconds (0 when found just now). */
  ageSeconds?: number;
}

// Why the batch is one SQL text with its values written in as literals rather than bound
// parameters: the extended protocol that binds parameters takes one round trip per statement, and a
// batch needs four (BEGIN, the writes, the completeness check over what they wrote, COMMIT). Under
// load the consumer shares its isolate with ingest and every round trip waits its turn there, so
// the round trips, not Postgres, set how fast the projection lands. Several statements in one
// simple query are one round trip and run as one transaction (Postgres' own rule for a
// multi-statement Query message: all of it commits, or none of it). Every value goes in through
// `literal` below, as a JSON text turned into rows by Postgres (each value cast to its column's
// type); table names, and the columns of the rows inserted, come from the schema.

/**
 * A string as a Postgres literal: dollar-quoted (`$fg$…$fg$`, taken as it is, with no escapes to
 * write or read), unless the text holds the tag itself; then an escape string (E'…', whose meaning
 * does not depend on standard_conforming_strings) with quotes and backslashes doubled. Written here
 * because the driver's exported escapeLiteral is undefined in the version in use (its Client has
 * the method), and because a batch's JSON runs to hundreds of kilobytes: escaping it was a tenth of
 * the projection consumer's time, a look for the tag is one native scan. JSON text never holds a
 * raw NUL (JSON.stringify writes \u0000).
 */
const DOLLAR_TAG = "$fg$";
export function literal(text: string): string {
  if (!text.includes(DOLLAR_TAG)) return `${DOLLAR_TAG}${text}${DOLLAR_TAG}`;
  return `E'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

const name = (id: string) => `"${id.replace(/"/g, '""')}"`;
const json = (value: unknown) => `${literal(JSON.stringify(value))}::jsonb`;
/** The ids as a set to test against: `x in (ids(...))`. */
const ids = (values: readonly string[]) => `select jsonb_array_elements_text(${json(values)})`;

/**
 * Rows of a table, from plan objects keyed by field, inserted from one JSON literal: each row an
 * array of its values in column order (the column names are not repeated in every row, a third of
 * a container row's JSON), each value read with its column's type. Ends in the conflict clause
 * `conflict` writes for the columns inserted.
 */
function insertRows(
  table: PgTable,
  rows: readonly Record<string, unknown>[],
  conflict: (columns: Array<[string, { name: string }]>) => string,
): string {
  const fields = Object.entries(getTableColumns(table)).filter(([field]) => rows.some((r) => r[field] !== undefined));
  const tableName = name(getTableName(table));
  const columns = fields.map(([, c]) => name(c.name)).join(", ");
  const values = json(rows.map((r) => fields.map(([field]) => r[field] ?? null)));
  // A JSON null is SQL's null in every column, a jsonb one included.
  const read = fields
    .map(([, c], i) => {
      const type = c.getSQLType();
      return type === "jsonb" ? `nullif(r->${i}, 'null'::jsonb)` : `(r->>${i})::${type}`;
    })
    .join(", ");
  return `insert into ${tableName} (${columns})
    select ${read} from jsonb_array_elements(${values}) as t(r)
    ${conflict(fields)}`;
}

/**
 * Container or order rows upserted by id, moving a row only to a higher version. `keep`: fields the
 * projection keeps itself, never overwritten; `extra`: more to set.
 */
function upsertRows(table: PgTable, rows: readonly Record<string, unknown>[], keep: string[], extra?: string): string {
  const tableName = name(getTableName(table));
  return insertRows(table, rows, (fields) => {
    const set = [
      ...fields.filter(([field]) => !keep.includes(field)).map(([, c]) => `${name(c.name)} = excluded.${name(c.name)}`),
      ...(extra ? [extra] : []),
    ];
    return `on conflict (id) do update set ${set.join(", ")} where ${tableName}.version < excluded.version`;
  });
}

/**
 * Columns of a row read from an event's body in Postgres (`e`, a jsonb), each with its column's type.
 * A batch's events go into the SQL text once, as their bodies: the event row and the reading row
 * are both read from them there, rather than written out again beside each body (which made a
 * batch's text about half as long again, and building and sending it is most of the consumer's work).
 */
type Columns = ReadonlyArray<readonly [column: { name: string }, value: string]>;

function insertFrom(table: PgTable, columns: Columns, source: string, tail: string): string {
  return `insert into ${name(getTableName(table))} (${columns.map(([c]) => name(c.name)).join(", ")})
    select ${columns.map(([, value]) => value).join(", ")} from ${source}
    ${tail}`;
}

const ev = getTableColumns(containerEvents);
/** Every event of the batch once by id (a message delivered again adds nothing). */
const insertEvents = (source: string) =>
  insertFrom(
    containerEvents,
    [
      [ev.id, "e->>'id'"],
      [ev.containerId, "e->>'containerId'"],
      [ev.seq, "(e->>'seq')::integer"],
      [ev.type, "e->>'type'"],
      [ev.at, "(e->>'at')::timestamptz"],
      [ev.actorKind, "e->'actor'->>'kind'"],
      [ev.actorId, "e->'actor'->>'id'"],
      [ev.readingId, "e->>'readingId'"],
      [ev.body, "e"],
    ],
    source,
    "on conflict do nothing",
  );

const rd = getTableColumns(readings);
/** The row of each reading.recorded event (domain/events.ts: its reading, outcome and refill), once by key. */
const insertReadings = (source: string) =>
  insertFrom(
    readings,
    [
      [rd.containerId, "e->>'containerId'"],
      [rd.readingId, "e->'reading'->>'readingId'"],
      [rd.measuredAt, "(e->'reading'->>'measuredAt')::timestamptz"],
      [rd.receivedAt, "(e->'reading'->>'receivedAt')::timestamptz"],
      [rd.fillPercent, "(e->'reading'->>'fillPercent')::float8"],
      [rd.contents, "e->'reading'->>'contents'"],
      [rd.lat, "(e->'reading'->'location'->>'lat')::float8"],
      [rd.lon, "(e->'reading'->'location'->>'lon')::float8"],
      [rd.battery, "(e->'reading'->>'battery')::float8"],
      [rd.clockSkewMs, "coalesce((e->'reading'->>'clockSkewMs')::integer, 0)"],
      [rd.status, "e->>'outcome'"],
      [rd.refillRise, "(e->'refill'->>'rise')::float8"],
      [rd.eventId, "e->>'id'"],
      [rd.seq, "(e->>'seq')::integer"],
    ],
    `${source} where e->>'type' = 'reading.recorded'`,
    "on conflict do nothing returning container_id, measured_at, fill_percent, contents, refill_rise",
  );

/**
 * A plan's statements. Every one is idempotent: events and readings are inserted once by key, and
 * container and order rows move only to a higher version, so replaying any message, or applying
 * messages out of order, ends in the same rows; a reading is added to its day's rollup only as its
 * row is first inserted (db/rollups.ts). First every insert as one data-modifying `WITH`; then,
 * over what that wrote (a later statement sees what an earlier one wrote), the orders superseded,
 * the deliveries and anomalies of the days they touched, and each tracked container's
 * `projected_seq`. `gaps`: whether the last statement's rows are the plan's gaps; `locks`: the
 * containers whose days are counted again, to be locked before any of it (db/rollups.ts).
 */
export function planStatements(
  plan: ProjectionPlan,
  trackCompleteness = true,
  /** false only in scripts/bench/projection-write.mjs: what the rollups cost. */
  keepRollups = true,
): { statements: string[]; gaps: boolean; locks: string[] } {
  const writes: string[] = [];
  if (plan.events.length > 0) {
    writes.push(`events_json as (select e from jsonb_array_elements(${json(plan.events)}) as t(e))`);
    writes.push(`events_in as (${insertEvents("events_json")})`);
    if (plan.events.some((e) => e.type === "reading.recorded")) {
      // Only the rows inserted come back, so a reading sent again adds nothing to its day.
      writes.push(`readings_in as (${insertReadings("events_json")})`);
      if (keepRollups) writes.push(`days_in as (${addReadingsToDays("readings_in")})`);
    }
  }
  if (plan.containers.length > 0)
    writes.push(
      `containers_in as (${upsertRows(containers, plan.containers, ["id", "projectedSeq", "gapSince"], "projected_at = now()")})`,
    );
  if (plan.orders.length > 0) {
    // An order from before the step times were kept has none; the times Postgres found for it stay.
    const keepSteps = ["accepted_at", "dispatched_at"]
      .map((c) => `${c} = coalesce(excluded.${c}, orders.${c})`)
      .join(", ");
    writes.push(`orders_in as (${upsertRows(orders, plan.orders, ["id", "acceptedAt", "dispatchedAt"], keepSteps)})`);
  }
  if (plan.anomalies.length > 0) writes.push(`anomalies_in as (${upsertRows(anomalies, plan.anomalies, ["id"])})`);
  if (writes.length === 0) return { statements: [], gaps: false, locks: [] };
  const statements = [`with ${writes.join(", ")} select 1`];

  const orderContainers = [...new Set(plan.orders.map((o) => o.containerId))];
  const tracked = trackCompleteness ? plan.containers.map((c) => c.id) : [];
  if (orderContainers.length > 0) statements.push(closeSuperseded(orderContainers));
  const days = touchedDays(plan.orders, plan.anomalies);
  // Counted again rather than added: under the containers' locks (writePlans takes them first).
  if (days.length > 0)
    statements.push(recountDays(`select * from jsonb_to_recordset(${json(days)}) as t(container_id text, day date)`));
  if (tracked.length > 0) statements.push(advanceProjectedSeq(tracked));
  return { statements, gaps: tracked.length > 0, locks: [...new Set(days.map((d) => d.container_id))] };
}

/**
 * A container opens an order only once the one before is closed, so an active row older than the
 * container's newest active order is closed, even if its closing event has not arrived yet (delayed
 * or redelivered late; its version stays, so that event still fills in the details).
 */
function closeSuperseded(containerIds: string[]): string {
  const table = name(getTableName(orders));
  return `update ${table} as older set status = 'closed'
    from ${table} as newer
    where newer.container_id = older.container_id
      and newer.status = 'active' and older.status = 'active'
      and older.version < newer.version
      and newer.container_id in (${ids(containerIds)})`;
}

/**
 * Each container's `projected_seq` moves to the end of the unbroken run of events from 1, with
 * `gap_since` saying since when a gap has stood. Returns every container it looked at; those whose
 * projected_seq is below their version still lack events.
 */
function advanceProjectedSeq(containerIds: string[]): string {
  const events = name(getTableName(containerEvents));
  const containersTable = name(getTableName(containers));
  return `with next as (
      select c.id,
        case when exists (select 1 from ${events} e where e.container_id = c.id and e.seq = c.projected_seq + 1)
          then (select min(e.seq) from ${events} e
                where e.container_id = c.id and e.seq > c.projected_seq
                  and not exists (select 1 from ${events} f where f.container_id = c.id and f.seq = e.seq + 1))
          else c.projected_seq end as projected_seq
      from ${containersTable} c where c.id in (${ids(containerIds)}))
    update ${containersTable} c set
      projected_seq = next.projected_seq,
      gap_since = case when next.projected_seq < c.version then coalesce(c.gap_since, now()) else null end
    from next where next.id = c.id
    returning c.id, c.projected_seq, c.version, coalesce(extract(epoch from now() - c.gap_since), 0)::float8 as age`;
}

type GapRow = { id: string; projected_seq: number; version: number; age: number | string };

/**
 * Plans written in one round trip and one transaction (see above); the gaps all of them showed.
 * A failure of any statement leaves nothing of the batch written.
 */
export async function writePlans(
  db: Database,
  plans: readonly ProjectionPlan[],
  trackCompleteness = true,
): Promise<ProjectionGap[]> {
  const parts = plans.map((plan) => planStatements(plan, trackCompleteness));
  const locks = [...new Set(parts.flatMap((p) => p.locks))];
  // The locks of every part first: a transaction never waits for one while holding rows it wrote.
  const statements = locks.length > 0 ? [lockContainers(ids(locks))] : [];
  const gapStatements = new Set<number>();
  for (const part of parts) {
    statements.push(...part.statements);
    if (part.gaps) gapStatements.add(statements.length - 1);
  }
  if (statements.length === 0) return [];
  const answer = await db.$client.query(statements.join(";\n"));
  // One result per statement (a single one when the text held only one).
  const results = (Array.isArray(answer) ? answer : [answer]) as Array<{ rows: GapRow[] }>;
  return [...gapStatements]
    .flatMap((i) => results[i]!.rows)
    .filter((r) => r.projected_seq < r.version)
    .map((r) => ({
      containerId: r.id,
      projectedSeq: Number(r.projected_seq),
      version: Number(r.version),
      ageSeconds: Number(r.age),
    }));
}
