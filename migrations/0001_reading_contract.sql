ALTER TABLE "readings" ALTER COLUMN "lat" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "readings" ALTER COLUMN "lon" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "registered_lat" double precision;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "registered_lon" double precision;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "report_interval_seconds" integer;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "threshold_at_open" double precision;--> statement-breakpoint
ALTER TABLE "readings" ADD COLUMN "clock_skew_ms" integer DEFAULT 0 NOT NULL;