import { count } from "../platform/usage";
import { z } from "zod";
import type { ChangeMessage } from "../domain/change-message";
import { fleetContainerOf, latestPerContainer } from "../domain/fleet";
import { ERROR_SOURCES, type ErrorReport } from "../domain/errors";
import { reportError } from "../platform/error-report";
import { log, sampleRate } from "../platform/logging";
import { withDatabase } from "./db/client";
import { storeDeadLetterRows } from "./db/dead-letters";
import { errorStore } from "./errors/store";
import { bodyValue, isBackupEventsMessage, parseBackupMessage, parseProjectionMessage } from "./projection/message";
import { planProjections } from "./projection/plan";
import { gapGraceSeconds, requestMissing } from "./projection/repair";
import { writePlans, type ProjectionGap } from "./projection/writer";
import { deadLetterVault, directory, errorHub, fleetHub } from "./stubs";
import { deliverPartnerEvents, markDeliveryDead, partnerDeliverySchema, queuePartnerEvents } from "./partners/outbound";
import { recordBatch } from "./metrics";
import { backUpEvents, passToBackup, replicateBackupObjects } from "./backups";
import { objectCreatedSchema } from "../domain/backups";

/** The partner events consumer's max_retries in wrangler.toml (test/config-node.test.ts holds the two together). */
export const PARTNER_MAX_RETRIES = 5;
/** How often a partner event is tried in all: the first attempt and its retries. */
const PARTNER_ATTEMPTS = PARTNER_MAX_RETRIES + 1;

// The queues by name, as wrangler.toml declares them (test/config-node.test.ts checks the two agree).
export const PROJECTION_QUEUE = "fillgrid-projection";
export const ERRORS_QUEUE = "fillgrid-errors";
export const DEAD_LETTER_QUEUE = "fillgrid-dead-letters";
export const ERRORS_DEAD_LETTER_QUEUE = "fillgrid-errors-dead-letters";
export const PARKED_DEAD_LETTER_QUEUE = "fillgrid-dead-letters-parked";
export const PARTNER_EVENTS_QUEUE = "fillgrid-partner-events";
export const PARTNER_EVENTS_DEAD_LETTER_QUEUE = "fillgrid-partner-events-dead-letters";
/**
 * The projection's events passed on to be backed up (workers/backups.ts); its dead letters go to the
 * projection's dead-letter queue, and are told from the projection's by their shape (`originIn`).
 */
export const BACKUP_QUEUE = "fillgrid-backups";
/** Objects written to the backup bucket, to be copied to the replica (R2 event notifications). */
export const BACKUP_REPLICATION_QUEUE = "fillgrid-backup-replication";
export const BACKUP_REPLICATION_DEAD_LETTER_QUEUE = "fillgrid-backup-replication-dead-letters";

/** The queue each dead-letter queue holds messages of, for storing and replaying them (but see `originIn`). */
export const DEAD_LETTER_ORIGIN: Record<string, string> = {
  [DEAD_LETTER_QUEUE]: PROJECTION_QUEUE,
  [ERRORS_DEAD_LETTER_QUEUE]: ERRORS_QUEUE,
  [PARTNER_EVENTS_DEAD_LETTER_QUEUE]: PARTNER_EVENTS_QUEUE,
  [BACKUP_REPLICATION_DEAD_LETTER_QUEUE]: BACKUP_REPLICATION_QUEUE,
};

const failureContext = (queue: string, msg: Message<unknown>) => ({ queue, messageId: msg.id, attempts: msg.attempts });

/**
 * Acks and retries for one batch, each message settled once: whatever fails after a message was
 * acked (a log line, closing the database) can never send it back to the queue as well.
 */
export class Settlement {
  private readonly settled = new Set<string>();
  private readonly acked = new Set<string>();
  ack(msg: Message<unknown>): void {
    if (this.settled.has(msg.id)) return;
    this.settled.add(msg.id);
    this.acked.add(msg.id);
    msg.ack();
  }
  isAcked(msg: Message<unknown>): boolean {
    return this.acked.has(msg.id);
  }
  retry(msg: Message<unknown>, options?: QueueRetryOptions): void {
    if (this.settled.has(msg.id)) return;
    this.settled.add(msg.id);
    count("queueMessagesRetried");
    msg.retry(options);
  }
}

