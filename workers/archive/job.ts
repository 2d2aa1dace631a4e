// Archival of old readings (domain/archive.ts has the rules). A month of readings older than
// READINGS_HOT_DAYS leaves Postgres and the containers once every one of its readings' events is in
// the backup bucket, never before:
//   waiting    its readings' events are checked against the backup ledger (blocked: says who lags);
//   exporting  its rows go to the ARCHIVE bucket as Parquet parts, in key order, a part at a time;
//   pruning    each container with readings in it drops its own reading rows of that age (after
//              the same check, against its own log), a page of containers at a time;
//   archived   its partition is dropped, in one transaction that first checks it holds exactly the
//              rows exported (rows that came in meanwhile start the export again, a generation on).
// Each step is recorded in archive_months as it completes, so a run stopped anywhere (its time
// budget, a crash, a blocked check) resumes where it stood. The hourly cron runs it; an admin can
// too (POST /v1/archive/run). Rows that come back below the horizon later (a replay after a restore,
// a sensor's very late reading) take the same path again: their month gets a new generation of parts.
import {
  addMonths,
  blockedBy,
  notBackedUp,
  firstHotMonth,
  hotDaysOf,
  monthOf,
  monthOfPartition,
  monthSpan,
  partitionOf,
  partKey,
  type ArchivePart,
  type CoverageNeed,
  type Month,
} from "../../domain/archive";
import { sha256Hex } from "../../platform/crypto";
import { log } from "../../platform/logging";
import { withDatabase, type Database } from "../db/client";
import { backupLedger, container } from "../stubs";
import { EXPORT_COLUMNS, readingsToParquet } from "./parquet";

/** A connection to Postgres (the job holds one for its advisory lock). */
type Pool = Pick<Database["$client"], "query">;

/** Rows per Parquet part: about 1 MB of Parquet, and well within an invocation's memory while built. */
const PART_ROWS = 100_000;
/** Containers asked to prune per page, and at once. */
const PRUNE_PAGE = 100;
const PRUNE_AT_ONCE = 25;
/**
 * How long one run may work before it stops at the next step's end: most of it is CPU (rows parsed,
 * Parquet encoded), and an invocation has 30 s of CPU unless `limits.cpu_ms` says more. A month of
 * 10 million readings takes a few hourly runs.
 */
const BUDGET_MS = 20_000;
/** Months of partitions kept ready ahead of now. */
const MONTHS_AHEAD = 2;

export interface ArchiveOptions {
  now?: number;
  budgetMs?: number;
  partRows?: number;
}

interface MonthRow {
  month: Month;
  state: "waiting" | "exporting" | "pruning" | "archived";
  generation: number;
  rows: number;
  parts: ArchivePart[];
  cursor: unknown;
}

/** Run archival until nothing is due, a check blocks, or the budget is spent. Returns what it did. */
export async function runArchival(env: Env, options: ArchiveOptions = {}): Promise<string[]> {
  const now = options.now ?? Date.now();
  const deadline = Date.now() + (options.budgetMs ?? BUDGET_MS);
  const partRows = options.partRows ?? PART_ROWS;
  const firstHot = firstHotMonth(now, hotDaysOf(env.READINGS_HOT_DAYS));
  return withDatabase(env, async (db) => {
    // One run at a time (the hourly job and an admin's may meet): a session lock on its connection.
    const pg = await db.$client.connect();
    try {
      const { rows } = await pg.query<{ ok: boolean }>(
        "select pg_try_advisory_lock(hashtext('fillgrid archive')) as ok",
      );
      if (!rows[0]?.ok) return ["another archival run is under way"];
      try {
        return await steps(env, pg, now, firstHot, partRows, deadline);
      } finally {
        await pg.query("select pg_advisory_unlock(hashtext('fillgrid archive'))");
      }
    } finally {
      pg.release();
    }
  });
}

async function steps(
  env: Env,
  pg: Pool,
  now: number,
  firstHot: Month,
  partRows: number,
  deadline: number,
): Promise<string[]> {
  await ensurePartitions(pg, now);
  const done: string[] = [];
  for (;;) {
    const month = await dueMonth(pg, firstHot);
    if (!month) {
      done.push("nothing due");
      break;
    }
    const step = await advance(env, pg, month, partRows, deadline);
    done.push(`${month.month}: ${step.did}`);
    if (step.stop || Date.now() >= deadline) break;
  }
  log("info", "archival ran", { steps: done });
  return done;
}

