// The minute monitor: a snapshot of the fleet and the order flow from Postgres and the stores, the
// conditions the alert rules find in it, and one run of the AlertsDO (which opens, repeats,
// escalates and resolves alerts, and keeps the messages owed).
import { sql } from "drizzle-orm";
import { conditionsOf, REFUSAL_WINDOW_MINUTES, type Snapshot } from "../domain/monitor";
import { partnerFor } from "../domain/partners";
import { withDatabase } from "./db/client";
import { errorStore } from "./errors/store";
import type { NewErrorRecord } from "../durable-objects/alerts";
import { alertsObject, backupLedger, deadLetterVault, directory, metricsObject, notifier } from "./stubs";

type Row = Record<string, string | number | null>;
const iso = (v: string | number | null | undefined) =>
  v === null || v === undefined ? null : new Date(v).toISOString();

/** Error records first seen this long ago or less are new: emailed (once) to who wants new errors. */
const NEW_ERROR_WINDOW_MS = 15 * 60_000;

export async function monitorSnapshot(env: Env): Promise<{ snapshot: Snapshot; newErrors: NewErrorRecord[] }> {
  const partners = await directory(env).listPartners();
  const db = await withDatabase(env, async (db) => {
    const rows = async (q: ReturnType<typeof sql>) => (await db.execute<Row>(q)).rows;
    return {
      containers: await rows(
        sql`select id, name, contents, last_seen_at, report_interval_seconds, battery from containers`,
      ),
      // Each container's last two applied readings, where no order was delivered between them.
      drops: await rows(sql`
        with last_two as (
          select container_id, fill_percent, measured_at,
                 lag(fill_percent) over w as before_fill, lag(measured_at) over w as before_at,
                 row_number() over (partition by container_id order by measured_at desc) as rn
          from readings where status = 'applied' and measured_at > now() - interval '1 day'
          window w as (partition by container_id order by measured_at))
        select l.container_id, l.before_fill, l.fill_percent, l.measured_at from last_two l
        where l.rn = 1 and l.before_fill is not null and l.before_fill - l.fill_percent > 0
          and not exists (select 1 from orders o where o.container_id = l.container_id and o.delivered_at between l.before_at and l.measured_at)`),
      orders: await rows(
        sql`select o.id, o.container_id, o.fulfilment, o.opened_at, o.fulfilment_at, o.eta, o.partner_id, c.contents from orders o left join containers c on c.id = o.container_id where o.status = 'active'`,
      ),
      deadLetters: Number(
        (await rows(sql`select count(*)::bigint as n from dead_letters where replayed_at is null`))[0]!.n,
      ),
      lag: Number(
        (
          await rows(sql`select coalesce(extract(epoch from now() - min(gap_since)), 0)::float8 as lag from containers`)
        )[0]!.lag,
      ),
      anomalies: await rows(
        sql`select a.id, a.container_id, a.kind, a.message, c.name from anomalies a left join containers c on c.id = a.container_id where a.status = 'open' order by a.id desc limit 500`,
      ),
      failing: await rows(
        sql`select partner_id, count(*) filter (where state = 'retrying')::int as retrying, count(*) filter (where state = 'dead')::int as dead from partner_deliveries where state <> 'delivered' group by partner_id`,
      ),
    };
  });
  const [parked, errors, refused, backup] = await Promise.all([
    deadLetterVault(env).count(),
    errorStore(env).list({ status: "open", limit: 200 }),
    metricsObject(env).refusedKeys(Date.now(), REFUSAL_WINDOW_MINUTES),
    backupLedger(env).newest(),
  ]);
  const keyLabels =
    refused.length > 0
      ? new Map((await directory(env).listDeviceKeys()).map((k) => [k.id, k.label]))
      : new Map<string, string | null>();
  const hourAgo = Date.now() - 3600_000;
  const newSince = Date.now() - NEW_ERROR_WINDOW_MS;
  const newErrors = errors.items
    .filter((e) => Date.parse(e.firstSeen) > newSince)
    .map((e) => ({ id: e.id, name: e.name, message: e.message, firstSeen: e.firstSeen }));
  const snapshot: Snapshot = {
    containers: db.containers.map((c) => ({
      id: String(c.id),
      name: c.name === null ? null : String(c.name),
      lastSeenAt: iso(c.last_seen_at),
      reportIntervalSeconds: c.report_interval_seconds === null ? null : Number(c.report_interval_seconds),
      battery: c.battery === null ? null : Number(c.battery),
    })),
    fillDrops: db.drops.map((d) => ({
      containerId: String(d.container_id),
      from: Number(d.before_fill),
      to: Number(d.fill_percent),
      at: iso(d.measured_at)!,
    })),
    activeOrders: db.orders.map((o) => ({
      id: String(o.id),
      containerId: String(o.container_id),
      fulfilment: String(o.fulfilment),
      openedAt: iso(o.opened_at)!,
      fulfilmentAt: iso(o.fulfilment_at),
      eta: iso(o.eta),
      partnerId: o.partner_id === null ? null : String(o.partner_id),
      servedBy:
        partnerFor(partners, String(o.container_id), o.contents === null ? null : String(o.contents))?.id ?? null,
    })),
    deadLettersWaiting: db.deadLetters + parked,
    // Seen at least the rule's number of times, the last time within the hour.
    errorRecords: errors.items
      .filter((e) => Date.parse(e.lastSeen) > hourAgo)
      .map((e) => ({ id: e.id, name: e.name, message: e.message, seenLastHour: e.count })),
    projectionLagSeconds: db.lag,
    failingDeliveries: db.failing.map((f) => ({
      partnerId: String(f.partner_id),
      retrying: Number(f.retrying),
      dead: Number(f.dead),
    })),
    refusedKeys: refused.map((k) => ({ ...k, label: keyLabels.get(k.keyId) ?? null })),
    openAnomalies: db.anomalies.map((a) => ({
      id: String(a.id),
      containerId: String(a.container_id),
      name: a.name === null ? null : String(a.name),
      kind: String(a.kind),
      message: String(a.message),
    })),
    backup: { newestComplete: backup.complete, since: backup.since },
  };
  return { snapshot, newErrors };
}

export async function runMonitor(env: Env, now = Date.now()) {
  const alerts = alertsObject(env);
  const [{ snapshot, newErrors }, rules] = await Promise.all([monitorSnapshot(env), alerts.rules()]);
  const result = await alerts.run(conditionsOf(snapshot, rules, now), now, newErrors);
  // The Notifier's loop starts on every hand-over; this is the safety net should an alarm be lost.
  await notifier(env).wake();
  return result;
}
