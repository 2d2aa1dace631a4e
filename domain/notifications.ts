// What people are told about alerts and new error records, where and in which words: Telegram chats
// per severity (a primary chat, and the chat an unacknowledged alert escalates to), email recipients
// per severity and for new error records, the messages' text (Telegram's HTML parse mode, escaped,
// within 4096 characters) and the email digest (at most one per recipient per 5 minutes). Pure: the
// AlertsDO renders with it, the Notifier paces with it.
import type { Alert, MessageKind, Severity } from "./alerts";
import { ruleTitle } from "./monitor";
import { escapeHtml, TELEGRAM_MAX_TEXT, withinLimit } from "./telegram";

export const SEVERITIES: readonly Severity[] = ["critical", "warning", "info"];

export interface ChatRoute {
  /** Telegram chat id (a number, negative for groups, or @channelname); null: not told on Telegram. */
  primary: string | null;
  /** Where an alert goes once it has been repeated unacknowledged `escalateAfter` times. */
  escalation: string | null;
}

export interface NotificationSettings {
  telegram: Record<Severity, ChatRoute>;
  email: {
    /** Who gets a digest of alerts of each severity (fired, escalated, resolved; not the repeats). */
    alerts: Record<Severity, string[]>;
    /** Who gets a digest of error records the moment they are first seen. */
    newErrors: string[];
  };
}

/** What a message is about: an alert's turn, or a new error record. */
export type NoticeKind = MessageKind | "acknowledged" | "error";

/** An Acknowledge button under a message: which alert it takes, and what it says. */
export interface AckButton {
  alertId: string;
  label: string;
}

/** A message for the Notifier to send, rendered: the same id is the same message, however often handed over. */
export type OutboundMessage =
  | {
      id: string;
      channel: "telegram";
      target: string;
      alertId: string | null;
      kind: NoticeKind;
      text: string;
      acks: AckButton[];
    }
  | {
      id: string;
      channel: "email";
      target: string;
      alertId: string | null;
      kind: NoticeKind;
      subject: string;
      text: string;
    };

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * The settings until an admin changes them: every severity to the chats TELEGRAM_CHAT_ID and
 * TELEGRAM_ESCALATION_CHAT_ID, critical alerts by email to ALERT_EMAILS, new error records to
 * ERROR_EMAILS (comma-separated).
 */
export function defaultSettings(env: {
  TELEGRAM_CHAT_ID?: string;
  TELEGRAM_ESCALATION_CHAT_ID?: string;
  ALERT_EMAILS?: string;
  ERROR_EMAILS?: string;
}): NotificationSettings {
  const route: ChatRoute = {
    primary: env.TELEGRAM_CHAT_ID || null,
    escalation: env.TELEGRAM_ESCALATION_CHAT_ID || env.TELEGRAM_CHAT_ID || null,
  };
  return {
    telegram: { critical: { ...route }, warning: { ...route }, info: { ...route } },
    email: { alerts: { critical: list(env.ALERT_EMAILS), warning: [], info: [] }, newErrors: list(env.ERROR_EMAILS) },
  };
}

