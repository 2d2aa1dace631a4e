import { and, desc, inArray, isNotNull, lte, sql } from "drizzle-orm";
import { fullSweepPerSecond, reconcileEveryMs } from "../../domain/reconciliation";
import { reportError } from "../../platform/error-report";
import { log } from "../../platform/logging";
import type { Database } from "../db/client";
import { withDatabase } from "../db/client";
import { containerEvents, containers, orders, projectionRuns, readings } from "../db/schema";
import { container, containerIndex } from "../stubs";
import { ARCHIVED_BEFORE, recomputeContainers } from "../db/rollups";
import { literal, type ProjectionGap } from "./writer";

/** How long a gap may stand before its events are asked for (PROJECTION_GAP_GRACE_SECONDS). */
export function gapGraceSeconds(env: Env): number {
  const seconds = Number(env.PROJECTION_GAP_GRACE_SECONDS);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : 5;
}

/**
 * Every minute: the containers whose gap has stood past the grace period (no later message of
 * theirs came to find it again) are asked for what is missing. At most 1,000 a run, oldest first.
 */
export async function fillStandingGaps(env: Env): Promise<number> {
  const grace = gapGraceSeconds(env);
  const standing = await withDatabase(env, (db) =>
    db
      .select({ containerId: containers.id, projectedSeq: containers.projectedSeq, version: containers.version })
      .from(containers)
      .where(
        and(isNotNull(containers.gapSince), lte(containers.gapSince, sql`now() - make_interval(secs => ${grace})`)),
      )
      .orderBy(containers.gapSince)
      .limit(1000),
  );
  return requestMissing(env, standing);
}

/** Ask each container with a gap to send the missing events again. Returns how many it sent. */
export async function requestMissing(env: Env, gaps: readonly ProjectionGap[]): Promise<number> {
  let sent = 0;
  await Promise.all(
    gaps.map(async (gap) => {
      try {
        sent += await container(env, gap.containerId).resend(gap.projectedSeq + 1, gap.version);
      } catch (error) {
        await reportError(env, error, "consumer", "projection gap", {
          containerId: gap.containerId,
          from: gap.projectedSeq + 1,
          to: gap.version,
        });
      }
    }),
  );
  if (gaps.length > 0) log("info", "projection gaps found; events asked for again", { containers: gaps.length, sent });
  return sent;
}

/** What a reconciliation covers: the containers that moved since the run before, or every container. */
export type Sweep = "changed" | "full";

/**
 * Postgres's rows checked against the events they stand for, per container: above `verified_seq`
 * for the containers whose projection moved past it (a regular run), or from the first event for
 * every container (a full sweep: it also finds rows deleted by hand or lost in a restore below the
 * watermark). One grouped scan over the ranges, using container_events' (container_id, seq) index and
 * the readings' and orders' keys. A reading measured before the archive's horizon is not expected in
 * Postgres (it is in the archive: workers/archive/job.ts). An intact range moves `verified_seq` up; a container whose rows
 * have gone goes back to what was verified (0 in a full sweep) and sends again from there.
 */
