import { and, isNotNull, lt, sql } from "drizzle-orm";
import { withDatabase } from "./db/client";
import { deadLetters } from "./db/schema";
import { reportError } from "../platform/error-report";
import { log } from "../platform/logging";
import { fillStandingGaps, reconcile } from "./projection/repair";
import { flushParkedDeadLetters } from "./queues";
import { issueDocuments } from "./documents/issue";
import { takeHourlyBackup } from "./backups";
import { runArchival } from "./archive/job";
import { syncFleetNoise } from "./fleet-noise";
import { syncPartnerLeadTimes } from "./lead-times";
import { runMonitor } from "./monitor";

type Job = (env: Env, controller: ScheduledController) => Promise<void>;

/**
 * Daily: dead letters replayed more than 30 days ago are history (the rest stay until replayed),
 * and the projection's full sweep checks every row and asks every container.
 */
async function dailyHousekeeping(env: Env): Promise<void> {
  const [pruned, swept] = await Promise.allSettled([pruneReplayedDeadLetters(env), reconcile(env, "cron", "full")]);
  for (const outcome of [pruned, swept]) if (outcome.status === "rejected") throw outcome.reason;
}

async function pruneReplayedDeadLetters(env: Env): Promise<void> {
  const removed = await withDatabase(env, (db) =>
    db
      .delete(deadLetters)
      .where(and(isNotNull(deadLetters.replayedAt), lt(deadLetters.replayedAt, sql`now() - interval '30 days'`)))
      .returning({ id: deadLetters.id }),
  );
  log("info", "replayed dead letters pruned", { removed: removed.length });
}

/**
 * Every 10 minutes: dead letters parked while Postgres was down go to Postgres once it is back, the
 * projection is reconciled with the containers that moved, so nothing lost on the way stays lost,
 * partners' default lead times reach the containers new since, and the fleet's usual sensor noise
 * reaches every container (the noisy_sensor rule compares with it).
 */
async function projectionUpkeep(env: Env): Promise<void> {
  const moved = await flushParkedDeadLetters(env);
  if (moved > 0) log("info", "parked dead letters moved to Postgres", { moved });
  const outcomes = await Promise.allSettled([reconcile(env, "cron"), syncPartnerLeadTimes(env), syncFleetNoise(env)]);
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
}

/** Jobs by cron expression, as in wrangler.toml `[triggers] crons`. */
export const JOBS: Record<string, { name: string; run: Job }> = {
  "0 3 * * *": { name: "daily housekeeping", run: dailyHousekeeping },
  "*/10 * * * *": { name: "projection upkeep", run: projectionUpkeep },
  // Hourly: sales documents for the orders delivered, and the hour's backup (snapshot and manifest).
  "5 * * * *": {
    name: "sales documents and backup",
    run: async (env, controller) => {
      const outcomes = await Promise.allSettled([issueDocuments(env), takeHourlyBackup(env, controller.scheduledTime)]);
      for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
    },
  },
  // Hourly, in an invocation of its own (its CPU is its own): a step of archival, old months of
  // readings to Parquet once the backup holds them.
  "35 * * * *": {
    name: "archive",
    run: async (env, controller) => void (await runArchival(env, { now: controller.scheduledTime })),
  },
  // The monitor, and gaps in the projection that stood past their grace period asked for again.
  "* * * * *": {
    name: "monitor",
    run: async (env, controller) => {
      const [monitored, filled] = await Promise.allSettled([
        runMonitor(env, controller.scheduledTime),
        fillStandingGaps(env),
      ]);
      for (const outcome of [monitored, filled]) if (outcome.status === "rejected") throw outcome.reason;
    },
  },
};

/** Run the job a trigger fired; its failure becomes an error record, and the run is reported failed. */
export async function runScheduled(controller: ScheduledController, env: Env): Promise<void> {
  const job = JOBS[controller.cron];
  if (!job) {
    await reportError(env, new Error(`no job for cron "${controller.cron}"`), "cron", controller.cron, {
      cron: controller.cron,
    });
    return;
  }
  try {
    await job.run(env, controller);
  } catch (error) {
    await reportError(env, error, "cron", job.name, { cron: controller.cron, job: job.name });
    throw error;
  }
}