/**
 * Partitions for the month before this one (a sensor's buffered readings), this month and the next
 * MONTHS_AHEAD (always hot: READINGS_HOT_DAYS is at least 31). Should the default partition hold rows of a
 * month about to get its own (a sensor whose clock ran ahead), they move into it first, in the same
 * transaction.
 */
export async function ensurePartitions(pg: Pool, now: number): Promise<void> {
  const existing = new Set(await partitionMonths(pg));
  for (let i = -1; i <= MONTHS_AHEAD; i++) {
    const month = addMonths(monthOf(now), i);
    if (existing.has(month)) continue;
    const { start, end } = monthSpan(month);
    const [from, to] = [new Date(start).toISOString(), new Date(end).toISOString()];
    const table = partitionOf(month);
    try {
      await pg.query(
        [
          "begin",
          `create table if not exists ${table} (like readings including defaults including constraints)`,
          `with moved as (delete from readings_default where measured_at >= '${from}' and measured_at < '${to}' returning *)
           insert into ${table} select * from moved`,
          `alter table readings attach partition ${table} for values from ('${from}') to ('${to}')`,
          "commit",
        ].join(";\n"),
      );
    } catch (error) {
      // The connection is left in the failed transaction: end it, so the error reported is this one.
      await pg.query("rollback");
      throw error;
    }
  }
}

/** The months that have a partition of their own. */
async function partitionMonths(pg: Pool): Promise<Month[]> {
  const { rows } = await pg.query<{ name: string }>(
    "select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'readings'::regclass",
  );
  return rows.map((r) => monthOfPartition(r.name)).filter((m): m is Month => m !== null);
}

/**
 * The month to work on: one under way, else the oldest month before `firstHot` that holds readings
 * or still has a partition. Archived months whose readings came back count again.
 */
async function dueMonth(pg: Pool, firstHot: Month): Promise<MonthRow | null> {
  // A month no longer due (READINGS_HOT_DAYS raised) that nothing has moved yet is forgotten; one
  // under way finishes whatever the setting says now.
  await pg.query("delete from archive_months where state = 'waiting' and finished_at is null and month >= $1", [
    firstHot,
  ]);
  const started = await pg.query<MonthRow>(
    `select to_char(month, 'YYYY-MM-DD') as month, state, generation, rows::float8 as rows, parts, cursor
     from archive_months where state in ('exporting', 'pruning') or (state = 'waiting' and month < $1)
     order by month limit 1`,
    [firstHot],
  );
  if (started.rows[0]) return started.rows[0];
  const oldest = await pg.query<{ at: number | null }>(
    "select (date_part('epoch', min(measured_at)) * 1000)::float8 as at from readings where measured_at < $1::date::timestamp at time zone 'UTC'",
    [firstHot],
  );
  const candidates = (await partitionMonths(pg)).filter((m) => m < firstHot);
  if (oldest.rows[0]?.at != null) candidates.push(monthOf(oldest.rows[0].at));
  const month = candidates.sort()[0];
  if (!month) return null;
  const { rows } = await pg.query<MonthRow>(
    `insert into archive_months (month, state, started_at, updated_at) values ($1, 'waiting', now(), now())
     on conflict (month) do update set state = 'waiting', generation = archive_months.generation + 1,
       cursor = null, blocked = null, updated_at = now()
     returning to_char(month, 'YYYY-MM-DD') as month, state, generation, rows::float8 as rows, parts, cursor`,
    [month],
  );
  return rows[0]!;
}

interface Step {
  did: string;
  stop: boolean;
}

async function advance(env: Env, pg: Pool, m: MonthRow, partRows: number, deadline: number): Promise<Step> {
  switch (m.state) {
    case "waiting":
      return check(env, pg, m);
    case "exporting":
      return exportParts(env, pg, m, partRows, deadline);
    case "pruning":
      return prune(env, pg, m, deadline);
    case "archived":
      return { did: "archived", stop: false };
  }
}

/** The month's span as SQL literals (the month is checked by partitionOf). */
function range(month: Month): { table: string; from: string; to: string; where: string } {
  const table = partitionOf(month);
  const { start, end } = monthSpan(month);
  const [from, to] = [new Date(start).toISOString(), new Date(end).toISOString()];
  return { table, from, to, where: `measured_at >= '${from}' and measured_at < '${to}'` };
}

async function setState(pg: Pool, month: Month, fields: Record<string, unknown>): Promise<void> {
  const names = Object.keys(fields);
  await pg.query(
    `update archive_months set ${names.map((n, i) => `${n} = $${i + 2}`).join(", ")}, updated_at = now() where month = $1`,
    [month, ...names.map((n) => (n === "parts" || n === "cursor" ? JSON.stringify(fields[n]) : fields[n]))],
  );
}

