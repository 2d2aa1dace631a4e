// Fillgrid's events to partners: queued after the projection commits each batch (so what a partner
// is told is already in Postgres), then signed and POSTed to the partner's webhook one by one, with
// retries (PARTNER_RETRY_BASE_SECONDS, doubling, at most 5 minutes), then the dead-letter queue.
// Every attempt is written to the delivery log (GET /v1/partners/{id}/deliveries).
import { count } from "../../platform/usage";
import { randomToken } from "../../domain/ids";
import { and, desc, eq, getTableColumns, inArray, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { ChangeMessage } from "../../domain/change-message";
import {
  partnerDeliveries as deliveriesFor,
  pingEvent,
  type PartnerDelivery,
  type PingEvent,
} from "../../domain/partner-events";
import {
  privateWebhookAddress,
  secretsInForce,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type Partner,
} from "../../domain/partners";
import { reportError } from "../../platform/error-report";
import { log } from "../../platform/logging";
import { withDatabase, type Database } from "../db/client";
import { deadLetters, partnerDeliveries } from "../db/schema";
import { partnerById, signaturesOf } from "../http/partner-auth";
import { directory } from "../stubs";

export const partnerDeliverySchema = z.object({
  partnerId: z.string().min(1),
  event: z.looseObject({
    eventId: z.string().min(1),
    type: z.string().min(1),
    occurredAt: z.string(),
    containerId: z.string().min(1),
    orderId: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
  }),
});

/** The delay before retry number `attempts` (1 = the first retry). */
export function partnerRetryDelay(env: Env, attempts: number): number {
  const base = Number(env.PARTNER_RETRY_BASE_SECONDS ?? 5);
  return Math.min(base * 2 ** Math.max(0, attempts - 1), 300);
}

/**
 * Queue what a committed batch tells partners; events already delivered (a resent change) are not
 * sent again. `partnerList`: the partner list when the caller asked for it already (beside its write).
 */
export async function queuePartnerEvents(
  env: Env,
  db: Database,
  changes: readonly ChangeMessage[],
  partnerList?: Promise<Partner[]>,
): Promise<number> {
  if (!changes.some((c) => c.order !== null)) return 0;
  const partners = await (partnerList ?? directory(env).listPartners());
  if (partners.length === 0) return 0;
  let deliveries = deliveriesFor(changes, partners);
  if (deliveries.length === 0) return 0;
  const done = await db
    .select({ partnerId: partnerDeliveries.partnerId, eventId: partnerDeliveries.eventId })
    .from(partnerDeliveries)
    .where(
      and(
        inArray(
          partnerDeliveries.eventId,
          deliveries.map((d) => d.event.eventId),
        ),
        eq(partnerDeliveries.state, "delivered"),
      ),
    );
  const sent = new Set(done.map((d) => `${d.partnerId}\u0000${d.eventId}`));
  deliveries = deliveries.filter((d) => !sent.has(`${d.partnerId}\u0000${d.event.eventId}`));
  for (let i = 0; i < deliveries.length; i += 100) {
    const chunk = deliveries.slice(i, i + 100);
    await env.PARTNER_EVENTS_QUEUE.sendBatch(chunk.map((body) => ({ body, contentType: "json" as const })));
    count("queueMessagesSent", chunk.length);
    // A partner event is a few KB: one billed unit each.
    count("queueMessageUnits", chunk.length);
  }
  return deliveries.length;
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** An event for one partner: an order's change, or a test event. */
type Sendable = PartnerDelivery | { partnerId: string; event: PingEvent };

async function post(env: Env, delivery: Sendable): Promise<Outcome> {
  const partner = await partnerById(env, delivery.partnerId);
  if (!partner) return { ok: false, status: null, error: `partner ${delivery.partnerId} no longer exists` };
  if (partner.disabled) return { ok: false, status: null, error: `partner ${delivery.partnerId} is disabled` };
  // A URL stored while private addresses were allowed is still not called where they are not.
  const privateAddress = env.WEBHOOK_PRIVATE_ADDRESSES === "allow" ? null : privateWebhookAddress(partner.webhookUrl);
  if (privateAddress) return { ok: false, status: null, error: `webhook URL refused: ${privateAddress}` };
  const body = JSON.stringify(delivery.event);
  const timestamp = String(Math.floor(Date.now() / 1000));
  try {
    const res = await fetch(partner.webhookUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        [TIMESTAMP_HEADER]: timestamp,
        // During a rotation's grace period both secrets sign: the partner accepts the one it knows.
        [SIGNATURE_HEADER]: await signaturesOf(secretsInForce(partner, Date.now()), timestamp, body),
        "User-Agent": "Fillgrid-Webhooks/1",
      },
      body,
      // A redirect is not followed: it could lead anywhere, a private address included, and turn
      // the POST into a GET. The partner's webhook must answer itself.
      redirect: "manual",
      signal: AbortSignal.timeout(Number(env.PARTNER_TIMEOUT_MS ?? 5000)),
    });
    // The answer's body is not needed; reading it frees the connection.
    const text = (await res.text()).slice(0, 200);
    if (res.status >= 300 && res.status < 400)
      return {
        ok: false,
        status: res.status,
        error: `answered ${res.status}, a redirect${res.headers.get("location") ? ` to ${res.headers.get("location")}` : ""}: redirects are not followed; register the URL that answers`,
      };
    return res.ok
      ? { ok: true, status: res.status }
      : { ok: false, status: res.status, error: `answered ${res.status}${text ? `: ${text}` : ""}` };
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    return {
      ok: false,
      status: null,
      error: timedOut ? `no answer within ${env.PARTNER_TIMEOUT_MS ?? 5000} ms` : (error as Error).message,
    };
  }
}

