CREATE TABLE "partner_deliveries" (
	"partner_id" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"container_id" text NOT NULL,
	"order_id" text,
	"state" text NOT NULL,
	"attempts" integer NOT NULL,
	"last_status" integer,
	"last_error" text,
	"next_try_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "partner_deliveries_partner_id_event_id_pk" PRIMARY KEY("partner_id","event_id")
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"partner_id" text NOT NULL,
	"product" text NOT NULL,
	"unit" text NOT NULL,
	"currency" text NOT NULL,
	"unit_price" numeric(14, 4) NOT NULL,
	"vat_rate" numeric(6, 4) NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text NOT NULL,
	CONSTRAINT "prices_partner_id_product_unit_pk" PRIMARY KEY("partner_id","product","unit")
);
--> statement-breakpoint
CREATE TABLE "sales_documents" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"partner_id" text NOT NULL,
	"year" integer NOT NULL,
	"seq" integer NOT NULL,
	"container_id" text NOT NULL,
	"currency" text NOT NULL,
	"net_cents" bigint NOT NULL,
	"vat_cents" bigint NOT NULL,
	"gross_cents" bigint NOT NULL,
	"lines" jsonb NOT NULL,
	"delivered_at" timestamp with time zone NOT NULL,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"csv_key" text NOT NULL,
	"html_key" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "partner_deliveries_recent_idx" ON "partner_deliveries" USING btree ("partner_id","updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "sales_documents_order_idx" ON "sales_documents" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "sales_documents_number_idx" ON "sales_documents" USING btree ("partner_id","year","seq");--> statement-breakpoint
CREATE INDEX "sales_documents_issued_idx" ON "sales_documents" USING btree ("partner_id","issued_at");