/** A URL inside a double-quoted attribute. */
const attr = (url: string) => escapeHtml(url).replace(/"/g, "&quot;");

const MARK: Record<Severity, string> = { critical: "🔴", warning: "🟠", info: "🔵" };

function since(fromIso: string, now: number): string {
  const minutes = Math.max(0, Math.round((now - Date.parse(fromIso)) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** The headline of each turn, in plain words. */
function headline(alert: Alert, kind: NoticeKind, now: number): string {
  const sev = alert.severity.toUpperCase();
  switch (kind) {
    case "fired":
      return `${MARK[alert.severity]} ${sev}`;
    case "repeat":
      return `🔁 ${sev}, still firing after ${since(alert.firedAt, now)}, not acknowledged`;
    case "escalated":
      return `⏫ ${sev}, escalated: not acknowledged after ${since(alert.firedAt, now)}`;
    case "acknowledged":
      return `👤 Taken by ${alert.acknowledgedBy ?? "someone"}`;
    case "resolved":
      return `✅ Resolved after ${since(alert.firedAt, now)}`;
    case "error":
      return "New error";
  }
}

/** A Telegram message about an alert, in HTML parse mode: everything from the data is escaped. */
export function alertTelegramText(alert: Alert, kind: NoticeKind, now: number, dashboardUrl: string | null): string {
  const lines = [
    `<b>${escapeHtml(headline(alert, kind, now))}</b>`,
    escapeHtml(alert.message),
    `<i>${escapeHtml(alert.rule)} · ${escapeHtml(alert.subject)}</i>`,
  ];
  if (dashboardUrl)
    lines.push(`<a href="${attr(`${dashboardUrl.replace(/\/$/, "")}/alerts?id=${alert.id}`)}">Open in Fillgrid</a>`);
  return withinLimit(lines.join("\n"));
}

/** Turns where the person told can still act: they get the Acknowledge button. */
export function offersAck(kind: NoticeKind): boolean {
  return kind === "fired" || kind === "repeat" || kind === "escalated";
}

/** Turns that go by email too (repeats stay on Telegram). */
export function emailed(kind: NoticeKind): boolean {
  return kind === "fired" || kind === "escalated" || kind === "resolved";
}

/** The Acknowledge button's data (Telegram allows 1–64 bytes), and back. */
export const ackData = (alertId: string) => `ack:${alertId}`;
export function alertOfAckData(data: string | undefined): string | null {
  const m = /^ack:(alr_[0-9A-Z]{26})$/.exec(data ?? "");
  return m ? m[1]! : null;
}

export function alertEmailLine(alert: Alert, kind: NoticeKind, now: number): { subject: string; text: string } {
  return {
    subject: `${headline(alert, kind, now)}: ${alert.message}`,
    text: `${headline(alert, kind, now)}\n${alert.message}\n(${alert.rule} · ${alert.subject}, fired ${alert.firedAt})`,
  };
}

export function errorEmailLine(record: { id: string; name: string; message: string; firstSeen: string }): {
  subject: string;
  text: string;
} {
  return {
    subject: `New error: ${record.name}: ${record.message}`,
    text: `New error ${record.id}\n${record.name}: ${record.message}\n(first seen ${record.firstSeen})`,
  };
}

/** At most one email per recipient in this long. */
export const DIGEST_INTERVAL_MS = 5 * 60_000;

/** When the next digest to a recipient may go: at once if none went within the interval. */
export function nextDigestAt(lastDigestAt: number | null, now: number): number {
  return lastDigestAt === null ? now : Math.max(now, lastDigestAt + DIGEST_INTERVAL_MS);
}

/** An email digest that fails this many times is given up (and becomes an error record). */
export const EMAIL_ATTEMPTS = 3;
const EMAIL_RETRY_BASE_MS = 60_000;

/**
 * When a digest that failed is tried again: a minute after its first failure, two after its second,
 * each counted from the attempt that failed (not from when its messages were queued).
 */
export function emailRetryAt(failedAttempts: number, failedAt: number): number {
  return failedAt + EMAIL_RETRY_BASE_MS * 2 ** Math.max(0, failedAttempts - 1);
}

export interface DigestItem {
  subject: string;
  text: string;
  queuedAt: number;
}

/** One email with every item waiting for a recipient, oldest first. */
export function digestOf(
  items: readonly DigestItem[],
  dashboardUrl: string | null,
): { subject: string; text: string; html: string } {
  const sorted = [...items].sort((a, b) => a.queuedAt - b.queuedAt);
  const subject =
    sorted.length === 1
      ? `Fillgrid: ${sorted[0]!.subject}`
      : `Fillgrid: ${sorted.length} notices, the first: ${sorted[0]!.subject}`;
  const footer = dashboardUrl ? `\n\nAlerts: ${dashboardUrl.replace(/\/$/, "")}/alerts` : "";
  const text = sorted.map((i) => `${new Date(i.queuedAt).toISOString()}\n${i.text}`).join("\n\n") + footer;
  const html =
    `<!doctype html><html><body style="font-family:sans-serif">` +
    sorted
      .map(
        (i) =>
          `<p><small>${escapeHtml(new Date(i.queuedAt).toISOString())}</small><br>${escapeHtml(i.text).replace(/\n/g, "<br>")}</p>`,
      )
      .join("") +
    (dashboardUrl
      ? `<p><a href="${attr(`${dashboardUrl.replace(/\/$/, "")}/alerts`)}">Open the alerts in Fillgrid</a></p>`
      : "") +
    `</body></html>`;
  return { subject: subject.length > 200 ? `${subject.slice(0, 199)}…` : subject, text, html };
}

/** Whether an admin's chat id is one Telegram would take: an integer id or @channelusername. */
export function isChatId(value: string): boolean {
  return /^-?\d{1,20}$/.test(value) || /^@[A-Za-z][A-Za-z0-9_]{4,31}$/.test(value);
}

/** More messages than this of one turn of one rule to one chat in one hand-over go as one summary. */
export const GROUP_OVER = 3;
/** At most this many alerts in one summary message, each with its own button. */
export const SUMMARY_ALERTS = 10;

/** A Telegram message owed about one alert, before grouping. */
export interface AlertNotice {
  /** Unique and stable: the same notice handed over again has the same id. */
  id: string;
  chat: string;
  alert: Alert;
  kind: NoticeKind;
}

const takeable = (n: AlertNotice) => offersAck(n.kind) && n.alert.state === "firing";

/** A button's label (Telegram shows a short line): the alert's subject in a summary. */
const buttonLabel = (subject: string) => `Acknowledge ${subject.length > 40 ? `${subject.slice(0, 39)}…` : subject}`;

/**
 * The Telegram messages for a hand-over. Up to GROUP_OVER notices of the same turn (fired, repeat…)
 * of the same rule to the same chat go one by one, each with its Acknowledge button; more go as
 * summaries — "🟠 WARNING ×37 · noPartner" and a line per alert, at most SUMMARY_ALERTS to a message
 * and within 4096 characters, each alert with its own button — so that a run finding many (a new
 * deployment, an outage) does not flood a chat and every alert can still be taken from it.
 */
export function telegramMessages(
  notices: readonly AlertNotice[],
  now: number,
  dashboardUrl: string | null,
): Extract<OutboundMessage, { channel: "telegram" }>[] {
  const groups = new Map<string, AlertNotice[]>();
  for (const n of notices) {
    const key = `${n.chat}\u0000${n.kind}\u0000${n.alert.rule}\u0000${n.alert.severity}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  const out: Extract<OutboundMessage, { channel: "telegram" }>[] = [];
  for (const group of groups.values()) {
    if (group.length <= GROUP_OVER) {
      for (const n of group) {
        out.push({
          id: n.id,
          channel: "telegram",
          target: n.chat,
          alertId: n.alert.id,
          kind: n.kind,
          text: alertTelegramText(n.alert, n.kind, now, dashboardUrl),
          acks: takeable(n) ? [{ alertId: n.alert.id, label: "Acknowledge" }] : [],
        });
      }
      continue;
    }
    const first = group[0]!;
    if (first.kind === "acknowledged") {
      // Many taken at once (a card acknowledged whole): one line for them all, nothing to press.
      out.push({
        id: `${first.id}_all`,
        channel: "telegram",
        target: first.chat,
        alertId: null,
        kind: first.kind,
        text: withinLimit(
          `<b>${escapeHtml(`👤 ${first.alert.acknowledgedBy ?? "someone"} acknowledged ${group.length} alerts · ${first.alert.rule}`)}</b>`,
        ),
        acks: [],
      });
      continue;
    }
    const head = `<b>${escapeHtml(`${headline(first.alert, first.kind, now).replace(/^(\S+) (\w+)/, `$1 $2 ×${group.length}`)} · ${first.alert.rule}`)}</b>`;
    const foot = dashboardUrl
      ? `\n<a href="${attr(`${dashboardUrl.replace(/\/$/, "")}/alerts`)}">Open them in Fillgrid</a>`
      : "";
    let part: AlertNotice[] = [];
    let index = 0;
    const text = (ns: AlertNotice[]) => [head, ...ns.map((n) => `• ${escapeHtml(n.alert.message)}`)].join("\n") + foot;
    const flush = () => {
      if (part.length === 0) return;
      const acks = part.filter(takeable).map((n) => ({ alertId: n.alert.id, label: buttonLabel(n.alert.subject) }));
      out.push({
        id: `${first.id}_g${index++}`,
        channel: "telegram",
        target: first.chat,
        alertId: null,
        kind: first.kind,
        text: withinLimit(text(part)),
        acks,
      });
      part = [];
    };
    for (const n of group) {
      if (part.length === SUMMARY_ALERTS || (part.length > 0 && text([...part, n]).length > TELEGRAM_MAX_TEXT)) flush();
      part.push(n);
    }
    flush();
  }
  return out;
}

/**
 * What a summary (telegramMessages' message for many alerts of one rule) was about, read back from
 * its first line: how many alerts, the rule, and who took them when it says so; null for a message
 * about one alert. The archive keeps a message as sent, so this is how a list of them says what each was.
 */
export function summaryOf(text: string): { count: number; rule: string; by: string | null } | null {
  const first = (text.split("\n")[0] ?? "")
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
  const taken = /^👤 (.+) acknowledged (\d+) alerts · (\S+)$/u.exec(first);
  if (taken) return { count: Number(taken[2]), rule: taken[3]!, by: taken[1]! };
  const many = /^\S+ \w+ ×(\d+).* · (\S+)$/u.exec(first);
  return many ? { count: Number(many[1]), rule: many[2]!, by: null } : null;
}

const TURN: Record<NoticeKind, string> = {
  fired: "fired",
  repeat: "repeated",
  escalated: "escalated",
  acknowledged: "acknowledged",
  resolved: "resolved",
  error: "reported",
};

/** A summary in words: "acknowledged 12 alerts of Orders with no partner · by ann@…"; null for a message about one alert. */
export function summaryInWords(kind: NoticeKind, text: string): string | null {
  const summary = summaryOf(text);
  if (!summary) return null;
  const what = `${TURN[kind]} ${summary.count} alerts of ${ruleTitle(summary.rule)}`;
  return summary.by ? `${what} · by ${summary.by}` : what;
}