/** One attempt as the delivery log lists it. */
const attemptEntry = (at: string, outcome: Outcome) => ({
  at,
  status: outcome.status,
  error: outcome.ok ? null : outcome.error,
});

/** The log's attempts with one more at the end. */
const appendAttempt = (at: string, outcome: Outcome) =>
  sql`coalesce(${partnerDeliveries.attemptLog}, '[]'::jsonb) || ${JSON.stringify([attemptEntry(at, outcome)])}::jsonb`;

/** Write one attempt to the delivery log; a log that cannot be written never holds up a delivery. */
async function logAttempt(
  env: Env,
  d: Sendable,
  outcome: Outcome,
  state: "delivered" | "retrying" | "dead",
  nextTryAt: string | null,
) {
  const now = new Date().toISOString();
  const row = {
    partnerId: d.partnerId,
    eventId: d.event.eventId,
    type: d.event.type,
    // A test event is about no container or order.
    containerId: d.event.type === "ping" ? "" : d.event.containerId,
    orderId: d.event.type === "ping" ? null : d.event.orderId,
    state,
    attempts: 1,
    lastStatus: outcome.status,
    lastError: outcome.ok ? null : outcome.error,
    nextTryAt,
    deliveredAt: outcome.ok ? now : null,
    updatedAt: now,
    body: d.event,
    attemptLog: [attemptEntry(now, outcome)],
  };
  try {
    await withDatabase(env, (db) =>
      db
        .insert(partnerDeliveries)
        .values(row)
        .onConflictDoUpdate({
          target: [partnerDeliveries.partnerId, partnerDeliveries.eventId],
          // Counted and listed across retries and replays alike (a replay's queue count starts again).
          set: {
            state,
            attempts: sql`${partnerDeliveries.attempts} + 1`,
            attemptLog: appendAttempt(now, outcome),
            lastStatus: row.lastStatus,
            lastError: row.lastError,
            nextTryAt,
            deliveredAt: sql`coalesce(${partnerDeliveries.deliveredAt}, excluded.delivered_at)`,
            updatedAt: now,
          },
          // A delivered event stays delivered, whatever a late duplicate attempt says.
          setWhere: sql`${partnerDeliveries.state} <> 'delivered'`,
        }),
    );
  } catch (error) {
    await reportError(env, error, "consumer", "partner delivery log", {
      partnerId: d.partnerId,
      eventId: d.event.eventId,
    });
  }
}