/** The ledger's coverage of these containers, a thousand at a time. */
async function coverage(env: Env, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 1000) {
    const got = await backupLedger(env).coverageOf(ids.slice(i, i + 1000));
    for (const id of ids.slice(i, i + 1000)) out.set(id, got[id]?.contiguous ?? 0);
  }
  return out;
}

/** Every reading of the month has its event in the backup: the month may leave. */
async function check(env: Env, pg: Pool, m: MonthRow): Promise<Step> {
  const r = range(m.month);
  const { rows } = await pg.query<{ container_id: string; seq: number; unknown: number }>(
    `select container_id, max(seq) as seq, count(*) filter (where seq is null)::int as unknown
     from readings where ${r.where} group by container_id`,
  );
  const covered = await coverage(
    env,
    rows.map((row) => row.container_id),
  );
  const needs: CoverageNeed[] = rows.map((row) => ({
    containerId: row.container_id,
    needs: row.seq ?? 0,
    has: covered.get(row.container_id) ?? 0,
  }));
  const unknown = rows.reduce((n, row) => n + row.unknown, 0);
  const newest = rows.length === 0 ? null : (await backupLedger(env).newest()).complete;
  const blocked = rows.length === 0 ? null : blockedBy(needs, newest, unknown);
  if (blocked) {
    await setState(pg, m.month, { blocked });
    return { did: `waiting: ${blocked}`, stop: true };
  }
  const size = await pg.query<{ bytes: number | null }>(
    "select pg_total_relation_size(to_regclass($1))::float8 as bytes",
    [r.table],
  );
  await setState(pg, m.month, {
    state: "exporting",
    blocked: null,
    cursor: null,
    postgres_bytes: size.rows[0]?.bytes ?? null,
  });
  return { did: "its readings' events are in the backup", stop: false };
}

/** Where an export stands: the key (container, reading, measured_at as text) of the last row out. */
export type KeyCursor = [string, string, string];

/**
 * The month's next rows after `cursor`, in key order, as one Parquet file; null when none are left.
 * The archive's parts and GET /v1/archive/months/{month}/readings.parquet are both made by it.
 */
export async function monthPage(
  pg: Pool,
  month: Month,
  cursor: KeyCursor | null,
  limit: number,
): Promise<{
  parquet: Uint8Array<ArrayBuffer>;
  rows: number;
  first: string;
  last: string;
  outcomes: Record<string, number>;
  cursor: KeyCursor;
  /** Whether rows follow this page. */
  more: boolean;
} | null> {
  const r = range(month);
  const { rows } = await pg.query<unknown[]>({
    text: `select ${EXPORT_COLUMNS}, measured_at::text as key_at from readings
      where ${r.where} ${cursor ? "and (container_id, reading_id, measured_at) > ($1, $2, $3::timestamptz)" : ""}
      order by container_id, reading_id, measured_at limit ${Math.floor(limit) + 1}`,
    values: cursor ?? [],
    rowMode: "array",
  });
  // One row more than asked says whether another page follows.
  const more = rows.length > limit;
  if (more) rows.pop();
  const last = rows.at(-1);
  if (!last) return null;
  const outcomes: Record<string, number> = {};
  // The part's container range in JavaScript's order (the order Postgres sorted in follows its
  // collation, which may differ): history compares ids the same way.
  let first = rows[0]![0] as string;
  let lastId = first;
  for (const row of rows) {
    outcomes[row[10] as string] = (outcomes[row[10] as string] ?? 0) + 1;
    const id = row[0] as string;
    if (id < first) first = id;
    if (id > lastId) lastId = id;
  }
  return {
    more,
    outcomes,
    parquet: readingsToParquet(rows),
    rows: rows.length,
    first,
    last: lastId,
    cursor: [last[0] as string, last[1] as string, last[14] as string],
  };
}

