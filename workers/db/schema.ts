import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

import type { OrderLine } from "../../domain/container";
import type { Anomaly } from "../../domain/anomalies";
import type { Forecast } from "../../domain/forecast";
import type { ArchivePart } from "../../domain/archive";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** Latest state of each container, as of the event `version` (the container's event sequence). */
export const containers = pgTable(
  "containers",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    threshold: doublePrecision("threshold").notNull(),
    capacity: doublePrecision("capacity"),
    unit: text("unit"),
    registeredLat: doublePrecision("registered_lat"),
    registeredLon: doublePrecision("registered_lon"),
    reportIntervalSeconds: integer("report_interval_seconds"),
    fillPercent: doublePrecision("fill_percent"),
    contents: text("contents"),
    lat: doublePrecision("lat"),
    lon: doublePrecision("lon"),
    battery: doublePrecision("battery"),
    measuredAt: ts("measured_at"),
    lastSeenAt: ts("last_seen_at"),
    autoOpenArmed: boolean("auto_open_armed").notNull(),
    activeOrderId: text("active_order_id"),
    leadTimeHours: doublePrecision("lead_time_hours"),
    partnerLeadTimeHours: doublePrecision("partner_lead_time_hours"),
    fleetNoise: doublePrecision("fleet_noise"),
    refillRise: doublePrecision("refill_rise").notNull().default(10),
    forecastArmed: boolean("forecast_armed").notNull().default(true),
    suddenDrop: doublePrecision("sudden_drop").notNull().default(8),
    /** The open anomalies, as the container has them (the whole history: the anomalies table). */
    anomalies: jsonb("anomalies").$type<Anomaly[]>().notNull().default([]),
    /** The container's forecast as it made it (domain/forecast); the two dates beside it for sorting and filtering. */
    forecast: jsonb("forecast").$type<Forecast>(),
    thresholdAt: ts("threshold_at"),
    emptyAt: ts("empty_at"),
    /** The newest event seq seen (the state above is as of it). */
    version: integer("version").notNull(),
    /** Every event up to this seq is in container_events: what the projection is sure it has. */
    projectedSeq: integer("projected_seq").notNull().default(0),
    /** Since when events between projectedSeq and version have been missing; null when none are. */
    gapSince: ts("gap_since"),
    /** Up to this seq a reconciliation found every row the events stand for (reconciliation checks only what lies above it). */
    verifiedSeq: integer("verified_seq").notNull().default(0),
    projectedAt: ts("projected_at").notNull().defaultNow(),
  },
  (t) => [
    index("containers_fill_idx").on(sql`coalesce(${t.fillPercent}, -1)`, t.id),
    index("containers_last_seen_idx").on(sql`coalesce(${t.lastSeenAt}, 'epoch'::timestamptz)`, t.id),
    index("containers_contents_idx").on(t.contents, t.id),
    index("containers_threshold_at_idx").on(sql`coalesce(${t.thresholdAt}, 'infinity'::timestamptz)`, t.id),
    index("containers_active_order_idx")
      .on(t.id)
      .where(sql`${t.activeOrderId} is not null`),
    index("containers_gap_idx")
      .on(t.gapSince)
      .where(sql`${t.gapSince} is not null`),
    index("containers_unverified_idx")
      .on(t.id)
      .where(sql`${t.projectedSeq} > ${t.verifiedSeq}`),
  ],
);

