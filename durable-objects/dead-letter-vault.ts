import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

export interface ParkedLetter {
  /** The queue the message was first sent to. */
  queue: string;
  messageId: string;
  /** The message body as JSON text. */
  bodyJson: string;
  attempts: number;
  parkedAt: string;
}

const SCHEMA = [
  `CREATE TABLE parked (message_id TEXT PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL, parked_at TEXT NOT NULL);`,
];

/**
 * Where dead letters wait while Postgres cannot take them: the object's own storage needs no
 * database, so a long outage drops nothing. A cron job moves them to Postgres and then forgets them.
 */
export class DeadLetterVault extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "DeadLetterVault", () => ensureSchema(ctx.storage, SCHEMA));
  }

  /** Keep letters; one already kept is kept once. */
  park(letters: ParkedLetter[]): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      for (const l of letters) {
        this.ctx.storage.sql.exec(
          "INSERT INTO parked (message_id, queue, body, attempts, parked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
          l.messageId,
          l.queue,
          l.bodyJson,
          l.attempts,
          l.parkedAt,
        );
      }
    });
  }

  /** The oldest letters waiting, up to `limit`. */
  waiting(limit: number): ParkedLetter[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ message_id: string; queue: string; body: string; attempts: number; parked_at: string }>(
        "SELECT * FROM parked ORDER BY parked_at, message_id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({
        messageId: r.message_id,
        queue: r.queue,
        bodyJson: r.body,
        attempts: r.attempts,
        parkedAt: r.parked_at,
      }));
  }

  count(): number {
    this.startup.check();
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM parked").one().n;
  }

  /** Forget letters that are now safe in Postgres. */
  release(messageIds: string[]): void {
    this.startup.check();
    for (const id of messageIds) this.ctx.storage.sql.exec("DELETE FROM parked WHERE message_id = ?", id);
  }
}