/** Parquet parts of the month's rows, in key order, each recorded as it is written. */
async function exportParts(env: Env, pg: Pool, m: MonthRow, partRows: number, deadline: number): Promise<Step> {
  let cursor = (m.cursor as KeyCursor | null) ?? null;
  let parts = m.parts;
  let written = 0;
  // At least one part a run, however little time is left, so that every run moves the month on.
  do {
    const page = await monthPage(pg, m.month, cursor, partRows);
    if (!page) {
      await setState(pg, m.month, { state: "pruning", cursor: null });
      return { did: `exported ${written} parts`, stop: false };
    }
    const index = parts.filter((p) => p.key.includes(`/g${m.generation}-`)).length;
    const key = partKey(m.month, m.generation, index);
    const part: ArchivePart = {
      key,
      rows: page.rows,
      bytes: page.parquet.byteLength,
      sha256: await sha256Hex(page.parquet),
      firstContainer: page.first,
      lastContainer: page.last,
      outcomes: page.outcomes,
    };
    await env.ARCHIVE.put(key, page.parquet, {
      sha256: part.sha256,
      customMetadata: {
        rows: String(part.rows),
        firstContainer: part.firstContainer,
        lastContainer: part.lastContainer,
      },
    });
    cursor = page.cursor;
    parts = [...parts.filter((p) => p.key !== key), part];
    await pg.query(
      `update archive_months set parts = $2, cursor = $3, rows = rows + $4, bytes = bytes + $5, updated_at = now()
       where month = $1`,
      [m.month, JSON.stringify(parts), JSON.stringify(cursor), part.rows, part.bytes],
    );
    written++;
  } while (Date.now() < deadline);
  return { did: `exported ${written} parts (more to come)`, stop: true };
}

/**
 * Each container with readings in the month drops its own reading rows from before the month's end,
 * after checking the backup holds their events; then the partition goes.
 */
async function prune(env: Env, pg: Pool, m: MonthRow, deadline: number): Promise<Step> {
  const r = range(m.month);
  let after = (m.cursor as string | null) ?? "";
  const before = monthSpan(m.month).end;
  do {
    const { rows } = await pg.query<{ id: string }>(
      `select distinct container_id as id from readings where ${r.where} and container_id > $1 order by 1 limit ${PRUNE_PAGE}`,
      [after],
    );
    if (rows.length === 0) return drop(env, pg, m);
    const ids = rows.map((row) => row.id);
    const covered = await coverage(env, ids);
    let pruned = 0;
    const behind: CoverageNeed[] = [];
    for (let i = 0; i < ids.length; i += PRUNE_AT_ONCE) {
      const answers = await Promise.all(
        ids
          .slice(i, i + PRUNE_AT_ONCE)
          .map(async (id) => ({ id, ...(await container(env, id).pruneReadings(before, covered.get(id) ?? 0)) })),
      );
      for (const a of answers) {
        pruned += a.pruned;
        if (a.needsSeq !== null) behind.push({ containerId: a.id, needs: a.needsSeq, has: covered.get(a.id) ?? 0 });
      }
    }
    if (behind.length > 0) {
      // The containers before them are pruned; these are asked again on the next run.
      const blocked = notBackedUp(behind);
      await pg.query(
        `update archive_months set blocked = $2, readings_pruned = readings_pruned + $3, updated_at = now() where month = $1`,
        [m.month, blocked, pruned],
      );
      return { did: `pruning: ${blocked}`, stop: true };
    }
    after = ids.at(-1)!;
    await pg.query(
      `update archive_months set cursor = $2, containers_pruned = containers_pruned + $3, readings_pruned = readings_pruned + $4,
         blocked = null, updated_at = now() where month = $1`,
      [m.month, JSON.stringify(after), ids.length, pruned],
    );
  } while (Date.now() < deadline);
  return { did: "pruning (more to come)", stop: true };
}

/**
 * The month's partition dropped (and its rows in the default partition deleted) in one transaction
 * that first holds both against writes and counts what is there: exactly the rows this generation
 * exported, or nothing is dropped and the export begins again, a generation on.
 */
async function drop(env: Env, pg: Pool, m: MonthRow): Promise<Step> {
  const r = range(m.month);
  const exported = m.parts.filter((p) => p.key.includes(`/g${m.generation}-`)).reduce((n, p) => n + p.rows, 0);
  const exists = (await partitionMonths(pg)).includes(m.month);
  try {
    await pg.query(`do $$
      begin
        -- Dropping a partition takes the whole table for a moment: never queue long behind a reader.
        perform set_config('lock_timeout', '5s', true);
        ${exists ? `lock table ${r.table} in share mode;` : ""}
        lock table readings_default in share mode;
        if (select count(*) from readings where ${r.where}) <> ${exported} then
          raise exception 'archive_rows_changed';
        end if;
        ${exists ? `drop table ${r.table};` : ""}
        delete from readings_default where ${r.where};
        update archive_months set state = 'archived', cursor = null, blocked = null,
          finished_at = coalesce(finished_at, now()), updated_at = now()
        where month = '${m.month}';
      end $$`);
  } catch (error) {
    if (error instanceof Error && /lock timeout/.test(error.message))
      return { did: "the readings table was busy; the next run drops the partition", stop: true };
    if (!(error instanceof Error && error.message.includes("archive_rows_changed"))) throw error;
    // Rows came (or went) while the month was on its way: its export begins again, a generation on,
    // and this generation's parts go.
    const stale = m.parts.filter((p) => p.key.includes(`/g${m.generation}-`));
    await env.ARCHIVE.delete(stale.map((p) => p.key));
    await pg.query(
      `update archive_months set state = 'waiting', generation = generation + 1, cursor = null, parts = $2,
         rows = rows - $3, bytes = bytes - $4, updated_at = now() where month = $1`,
      [
        m.month,
        JSON.stringify(m.parts.filter((p) => !stale.includes(p))),
        exported,
        stale.reduce((n, p) => n + p.bytes, 0),
      ],
    );
    return { did: "rows changed during the export; it begins again", stop: false };
  }
  return { did: `archived (${exported} rows)`, stop: false };
}

