import { DurableObject } from "cloudflare:workers";
import {
  ackData,
  digestOf,
  EMAIL_ATTEMPTS,
  emailRetryAt,
  nextDigestAt,
  type AckButton,
  type NoticeKind,
  type OutboundMessage,
} from "../domain/notifications";
import {
  due,
  GLOBAL_PER_SECOND,
  PER_CHAT_INTERVAL_MS,
  verdictOf,
  type ChatPace,
  type Verdict,
} from "../domain/telegram";
import { reportError } from "../platform/error-report";
import { log } from "../platform/logging";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [
  `CREATE TABLE outbox (id TEXT PRIMARY KEY, channel TEXT NOT NULL, target TEXT NOT NULL, alert_id TEXT, kind TEXT NOT NULL, body TEXT NOT NULL,
                        queued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
   CREATE INDEX outbox_by_target ON outbox (channel, target, queued_at, id);
   CREATE TABLE archive (id TEXT PRIMARY KEY, channel TEXT NOT NULL, target TEXT NOT NULL, alert_id TEXT, kind TEXT NOT NULL, body TEXT NOT NULL,
                         queued_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, detail TEXT, remote_id TEXT);
   CREATE INDEX archive_by_time ON archive (finished_at, id);
   CREATE INDEX archive_by_alert ON archive (alert_id, finished_at);
   CREATE TABLE chats (chat_id TEXT PRIMARY KEY, last_sent_at INTEGER, hold_until INTEGER);
   CREATE TABLE recipients (email TEXT PRIMARY KEY, last_digest_at INTEGER);
   CREATE TABLE counters (channel TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (channel, status));`,
  // When a message whose sending failed may be tried again (null: not tried yet).
  `ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER;`,
];

/** While messages wait, the loop looks again at least this often. */
export const LOOP_INTERVAL_MS = 10_000;
/** How long Telegram may take to answer one sendMessage. */
const TELEGRAM_TIMEOUT_MS = 10_000;

export interface ArchivedMessage {
  id: string;
  channel: "telegram" | "email";
  target: string;
  alertId: string | null;
  kind: NoticeKind;
  text: string;
  subject: string | null;
  queuedAt: string;
  finishedAt: string;
  status: "sent" | "failed";
  attempts: number;
  detail: string | null;
  remoteId: string | null;
}

export interface ArchiveFilters {
  channel?: "telegram" | "email" | undefined;
  status?: "sent" | "failed" | undefined;
  alertId?: string | undefined;
  target?: string | undefined;
  /** Paging: finished before this (ms) or at it with a smaller id. */
  before?: { finishedAt: number; id: string } | undefined;
  limit: number;
}

/** Each email recipient with messages waiting: when their last digest went, and when a failed one may be tried again. */
const RETRY_AT_BY_RECIPIENT =
  "SELECT o.target, r.last_digest_at, coalesce(max(o.next_attempt_at), 0) AS retry_at FROM outbox o LEFT JOIN recipients r ON r.email = o.target WHERE o.channel = 'email' GROUP BY o.target";

type OutboxRow = {
  id: string;
  channel: string;
  target: string;
  alert_id: string | null;
  kind: string;
  body: string;
  queued_at: number;
  attempts: number;
};
type TelegramBody = { text: string; acks: AckButton[] };
type EmailBody = { subject: string; text: string };

/**
 * The outgoing store and its sender. Messages handed over (by id: the same one twice is kept once)
 * wait in `outbox`; an alarm loop sends them — Telegram's sendMessage at most once per second per
 * chat and 25 per second in all, a chat held for the `retry_after` of a 429, a 400/403 failed for
 * good with an error record; email as one digest per recipient at most every 5 minutes — and moves
 * each to `archive` in the transaction that removes it from the outbox, so each ends there once.
 * While anything waits the loop runs at least every 10 seconds (cron cannot run more often than
 * each minute); when nothing waits it sleeps until the next hand-over.
 */
