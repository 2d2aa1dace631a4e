// Partners' default lead times, carried to the containers they serve: a container's forecast
// orders use its own `leadTimeHours`, else its partner's default, which the container keeps as
// `partnerLeadTimeHours` (it decides alone, so it must hold the value it decides with). Which
// partner serves a container follows from the partners and the container's contents, so this
// compares what Postgres says each container holds with what its partner says now, and tells the
// containers that differ. Run when a partner is added or changed, and every 10 minutes (a container
// new since, or whose contents changed).
import { sql } from "drizzle-orm";
import { partnerFor } from "../domain/partners";
import { log } from "../platform/logging";
import { withDatabase } from "./db/client";
import { container, directory } from "./stubs";

/** How many containers are told at once. */
const AT_ONCE = 20;

export async function syncPartnerLeadTimes(env: Env): Promise<{ checked: number; told: number }> {
  const partners = await directory(env).listPartners();
  const rows = await withDatabase(
    env,
    async (db) =>
      (
        await db.execute<{ id: string; contents: string | null; partner_lead_time_hours: number | null }>(
          sql`select id, contents, partner_lead_time_hours from containers`,
        )
      ).rows,
  );
  const stale = rows.flatMap((r) => {
    const wanted = partnerFor(partners, r.id, r.contents)?.leadTimeHours ?? null;
    const held = r.partner_lead_time_hours === null ? null : Number(r.partner_lead_time_hours);
    return wanted === held ? [] : [{ id: r.id, wanted }];
  });
  for (let i = 0; i < stale.length; i += AT_ONCE)
    await Promise.all(stale.slice(i, i + AT_ONCE).map((c) => container(env, c.id).setPartnerLeadTime(c.wanted)));
  if (stale.length > 0) log("info", "partner lead times carried to containers", { told: stale.length });
  return { checked: rows.length, told: stale.length };
}