export const orders = pgTable(
  "orders",
  {
    id: text("id").primaryKey(),
    containerId: text("container_id").notNull(),
    status: text("status").notNull(),
    source: text("source").notNull(),
    openedAt: ts("opened_at").notNull(),
    openedBy: text("opened_by").notNull(),
    fillAtOpen: doublePrecision("fill_at_open"),
    thresholdAtOpen: doublePrecision("threshold_at_open"),
    closedAt: ts("closed_at"),
    closedBy: text("closed_by"),
    closeReason: text("close_reason"),
    fillAtClose: doublePrecision("fill_at_close"),
    fulfilment: text("fulfilment").notNull(),
    partnerId: text("partner_id"),
    lines: jsonb("lines").$type<OrderLine[]>().notNull().default([]),
    eta: ts("eta"),
    vehicle: text("vehicle"),
    deliveryNote: text("delivery_note"),
    delivered: jsonb("delivered").$type<OrderLine[]>().notNull().default([]),
    /** How many times the partner corrected the delivery: each reissues the sales document. */
    deliveryRevision: integer("delivery_revision").notNull().default(0),
    deliveredAt: ts("delivered_at"),
    fulfilmentReason: text("fulfilment_reason"),
    fulfilmentAt: ts("fulfilment_at"),
    /** When the partner accepted it and when the goods left (for fulfilment times). */
    acceptedAt: ts("accepted_at"),
    dispatchedAt: ts("dispatched_at"),
    /** On an order the forecast opened: the forecast it acted on. */
    forecast: jsonb("forecast").$type<Forecast>(),
    /** The container event sequence that last changed this order. */
    version: integer("version").notNull(),
  },
  (t) => [
    index("orders_container_idx").on(t.containerId, t.id),
    index("orders_status_idx").on(t.status, t.id),
    index("orders_opened_at_idx").on(t.openedAt),
    index("orders_delivered_at_idx")
      .on(t.deliveredAt)
      .where(sql`${t.deliveredAt} is not null`),
  ],
);

/** Every anomaly a container raised, as of the newest event that touched it (`version`). */
export const anomalies = pgTable(
  "anomalies",
  {
    id: text("id").primaryKey(),
    containerId: text("container_id").notNull(),
    kind: text("kind").notNull(),
    status: text("status").notNull(),
    raisedAt: ts("raised_at").notNull(),
    measuredAt: ts("measured_at"),
    message: text("message").notNull(),
    details: jsonb("details").$type<Anomaly["details"]>().notNull(),
    closedAt: ts("closed_at"),
    closedBy: text("closed_by"),
    version: integer("version").notNull(),
  },
  (t) => [
    index("anomalies_status_idx").on(t.status, t.raisedAt),
    index("anomalies_container_idx").on(t.containerId, t.raisedAt),
  ],
);

/**
 * Reading history, time-indexed. Partitioned by month of `measured_at` (declarative partitioning,
 * migration 0010: drizzle has no words for it), so that a month past `READINGS_HOT_DAYS` leaves as one
 * partition once it is archived (workers/archive/job.ts): `readings_<yyyy>_<mm>` per month and
 * `readings_default` for a month without its partition. The key includes `measured_at`, as a
 * partitioned table's keys must; a reading's time never changes, so it is still one row per reading.
 */
export const readings = pgTable(
  "readings",
  {
    containerId: text("container_id").notNull(),
    readingId: text("reading_id").notNull(),
    measuredAt: ts("measured_at").notNull(),
    receivedAt: ts("received_at").notNull(),
    fillPercent: doublePrecision("fill_percent").notNull(),
    contents: text("contents"),
    lat: doublePrecision("lat"),
    lon: doublePrecision("lon"),
    battery: doublePrecision("battery"),
    /** How far ahead of the receiving clock the sensor's own time was, in ms. */
    clockSkewMs: integer("clock_skew_ms").notNull().default(0),
    status: text("status").notNull(),
    /** Where the container saw a refill: the rise, in fill points (the reading's event's `refill`). */
    refillRise: doublePrecision("refill_rise"),
    eventId: text("event_id").notNull(),
    /** The seq of the reading's event in its container's log: archival checks the backup has it. */
    seq: integer("seq"),
  },
  (t) => [
    primaryKey({ columns: [t.containerId, t.readingId, t.measuredAt] }),
    index("readings_container_time_idx").on(t.containerId, t.measuredAt),
    index("readings_time_idx").on(t.measuredAt),
  ],
);