/** A month as GET /v1/archive/status shows it. */
export interface ArchiveMonthStatus {
  month: string;
  state: MonthRow["state"];
  generation: number;
  rows: number;
  bytes: number;
  postgresBytes: number | null;
  parts: number;
  containersPruned: number;
  readingsPruned: number;
  blocked: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface ArchiveStatus {
  hotDays: number;
  firstHotMonth: string;
  archivedBefore: string | null;
  /** Months before the first hot one still (partly) in Postgres. */
  monthsDue: number;
  oldestHotReading: string | null;
  /** Readings in the archive by outcome (a reading archived twice, after a restore, counts twice). */
  archivedOutcomes: Record<string, number>;
  months: ArchiveMonthStatus[];
}

/** Where archival stands: the setting, the horizon, what is due, and every month it has touched. */
export async function archiveStatus(env: Env, pg: Pool, now = Date.now()): Promise<ArchiveStatus> {
  const hotDays = hotDaysOf(env.READINGS_HOT_DAYS);
  const firstHot = firstHotMonth(now, hotDays);
  const [months, oldest, defaultMonths, partitions] = await Promise.all([
    pg.query<{
      month: string;
      state: MonthRow["state"];
      generation: number;
      rows: number;
      bytes: number;
      postgres_bytes: number | null;
      parts: ArchivePart[];
      containers_pruned: number;
      readings_pruned: number;
      blocked: string | null;
      started_at: Date;
      updated_at: Date;
      finished_at: Date | null;
    }>(
      `select to_char(month, 'YYYY-MM-DD') as month, state, generation, rows::float8 as rows, bytes::float8 as bytes,
         postgres_bytes::float8 as postgres_bytes, parts, containers_pruned, readings_pruned, blocked, started_at, updated_at, finished_at
       from archive_months order by month desc`,
    ),
    pg.query<{ at: Date | null }>("select min(measured_at) as at from readings"),
    pg.query<{ month: string }>(
      `select distinct to_char(date_trunc('month', measured_at at time zone 'UTC'), 'YYYY-MM-DD') as month
       from readings_default where measured_at < $1::date::timestamp at time zone 'UTC'`,
      [firstHot],
    ),
    partitionMonths(pg),
  ]);
  const due = new Set([...defaultMonths.rows.map((r) => r.month), ...partitions.filter((m) => m < firstHot)]);
  const finished = months.rows.filter((m) => m.finished_at !== null).map((m) => m.month);
  const archivedOutcomes: Record<string, number> = {};
  // As GET /metrics counts them: a generation still on its way counts once its rows have left.
  for (const m of months.rows)
    if (m.finished_at !== null)
      for (const part of m.parts.filter((p) => m.state === "archived" || !p.key.includes(`/g${m.generation}-`)))
        for (const [outcome, n] of Object.entries(part.outcomes ?? {}))
          archivedOutcomes[outcome] = (archivedOutcomes[outcome] ?? 0) + n;
  const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
  return {
    hotDays,
    firstHotMonth: firstHot,
    archivedBefore: finished.length === 0 ? null : new Date(monthSpan(finished.sort().at(-1)!).end).toISOString(),
    monthsDue: due.size,
    oldestHotReading: iso(oldest.rows[0]?.at ?? null),
    archivedOutcomes,
    months: months.rows.map((m) => ({
      month: m.month,
      state: m.state,
      generation: m.generation,
      rows: m.rows,
      bytes: m.bytes,
      postgresBytes: m.postgres_bytes,
      parts: m.parts.length,
      containersPruned: m.containers_pruned,
      readingsPruned: m.readings_pruned,
      blocked: m.blocked,
      startedAt: iso(m.started_at)!,
      updatedAt: iso(m.updated_at)!,
      finishedAt: iso(m.finished_at),
    })),
  };
}