/**
 * Write a batch of change messages to Postgres in one transaction and ack each. If the batch fails as
 * a whole, each message is tried on its own, so one bad message is retried (and in the end
 * dead-lettered) without replaying its neighbours.
 */
export async function projectChanges(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const settle = new Settlement();
  // A message is a container's range of events (or, from before ranges, one change): the changes it stands for.
  const valid: Array<{ msg: Message<unknown>; changes: ChangeMessage[] }> = [];
  for (const msg of batch.messages) {
    const parsed = parseProjectionMessage(msg.body);
    if (parsed.ok) valid.push({ msg, changes: parsed.changes });
    else {
      settle.retry(msg);
      await reportError(env, new TypeError(parsed.error), "consumer", batch.queue, failureContext(batch.queue, msg));
    }
  }
  if (valid.length === 0) return;
  const all = valid.flatMap((v) => v.changes);
  // Their events passed on to be backed up while Postgres writes them (both wait on another service,
  // and the queue hands this consumer its next batch only once this one returns): a message is acked
  // only once both have it. If the backup queue cannot take them, they all come again (writing them
  // to Postgres again changes nothing).
  const backedUp = passToBackup(
    env,
    all.map((c) => c.event),
  ).then(
    () => true,
    async (error: unknown) => {
      await reportError(env, error, "consumer", batch.queue, { messages: valid.length, step: "passing to the backup" });
      return false;
    },
  );
  const retryUnlessBackedUp = async () => {
    if (await backedUp) return false;
    for (const { msg } of valid) settle.retry(msg);
    return true;
  };

  const started = Date.now();
  const gaps: ProjectionGap[] = [];
  // What follows a write: two calls to other objects, made as soon as the rows are in Postgres and
  // beside the wait for the backup pass, not after it: the queue hands a consumer its next batch only
  // once this one has returned (its waitUntil work included, as measured: docs/benchmarks.md), and
  // on a busy edge each call waits its turn. Each catches its own failure.
  const followUps: Promise<unknown>[] = [];
  const followUp = (states: readonly ChangeMessage["state"][], found: readonly ProjectionGap[]) => {
    // Dashboards see what is now in Postgres: one push per batch, the newest state of each container
    // (a batch that comes again pushes again; a dashboard keeps each container's newest version).
    if (states.length > 0) {
      followUps.push(
        Promise.resolve()
          .then(() => fleetHub(env).publish(latestPerContainer(states).map(fleetContainerOf)))
          // The rows are in Postgres; a dashboard that misses this push catches up on reconnect or reload.
          .catch((error: unknown) =>
            reportError(env, error, "consumer", "fleet push", { queue: batch.queue, size: states.length }),
          ),
      );
    }
    // What the batch showed missing (an event past projected_seq + 1) is asked for again, once it has
    // been missing for the grace period: ingest sends each request's events as its own message, so a
    // container's events from two requests in flight at once may arrive in either order, and the
    // earlier one is usually a moment away. Gaps that stand are asked for by the minute job too.
    const grace = gapGraceSeconds(env);
    const latest = new Map<string, ProjectionGap>();
    for (const gap of found.filter((g) => (g.ageSeconds ?? grace) >= grace)) {
      const known = latest.get(gap.containerId);
      if (!known || known.projectedSeq < gap.projectedSeq || known.version < gap.version)
        latest.set(gap.containerId, gap);
    }
    followUps.push(requestMissing(env, [...latest.values()]));
  };
  let followedUp = false;
  // Off only to measure what the completeness check costs (npm run bench); see wrangler.toml.
  const track = env.PROJECTION_GAP_CHECK !== "off";
  // Asked for beside the write rather than after it (each call waits its turn in a busy isolate); a
  // failure is met where it is awaited.
  const partners = all.some((c) => c.order !== null) ? directory(env).listPartners() : undefined;
  partners?.catch(() => {});
  try {
    await withDatabase(env, async (db) => {
      try {
        gaps.push(...(await writePlans(db, planProjections(all), track)));
        followedUp = true;
        followUp(
          all.map((c) => c.state),
          gaps,
        );
        if (await retryUnlessBackedUp()) return;
        // Partners hear of what Postgres now holds; if that cannot be queued the batch comes again
        // (writing it again changes nothing) and so does the queueing.
        await queuePartnerEvents(env, db, all, partners);
        for (const { msg } of valid) settle.ack(msg);
        // Sampled as successful requests are (the metrics count every batch); failures always logged.
        if (Math.random() < sampleRate(env.REQUEST_LOG_SAMPLE_RATE))
          log("info", "projection batch written", { queue: batch.queue, size: valid.length, ms: Date.now() - started });
        return;
      } catch (error) {
        // A Drizzle error's message is its query; what Postgres said is its cause.
        const cause = (error as Error & { cause?: unknown }).cause;
        log("warn", "projection batch failed; writing messages one by one", {
          size: valid.length,
          error: (cause instanceof Error ? cause : (error as Error)).message.slice(0, 300),
        });
      }
      if (await retryUnlessBackedUp()) return;
      for (const { msg, changes } of valid) {
        try {
          gaps.push(...(await writePlans(db, planProjections(changes), track)));
          await queuePartnerEvents(env, db, changes);
          settle.ack(msg);
        } catch (error) {
          settle.retry(msg);
          // A message of many containers: each is written on its own, so that one container's
          // failure holds back only its own rows (the message comes again; what is written stays).
          const containers = [...new Set(changes.map((c) => c.event.containerId))];
          let failed = containers;
          if (containers.length > 1) {
            failed = [];
            for (const containerId of containers) {
              const own = changes.filter((c) => c.event.containerId === containerId);
              try {
                gaps.push(...(await writePlans(db, planProjections(own), track)));
                await queuePartnerEvents(env, db, own);
              } catch {
                failed.push(containerId);
              }
            }
          }
          await reportError(env, error, "consumer", batch.queue, {
            ...failureContext(batch.queue, msg),
            containerId: failed.join(", ") || containers.join(", "),
          });
        }
      }
    });
  } catch (error) {
    // No database at all (or it failed after the writes): whatever is not yet acked goes back.
    for (const { msg } of valid) settle.retry(msg);
    await reportError(env, error, "consumer", batch.queue, { queue: batch.queue, size: valid.length });
  }
  // Written one by one (or not at all): what follows is what was written.
  if (!followedUp)
    followUp(
      valid.filter(({ msg }) => settle.isAcked(msg)).flatMap(({ changes }) => changes.map((c) => c.state)),
      gaps,
    );
  await backedUp;
  await Promise.all(followUps);
}

