import { parseChangeMessage } from "./projection/message";
import { planProjection } from "./projection/plan";
import { writeProjection } from "./projection/writer";
import { withDatabase } from "./db/client";
import { deadLetters } from "./db/schema";
import { log } from "./http/logging";
import type { ChangeMessage } from "../domain/change-message";

export const PROJECTION_QUEUE = "fillgrid-projection";
export const DEAD_LETTER_QUEUE = "fillgrid-dead-letters";

/**
 * Write a batch of change messages to Postgres in one transaction and ack each. If the batch fails as
 * a whole, each message is tried on its own, so one bad message is retried (and in the end
 * dead-lettered) without replaying its neighbours.
 */
export async function projectChanges(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: Array<{ msg: Message<unknown>; change: ChangeMessage }> = [];
  for (const msg of batch.messages) {
    const parsed = parseChangeMessage(msg.body);
    if (parsed.ok) valid.push({ msg, change: parsed.message });
    else {
      log("error", "projection message refused", { queue: batch.queue, messageId: msg.id, attempts: msg.attempts, error: parsed.error });
      msg.retry();
    }
  }
  if (valid.length === 0) return;

  try {
    await withDatabase(env, async (db) => {
      try {
        await db.transaction((tx) => writeProjection(tx, planProjection(valid.map((v) => v.change))));
        for (const { msg } of valid) msg.ack();
        return;
      } catch (error) {
        log("warn", "projection batch failed; writing messages one by one", { size: valid.length, error: (error as Error).message });
      }
      for (const { msg, change } of valid) {
        try {
          await db.transaction((tx) => writeProjection(tx, planProjection([change])));
          msg.ack();
        } catch (error) {
          log("error", "projection message failed", { messageId: msg.id, attempts: msg.attempts, eventId: change.event.id, error: (error as Error).message });
          msg.retry();
        }
      }
    });
  } catch (error) {
    // No database at all: every message not yet acked goes back to the queue.
    log("error", "projection could not reach the database", { size: valid.length, error: (error as Error).message });
    for (const { msg } of valid) msg.retry();
  }
}

/** Keep messages that exhausted their retries in Postgres, to be inspected and replayed. */
export async function storeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  try {
    await withDatabase(env, async (db) => {
      for (const msg of batch.messages) {
        await db
          .insert(deadLetters)
          .values({ queue: PROJECTION_QUEUE, messageId: msg.id, body: msg.body as object, attempts: msg.attempts })
          .onConflictDoNothing();
        log("error", "message dead-lettered", { queue: PROJECTION_QUEUE, messageId: msg.id });
        msg.ack();
      }
    });
  } catch (error) {
    log("error", "dead letters could not be stored", { size: batch.messages.length, error: (error as Error).message });
    batch.retryAll();
  }
}

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue === PROJECTION_QUEUE) return projectChanges(batch, env);
  if (batch.queue === DEAD_LETTER_QUEUE) return storeDeadLetters(batch, env);
  log("error", "batch from an unknown queue", { queue: batch.queue });
  batch.retryAll();
}
