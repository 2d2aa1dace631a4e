ALTER TABLE "containers" ADD COLUMN "lead_time_hours" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "refill_rise" double precision DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "forecast_armed" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "forecast" jsonb;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "threshold_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "empty_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "forecast" jsonb;--> statement-breakpoint
CREATE INDEX "containers_threshold_at_idx" ON "containers" USING btree (coalesce("threshold_at", 'infinity'::timestamptz),"id");