export const errorReportSchema = z.looseObject({
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
  const settle = new Settlement();
  const valid: Array<{ msg: Message<unknown>; report: ErrorReport }> = [];
  for (const msg of batch.messages) {
    const parsed = errorReportSchema.safeParse(msg.body);
    if (parsed.success) valid.push({ msg, report: parsed.data as ErrorReport });
    else {
      log("error", "error report refused", {
        ...failureContext(batch.queue, msg),
        error: parsed.error.issues[0]?.message,
      });
      settle.retry(msg);
    }
  }
  if (valid.length === 0) return;
  try {
    await errorStore(env).record(valid.map((v) => v.report));
    for (const { msg } of valid) settle.ack(msg);
  } catch (error) {
    // The store is down: nothing is lost, the reports come back (and dead-letter after 3 tries).
    log("error", "error store unavailable", {
      queue: batch.queue,
      size: valid.length,
      error: (error as Error).message,
    });
    for (const { msg } of valid) settle.retry(msg);
  }
}

/** 30 s, doubling per attempt, at most an hour: ten tries span about six hours of outage. */
export function deadLetterRetryDelay(attempts: number): number {
  return Math.min(30 * 2 ** Math.max(0, attempts - 1), 3600);
}

/**
 * Why a dead letter could not be written, as far as its shape tells: one its consumer cannot read
 * is poison (it never will be written as it is); any other is repaired when its container is
 * reconciled, replayed or not.
 */
export function deadLetterVerdict(origin: string, body: unknown): { reason: string; poison: boolean } {
  if (origin === PROJECTION_QUEUE) {
    const parsed = parseProjectionMessage(body);
    return parsed.ok
      ? {
          reason: "writing it to Postgres failed 3 times; reconciliation sends it again from its container",
          poison: false,
        }
      : { reason: parsed.error, poison: true };
  }
  if (origin === PARTNER_EVENTS_QUEUE) {
    const parsed = partnerDeliverySchema.safeParse(body);
    return parsed.success
      ? {
          reason: `the partner's webhook failed ${PARTNER_ATTEMPTS} times; replay it once the partner is back`,
          poison: false,
        }
      : {
          reason: `not a partner delivery: ${parsed.error.issues[0]?.path.join(".") || "(body)"} ${parsed.error.issues[0]?.message}`,
          poison: true,
        };
  }
  if (origin === ERRORS_QUEUE) {
    const parsed = errorReportSchema.safeParse(body);
    return parsed.success
      ? { reason: "the error store refused it 3 times", poison: false }
      : {
          reason: `not an error report: ${parsed.error.issues[0]?.path.join(".") || "(body)"} ${parsed.error.issues[0]?.message}`,
          poison: true,
        };
  }
  if (origin === BACKUP_QUEUE) {
    const parsed = parseBackupMessage(body);
    return parsed.ok
      ? { reason: "backing it up failed 10 times; replay it once the backup bucket takes writes", poison: false }
      : { reason: parsed.error, poison: true };
  }
  if (origin === BACKUP_REPLICATION_QUEUE) {
    const parsed = objectCreatedSchema.safeParse(body);
    return parsed.success
      ? {
          reason: "copying it to the backup replica failed 10 times; replay it once the replica is reachable",
          poison: false,
        }
      : { reason: `not an object-created notification: ${parsed.error.issues[0]?.message}`, poison: true };
  }
  return { reason: "from no queue this system knows", poison: true };
}

/** Which queue a message parked from either dead-letter queue came from, told by its shape. */
export function originOf(body: unknown): string {
  if (parseProjectionMessage(body).ok) return PROJECTION_QUEUE;
  if (parseBackupMessage(body).ok) return BACKUP_QUEUE;
  if (errorReportSchema.safeParse(body).success) return ERRORS_QUEUE;
  if (partnerDeliverySchema.safeParse(body).success) return PARTNER_EVENTS_QUEUE;
  if (objectCreatedSchema.safeParse(body).success) return BACKUP_REPLICATION_QUEUE;
  return "unknown";
}

/**
 * Keep messages that exhausted their retries in Postgres, to be inspected and replayed, and make
 * each an error record. Error reports that could not reach an external store are recorded in the
 * ErrorHub directly, so they are seen even while the store is down. While Postgres is down they
 * are retried with growing delays, then parked in the DeadLetterVault (see wrangler.toml).
 */
export async function storeDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const settle = new Settlement();
  const origins = new Map(batch.messages.map((msg) => [msg, originIn(batch.queue, msg.body)]));
  try {
    await withDatabase(env, (db) =>
      storeDeadLetterRows(
        db,
        batch.messages.map((msg) => ({
          queue: origins.get(msg)!,
          messageId: msg.id,
          body: storedBody(msg.body),
          attempts: msg.attempts,
          ...deadLetterVerdict(origins.get(msg)!, msg.body),
        })),
      ),
    );
  } catch (error) {
    log("error", "dead letters could not be stored in Postgres; retrying later", {
      queue: batch.queue,
      size: batch.messages.length,
      error: (error as Error).message,
    });
    for (const msg of batch.messages) settle.retry(msg, { delaySeconds: deadLetterRetryDelay(msg.attempts) });
    return;
  }
  // Every letter is in Postgres: all are acked before anything else is tried, so a failure in what
  // follows can neither send one back nor report one twice. Each letter's follow-up catches its own.
  for (const msg of batch.messages) settle.ack(msg);
  await Promise.all(batch.messages.map((msg) => reportDeadLetter(env, origins.get(msg)!, msg)));
}

