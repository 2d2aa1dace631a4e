CREATE TABLE "archive_months" (
	"month" date PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"generation" integer DEFAULT 0 NOT NULL,
	"rows" bigint DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"postgres_bytes" bigint,
	"parts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"cursor" jsonb,
	"containers_pruned" integer DEFAULT 0 NOT NULL,
	"readings_pruned" integer DEFAULT 0 NOT NULL,
	"blocked" text,
	"started_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
-- readings, partitioned by month of measured_at (drizzle-kit has no words for partitioning; the rest
-- of this file is written by hand). The rows move into the new table with their event's seq.
ALTER TABLE "readings" RENAME TO "readings_unpartitioned";--> statement-breakpoint
ALTER TABLE "readings_unpartitioned" RENAME CONSTRAINT "readings_container_id_reading_id_pk" TO "readings_unpartitioned_pk";--> statement-breakpoint
ALTER INDEX "readings_container_time_idx" RENAME TO "readings_unpartitioned_container_time_idx";--> statement-breakpoint
ALTER INDEX "readings_time_idx" RENAME TO "readings_unpartitioned_time_idx";--> statement-breakpoint
CREATE TABLE "readings" (
	"container_id" text NOT NULL,
	"reading_id" text NOT NULL,
	"measured_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"fill_percent" double precision NOT NULL,
	"contents" text,
	"lat" double precision,
	"lon" double precision,
	"battery" double precision,
	"clock_skew_ms" integer DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"refill_rise" double precision,
	"event_id" text NOT NULL,
	"seq" integer,
	CONSTRAINT "readings_container_id_reading_id_measured_at_pk" PRIMARY KEY("container_id","reading_id","measured_at")
) PARTITION BY RANGE ("measured_at");--> statement-breakpoint
CREATE INDEX "readings_container_time_idx" ON "readings" USING btree ("container_id","measured_at");--> statement-breakpoint
CREATE INDEX "readings_time_idx" ON "readings" USING btree ("measured_at");--> statement-breakpoint
CREATE TABLE "readings_default" PARTITION OF "readings" DEFAULT;--> statement-breakpoint
-- A partition per month from the oldest reading or the month before this one (at most three years
-- back; older ones go to the default partition) to two months ahead; the hourly job keeps them so.
DO $$
DECLARE m date;
BEGIN
  FOR m IN
    SELECT generate_series(
      greatest(
        date_trunc('month', least((SELECT min(measured_at) FROM readings_unpartitioned), now() - interval '1 month') AT TIME ZONE 'UTC'),
        date_trunc('month', now() AT TIME ZONE 'UTC') - interval '36 months'),
      date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
      interval '1 month')::date
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
      'readings_' || to_char(m, 'YYYY_MM'), m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  END LOOP;
END $$;--> statement-breakpoint
INSERT INTO "readings" (container_id, reading_id, measured_at, received_at, fill_percent, contents, lat, lon, battery, clock_skew_ms, status, refill_rise, event_id, seq)
  SELECT r.container_id, r.reading_id, r.measured_at, r.received_at, r.fill_percent, r.contents, r.lat, r.lon, r.battery, r.clock_skew_ms, r.status, r.refill_rise, r.event_id, e.seq
  FROM "readings_unpartitioned" r LEFT JOIN "container_events" e ON e.id = r.event_id;--> statement-breakpoint
DROP TABLE "readings_unpartitioned";