/** Which of these deliveries the log already says were delivered (a replay, a duplicate message). */
async function alreadyDelivered(env: Env, deliveries: readonly PartnerDelivery[]): Promise<Set<string>> {
  if (deliveries.length === 0) return new Set();
  try {
    const rows = await withDatabase(env, (db) =>
      db
        .select({ partnerId: partnerDeliveries.partnerId, eventId: partnerDeliveries.eventId })
        .from(partnerDeliveries)
        .where(
          and(
            inArray(
              partnerDeliveries.eventId,
              deliveries.map((d) => d.event.eventId),
            ),
            eq(partnerDeliveries.state, "delivered"),
          ),
        ),
    );
    return new Set(rows.map((r) => `${r.partnerId}\u0000${r.eventId}`));
  } catch (error) {
    // Without the log, sending again is the safe side: partners dedupe by eventId.
    await reportError(env, error, "consumer", "partner delivery log", { size: deliveries.length });
    return new Set();
  }
}

export async function deliverPartnerEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const parsedAll = batch.messages.map((msg) => ({ msg, parsed: partnerDeliverySchema.safeParse(msg.body) }));
  const delivered = await alreadyDelivered(
    env,
    parsedAll.flatMap(({ parsed }) => (parsed.success ? [parsed.data as PartnerDelivery] : [])),
  );
  for (const { msg, parsed } of parsedAll) {
    if (!parsed.success) {
      // Not a delivery: retried to its dead letter, where it is kept and reported.
      msg.retry();
      await reportError(
        env,
        new TypeError(`not a partner delivery: ${parsed.error.issues[0]?.message}`),
        "consumer",
        batch.queue,
        { messageId: msg.id },
      );
      continue;
    }
    const delivery = parsed.data as PartnerDelivery;
    if (delivered.has(`${delivery.partnerId}\u0000${delivery.event.eventId}`)) {
      msg.ack();
      continue;
    }
    const outcome = await post(env, delivery);
    if (outcome.ok) {
      msg.ack();
      await logAttempt(env, delivery, outcome, "delivered", null);
      continue;
    }
    const delay = partnerRetryDelay(env, msg.attempts);
    msg.retry({ delaySeconds: delay });
    log("warn", "partner delivery failed; retrying", {
      partnerId: delivery.partnerId,
      eventId: delivery.event.eventId,
      attempts: msg.attempts,
      error: outcome.error,
    });
    await logAttempt(env, delivery, outcome, "retrying", new Date(Date.now() + delay * 1000).toISOString());
  }
}

/** A delivery that exhausted its retries: dead in the log (the dead-letter consumer keeps the message). */
export async function markDeliveryDead(
  env: Env,
  body: unknown,
  attempts: number,
  deadLetterMessageId: string,
): Promise<void> {
  const parsed = partnerDeliverySchema.safeParse(body);
  if (!parsed.success) return;
  const d = parsed.data as PartnerDelivery;
  const now = new Date().toISOString();
  await withDatabase(env, (db) =>
    db
      .insert(partnerDeliveries)
      .values({
        partnerId: d.partnerId,
        eventId: d.event.eventId,
        type: d.event.type,
        containerId: d.event.containerId,
        orderId: d.event.orderId,
        state: "dead",
        attempts,
        lastError: "retries exhausted",
        updatedAt: now,
        deadLetterMessageId,
      })
      // The last status and error stay as the last attempt left them.
      .onConflictDoUpdate({
        target: [partnerDeliveries.partnerId, partnerDeliveries.eventId],
        set: { state: "dead", nextTryAt: null, updatedAt: now, deadLetterMessageId },
        setWhere: sql`${partnerDeliveries.state} <> 'delivered'`,
      }),
  );
}

/** What became of a test event: received (2xx in time) or not, with the partner's answer. */
export interface TestEventOutcome {
  eventId: string;
  received: boolean;
  status: number | null;
  error: string | null;
  ms: number;
}

/**
 * Sends a signed `ping` to the partner's webhook now and waits for its answer: the first thing an
 * integrator tries. It is written to the delivery log like any event, and not retried.
 */
