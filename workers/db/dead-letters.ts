import type { Database } from "./client";
import { deadLetters } from "./schema";

export interface DeadLetterRow {
  queue: string;
  messageId: string;
  body: unknown;
  attempts: number;
  reason: string;
  poison: boolean;
}

/** Store dead letters once each, however often they are delivered. */
export async function storeDeadLetterRows(db: Database, rows: readonly DeadLetterRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(deadLetters)
    .values(
      rows.map((r) => ({
        queue: r.queue,
        messageId: r.messageId,
        body: r.body as object,
        attempts: r.attempts,
        reason: r.reason,
        poison: r.poison,
      })),
    )
    .onConflictDoNothing();
}
