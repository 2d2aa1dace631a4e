import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** Latest state of each container, as of the event `version` (the container's event sequence). */
export const containers = pgTable(
  "containers",
  {
    id: text("id").primaryKey(),
    name: text("name"),
    threshold: doublePrecision("threshold").notNull(),
    capacity: doublePrecision("capacity"),
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
    /** The newest event seq seen (the state above is as of it). */
    version: integer("version").notNull(),
    /** Every event up to this seq is in container_events: what the projection is sure it has. */
    projectedSeq: integer("projected_seq").notNull().default(0),
    /** Since when events between projectedSeq and version have been missing; null when none are. */
    gapSince: ts("gap_since"),
    projectedAt: ts("projected_at").notNull().defaultNow(),
  },
  (t) => [
    index("containers_fill_idx").on(sql`coalesce(${t.fillPercent}, -1)`, t.id),
    index("containers_last_seen_idx").on(sql`coalesce(${t.lastSeenAt}, 'epoch'::timestamptz)`, t.id),
    index("containers_contents_idx").on(t.contents, t.id),
    index("containers_active_order_idx").on(t.id).where(sql`${t.activeOrderId} is not null`),
    index("containers_gap_idx").on(t.gapSince).where(sql`${t.gapSince} is not null`),
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
    /** The container event sequence that last changed this order. */
    version: integer("version").notNull(),
  },
  (t) => [
    index("orders_container_idx").on(t.containerId, t.id),
    index("orders_status_idx").on(t.status, t.id),
    index("orders_opened_at_idx").on(t.openedAt),
  ],
);

/** Reading history, time-indexed. */
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
    eventId: text("event_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.containerId, t.readingId] }),
    index("readings_container_time_idx").on(t.containerId, t.measuredAt),
    index("readings_time_idx").on(t.measuredAt),
  ],
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
});