async function verify(
  db: Database,
  sweep: Sweep,
): Promise<Array<{ id: string; projectedSeq: number; intact: boolean }>> {
  const candidates =
    sweep === "full"
      ? sql`select id, 0 as lo, projected_seq as hi from ${containers}`
      : sql`select id, verified_seq as lo, projected_seq as hi from ${containers} where projected_seq > verified_seq`;
  const result = await db.execute<{ id: string; hi: number; intact: boolean }>(sql`
    with candidates as (${candidates}),
    horizon as (select ${sql.raw(ARCHIVED_BEFORE)} as at),
    checked as (
      select c.id, c.lo, c.hi,
        count(e.id) = c.hi - c.lo
        and count(*) filter (where e.type = 'reading.recorded' and r.reading_id is null
          and (e.body->'reading'->>'measuredAt')::timestamptz >= (select at from horizon)) = 0
        and count(*) filter (where e.type = 'order.opened') = count(o.id) as intact
      from candidates c
      left join ${containerEvents} e on e.container_id = c.id and e.seq > c.lo and e.seq <= c.hi
      left join ${readings} r on e.type = 'reading.recorded' and r.container_id = e.container_id and r.reading_id = e.reading_id
        and r.measured_at = (e.body->'reading'->>'measuredAt')::timestamptz
      left join ${orders} o on e.type = 'order.opened' and o.id = e.body->'order'->>'id'
      group by c.id, c.lo, c.hi),
    verified as (
      update ${containers} c set verified_seq = k.hi from checked k
      where k.intact and c.id = k.id and c.verified_seq < k.hi returning c.id),
    distrusted as (
      update ${containers} c set projected_seq = least(c.projected_seq, k.lo), verified_seq = least(c.verified_seq, k.lo), gap_since = coalesce(c.gap_since, now())
      from checked k where not k.intact and c.id = k.id returning c.id)
    select k.id, case when k.intact then k.hi else k.lo end as hi, k.intact from checked k`);
  const brokenIds = result.rows.filter((r) => !r.intact).map((r) => r.id);
  const broken = brokenIds.length;
  if (broken > 0) {
    log("warn", "projection rows missing below projected_seq; those containers send their events again", {
      containers: broken,
      sweep,
    });
    // Their days again from the rows left, before the missing rows come back and add themselves.
    const ids = `select jsonb_array_elements_text(${literal(JSON.stringify(brokenIds))}::jsonb)`;
    await db.$client.query(["begin", ...recomputeContainers(ids), "commit"].join(";\n"));
  }
  return result.rows.map((r) => ({ id: r.id, projectedSeq: Number(r.hi), intact: r.intact }));
}

export interface Reconciliation {
  trigger: string;
  sweep: Sweep;
  startedAt: string;
  finishedAt: string;
  containersChecked: number;
  containersBehind: number;
  eventsResent: number;
  failures: number;
  /** Containers asked over RPC (each one woken to answer). */
  containersWoken: number;
  /** Time spent waiting for Postgres, and in all. */
  postgresMs: number;
  wallMs: number;
}

const INDEX_PAGE = 500;
const AT_ONCE = 25;
/** Every page of a paged id list. */
async function allIds(page: (after: string) => Promise<string[]>): Promise<string[]> {
  const ids: string[] = [];
  for (let after = ""; ;) {
    const got = await page(after);
    ids.push(...got);
    if (got.length < INDEX_PAGE) return ids;
    after = got[got.length - 1]!;
  }
}

/**
 * Compare containers' live versions with what Postgres holds and have each container that is behind
 * send what is missing. A regular run (`changed`, every 10 minutes) checks the Postgres rows above
 * each container's verified watermark and asks only the containers whose log moved since the run
 * before (they tell the index; see ContainerDO.sayMoved) or whose rows were found missing: its
 * cost follows what changed, not the size of the fleet. A `full` sweep (daily, after an unclean
 * stop of `npm run dev`, or by an admin) checks every row and asks every container the index or
 * Postgres knows, paced (RECONCILE_FULL_SWEEP_PER_SECOND). Recorded in `projection_runs`.
 */
