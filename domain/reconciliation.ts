// The projection's reconciliation settings (wrangler.toml [vars]), read the same way by the
// containers that tell the index they moved and by the runs that ask them.

/**
 * The regular run's interval (RECONCILE_EVERY_SECONDS, as its cron): a container that keeps
 * committing tells the index its log moved at most this often, and a regular run asks the
 * containers that said so since one interval before the run before it began, so it finds every
 * container that committed since that run.
 */
export function reconcileEveryMs(setting: string | undefined): number {
  const seconds = Number(setting);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 600_000;
}

/** How many containers a second a full sweep asks at most (RECONCILE_FULL_SWEEP_PER_SECOND). */
export function fullSweepPerSecond(setting: string | undefined): number {
  const rate = Number(setting);
  return Number.isFinite(rate) && rate > 0 ? rate : 500;
}
