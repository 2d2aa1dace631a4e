import { z } from "zod";
import type { ChangeMessage } from "../domain/change-message";
import { ERROR_SOURCES, type ErrorReport } from "../domain/errors";
import { withDatabase } from "./db/client";
import { deadLetters } from "./db/schema";
import { reportError } from "./errors/report";
import { errorHub, errorStore } from "./errors/store";
import { log } from "./http/logging";
import { parseChangeMessage } from "./projection/message";
import { planProjection } from "./projection/plan";
import { writeProjection } from "./projection/writer";

export const PROJECTION_QUEUE = "fillgrid-projection";
export const ERRORS_QUEUE = "fillgrid-errors";
export const DEAD_LETTER_QUEUE = "fillgrid-dead-letters";
export const ERRORS_DEAD_LETTER_QUEUE = "fillgrid-errors-dead-letters";

/** The queue each dead-letter queue holds messages of, for storing and replaying them. */
export const DEAD_LETTER_ORIGIN: Record<string, string> = {
  [DEAD_LETTER_QUEUE]: PROJECTION_QUEUE,
  [ERRORS_DEAD_LETTER_QUEUE]: ERRORS_QUEUE,
};

const failureContext = (queue: string, msg: Message<unknown>) => ({ queue, messageId: msg.id, attempts: msg.attempts });

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
      await reportError(env, new TypeError(parsed.error), "consumer", batch.queue, failureContext(batch.queue, msg));
      msg.retry();
    }
  }
  if (valid.length === 0) return;

  const started = Date.now();
  try {
    await withDatabase(env, async (db) => {
      try {
        await db.transaction((tx) => writeProjection(tx, planProjection(valid.map((v) => v.change))));
        for (const { msg } of valid) msg.ack();
        log("info", "projection batch written", { queue: batch.queue, size: valid.length, ms: Date.now() - started });
        return;
      } catch (error) {
        log("warn", "projection batch failed; writing messages one by one", { size: valid.length, error: (error as Error).message });
      }
      for (const { msg, change } of valid) {
        try {
          await db.transaction((tx) => writeProjection(tx, planProjection([change])));
          msg.ack();
        } catch (error) {
          await reportError(env, error, "consumer", batch.queue, { ...failureContext(batch.queue, msg), containerId: change.event.containerId });
          msg.retry();
        }
      }
    });
  } catch (error) {
    // No database at all: every message goes back to the queue.
    await reportError(env, error, "consumer", batch.queue, { queue: batch.queue, size: valid.length });
    for (const { msg } of valid) msg.retry();
  }
}

const errorReportSchema = z.looseObject({
  reportId: z.string().min(1),
  fingerprint: z.string().min(1),
  name: z.string(),
  message: z.string(),
  stack: z.string().nullable(),
  source: z.enum(ERROR_SOURCES),
  context: z.record(z.string(), z.union([z.string(), z.number()])),
  at: z.iso.datetime({ offset: true }),
});

/** Error reports into the error store (which publishes each change to the dashboards). */
export async function storeErrorReports(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const valid: Array<{ msg: Message<unknown>; report: ErrorReport }> = [];
  for (const msg of batch.messages) {
    const parsed = errorReportSchema.safeParse(msg.body);
    if (parsed.success) valid.push({ msg, report: parsed.data as ErrorReport });
    else {
      log("error", "error report refused", { ...failureContext(batch.queue, msg), error: parsed.error.issues[0]?.message });
      msg.retry();
    }
  }
  if (valid.length === 0) return;
  try {
    await errorStore(env).record(valid.map((v) => v.report));
    for (const { msg } of valid) msg.ack();
  } catch (error) {
    // The store is down: nothing is lost, the reports come back (and dead-letter after 3 tries).
    log("error", "error store unavailable", { queue: batch.queue, size: valid.length, error: (error as Error).message });
    for (const { msg } of valid) msg.retry();
  }
}

/**
 * Keep messages that exhausted their retries in Postgres, to be inspected and replayed, and make
 * each an error record. Error reports that could not reach an external store are recorded in the
 * ErrorHub directly, so they are seen even while the store is down.
 */
export async function storeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const origin = DEAD_LETTER_ORIGIN[batch.queue]!;
  try {
    await withDatabase(env, async (db) => {
      for (const msg of batch.messages) {
        await db
          .insert(deadLetters)
          .values({ queue: origin, messageId: msg.id, body: msg.body as object, attempts: msg.attempts })
          .onConflictDoNothing();
      }
    });
  } catch (error) {
    log("error", "dead letters could not be stored", { queue: batch.queue, size: batch.messages.length, error: (error as Error).message });
    batch.retryAll();
    return;
  }
  for (const msg of batch.messages) {
    const failure = new Error(`message ${msg.id} from ${origin} exhausted its retries and was dead-lettered`);
    failure.name = "DeadLetter";
    if (origin === ERRORS_QUEUE) {
      const report = errorReportSchema.safeParse(msg.body);
      if (report.success && env.ERROR_STORE_URL) await errorHub(env).record([report.data as ErrorReport]);
      log("error", failure.message, { queue: origin, messageId: msg.id });
    } else {
      await reportError(env, failure, "dead-letter", origin, { queue: origin, messageId: msg.id });
    }
    msg.ack();
  }
}

export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case PROJECTION_QUEUE:
      return projectChanges(batch, env);
    case ERRORS_QUEUE:
      return storeErrorReports(batch, env);
    case DEAD_LETTER_QUEUE:
    case ERRORS_DEAD_LETTER_QUEUE:
      return storeDeadLetters(batch, env);
    default:
      await reportError(env, new Error(`batch from unknown queue ${batch.queue}`), "consumer", batch.queue);
      batch.retryAll();
  }
}
