// What GET /metrics reports, read at scrape time: counts and states from Postgres, open error
// records from the error store, parked dead letters from their vault, and the durations consumers
// recorded in the MetricsDO. Nothing is counted in an isolate's memory, so every isolate answers alike.
import { sql } from "drizzle-orm";
import { backupAgeSeconds, replicationLagSeconds } from "../domain/backups";
import { DEFAULT_REPORT_INTERVAL_SECONDS } from "../domain/container";
import { exposition, histogramSamples, type Family, type HistogramFamily, type Labels } from "../domain/metrics";
import { REFUSAL_WINDOW_MINUTES } from "../domain/monitor";
import { reportError } from "../platform/error-report";
import { withDatabase } from "./db/client";
import { archiveStatus } from "./archive/job";
import { fleetSummary, readingOutcomes } from "./db/queries";
import { errorStore } from "./errors/store";
import { alertsObject, backupLedger, deadLetterVault, metricsObject, notifier } from "./stubs";

type Row = Record<string, string | number | null>;

export async function metricsText(env: Env): Promise<string> {
  const db = await withDatabase(env, async (db) => {
    const rows = async (query: ReturnType<typeof sql>) => (await db.execute<Row>(query)).rows;
    return {
      readings: await readingOutcomes(db),
      opened: await rows(sql`select source as label, count(*)::bigint as n from orders group by source`),
      closed: await rows(
        sql`select close_reason as label, count(*)::bigint as n from orders where status = 'closed' group by close_reason`,
      ),
      fulfilment: await rows(
        sql`select fulfilment as label, count(*)::bigint as n from orders where status = 'active' group by fulfilment`,
      ),
      fleet: await fleetSummary(db, DEFAULT_REPORT_INTERVAL_SECONDS),
      projection: (
        await rows(sql`select count(*) filter (where gap_since is not null)::bigint as behind,
          coalesce(sum(greatest(version - projected_seq, 0)), 0)::bigint as missing,
          coalesce(extract(epoch from now() - min(gap_since)), 0)::float8 as lag from containers`)
      )[0]!,
      deadLetters: await rows(
        sql`select queue as label, count(*)::bigint as n from dead_letters where replayed_at is null group by queue`,
      ),
      deliveries: await rows(sql`select state as label, count(*)::bigint as n from partner_deliveries group by state`),
      documents: (await rows(sql`select count(*)::bigint as n from sales_documents`))[0]!,
      archive: await archiveStatus(env, db.$client),
    };
  });
  const [openErrors, parked, histograms, alerts, notices, refusals, refusedKeys, backup, replication] =
    await Promise.all([
      errorStore(env).countOpen(),
      deadLetterVault(env).count(),
      metricsObject(env).histograms(),
      alertsObject(env).openCounts(),
      notifier(env).counts(),
      metricsObject(env).refusalTotals(),
      metricsObject(env).refusedKeys(Date.now(), REFUSAL_WINDOW_MINUTES),
      backupLedger(env).newest(),
      backupLedger(env).replication(),
    ]);
  const backupAge = backupAgeSeconds(backup.complete, Date.now());
  const SEVERITIES = ["critical", "warning", "info"] as const;
  const alertSamples = (state: string) =>
    SEVERITIES.map((severity) => ({
      labels: { severity },
      value: alerts.find((a) => a.state === state && a.severity === severity)?.n ?? 0,
    }));
  const noticeSamples = (["telegram", "email"] as const).flatMap((channel) =>
    (["sent", "failed"] as const).map((result) => ({
      labels: { channel, result },
      value: notices.done.find((d) => d.channel === channel && d.status === result)?.n ?? 0,
    })),
  );

  const by = (rows: Row[], label: string): Family["samples"] =>
    rows.map((r) => ({ labels: { [label]: String(r.label ?? "none") }, value: Number(r.n) }));
  const gauge = (name: string, help: string, value: number, labels?: Labels): Family => ({
    name,
    help,
    type: "gauge",
    samples: [{ ...(labels ? { labels } : {}), value }],
  });
  const families: (Family | HistogramFamily)[] = [
    {
      name: "fillgrid_readings_total",
      help: "Readings stored, by outcome (duplicates are answered, not stored, and not counted)",
      type: "counter",
      // The archived ones too, so the counter does not fall when a month leaves Postgres.
      samples: by(db.readings, "outcome"),
    },
    {
      name: "fillgrid_orders_opened_total",
      help: "Orders opened, by source",
      type: "counter",
      samples: by(db.opened, "source"),
    },
    {
      name: "fillgrid_orders_closed_total",
      help: "Orders closed, by reason",
      type: "counter",
      samples: by(db.closed, "reason"),
    },
    {
      name: "fillgrid_orders_active",
      help: "Active orders, by fulfilment",
      type: "gauge",
      samples: by(db.fulfilment, "fulfilment"),
    },
    gauge("fillgrid_containers", "Containers known to Postgres", db.fleet.containers),
    gauge(
      "fillgrid_containers_below_threshold",
      "Containers whose fill is below their threshold",
      db.fleet.belowThreshold,
    ),
    gauge(
      "fillgrid_containers_silent",
      "Containers not heard for longer than their expected report interval (or never)",
      db.fleet.silent,
    ),
    gauge(
      "fillgrid_projection_containers_behind",
      "Containers whose events Postgres lacks some of",
      Number(db.projection.behind),
    ),
    gauge(
      "fillgrid_projection_events_missing",
      "Events the containers have and Postgres lacks",
      Number(db.projection.missing),
    ),
    gauge(
      "fillgrid_projection_lag_seconds",
      "How long the oldest gap in the projection has been open",
      Number(db.projection.lag),
    ),
    gauge("fillgrid_error_records_open", "Error records open in the error store", openErrors),
    {
      name: "fillgrid_dead_letters_waiting",
      help: "Dead letters not replayed, by the queue they came from (parked: still in the vault)",
      type: "gauge",
      samples: [...by(db.deadLetters, "queue"), { labels: { queue: "parked" }, value: parked }],
    },
    {
      name: "fillgrid_partner_deliveries",
      help: "Events for partners' webhooks, by state (delivered, retrying, dead)",
      type: "gauge",
      samples: by(db.deliveries, "state"),
    },
    {
      name: "fillgrid_alerts_firing",
      help: "Alerts firing and not acknowledged, by severity",
      type: "gauge",
      samples: alertSamples("firing"),
    },
    {
      name: "fillgrid_alerts_acknowledged",
      help: "Alerts acknowledged and not yet resolved, by severity",
      type: "gauge",
      samples: alertSamples("acknowledged"),
    },
    {
      name: "fillgrid_notifications_total",
      help: "Messages that left the Notifier, by channel and result (sent, failed for good)",
      type: "counter",
      samples: noticeSamples,
    },
    {
      name: "fillgrid_notifications_waiting",
      help: "Messages waiting in the Notifier's outbox, by channel",
      type: "gauge",
      samples: [
        { labels: { channel: "telegram" }, value: notices.waiting.telegram },
        { labels: { channel: "email" }, value: notices.waiting.email },
      ],
    },
    {
      name: "fillgrid_sales_documents_total",
      help: "Sales documents issued",
      type: "counter",
      samples: [{ value: Number(db.documents.n) }],
    },
    {
      name: "fillgrid_ingest_rate_limited_total",
      help: "Requests to POST /v1/readings refused for their device key's rate (429), by kind of key (sensor: one container; gateway: the fleet)",
      type: "counter",
      samples: (["sensor", "gateway"] as const).map((kind) => ({ labels: { kind }, value: refusals[kind] })),
    },
    gauge(
      "fillgrid_device_keys_rate_limited",
      `Device keys refused for their rate in the last ${REFUSAL_WINDOW_MINUTES} minutes`,
      refusedKeys.length,
    ),
    gauge(
      "fillgrid_backup_replication_lag_seconds",
      "How long the oldest backup object not yet in the replica has waited (0: none waits)",
      Math.round(replicationLagSeconds(replication.oldestWaiting, Date.now())),
    ),
    gauge("fillgrid_backup_replication_waiting", "Backup objects the replica does not have yet", replication.waiting),
    gauge(
      "fillgrid_archive_readings",
      "Readings in the archive (Parquet in the ARCHIVE bucket)",
      Object.values(db.archive.archivedOutcomes).reduce((a, b) => a + b, 0),
    ),
    gauge(
      "fillgrid_archive_bytes",
      "Bytes of the archive's Parquet parts",
      db.archive.months.reduce((n, m) => n + m.bytes, 0),
    ),
    gauge(
      "fillgrid_archive_months_due",
      "Months of readings past READINGS_HOT_DAYS still in Postgres",
      db.archive.monthsDue,
    ),
    gauge(
      "fillgrid_archive_months_blocked",
      "Months whose archival waits, most often on the backup",
      db.archive.months.filter((m) => m.blocked !== null).length,
    ),
    // Absent until the first complete backup: an alerting rule on it should also fire on its absence.
    ...(backupAge === null
      ? []
      : [
          gauge(
            "fillgrid_backup_age_seconds",
            "Seconds since the newest complete backup was taken (its manifest written)",
            Math.round(backupAge),
          ),
        ]),
  ];
  const names = [...new Set(histograms.map((h) => h.name))];
  for (const name of names) {
    families.push({
      name,
      help: HISTOGRAM_HELP[name] ?? name,
      type: "histogram",
      lines: histograms.filter((h) => h.name === name).flatMap((h) => histogramSamples(name, h.labels, h.state)),
    });
  }
  return exposition(families);
}

const HISTOGRAM_HELP: Record<string, string> = {
  fillgrid_consumer_batch_duration_seconds: "Time a consumer took over one batch, by queue",
  fillgrid_queue_wait_seconds: "Age of the oldest message of a batch when its consumer got it, by queue",
};

/** A consumer's batch for the histograms; a failure to record is reported, never thrown. */
export async function recordBatch(
  env: Env,
  queue: string,
  batch: MessageBatch<unknown>,
  startedMs: number,
): Promise<void> {
  const oldest = Math.min(...batch.messages.map((m) => m.timestamp.getTime()));
  try {
    await metricsObject(env).observe([
      { name: "fillgrid_consumer_batch_duration_seconds", labels: { queue }, seconds: (Date.now() - startedMs) / 1000 },
      { name: "fillgrid_queue_wait_seconds", labels: { queue }, seconds: Math.max(0, (startedMs - oldest) / 1000) },
    ]);
  } catch (error) {
    await reportError(env, error, "consumer", "metrics", { queue });
  }
}
