CREATE TABLE "anomalies" (
	"id" text PRIMARY KEY NOT NULL,
	"container_id" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"raised_at" timestamp with time zone NOT NULL,
	"measured_at" timestamp with time zone,
	"message" text NOT NULL,
	"details" jsonb NOT NULL,
	"closed_at" timestamp with time zone,
	"closed_by" text,
	"version" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "lead_time_hours" double precision;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "partner_lead_time_hours" double precision;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "refill_rise" double precision DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "forecast_armed" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "sudden_drop" double precision DEFAULT 8 NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "anomalies" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "forecast" jsonb;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "threshold_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "empty_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "forecast" jsonb;--> statement-breakpoint
CREATE INDEX "anomalies_status_idx" ON "anomalies" USING btree ("status","raised_at");--> statement-breakpoint
CREATE INDEX "anomalies_container_idx" ON "anomalies" USING btree ("container_id","raised_at");--> statement-breakpoint
CREATE INDEX "containers_threshold_at_idx" ON "containers" USING btree (coalesce("threshold_at", 'infinity'::timestamptz),"id");