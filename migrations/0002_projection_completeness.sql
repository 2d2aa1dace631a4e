CREATE TABLE "projection_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"trigger" text NOT NULL,
	"containers_checked" integer NOT NULL,
	"containers_behind" integer NOT NULL,
	"events_resent" integer NOT NULL,
	"failures" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "projected_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "containers" ADD COLUMN "gap_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD COLUMN "poison" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "containers_gap_idx" ON "containers" USING btree ("gap_since") WHERE "containers"."gap_since" is not null;