/**
 * One row per container and UTC day: the day's readings summed up, and its deliveries and anomalies.
 * The projection adds each reading once, as its row is first inserted (a redelivered reading inserts
 * nothing, so adds nothing), and counts a day's deliveries and anomalies again from their tables when
 * a batch touches them; workers/db/rollups.ts, which also rebuilds the table from those rows.
 * A day's consumption is what the level fell plus what refills added: the level before the day is
 * the previous day's `lastFill`, up to 3 days back (analytics.ts reads it with lag()).
 */
export const containerDays = pgTable(
  "container_days",
  {
    containerId: text("container_id").notNull(),
    day: date("day", { mode: "string" }).notNull(),
    /** The contents the day's newest reading that named any reported, and that reading's time. */
    contents: text("contents"),
    contentsAt: ts("contents_at"),
    readings: integer("readings").notNull().default(0),
    minFill: doublePrecision("min_fill"),
    maxFill: doublePrecision("max_fill"),
    sumFill: doublePrecision("sum_fill").notNull().default(0),
    firstAt: ts("first_at"),
    firstFill: doublePrecision("first_fill"),
    /** The refill rise of the day's first reading, when that reading was a refill (the level before it: firstFill − it). */
    firstRise: doublePrecision("first_rise").notNull().default(0),
    lastAt: ts("last_at"),
    lastFill: doublePrecision("last_fill"),
    /** Refills the container saw that day, and the fill points they added. */
    refills: integer("refills").notNull().default(0),
    refilled: doublePrecision("refilled").notNull().default(0),
    deliveries: integer("deliveries").notNull().default(0),
    anomalies: integer("anomalies").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.containerId, t.day] }), index("container_days_day_idx").on(t.day)],
);

/** Every container's audit trail. */
export const containerEvents = pgTable(
  "container_events",
  {
    id: text("id").primaryKey(),
    containerId: text("container_id").notNull(),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    at: ts("at").notNull(),
    actorKind: text("actor_kind").notNull(),
    actorId: text("actor_id").notNull(),
    readingId: text("reading_id"),
    body: jsonb("body").notNull(),
  },
  (t) => [uniqueIndex("container_events_seq_idx").on(t.containerId, t.seq), index("container_events_at_idx").on(t.at)],
);

/** Messages that exhausted their retries, kept to be inspected and replayed. */
export const deadLetters = pgTable("dead_letters", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  queue: text("queue").notNull(),
  messageId: text("message_id").notNull().unique(),
  body: jsonb("body").notNull(),
  attempts: integer("attempts").notNull(),
  receivedAt: ts("received_at").notNull().defaultNow(),
  replayedAt: ts("replayed_at"),
  /** Why it could not be written, as far as the dead-letter consumer can tell. */
  reason: text("reason"),
  /** It can never be written as it is (not a message its consumer understands). */
  poison: boolean("poison").notNull().default(false),
});

/** Each reconciliation pass: what it checked and what it found missing. */
export const projectionRuns = pgTable("projection_runs", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  startedAt: ts("started_at").notNull(),
  finishedAt: ts("finished_at").notNull(),
  trigger: text("trigger").notNull(),
  containersChecked: integer("containers_checked").notNull(),
  containersBehind: integer("containers_behind").notNull(),
  eventsResent: integer("events_resent").notNull(),
  failures: integer("failures").notNull(),
  /** "changed": the containers that moved since the last run; "full": every container. */
  sweep: text("sweep").notNull().default("full"),
  /** Containers asked over RPC (each one woken). */
  containersWoken: integer("containers_woken"),
  postgresMs: integer("postgres_ms"),
  wallMs: integer("wall_ms"),
});

/**
 * Each month of readings on its way out of the hot stores (workers/archive/job.ts): `waiting` (due, but
 * its events are not all in a backup yet: `blocked` says which), `exporting` (Parquet parts written
 * up to `cursor`), `pruning` (the containers drop their own old readings, up to `cursor`), `archived`
 * (the month's partition is gone; its readings are in `parts`). A run picks up where the last stopped.
 */