export async function reconcile(env: Env, trigger: string, sweep: Sweep = "changed"): Promise<Reconciliation> {
  const began = Date.now();
  const t0 = performance.now();
  let postgresMs = 0;
  const timed = async <T>(work: (db: Database) => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await withDatabase(env, work);
    } finally {
      postgresMs += performance.now() - t;
    }
  };
  const index = containerIndex(env);
  const [checked, previousStart] = await Promise.all([timed((db) => verify(db, sweep)), index.lastLooked()]);
  // A regular run with no run before it has nothing to go by: it sweeps everything.
  const effective: Sweep = sweep === "changed" && previousStart === null ? "full" : sweep;
  const projected = new Map(checked.map((c) => [c.id, c.projectedSeq]));
  let ids: string[];
  if (effective === "full") {
    ids = [...new Set([...projected.keys(), ...(await allIds((after) => index.list(after, INDEX_PAGE)))])];
  } else {
    // Never from later than now: a clock that stepped back must not hide what moved.
    const since = Math.min(previousStart!, began) - reconcileEveryMs(env.RECONCILE_EVERY_SECONDS);
    const moved = await allIds((after) => index.movedSince(since, after, INDEX_PAGE));
    ids = [...new Set([...moved, ...checked.filter((c) => !c.intact).map((c) => c.id)])];
    // What Postgres vouches for, for the moved containers its check did not cover.
    const unknown = ids.filter((id) => !projected.has(id));
    for (let i = 0; i < unknown.length; i += INDEX_PAGE) {
      const chunk = unknown.slice(i, i + INDEX_PAGE);
      const rows = await timed((db) =>
        db
          .select({ id: containers.id, projectedSeq: containers.projectedSeq })
          .from(containers)
          .where(inArray(containers.id, chunk)),
      );
      for (const r of rows) projected.set(r.id, r.projectedSeq);
    }
  }

  let behind = 0;
  let resent = 0;
  let failures = 0;
  const queue = [...ids];
  const paceMs = effective === "full" ? 1000 / fullSweepPerSecond(env.RECONCILE_FULL_SWEEP_PER_SECOND) : 0;
  let nextAt = Date.now();
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        if (paceMs > 0) {
          const wait = nextAt - Date.now();
          nextAt = Math.max(nextAt, Date.now()) + paceMs;
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        try {
          const seq = projected.get(id) ?? 0;
          const check = await container(env, id).projectionCheck(seq);
          if (check.version > seq) behind++;
          resent += check.resent;
        } catch (error) {
          failures++;
          await reportError(env, error, "cron", "projection reconciliation", { containerId: id, sweep: effective });
        }
      }
    }),
  );
  const run: Reconciliation = {
    trigger,
    sweep: effective,
    startedAt: new Date(began).toISOString(),
    finishedAt: new Date().toISOString(),
    containersChecked: effective === "full" ? ids.length : new Set([...ids, ...checked.map((c) => c.id)]).size,
    containersBehind: behind,
    eventsResent: resent,
    failures,
    containersWoken: ids.length,
    postgresMs,
    wallMs: 0,
  };
  // The next regular run looks back from here; a run with failures leaves it where it was, so the
  // containers it could not ask are asked again.
  if (failures === 0) await index.looked(began, reconcileEveryMs(env.RECONCILE_EVERY_SECONDS));
  await timed((db) =>
    db
      .insert(projectionRuns)
      .values({ ...run, wallMs: Math.round(performance.now() - t0), postgresMs: Math.round(postgresMs) }),
  );
  run.wallMs = Math.round(performance.now() - t0);
  run.postgresMs = Math.round(postgresMs);
  log("info", "projection reconciled", { ...run });
  return run;
}

export interface ProjectionStatus {
  containersBehind: number;
  eventsMissing: number;
  oldestGapSince: string | null;
  lastReconciliation: Reconciliation | null;
}

/** What Postgres knows it lacks, and what the last reconciliation found. */
export async function projectionStatus(db: Database): Promise<ProjectionStatus> {
  const gaps = await db
    .select({
      id: containers.id,
      projectedSeq: containers.projectedSeq,
      version: containers.version,
      gapSince: containers.gapSince,
    })
    .from(containers)
    .where(isNotNull(containers.gapSince));
  let eventsMissing = 0;
  if (gaps.length > 0) {
    const present = await db
      .select({ id: containerEvents.containerId, n: sql<number>`count(*)::int` })
      .from(containerEvents)
      .innerJoin(containers, sql`${containers.id} = ${containerEvents.containerId}`)
      .where(
        sql`${containerEvents.containerId} in ${gaps.map((g) => g.id)} and ${containerEvents.seq} > ${containers.projectedSeq} and ${containerEvents.seq} <= ${containers.version}`,
      )
      .groupBy(containerEvents.containerId);
    const have = new Map(present.map((p) => [p.id, p.n]));
    for (const g of gaps) eventsMissing += g.version - g.projectedSeq - (have.get(g.id) ?? 0);
  }
  const [last] = await db.select().from(projectionRuns).orderBy(desc(projectionRuns.id)).limit(1);
  const iso = (v: string) => new Date(v).toISOString();
  return {
    containersBehind: gaps.length,
    eventsMissing,
    oldestGapSince: gaps.length ? iso(gaps.map((g) => g.gapSince!).sort()[0]!) : null,
    lastReconciliation: last
      ? {
          trigger: last.trigger,
          startedAt: iso(last.startedAt),
          finishedAt: iso(last.finishedAt),
          containersChecked: last.containersChecked,
          containersBehind: last.containersBehind,
          eventsResent: last.eventsResent,
          failures: last.failures,
          sweep: last.sweep as Sweep,
          containersWoken: last.containersWoken ?? last.containersChecked,
          postgresMs: last.postgresMs ?? 0,
          wallMs: last.wallMs ?? 0,
        }
      : null,
  };
}
