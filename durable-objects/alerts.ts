import {
  acknowledge,
  DEFAULT_POLICY,
  silence,
  step,
  type Alert,
  type AlertChange,
  type AlertState,
  type Condition,
  type Severity,
} from "../domain/alerts";
import { monotonicIds } from "../domain/ids";
import { DEFAULT_RULES, type AlertRules } from "../domain/monitor";
import {
  alertEmailLine,
  defaultSettings,
  emailed,
  errorEmailLine,
  telegramMessages,
  type AlertNotice,
  type NoticeKind,
  type NotificationSettings,
  type OutboundMessage,
} from "../domain/notifications";
import { log } from "../platform/logging";
import { CHANGES_TABLE, StreamHub } from "./stream-hub";

const SCHEMA = [
  `CREATE TABLE alerts (id TEXT PRIMARY KEY, key TEXT NOT NULL, state TEXT NOT NULL, severity TEXT NOT NULL, fired_at TEXT NOT NULL, body TEXT NOT NULL);
   CREATE UNIQUE INDEX alerts_open_key ON alerts (key) WHERE state <> 'resolved';
   CREATE TABLE rules (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
   CREATE TABLE outgoing (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, kind TEXT NOT NULL, chat TEXT NOT NULL, created_at TEXT NOT NULL);`,
  // The stream of alert changes for dashboards; notification settings; new error records to be
  // emailed (each once: `noted_errors` remembers which were).
  `${CHANGES_TABLE}
   CREATE TABLE settings (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
   CREATE TABLE noted_errors (id TEXT PRIMARY KEY, body TEXT NOT NULL, handed_over INTEGER NOT NULL DEFAULT 0);`,
  // The time of the newest run applied: a run that took its snapshot earlier and arrives later
  // would judge the fleet by an older view (and resolve what a newer run just found).
  `CREATE TABLE last_run (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);`,
];

/** A turn of an alert that people are owed a message about. */
export interface OutgoingMessage {
  seq: number;
  alertId: string;
  kind: NoticeKind;
  chat: "primary" | "escalation";
  createdAt: string;
}

/** A new error record, as the monitor found it. */
export interface NewErrorRecord {
  id: string;
  name: string;
  message: string;
  firstSeen: string;
}

/** When a hand-over to the Notifier fails, it is tried again this much later. */
const HAND_OVER_RETRY_MS = 10_000;

export type AlertActionResult = { ok: true; alert: Alert } | { ok: false; reason: "not_found" | "resolved" };

/** An alert as stored; one fired before alerts named their container has none. */
function stored(body: string): Alert {
  const alert = JSON.parse(body) as Omit<Alert, "containerId"> & { containerId?: string | null };
  return { ...alert, containerId: alert.containerId ?? null };
}

/**
 * Every alert, the rules the monitor applies, who is told, and the messages owed. A monitor run is
 * one synchronous transaction here, so runs that overlap (two in the same minute) take turns: an
 * alert opens once per condition and subject (a unique index backs it), and a message is owed once.
 * Owed messages are rendered and handed to the Notifier after each change (by id, so a hand-over
 * repeated after a failure sends nothing twice); one that fails is tried again by an alarm. Each
 * change is also published to dashboards (StreamHub).
 */
