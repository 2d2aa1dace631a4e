// The fleet's usual reading noise, carried to every container: a container raises `noisy_sensor`
// when its sensor scatters far beyond the fleet's sensors (domain/anomalies.ts), and it decides
// alone, so it must hold the value it decides with (as `fleetNoise`, like a partner's lead time).
// Each container's forecast says its sensor's noise once two days of readings tell it; this takes
// their median from Postgres and tells the containers whose value is off by more than a tenth.
// Run every 10 minutes.
import { sql } from "drizzle-orm";
import { fleetNoiseOf, fleetNoiseStale } from "../domain/anomalies";
import { log } from "../platform/logging";
import { withDatabase } from "./db/client";
import { container } from "./stubs";

/** How many containers are told at once. */
const AT_ONCE = 20;

export async function syncFleetNoise(env: Env): Promise<{ fleetNoise: number | null; checked: number; told: number }> {
  const rows = await withDatabase(
    env,
    async (db) =>
      (
        await db.execute<{ id: string; noise: number | string | null; fleet_noise: number | string | null }>(
          sql`select id, (forecast->>'noise')::float8 as noise, fleet_noise from containers`,
        )
      ).rows,
  );
  const fleetNoise = fleetNoiseOf(rows.flatMap((r) => (r.noise === null ? [] : [Number(r.noise)])));
  const stale = rows.filter((r) => fleetNoiseStale(r.fleet_noise === null ? null : Number(r.fleet_noise), fleetNoise));
  for (let i = 0; i < stale.length; i += AT_ONCE)
    await Promise.all(stale.slice(i, i + AT_ONCE).map((c) => container(env, c.id).setFleetNoise(fleetNoise)));
  if (stale.length > 0) log("info", "fleet noise carried to containers", { fleetNoise, told: stale.length });
  return { fleetNoise, checked: rows.length, told: stale.length };
}
