ALTER TABLE "partner_deliveries" ADD COLUMN "attempt_log" jsonb;--> statement-breakpoint
ALTER TABLE "partner_deliveries" ADD COLUMN "dead_letter_message_id" text;