export class AlertsDO extends StreamHub<AlertChange> {
  private readonly newId = monotonicIds();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "AlertsDO", SCHEMA);
  }

  rules(): AlertRules {
    this.startup.check();
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM rules WHERE id = 1").toArray()[0];
    return row ? { ...DEFAULT_RULES, ...(JSON.parse(row.body) as Partial<AlertRules>) } : DEFAULT_RULES;
  }

  setRules(rules: AlertRules): AlertRules {
    this.startup.check();
    this.ctx.storage.sql.exec(
      "INSERT INTO rules (id, body) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
      JSON.stringify(rules),
    );
    return rules;
  }

  settings(): NotificationSettings {
    this.startup.check();
    const row = this.sql.exec<{ body: string }>("SELECT body FROM settings WHERE id = 1").toArray()[0];
    return row ? (JSON.parse(row.body) as NotificationSettings) : defaultSettings(this.env);
  }

  setSettings(settings: NotificationSettings): NotificationSettings {
    this.startup.check();
    this.sql.exec(
      "INSERT INTO settings (id, body) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
      JSON.stringify(settings),
    );
    return settings;
  }

  /**
   * One monitor run at `now`: alerts opened, repeated, escalated or resolved, and the messages owed;
   * `newErrors` are error records the monitor saw, emailed once each to who wants new errors. A run
   * older than one already applied (overlapping runs finishing out of order) changes no alert.
   */
  async run(
    conditions: Condition[],
    now: number,
    newErrors: NewErrorRecord[] = [],
  ): Promise<{ opened: number; resolved: number; messages: number; superseded?: true }> {
    this.startup.check();
    const result = this.ctx.storage.transactionSync(() => {
      for (const e of newErrors)
        this.sql.exec("INSERT OR IGNORE INTO noted_errors (id, body) VALUES (?, ?)", e.id, JSON.stringify(e));
      const last = this.sql.exec<{ at: number }>("SELECT at FROM last_run WHERE id = 1").toArray()[0]?.at ?? 0;
      if (now < last) return { opened: 0, resolved: 0, messages: 0, superseded: true as const };
      this.sql.exec("INSERT INTO last_run (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at", now);
      const open = this.ctx.storage.sql
        .exec<{ body: string }>("SELECT body FROM alerts WHERE state <> 'resolved'")
        .toArray()
        .map((r) => stored(r.body));
      const result = step(open, conditions, now, DEFAULT_POLICY, () => this.newId("alr_", now));
      for (const alert of result.changed) this.save(alert);
      const at = new Date(now).toISOString();
      for (const o of result.outgoing)
        this.ctx.storage.sql.exec(
          "INSERT INTO outgoing (alert_id, kind, chat, created_at) VALUES (?, ?, ?, ?)",
          o.alertId,
          o.kind,
          o.chat,
          at,
        );
      this.publish(result.changed);
      return {
        opened: result.outgoing.filter((o) => o.kind === "fired").length,
        resolved: result.outgoing.filter((o) => o.kind === "resolved").length,
        messages: result.outgoing.length,
      };
    });
    await this.handOver(now);
    return result;
  }

  list(f: {
    state?: AlertState | undefined;
    severity?: Severity | undefined;
    rule?: string | undefined;
    containerId?: string | undefined;
    q?: string | undefined;
    limit: number;
  }): Alert[] {
    this.startup.check();
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.state) {
      where.push("state = ?");
      args.push(f.state);
    }
    if (f.severity) {
      where.push("severity = ?");
      args.push(f.severity);
    }
    if (f.rule) {
      where.push("json_extract(body, '$.rule') = ?");
      args.push(f.rule);
    }
    if (f.containerId) {
      where.push("json_extract(body, '$.containerId') = ?");
      args.push(f.containerId);
    }
    // Every word of `q` in the message, the subject or the container (any case), as the dashboard finds them.
    for (const word of (f.q ?? "").split(/\s+/).filter(Boolean).slice(0, 10)) {
      where.push(
        `instr(lower(json_extract(body, '$.message') || ' ' || json_extract(body, '$.subject') || ' ' ||
          coalesce(json_extract(body, '$.containerId'), '')), lower(?)) > 0`,
      );
      args.push(word);
    }
    return this.ctx.storage.sql
      .exec<{ body: string }>(
        `SELECT body FROM alerts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY fired_at DESC, id DESC LIMIT ?`,
        ...args,
        f.limit,
      )
      .toArray()
      .map((r) => stored(r.body));
  }

  /** Someone takes it: repeats stop, and the chat it was last sent to is told who took it. */
  async acknowledge(id: string, by: string): Promise<AlertActionResult> {
    return (await this.acknowledgeAll([id], by))[0]!;
  }

  /**
   * Someone takes these, in one change: each as `acknowledge`, and the chats are told in one hand-over
   * (many alerts of one rule make one Telegram message).
   */
  async acknowledgeAll(ids: readonly string[], by: string): Promise<AlertActionResult[]> {
    this.startup.check();
    const now = Date.now();
    const results = this.ctx.storage.transactionSync((): AlertActionResult[] => {
      const changed: Alert[] = [];
      const results = ids.map((id): AlertActionResult => {
        const alert = this.find(id);
        if (!alert) return { ok: false, reason: "not_found" };
        const acked = acknowledge(alert, by, now);
        if (!acked.ok || acked.alert === alert) return acked;
        this.save(acked.alert);
        this.sql.exec(
          "INSERT INTO outgoing (alert_id, kind, chat, created_at) VALUES (?, 'acknowledged', ?, ?)",
          id,
          alert.escalated ? "escalation" : "primary",
          new Date(now).toISOString(),
        );
        changed.push(acked.alert);
        return acked;
      });
      this.publish(changed);
      return results;
    });
    await this.handOver(now);
    return results;
  }

  silence(id: string, until: string): AlertActionResult {
    return this.silenceAll([id], until)[0]!;
  }

  /** No repeats of these until `until`, in one change. */
  silenceAll(ids: readonly string[], until: string): AlertActionResult[] {
    this.startup.check();
    return this.ctx.storage.transactionSync((): AlertActionResult[] => {
      const changed: Alert[] = [];
      const results = ids.map((id): AlertActionResult => {
        const alert = this.find(id);
        if (!alert) return { ok: false, reason: "not_found" };
        if (alert.state === "resolved") return { ok: false, reason: "resolved" };
        const silenced = silence(alert, until);
        this.save(silenced);
        changed.push(silenced);
        return { ok: true, alert: silenced };
      });
      this.publish(changed);
      return results;
    });
  }

  /** How many alerts are open, by state and severity (for GET /metrics). */
  openCounts(): { state: AlertState; severity: Severity; n: number }[] {
    this.startup.check();
    return this.sql
      .exec<{ state: AlertState; severity: Severity; n: number }>(
        "SELECT state, severity, count(*) AS n FROM alerts WHERE state <> 'resolved' GROUP BY state, severity",
      )
      .toArray();
  }

  override async alarm(): Promise<void> {
    this.startup.check();
    await this.handOver(Date.now());
  }

  /**
   * Render what is owed (messages for alerts, emails for new error records) with the settings of
   * now and hand it to the Notifier; what it took is no longer owed. A failure leaves it owed, and
   * the alarm tries again.
   */
  private async handOver(now: number): Promise<void> {
    const owed = this.outgoing(500);
    const errors = this.sql
      .exec<{ id: string; body: string }>("SELECT id, body FROM noted_errors WHERE handed_over = 0 LIMIT 500")
      .toArray();
    if (owed.length === 0 && errors.length === 0) return;
    const settings = this.settings();
    const dashboardUrl = this.env.DASHBOARD_URL || null;
    const messages: OutboundMessage[] = [];
    const notices: AlertNotice[] = [];
    for (const o of owed) {
      const alert = this.find(o.alertId);
      if (!alert) continue;
      const chat =
        settings.telegram[alert.severity][o.chat] ??
        (o.chat === "escalation" ? settings.telegram[alert.severity].primary : null);
      if (chat) notices.push({ id: `tg_${alert.id.slice(4)}_${o.seq}`, chat, alert, kind: o.kind });
      if (emailed(o.kind)) {
        const line = alertEmailLine(alert, o.kind, now);
        for (const to of settings.email.alerts[alert.severity])
          messages.push({
            id: `em_${alert.id.slice(4)}_${o.seq}_${to}`,
            channel: "email",
            target: to,
            alertId: alert.id,
            kind: o.kind,
            ...line,
          });
      }
    }
    messages.push(...telegramMessages(notices, now, dashboardUrl));
    for (const e of errors) {
      const line = errorEmailLine(JSON.parse(e.body) as NewErrorRecord);
      for (const to of settings.email.newErrors)
        messages.push({ id: `em_${e.id}_${to}`, channel: "email", target: to, alertId: null, kind: "error", ...line });
    }
    try {
      if (messages.length > 0) await this.env.NOTIFIER.getByName("notifier").accept(messages);
      this.ctx.storage.transactionSync(() => {
        if (owed.length > 0) this.sql.exec("DELETE FROM outgoing WHERE seq <= ?", owed[owed.length - 1]!.seq);
        for (const e of errors) this.sql.exec("UPDATE noted_errors SET handed_over = 1 WHERE id = ?", e.id);
      });
    } catch (error) {
      log("warn", "notifier hand-over failed; the alarm tries again", {
        messages: messages.length,
        error: String(error),
      });
      if ((await this.ctx.storage.getAlarm()) === null)
        await this.ctx.storage.setAlarm(Date.now() + HAND_OVER_RETRY_MS);
      return;
    }
    if (owed.length === 500 || errors.length === 500) await this.handOver(now);
  }

  private publish(alerts: Alert[]): void {
    if (alerts.length === 0) return;
    this.broadcast([this.appendChange((seq) => ({ seq, type: "alerts.changed", alerts }))]);
  }

  /** Messages owed, oldest first. */
  outgoing(limit: number): OutgoingMessage[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ seq: number; alert_id: string; kind: string; chat: string; created_at: string }>(
        "SELECT seq, alert_id, kind, chat, created_at FROM outgoing ORDER BY seq LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        alertId: r.alert_id,
        kind: r.kind as NoticeKind,
        chat: r.chat as "primary" | "escalation",
        createdAt: r.created_at,
      }));
  }

  private find(id: string): Alert | null {
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM alerts WHERE id = ?", id).toArray()[0];
    return row ? stored(row.body) : null;
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