export async function sendTestEvent(env: Env, partnerId: string): Promise<TestEventOutcome> {
  const event = pingEvent(`ping_${randomToken(12)}`, new Date().toISOString());
  const started = Date.now();
  const outcome = await post(env, { partnerId, event });
  const ms = Date.now() - started;
  await logAttempt(env, { partnerId, event }, outcome, outcome.ok ? "delivered" : "dead", null);
  return {
    eventId: event.eventId,
    received: outcome.ok,
    status: outcome.status,
    error: outcome.ok ? null : outcome.error,
    ms,
  };
}

export type ResendOutcome = TestEventOutcome | { missing: "delivery" | "body" };

/**
 * Sends one logged event to its partner again now, at the partner's or an admin's request (the
 * automatic path never sends a delivered event twice; a receiver dedupes on `eventId`). The
 * attempt is counted in the log; a delivery stays delivered whatever this attempt gets.
 */
export async function resendDelivery(env: Env, partnerId: string, eventId: string): Promise<ResendOutcome> {
  const [row] = await withDatabase(env, (db) =>
    db
      .select({ body: partnerDeliveries.body })
      .from(partnerDeliveries)
      .where(and(eq(partnerDeliveries.partnerId, partnerId), eq(partnerDeliveries.eventId, eventId))),
  );
  if (!row) return { missing: "delivery" };
  if (row.body === null) return { missing: "body" };
  const event = row.body as PartnerDelivery["event"];
  const started = Date.now();
  const outcome = await post(env, { partnerId, event });
  const ms = Date.now() - started;
  const now = new Date().toISOString();
  await withDatabase(env, (db) =>
    db
      .update(partnerDeliveries)
      .set({
        attempts: sql`${partnerDeliveries.attempts} + 1`,
        attemptLog: appendAttempt(now, outcome),
        lastStatus: outcome.status,
        lastError: outcome.ok ? null : outcome.error,
        updatedAt: now,
        ...(outcome.ok
          ? {
              state: "delivered",
              nextTryAt: null,
              deliveredAt: sql`coalesce(${partnerDeliveries.deliveredAt}, ${now})`,
            }
          : {}),
      })
      .where(and(eq(partnerDeliveries.partnerId, partnerId), eq(partnerDeliveries.eventId, eventId))),
  );
  return { eventId, received: outcome.ok, status: outcome.status, error: outcome.ok ? null : outcome.error, ms };
}

export interface DeliveryQuery {
  state?: "delivered" | "retrying" | "dead" | undefined;
  /** Only those last updated before this instant (paging). */
  before?: string | undefined;
  limit: number;
}

/** A partner's delivery log, latest first. */
export async function deliveryLog(env: Env, partnerId: string, q: DeliveryQuery) {
  const rows = await withDatabase(env, (db) =>
    db
      .select({ ...getTableColumns(partnerDeliveries), deadLetterId: deadLetters.id })
      .from(partnerDeliveries)
      .leftJoin(deadLetters, eq(deadLetters.messageId, partnerDeliveries.deadLetterMessageId))
      .where(
        and(
          eq(partnerDeliveries.partnerId, partnerId),
          q.state ? eq(partnerDeliveries.state, q.state) : undefined,
          q.before ? lt(partnerDeliveries.updatedAt, new Date(q.before).toISOString()) : undefined,
        ),
      )
      .orderBy(desc(partnerDeliveries.updatedAt))
      .limit(q.limit),
  );
  const iso = (v: string | null) => (v === null ? null : new Date(v).toISOString());
  return rows.map(({ partnerId: _p, body: _b, deadLetterMessageId: _m, attemptLog, ...r }) => ({
    ...r,
    attemptLog: (attemptLog ?? []) as { at: string; status: number | null; error: string | null }[],
    state: r.state as "delivered" | "retrying" | "dead",
    nextTryAt: iso(r.nextTryAt),
    deliveredAt: iso(r.deliveredAt),
    createdAt: iso(r.createdAt)!,
    updatedAt: iso(r.updatedAt)!,
  }));
}