export const archiveMonths = pgTable("archive_months", {
  /** The month's first day (UTC). */
  month: date("month", { mode: "string" }).primaryKey(),
  state: text("state").notNull(),
  /** Bumped when an export starts again (rows arrived while it ran): its parts' keys carry it. */
  generation: integer("generation").notNull().default(0),
  rows: bigint("rows", { mode: "number" }).notNull().default(0),
  bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
  /** The month's bytes in Postgres when its export began (table and indexes), to compare with `bytes`. */
  postgresBytes: bigint("postgres_bytes", { mode: "number" }),
  parts: jsonb("parts").$type<ArchivePart[]>().notNull().default([]),
  cursor: jsonb("cursor").$type<unknown>(),
  containersPruned: integer("containers_pruned").notNull().default(0),
  readingsPruned: integer("readings_pruned").notNull().default(0),
  blocked: text("blocked"),
  startedAt: ts("started_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
  finishedAt: ts("finished_at"),
});

/** Each event sent to a partner's webhook: how its delivery went (GET /v1/partners/{id}/deliveries). */
export const partnerDeliveries = pgTable(
  "partner_deliveries",
  {
    partnerId: text("partner_id").notNull(),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    containerId: text("container_id").notNull(),
    orderId: text("order_id"),
    /** delivered, retrying, or dead (retries exhausted: a dead letter). */
    state: text("state").notNull(),
    attempts: integer("attempts").notNull(),
    /** The partner's last HTTP status; null when it never answered (timeout, refused). */
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    nextTryAt: ts("next_try_at"),
    deliveredAt: ts("delivered_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    /** The event as sent, so that it can be sent again on request. */
    body: jsonb("body"),
    /** Every attempt, oldest first, across replays: `{at, status, error}`. */
    attemptLog: jsonb("attempt_log"),
    /** The dead letter its retries ended in (its queue message id), to replay it from. */
    deadLetterMessageId: text("dead_letter_message_id"),
  },
  (t) => [
    primaryKey({ columns: [t.partnerId, t.eventId] }),
    index("partner_deliveries_recent_idx").on(t.partnerId, t.updatedAt),
  ],
);

/** Each partner's price per product and unit, for sales documents. */
export const prices = pgTable(
  "prices",
  {
    partnerId: text("partner_id").notNull(),
    product: text("product").notNull(),
    unit: text("unit").notNull(),
    currency: text("currency").notNull(),
    unitPrice: numeric("unit_price", { precision: 14, scale: 4 }).notNull(),
    vatRate: numeric("vat_rate", { precision: 6, scale: 4 }).notNull(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
    updatedBy: text("updated_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.partnerId, t.product, t.unit] })],
);

/** One sales document per delivered order, numbered without gaps per partner and year. */
export const salesDocuments = pgTable(
  "sales_documents",
  {
    /** The number, FG-<partner>-<year>-<seq, 6 digits>. */
    id: text("id").primaryKey(),
    orderId: text("order_id").notNull(),
    partnerId: text("partner_id").notNull(),
    year: integer("year").notNull(),
    seq: integer("seq").notNull(),
    containerId: text("container_id").notNull(),
    currency: text("currency").notNull(),
    netCents: bigint("net_cents", { mode: "number" }).notNull(),
    vatCents: bigint("vat_cents", { mode: "number" }).notNull(),
    grossCents: bigint("gross_cents", { mode: "number" }).notNull(),
    lines: jsonb("lines").notNull(),
    deliveredAt: ts("delivered_at").notNull(),
    issuedAt: ts("issued_at").notNull().defaultNow(),
    csvKey: text("csv_key").notNull(),
    htmlKey: text("html_key").notNull(),
    /** The order's delivery revision it was issued for (0: the delivery as first reported). */
    revision: integer("revision").notNull().default(0),
    /** Void since a corrected delivery's document replaced it: when, and by which number. */
    voidAt: ts("void_at"),
    replacedBy: text("replaced_by"),
  },
  (t) => [
    uniqueIndex("sales_documents_order_idx").on(t.orderId, t.revision),
    uniqueIndex("sales_documents_number_idx").on(t.partnerId, t.year, t.seq),
    index("sales_documents_issued_idx").on(t.partnerId, t.issuedAt),
  ],
);