export class Notifier extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "Notifier", () => ensureSchema(ctx.storage, SCHEMA));
  }

  /** Take messages to send; a message already taken (waiting or archived) is not taken again. */
  async accept(messages: OutboundMessage[]): Promise<{ accepted: number }> {
    this.startup.check();
    const now = Date.now();
    const accepted = this.ctx.storage.transactionSync(() => {
      let n = 0;
      for (const m of messages) {
        if (this.sql.exec("SELECT 1 FROM archive WHERE id = ?", m.id).toArray().length > 0) continue;
        const body = m.channel === "telegram" ? { text: m.text, acks: m.acks } : { subject: m.subject, text: m.text };
        n += this.sql
          .exec(
            "INSERT OR IGNORE INTO outbox (id, channel, target, alert_id, kind, body, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            m.id,
            m.channel,
            m.target,
            m.alertId,
            m.kind,
            JSON.stringify(body),
            now,
          )
          .toArray().length;
      }
      return n;
    });
    if (accepted > 0) await this.wakeAt(now);
    return { accepted };
  }

  /** Make sure the loop runs if anything waits (the minute cron calls this, in case an alarm was lost). */
  async wake(): Promise<void> {
    this.startup.check();
    if (this.waiting() > 0) await this.wakeAt(Date.now());
  }

  override async alarm(): Promise<void> {
    this.startup.check();
    const now = Date.now();
    await Promise.all([this.sendTelegram(now), this.sendDigests(now)]);
    const next = this.nextRun(Date.now());
    if (next !== null) await this.wakeAt(next);
  }

  /** The archive, latest first. */
  archive(f: ArchiveFilters): ArchivedMessage[] {
    this.startup.check();
    const where: string[] = [];
    const args: (string | number)[] = [];
    const when = (clause: string, ...values: (string | number)[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (f.channel) when("channel = ?", f.channel);
    if (f.status) when("status = ?", f.status);
    if (f.alertId) when("alert_id = ?", f.alertId);
    if (f.target) when("target = ?", f.target);
    if (f.before)
      when("(finished_at < ? OR (finished_at = ? AND id < ?))", f.before.finishedAt, f.before.finishedAt, f.before.id);
    return this.sql
      .exec<OutboxRow & { finished_at: number; status: string; detail: string | null; remote_id: string | null }>(
        `SELECT * FROM archive ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY finished_at DESC, id DESC LIMIT ?`,
        ...args,
        f.limit,
      )
      .toArray()
      .map((r) => {
        const body = JSON.parse(r.body) as Partial<EmailBody> & { text: string };
        return {
          id: r.id,
          channel: r.channel as "telegram" | "email",
          target: r.target,
          alertId: r.alert_id,
          kind: r.kind as NoticeKind,
          text: body.text,
          subject: body.subject ?? null,
          queuedAt: new Date(r.queued_at).toISOString(),
          finishedAt: new Date(r.finished_at).toISOString(),
          status: r.status as "sent" | "failed",
          attempts: r.attempts,
          detail: r.detail,
          remoteId: r.remote_id,
        };
      });
  }

  /** What waits, per channel; and what was sent and failed since the object began (for GET /metrics). */
  counts(): { waiting: { telegram: number; email: number }; done: { channel: string; status: string; n: number }[] } {
    this.startup.check();
    const waiting = { telegram: 0, email: 0 };
    for (const r of this.sql.exec<{ channel: string; n: number }>(
      "SELECT channel, count(*) AS n FROM outbox GROUP BY channel",
    ))
      waiting[r.channel as "telegram" | "email"] = r.n;
    return {
      waiting,
      done: this.sql
        .exec<{ channel: string; status: string; n: number }>(
          "SELECT channel, status, n FROM counters ORDER BY channel, status",
        )
        .toArray(),
    };
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  private waiting(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  private async wakeAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** When the loop should look again: when a chat or recipient may next be sent to, within 10 s; null if nothing waits. */
  private nextRun(now: number): number | null {
    let next: number | null = null;
    const consider = (at: number) => (next = next === null ? at : Math.min(next, at));
    for (const r of this.sql.exec<{ target: string; last_sent_at: number | null; hold_until: number | null }>(
      "SELECT DISTINCT o.target, c.last_sent_at, c.hold_until FROM outbox o LEFT JOIN chats c ON c.chat_id = o.target WHERE o.channel = 'telegram'",
    )) {
      consider(Math.max(r.last_sent_at === null ? now : r.last_sent_at + PER_CHAT_INTERVAL_MS, r.hold_until ?? now));
    }
    for (const r of this.sql.exec<{ target: string; last_digest_at: number | null; retry_at: number }>(
      RETRY_AT_BY_RECIPIENT,
    )) {
      consider(Math.max(nextDigestAt(r.last_digest_at, now), r.retry_at));
    }
    if (next === null) return null;
    return Math.min(Math.max(next, now + 50), now + LOOP_INTERVAL_MS);
  }

  private async sendTelegram(now: number): Promise<void> {
    const pending = this.sql
      .exec<{ id: string; target: string; queued_at: number }>(
        "SELECT id, target, queued_at FROM outbox WHERE channel = 'telegram' ORDER BY queued_at, id LIMIT 10000",
      )
      .toArray()
      .map((r) => ({ id: r.id, chatId: r.target, queuedAt: r.queued_at }));
    if (pending.length === 0) return;
    const paces = new Map<string, ChatPace>();
    for (const r of this.sql.exec<{ chat_id: string; last_sent_at: number | null; hold_until: number | null }>(
      "SELECT chat_id, last_sent_at, hold_until FROM chats",
    )) {
      paces.set(r.chat_id, { lastSentAt: r.last_sent_at, holdUntil: r.hold_until });
    }
    // Each chat is sent to at most once a second, so the chats sent to within the last second are
    // what was sent in it overall.
    const sentLastSecond = [...paces.values()].filter((p) => p.lastSentAt !== null && now - p.lastSentAt < 1000).length;
    const batch = due(pending, paces, now, Math.min(sentLastSecond, GLOBAL_PER_SECOND));
    await Promise.all(batch.map((p) => this.sendOne(p.id, now)));
  }

  private async sendOne(id: string, now: number): Promise<void> {
    const row = this.sql.exec<OutboxRow>("SELECT * FROM outbox WHERE id = ?", id).toArray()[0];
    if (!row) return;
    const body = JSON.parse(row.body) as TelegramBody;
    // The chat counts as sent to from the moment the request leaves, whatever comes back.
    this.sql.exec(
      "INSERT INTO chats (chat_id, last_sent_at, hold_until) VALUES (?, ?, NULL) ON CONFLICT (chat_id) DO UPDATE SET last_sent_at = excluded.last_sent_at",
      row.target,
      now,
    );
    let verdict: Verdict;
    let remoteId: string | null = null;
    const token = this.env.TELEGRAM_BOT_TOKEN;
    if (!token) verdict = { outcome: "failed", reason: "TELEGRAM_BOT_TOKEN is not set" };
    else {
      try {
        const response = await fetch(`${this.env.TELEGRAM_API_BASE.replace(/\/$/, "")}/bot${token}/sendMessage`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            chat_id: row.target,
            text: body.text,
            parse_mode: "HTML",
            link_preview_options: { is_disabled: true },
            ...(body.acks.length > 0
              ? {
                  reply_markup: {
                    inline_keyboard: body.acks.map((b) => [{ text: b.label, callback_data: ackData(b.alertId) }]),
                  },
                }
              : {}),
          }),
          signal: AbortSignal.timeout(TELEGRAM_TIMEOUT_MS),
        });
        const answer = (await response.json().catch(() => null)) as {
          ok?: boolean;
          description?: string;
          parameters?: { retry_after?: number };
          result?: { message_id?: number };
        } | null;
        verdict = verdictOf(response.status, answer, Date.now());
        if (verdict.outcome === "sent" && answer?.result?.message_id !== undefined)
          remoteId = String(answer.result.message_id);
        if (verdict.outcome === "retry")
          log("warn", "telegram asked to wait", {
            chat: row.target,
            status: response.status,
            retryAfter: answer?.parameters?.retry_after ?? null,
          });
      } catch (error) {
        verdict = { outcome: "retry", holdUntil: Date.now() + 5000 };
        log("warn", "telegram unreachable", { chat: row.target, error: String(error) });
      }
    }
    // Paced from when Telegram answered, which is after the message arrived there: the next one to
    // this chat then arrives at least a second later, however long this one took on the way.
    this.sql.exec("UPDATE chats SET last_sent_at = ? WHERE chat_id = ?", Date.now(), row.target);
    if (verdict.outcome === "retry") {
      this.ctx.storage.transactionSync(() => {
        this.sql.exec("UPDATE chats SET hold_until = ? WHERE chat_id = ?", verdict.holdUntil, row.target);
        this.sql.exec(
          "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
          "asked to wait",
          row.id,
        );
      });
      return;
    }
    this.finish([row], verdict.outcome, Date.now(), verdict.outcome === "failed" ? verdict.reason : null, remoteId);
    if (verdict.outcome === "failed") {
      await reportError(
        this.env,
        new Error(`Telegram refused a message to chat ${row.target}: ${verdict.reason}`),
        "durable-object",
        "Notifier.telegram",
        { object: "Notifier", chat: row.target, alertId: row.alert_id ?? undefined },
      );
    }
  }

  private async sendDigests(now: number): Promise<void> {
    const ready = this.sql
      .exec<{ target: string; last_digest_at: number | null; retry_at: number }>(RETRY_AT_BY_RECIPIENT)
      .toArray()
      .filter((r) => nextDigestAt(r.last_digest_at, now) <= now && r.retry_at <= now);
    await Promise.all(ready.map((r) => this.sendDigest(r.target, now)));
  }

  private async sendDigest(to: string, now: number): Promise<void> {
    const rows = this.sql
      .exec<OutboxRow>("SELECT * FROM outbox WHERE channel = 'email' AND target = ? ORDER BY queued_at, id", to)
      .toArray();
    if (rows.length === 0) return;
    const digest = digestOf(
      rows.map((r) => ({ ...(JSON.parse(r.body) as EmailBody), queuedAt: r.queued_at })),
      this.env.DASHBOARD_URL || null,
    );
    try {
      const result = await this.env.EMAIL.send({
        from: this.env.EMAIL_FROM,
        to,
        subject: digest.subject,
        text: digest.text,
        html: digest.html,
      });
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(
          "INSERT INTO recipients (email, last_digest_at) VALUES (?, ?) ON CONFLICT (email) DO UPDATE SET last_digest_at = excluded.last_digest_at",
          to,
          now,
        );
        this.finish(rows, "sent", Date.now(), `digest of ${rows.length}`, result.messageId);
      });
    } catch (error) {
      const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
      if (attempts < EMAIL_ATTEMPTS) {
        // Only the messages this digest carried: those that arrived while it was on its way were not tried.
        const failedAt = Date.now();
        const retryAt = emailRetryAt(attempts, failedAt);
        this.ctx.storage.transactionSync(() => {
          for (const r of rows)
            this.sql.exec(
              "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
              attempts,
              String(error),
              retryAt,
              r.id,
            );
        });
        log("warn", "email digest failed, will try again", {
          to,
          attempts,
          retryAt: new Date(retryAt).toISOString(),
          error: String(error),
        });
        return;
      }
      this.finish(rows, "failed", Date.now(), String(error), null);
      await reportError(this.env, error, "durable-object", "Notifier.email", { object: "Notifier", to });
    }
  }

  /** Out of the outbox and into the archive, in one transaction: each message ends there once. */
  private finish(
    rows: OutboxRow[],
    status: "sent" | "failed",
    at: number,
    detail: string | null,
    remoteId: string | null,
  ): void {
    this.ctx.storage.transactionSync(() => {
      for (const r of rows) {
        if (this.sql.exec("DELETE FROM outbox WHERE id = ? RETURNING id", r.id).toArray().length === 0) continue;
        this.sql.exec(
          "INSERT INTO archive (id, channel, target, alert_id, kind, body, queued_at, finished_at, status, attempts, detail, remote_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          r.id,
          r.channel,
          r.target,
          r.alert_id,
          r.kind,
          r.body,
          r.queued_at,
          at,
          status,
          r.attempts + 1,
          detail,
          remoteId,
        );
        this.sql.exec(
          "INSERT INTO counters (channel, status, n) VALUES (?, ?, 1) ON CONFLICT (channel, status) DO UPDATE SET n = n + 1",
          r.channel,
          status,
        );
      }
    });
  }
}
