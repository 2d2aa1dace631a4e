import { and, desc, inArray, isNotNull, lte, sql } from "drizzle-orm";
import { reportError } from "../../platform/error-report";
import { log } from "../../platform/logging";
import type { Database } from "../db/client";
import { withDatabase } from "../db/client";
import { containerEvents, containers, orders, projectionRuns, readings } from "../db/schema";
import { container, containerIndex } from "../stubs";
import type { ProjectionGap } from "./writer";

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
      .where(and(isNotNull(containers.gapSince), lte(containers.gapSince, sql`now() - make_interval(secs => ${grace})`)))
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
        await reportError(env, error, "consumer", "projection gap", { containerId: gap.containerId, from: gap.projectedSeq + 1, to: gap.version });
      }
    }),
  );
  if (gaps.length > 0) log("info", "projection gaps found; events asked for again", { containers: gaps.length, sent });
  return sent;
}

/**
 * What Postgres can vouch for, per container: `projected_seq`, unless rows it covers have gone
 * (deleted by hand, a restore from an older backup): then nothing is trusted and the container sends
 * its whole log again, which writes back whatever is missing and leaves the rest as it is.
 */
async function trustedProjection(db: Database): Promise<Array<{ id: string; projectedSeq: number }>> {
  const result = await db.execute<{ id: string; projected_seq: number; intact: boolean }>(sql`
    select c.id, c.projected_seq,
      (select count(*) from ${containerEvents} e where e.container_id = c.id and e.seq <= c.projected_seq) = c.projected_seq
      and (select count(*) from ${containerEvents} e join ${readings} r on r.event_id = e.id
           where e.container_id = c.id and e.seq <= c.projected_seq)
        = (select count(*) from ${containerEvents} e where e.container_id = c.id and e.seq <= c.projected_seq and e.type = 'reading.recorded')
      and (select count(distinct o.id) from ${containerEvents} e join ${orders} o on o.id = e.body->'order'->>'id'
           where e.container_id = c.id and e.seq <= c.projected_seq and e.type = 'order.opened')
        = (select count(*) from ${containerEvents} e where e.container_id = c.id and e.seq <= c.projected_seq and e.type = 'order.opened')
      as intact
    from ${containers} c`);
  const broken = result.rows.filter((r) => !r.intact).map((r) => r.id);
  if (broken.length > 0) {
    await db.update(containers).set({ projectedSeq: 0, gapSince: sql`coalesce(${containers.gapSince}, now())` }).where(inArray(containers.id, broken));
    log("warn", "projection rows missing below projected_seq; those containers send their logs again", { containers: broken.length });
  }
  return result.rows.map((r) => ({ id: r.id, projectedSeq: r.intact ? r.projected_seq : 0 }));
}

export interface Reconciliation {
  trigger: string;
  startedAt: string;
  finishedAt: string;
  containersChecked: number;
  containersBehind: number;
  eventsResent: number;
  failures: number;
}

const INDEX_PAGE = 500;
const AT_ONCE = 25;

/**
 * Compare every container's live version with what Postgres holds and have each container that is
 * behind send what is missing: the containers the index knows, and those Postgres knows (the index
 * may lack containers created before it was). Recorded in `projection_runs`.
 */
export async function reconcile(env: Env, trigger: string): Promise<Reconciliation> {
  const startedAt = new Date().toISOString();
  const projected = new Map<string, number>();
  await withDatabase(env, async (db) => {
    for (const r of await trustedProjection(db)) projected.set(r.id, r.projectedSeq);
  });
  const ids = new Set(projected.keys());
  for (let after = ""; ; ) {
    const page = await containerIndex(env).list(after, INDEX_PAGE);
    for (const id of page) ids.add(id);
    if (page.length < INDEX_PAGE) break;
    after = page[page.length - 1]!;
  }

  let behind = 0;
  let resent = 0;
  let failures = 0;
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
        try {
          const seq = projected.get(id) ?? 0;
          const check = await container(env, id).projectionCheck(seq);
          if (check.version > seq) behind++;
          resent += check.resent;
        } catch (error) {
          failures++;
          await reportError(env, error, "cron", "projection reconciliation", { containerId: id });
        }
      }
    }),
  );
  const run: Reconciliation = {
    trigger,
    startedAt,
    finishedAt: new Date().toISOString(),
    containersChecked: ids.size,
    containersBehind: behind,
    eventsResent: resent,
    failures,
  };
  await withDatabase(env, (db) => db.insert(projectionRuns).values(run));
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
    .select({ id: containers.id, projectedSeq: containers.projectedSeq, version: containers.version, gapSince: containers.gapSince })
    .from(containers)
    .where(isNotNull(containers.gapSince));
  let eventsMissing = 0;
  if (gaps.length > 0) {
    const present = await db
      .select({ id: containerEvents.containerId, n: sql<number>`count(*)::int` })
      .from(containerEvents)
      .innerJoin(containers, sql`${containers.id} = ${containerEvents.containerId}`)
      .where(sql`${containerEvents.containerId} in ${gaps.map((g) => g.id)} and ${containerEvents.seq} > ${containers.projectedSeq} and ${containerEvents.seq} <= ${containers.version}`)
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
        }
      : null,
  };
}