/**
 * The queue a dead letter came from: its dead-letter queue's, except in the projection's, which
 * takes the backup queue's too (a message of events alone is the backup queue's).
 */
export function originIn(deadLetterQueue: string, body: unknown): string {
  if (deadLetterQueue === DEAD_LETTER_QUEUE) {
    const read = bodyValue(body);
    if (read.ok && isBackupEventsMessage(read.value)) return BACKUP_QUEUE;
  }
  return DEAD_LETTER_ORIGIN[deadLetterQueue]!;
}

/** A stored dead letter as an error record (an error report that died: recorded in the ErrorHub itself). */
async function reportDeadLetter(env: Env, origin: string, msg: Message<unknown>): Promise<void> {
  const failure = new Error(`message ${msg.id} from ${origin} exhausted its retries and was dead-lettered`);
  failure.name = "DeadLetter";
  if (origin === ERRORS_QUEUE) {
    log("error", failure.message, { queue: origin, messageId: msg.id });
    const report = errorReportSchema.safeParse(msg.body);
    if (!report.success || !env.ERROR_STORE_URL) return;
    try {
      await errorHub(env).record([report.data as ErrorReport]);
    } catch (error) {
      await reportError(env, error, "dead-letter", "error hub", { queue: origin, messageId: msg.id });
    }
    return;
  }
  if (origin === PARTNER_EVENTS_QUEUE)
    await markDeliveryDead(env, msg.body, msg.attempts, msg.id).catch((error: unknown) =>
      reportError(env, error, "dead-letter", "partner delivery log", { messageId: msg.id }),
    );
  await reportError(env, failure, "dead-letter", origin, { queue: origin, messageId: msg.id });
}

