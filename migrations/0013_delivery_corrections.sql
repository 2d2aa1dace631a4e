DROP INDEX "sales_documents_order_idx";--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "delivery_revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sales_documents" ADD COLUMN "revision" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sales_documents" ADD COLUMN "void_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sales_documents" ADD COLUMN "replaced_by" text;--> statement-breakpoint
CREATE UNIQUE INDEX "sales_documents_order_idx" ON "sales_documents" USING btree ("order_id","revision");