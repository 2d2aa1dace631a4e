// The cron triggers of wrangler.toml, fired on their schedule for a local system: `wrangler dev`
// runs a scheduled handler only when asked (`--test-scheduled`), never by the clock. Each trigger
// is a croner job (UTC, as Cloudflare's triggers are) that asks the worker to run it at its
// scheduled time; a run still going when the next is due is not started twice.
import { readFileSync } from "node:fs";
import { Cron } from "croner";
import { parse } from "smol-toml";

/** The `[triggers] crons` of a wrangler config. */
export function cronsOf(configPath = "wrangler.toml") {
  return parse(readFileSync(configPath, "utf8")).triggers?.crons ?? [];
}

/**
 * Run `cron` now on the worker at `baseUrl`, as its trigger would at `scheduledTime` (ms): through
 * the runtime's own scheduled entry point (enabled by `wrangler dev --test-scheduled`). Resolves to
 * "ok" or what failed; a failure inside the job is also an error record of the system's own.
 */
export async function runCron(baseUrl, cron, scheduledTime = Date.now()) {
  const params = new URLSearchParams({ cron, time: String(scheduledTime), format: "json" });
  const res = await fetch(`${baseUrl}/cdn-cgi/local/scheduled?${params}`);
  const text = await res.text();
  if (res.ok) return "ok";
  try {
    return `failed (${JSON.parse(text).outcome ?? res.status})`;
  } catch {
    return `failed (${res.status} ${text.slice(0, 200)})`;
  }
}

/**
 * Fire every cron of `crons` on its schedule against `baseUrl`, logging each run and its outcome.
 * @returns {{ stop(): void, jobs: { cron: string, next: () => Date | null }[] }}
 */
export function startLocalCron({ baseUrl, crons, log = console.log }) {
  const jobs = crons.map(
    (cron) =>
      new Cron(
        cron,
        {
          timezone: "UTC",
          protect: (job) =>
            log(`cron "${cron}": the run of ${job.currentRun()?.toISOString()} is still going; this one is skipped`),
        },
        async (job) => {
          const at = job.currentRun()?.getTime() ?? Date.now();
          const started = Date.now();
          try {
            const outcome = await runCron(baseUrl, cron, at);
            log(`cron "${cron}" (${new Date(at).toISOString()}): ${outcome} in ${Date.now() - started} ms`);
          } catch (error) {
            log(
              `cron "${cron}" (${new Date(at).toISOString()}): the worker could not be reached: ${error?.message ?? error}`,
            );
          }
        },
      ),
  );
  return {
    jobs: jobs.map((job, i) => ({ cron: crons[i], next: () => job.nextRun() })),
    stop: () => jobs.forEach((job) => job.stop()),
  };
}