/** A dead letter's body as it is kept: a message sent as JSON text kept as the value it holds (to be read and replayed as one). */
function storedBody(body: unknown): unknown {
  const read = bodyValue(body);
  return read.ok ? read.value : body;
}

/** Dead letters Postgres could not take for hours: into the vault, which needs no database. */
export async function parkDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const parkedAt = new Date().toISOString();
  await deadLetterVault(env).park(
    batch.messages.map((msg) => ({
      queue: originOf(msg.body),
      messageId: msg.id,
      bodyJson: JSON.stringify(storedBody(msg.body)),
      attempts: msg.attempts,
      parkedAt,
    })),
  );
  for (const msg of batch.messages) msg.ack();
  log("warn", "dead letters parked until Postgres takes them", { size: batch.messages.length });
}

/** Move parked dead letters into Postgres; those that arrive are released from the vault. */
export async function flushParkedDeadLetters(env: Env): Promise<number> {
  const vault = deadLetterVault(env);
  let moved = 0;
  for (;;) {
    const letters = await vault.waiting(100);
    if (letters.length === 0) return moved;
    await withDatabase(env, (db) =>
      storeDeadLetterRows(
        db,
        letters.map((l) => {
          const body = JSON.parse(l.bodyJson) as unknown;
          return { ...l, body, ...deadLetterVerdict(l.queue, body) };
        }),
      ),
    );
    await vault.release(letters.map((l) => l.messageId));
    for (const l of letters) {
      const failure = new Error(`message ${l.messageId} from ${l.queue} exhausted its retries and was dead-lettered`);
      failure.name = "DeadLetter";
      await reportError(env, failure, "dead-letter", l.queue, {
        queue: l.queue,
        messageId: l.messageId,
        parked: "yes",
      });
      // A partner event's delivery log says it is dead, with the letter to replay, as for one stored at once.
      if (l.queue === PARTNER_EVENTS_QUEUE)
        await markDeliveryDead(env, JSON.parse(l.bodyJson) as unknown, l.attempts, l.messageId).catch(
          (error: unknown) =>
            reportError(env, error, "dead-letter", "partner delivery log", { messageId: l.messageId }),
        );
    }
    moved += letters.length;
  }
}

/** Every batch, measured for GET /metrics (how long it waited, how long its consumer took). */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const started = Date.now();
  count("workerInvocations");
  count("queueMessagesDelivered", batch.messages.length);
  try {
    await consume(batch, env);
  } finally {
    await recordBatch(env, batch.queue, batch, started);
  }
}

async function consume(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case PROJECTION_QUEUE:
      return projectChanges(batch, env);
    case ERRORS_QUEUE:
      return storeErrorReports(batch, env);
    case BACKUP_QUEUE:
      return backUpEvents(batch, env);
    case BACKUP_REPLICATION_QUEUE:
      return replicateBackupObjects(batch, env);
    case PARTNER_EVENTS_QUEUE:
      return deliverPartnerEvents(batch, env);
    case DEAD_LETTER_QUEUE:
    case ERRORS_DEAD_LETTER_QUEUE:
    case PARTNER_EVENTS_DEAD_LETTER_QUEUE:
    case BACKUP_REPLICATION_DEAD_LETTER_QUEUE:
      return storeDeadLetters(batch, env);
    case PARKED_DEAD_LETTER_QUEUE:
      return parkDeadLetters(batch, env);
    default:
      await reportError(env, new Error(`batch from unknown queue ${batch.queue}`), "consumer", batch.queue);
      batch.retryAll();
  }
}
