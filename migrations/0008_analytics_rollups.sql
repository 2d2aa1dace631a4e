CREATE TABLE "container_days" (
	"container_id" text NOT NULL,
	"day" date NOT NULL,
	"contents" text,
	"contents_at" timestamp with time zone,
	"readings" integer DEFAULT 0 NOT NULL,
	"min_fill" double precision,
	"max_fill" double precision,
	"sum_fill" double precision DEFAULT 0 NOT NULL,
	"first_at" timestamp with time zone,
	"first_fill" double precision,
	"first_rise" double precision DEFAULT 0 NOT NULL,
	"last_at" timestamp with time zone,
	"last_fill" double precision,
	"refills" integer DEFAULT 0 NOT NULL,
	"refilled" double precision DEFAULT 0 NOT NULL,
	"deliveries" integer DEFAULT 0 NOT NULL,
	"anomalies" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "container_days_container_id_day_pk" PRIMARY KEY("container_id","day")
);
--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "accepted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "dispatched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "refill_rise" double precision;--> statement-breakpoint
CREATE INDEX "container_days_day_idx" ON "container_days" USING btree ("day");--> statement-breakpoint
-- Room in each page for a day's row to be updated in place (a HOT update, no index entry written):
-- the projection updates today's row with every batch that brings a reading.
ALTER TABLE "container_days" SET (fillfactor = 70);--> statement-breakpoint
CREATE INDEX "orders_delivered_at_idx" ON "orders" USING btree ("delivered_at") WHERE "orders"."delivered_at" is not null;--> statement-breakpoint
-- What was projected before: refills from the readings' events, step times from the orders' events,
-- and the rollups from those rows (the same aggregate as workers/db/rollups.ts at this migration).
UPDATE "readings" r SET "refill_rise" = (e."body"->'refill'->>'rise')::double precision
  FROM "container_events" e WHERE e."id" = r."event_id" AND e."body" ? 'refill';--> statement-breakpoint
UPDATE "orders" o SET "accepted_at" = f."accepted", "dispatched_at" = f."dispatched"
  FROM (SELECT "body"->>'orderId' AS "order_id",
          min(("body"->>'changedAt')::timestamptz) FILTER (WHERE "body"->>'to' = 'accepted') AS "accepted",
          min(("body"->>'changedAt')::timestamptz) FILTER (WHERE "body"->>'to' = 'dispatched') AS "dispatched"
        FROM "container_events" WHERE "type" = 'order.fulfilment_changed' GROUP BY 1) f
  WHERE f."order_id" = o."id";--> statement-breakpoint
INSERT INTO "container_days" ("container_id", "day", "contents", "contents_at", "readings", "min_fill", "max_fill",
    "sum_fill", "first_at", "first_fill", "first_rise", "last_at", "last_fill", "refills", "refilled")
  SELECT "container_id", ("measured_at" AT TIME ZONE 'UTC')::date,
    (array_agg("contents" ORDER BY "measured_at" DESC, "contents" DESC) FILTER (WHERE "contents" IS NOT NULL))[1],
    max("measured_at") FILTER (WHERE "contents" IS NOT NULL),
    count(*), min("fill_percent"), max("fill_percent"), sum("fill_percent"),
    min("measured_at"), (array_agg("fill_percent" ORDER BY "measured_at", "fill_percent" DESC))[1],
    (array_agg(coalesce("refill_rise", 0) ORDER BY "measured_at", "fill_percent" DESC))[1],
    max("measured_at"), (array_agg("fill_percent" ORDER BY "measured_at" DESC, "fill_percent" DESC))[1],
    count("refill_rise"), coalesce(sum("refill_rise"), 0)
  FROM "readings" GROUP BY 1, 2;--> statement-breakpoint
INSERT INTO "container_days" AS d ("container_id", "day", "deliveries", "anomalies")
  SELECT "container_id", "day", count(*) FILTER (WHERE "kind" = 'delivery'), count(*) FILTER (WHERE "kind" = 'anomaly')
  FROM (SELECT "container_id", ("delivered_at" AT TIME ZONE 'UTC')::date AS "day", 'delivery' AS "kind" FROM "orders" WHERE "delivered_at" IS NOT NULL
        UNION ALL SELECT "container_id", (coalesce("measured_at", "raised_at") AT TIME ZONE 'UTC')::date, 'anomaly' FROM "anomalies") t
  GROUP BY 1, 2
  ON CONFLICT ("container_id", "day") DO UPDATE SET "deliveries" = excluded."deliveries", "anomalies" = excluded."anomalies";
