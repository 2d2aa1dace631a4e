CREATE TABLE "container_events" (
	"id" text PRIMARY KEY NOT NULL,
	"container_id" text NOT NULL,
	"seq" integer NOT NULL,
	"type" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" text NOT NULL,
	"reading_id" text,
	"body" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "containers" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"threshold" double precision NOT NULL,
	"capacity" double precision,
	"fill_percent" double precision,
	"contents" text,
	"lat" double precision,
	"lon" double precision,
	"battery" double precision,
	"measured_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	"auto_open_armed" boolean NOT NULL,
	"active_order_id" text,
	"version" integer NOT NULL,
	"projected_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"queue" text NOT NULL,
	"message_id" text NOT NULL,
	"body" jsonb NOT NULL,
	"attempts" integer NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone,
	CONSTRAINT "dead_letters_message_id_unique" UNIQUE("message_id")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"container_id" text NOT NULL,
	"status" text NOT NULL,
	"source" text NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"opened_by" text NOT NULL,
	"fill_at_open" double precision,
	"closed_at" timestamp with time zone,
	"closed_by" text,
	"close_reason" text,
	"fill_at_close" double precision,
	"fulfilment" text NOT NULL,
	"version" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "readings" (
	"container_id" text NOT NULL,
	"reading_id" text NOT NULL,
	"measured_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"fill_percent" double precision NOT NULL,
	"contents" text,
	"lat" double precision NOT NULL,
	"lon" double precision NOT NULL,
	"battery" double precision,
	"status" text NOT NULL,
	"event_id" text NOT NULL,
	CONSTRAINT "readings_container_id_reading_id_pk" PRIMARY KEY("container_id","reading_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "container_events_seq_idx" ON "container_events" USING btree ("container_id","seq");--> statement-breakpoint
CREATE INDEX "container_events_at_idx" ON "container_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "containers_fill_idx" ON "containers" USING btree (coalesce("fill_percent", -1),"id");--> statement-breakpoint
CREATE INDEX "containers_last_seen_idx" ON "containers" USING btree (coalesce("last_seen_at", 'epoch'::timestamptz),"id");--> statement-breakpoint
CREATE INDEX "containers_contents_idx" ON "containers" USING btree ("contents","id");--> statement-breakpoint
CREATE INDEX "containers_active_order_idx" ON "containers" USING btree ("id") WHERE "containers"."active_order_id" is not null;--> statement-breakpoint
CREATE INDEX "orders_container_idx" ON "orders" USING btree ("container_id","id");--> statement-breakpoint
CREATE INDEX "orders_status_idx" ON "orders" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "orders_opened_at_idx" ON "orders" USING btree ("opened_at");--> statement-breakpoint
CREATE INDEX "readings_container_time_idx" ON "readings" USING btree ("container_id","measured_at");--> statement-breakpoint
CREATE INDEX "readings_time_idx" ON "readings" USING btree ("measured_at");