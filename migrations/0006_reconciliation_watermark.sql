ALTER TABLE "containers" ADD COLUMN "verified_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "projection_runs" ADD COLUMN "sweep" text DEFAULT 'full' NOT NULL;--> statement-breakpoint
ALTER TABLE "projection_runs" ADD COLUMN "containers_woken" integer;--> statement-breakpoint
ALTER TABLE "projection_runs" ADD COLUMN "postgres_ms" integer;--> statement-breakpoint
ALTER TABLE "projection_runs" ADD COLUMN "wall_ms" integer;--> statement-breakpoint
CREATE INDEX "containers_unverified_idx" ON "containers" USING btree ("id") WHERE "containers"."projected_seq" > "containers"."verified_seq";