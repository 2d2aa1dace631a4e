import { DurableObject } from "cloudflare:workers";
import { acknowledge, DEFAULT_POLICY, silence, step, type Alert, type AlertState, type Condition, type MessageKind, type Severity } from "../domain/alerts";
import { monotonicIds } from "../domain/ids";
import { DEFAULT_RULES, type AlertRules } from "../domain/monitor";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [
  `CREATE TABLE alerts (id TEXT PRIMARY KEY, key TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, fired_at TEXT NOT NULL, body TEXT NOT NULL);
   CREATE UNIQUE INDEX alerts_open_key ON alerts (key) WHERE state <> 'resolved';
   CREATE TABLE rules (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
   CREATE TABLE outgoing (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, kind TEXT NOT NULL, chat TEXT NOT NULL, created_at TEXT NOT NULL);`,
];

export interface OutgoingMessage {
  seq: number;
  alertId: string;
  kind: MessageKind;
  chat: "primary" | "escalation";
  createdAt: string;
}

export type AlertActionResult = { ok: true; alert: Alert } | { ok: false; reason: "not_found" | "resolved" };

/**
 * Every alert, the rules the monitor applies, and the messages owed. A monitor run is one
 * synchronous transaction here, so runs that overlap (two in the same minute) take turns: an alert
 * opens once per condition and subject (a unique index backs it), and a message is owed once.
 */
export class AlertsDO extends DurableObject<Env> {
  private readonly startup: Startup;
  private readonly newId = monotonicIds();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "AlertsDO", () => ensureSchema(ctx.storage, SCHEMA));
  }

  rules(): AlertRules {
    this.startup.check();
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM rules WHERE id = 1").toArray()[0];
    return row ? { ...DEFAULT_RULES, ...(JSON.parse(row.body) as Partial<AlertRules>) } : DEFAULT_RULES;
  }

  setRules(rules: AlertRules): AlertRules {
    this.startup.check();
    this.ctx.storage.sql.exec("INSERT INTO rules (id, body) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body", JSON.stringify(rules));
    return rules;
  }

  /** One monitor run at `now`: alerts opened, repeated, escalated or resolved, and the messages owed. */
  run(conditions: Condition[], now: number): { opened: number; resolved: number; messages: number } {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      const open = this.ctx.storage.sql
        .exec<{ body: string }>("SELECT body FROM alerts WHERE state <> 'resolved'")
        .toArray()
        .map((r) => JSON.parse(r.body) as Alert);
      const result = step(open, conditions, now, DEFAULT_POLICY, () => this.newId("alr_", now));
      for (const alert of result.changed) this.save(alert);
      const at = new Date(now).toISOString();
      for (const o of result.outgoing) this.ctx.storage.sql.exec("INSERT INTO outgoing (alert_id, kind, chat, created_at) VALUES (?, ?, ?, ?)", o.alertId, o.kind, o.chat, at);
      return {
        opened: result.outgoing.filter((o) => o.kind === "fired").length,
        resolved: result.outgoing.filter((o) => o.kind === "resolved").length,
        messages: result.outgoing.length,
      };
    });
  }

  list(f: { state?: AlertState | undefined; severity?: Severity | undefined; limit: number }): Alert[] {
    this.startup.check();
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.state) (where.push("state = ?"), args.push(f.state));
    if (f.severity) (where.push("severity = ?"), args.push(f.severity));
    return this.ctx.storage.sql
      .exec<{ body: string }>(`SELECT body FROM alerts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY fired_at DESC, id DESC LIMIT ?`, ...args, f.limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as Alert);
  }

  acknowledge(id: string, by: string): AlertActionResult {
    this.startup.check();
    const alert = this.find(id);
    if (!alert) return { ok: false, reason: "not_found" };
    const result = acknowledge(alert, by, Date.now());
    if (!result.ok) return result;
    this.save(result.alert);
    return result;
  }

  silence(id: string, until: string): AlertActionResult {
    this.startup.check();
    const alert = this.find(id);
    if (!alert) return { ok: false, reason: "not_found" };
    if (alert.state === "resolved") return { ok: false, reason: "resolved" };
    const silenced = silence(alert, until);
    this.save(silenced);
    return { ok: true, alert: silenced };
  }

  /** Messages owed, oldest first (the Notifier takes them from here). */
  outgoing(limit: number): OutgoingMessage[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ seq: number; alert_id: string; kind: string; chat: string; created_at: string }>("SELECT seq, alert_id, kind, chat, created_at FROM outgoing ORDER BY seq LIMIT ?", limit)
      .toArray()
      .map((r) => ({ seq: r.seq, alertId: r.alert_id, kind: r.kind as MessageKind, chat: r.chat as "primary" | "escalation", createdAt: r.created_at }));
  }

  private find(id: string): Alert | null {
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM alerts WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.body) as Alert) : null;
  }

  private save(alert: Alert): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO alerts (id, key, state, severity, fired_at, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body`,
      alert.id,
      alert.key,
      alert.state,
      alert.severity,
      alert.firedAt,
      JSON.stringify(alert),
    );
  }
}
