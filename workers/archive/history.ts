// A container's archived readings for a history range: the parts of the archived months the range
// touches that hold the container (by each part's container range), read from R2 by byte ranges so
// only the row groups holding it travel.
import { sql } from "drizzle-orm";
import { monthSpan, partsHolding, type ArchivePart } from "../../domain/archive";
import type { Database, Transaction } from "../db/client";
import { ARCHIVED_BEFORE } from "../db/rollups";
import { r2File, readingsFromParquet, type ArchivedReading } from "./parquet";

export interface ArchivedRange {
  /** Readings before this instant are in the archive, not in Postgres (null: none archived yet). */
  archivedBefore: string | null;
  /** The container's applied readings in the range's archived part, oldest first, each once. */
  readings: { at: number; fill: number }[];
}

/**
 * The container's archived rows measured in [from, to) and before the horizon, each reading once,
 * oldest first (all outcomes), with the horizon.
 */
export async function archivedRows(
  env: Env,
  db: Database | Transaction,
  containerId: string,
  from: string,
  to: string,
): Promise<{ archivedBefore: string | null; rows: ArchivedReading[] }> {
  const [horizon] = (
    await db.execute<{ at: string | null }>(
      sql`select case when h.at = '-infinity' then null else h.at end as at from (select ${sql.raw(ARCHIVED_BEFORE)} as at) h`,
    )
  ).rows;
  const archivedBefore = horizon?.at ? new Date(horizon.at).toISOString() : null;
  if (!archivedBefore || from >= archivedBefore) return { archivedBefore, rows: [] };
  const { rows } = await db.execute<{ parts: ArchivePart[] }>(sql`
    select parts from archive_months where finished_at is not null
      and month::timestamp at time zone 'UTC' < ${to}::timestamptz and (month + interval '1 month') at time zone 'UTC' > ${from}::timestamptz
    order by month`);
  const [start, end] = [Date.parse(from), Math.min(Date.parse(to), Date.parse(archivedBefore))];
  const seen = new Set<string>();
  const out: ArchivedReading[] = [];
  for (const part of rows.flatMap((r) => partsHolding(r.parts, containerId))) {
    for (const r of await readingsFromParquet(r2File(env.ARCHIVE, part.key, part.bytes), containerId)) {
      // A reading that came back after a restore and was archived again is in two parts: once here.
      if (r.measuredAt < start || r.measuredAt >= end || seen.has(r.readingId)) continue;
      seen.add(r.readingId);
      out.push(r);
    }
  }
  return { archivedBefore, rows: out.sort((a, b) => a.measuredAt - b.measuredAt) };
}

export async function archivedReadings(
  env: Env,
  db: Database | Transaction,
  containerId: string,
  from: string,
  to: string,
): Promise<ArchivedRange> {
  const { archivedBefore, rows } = await archivedRows(env, db, containerId, from, to);
  return {
    archivedBefore,
    readings: rows.filter((r) => r.status === "applied").map((r) => ({ at: r.measuredAt, fill: r.fillPercent })),
  };
}

/**
 * When the container's oldest archived applied reading was measured: the archived months whose
 * parts may hold it, oldest first, read until one does (null: none holds it).
 */
export async function oldestArchived(
  env: Env,
  db: Database | Transaction,
  containerId: string,
): Promise<string | null> {
  const { rows } = await db.execute<{ month: string; parts: ArchivePart[] }>(sql`
    select to_char(month, 'YYYY-MM-DD') as month, parts from archive_months where finished_at is not null order by month`);
  for (const m of rows) {
    if (partsHolding(m.parts, containerId).length === 0) continue;
    const { start, end } = monthSpan(m.month);
    const { rows: found } = await archivedRows(
      env,
      db,
      containerId,
      new Date(start).toISOString(),
      new Date(end).toISOString(),
    );
    const first = found.find((r) => r.status === "applied");
    if (first) return new Date(first.measuredAt).toISOString();
  }
  return null;
}
