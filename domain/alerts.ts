// Alerts: one per condition and subject (its key), firing → acknowledged → resolved, with repeats
// while firing and unacknowledged, an escalation after some repeats, and a message when the
// condition clears. Pure: the monitor evaluates conditions each minute and `step` says what changes
// and what to send; whoever stores the alerts runs steps one at a time, so two runs in one minute
// can neither open an alert twice nor send a message twice.

export type Severity = "critical" | "warning" | "info";
export type AlertState = "firing" | "acknowledged" | "resolved";

/** A condition the monitor found true this minute. */
export interface Condition {
  /** `<rule>:<subject>`: the same condition on the same subject is the same alert. */
  key: string;
  rule: string;
  subject: string;
  severity: Severity;
  message: string;
  /** The container it concerns (its own, or its order's), for filters and the container's page. */
  containerId: string | null;
}

export interface Alert extends Condition {
  id: string;
  state: AlertState;
  firedAt: string;
  lastSentAt: string;
  /** Repeats sent since it fired. */
  repeats: number;
  escalated: boolean;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  silencedUntil: string | null;
  resolvedAt: string | null;
}

/** How often an unacknowledged alert is repeated, and after how many repeats it escalates, per severity. */
export type Policy = Record<Severity, { repeatMinutes: number; escalateAfter: number }>;

export const DEFAULT_POLICY: Policy = {
  critical: { repeatMinutes: 10, escalateAfter: 3 },
  warning: { repeatMinutes: 30, escalateAfter: 4 },
  info: { repeatMinutes: 240, escalateAfter: 1000 },
};

export type MessageKind = "fired" | "repeat" | "escalated" | "resolved";

/** What to tell people: which alert, why now, and to which chat (the escalation chat after M repeats). */
export interface Outgoing {
  alertId: string;
  kind: MessageKind;
  chat: "primary" | "escalation";
}

export interface Step {
  /** Alerts that are new or changed (by id). */
  changed: Alert[];
  outgoing: Outgoing[];
}

const minutes = (from: string, to: number) => (to - Date.parse(from)) / 60_000;

/**
 * One monitor run: `open` are the alerts not resolved, `now` the run's time. A condition with no
 * open alert fires a new one; an open alert whose condition is gone resolves; a firing one that is
 * neither acknowledged nor silenced is repeated every `repeatMinutes` and escalated after
 * `escalateAfter` repeats.
 */
export function step(
  open: readonly Alert[],
  conditions: readonly Condition[],
  now: number,
  policy: Policy,
  newId: () => string,
): Step {
  const at = new Date(now).toISOString();
  const byKey = new Map(open.map((a) => [a.key, a]));
  const present = new Set(conditions.map((c) => c.key));
  const changed: Alert[] = [];
  const outgoing: Outgoing[] = [];

  for (const c of conditions) {
    const alert = byKey.get(c.key);
    if (!alert) {
      const fresh: Alert = {
        ...c,
        id: newId(),
        state: "firing",
        firedAt: at,
        lastSentAt: at,
        repeats: 0,
        escalated: false,
        acknowledgedAt: null,
        acknowledgedBy: null,
        silencedUntil: null,
        resolvedAt: null,
      };
      changed.push(fresh);
      outgoing.push({ alertId: fresh.id, kind: "fired", chat: "primary" });
      continue;
    }
    if (alert.state !== "firing") continue;
    if (alert.silencedUntil && Date.parse(alert.silencedUntil) > now) continue;
    const rule = policy[alert.severity];
    if (minutes(alert.lastSentAt, now) < rule.repeatMinutes) continue;
    const repeats = alert.repeats + 1;
    const escalates = !alert.escalated && repeats >= rule.escalateAfter;
    changed.push({ ...alert, message: c.message, repeats, lastSentAt: at, escalated: alert.escalated || escalates });
    outgoing.push({
      alertId: alert.id,
      kind: escalates ? "escalated" : "repeat",
      chat: alert.escalated || escalates ? "escalation" : "primary",
    });
  }

  for (const alert of open) {
    if (present.has(alert.key)) continue;
    changed.push({ ...alert, state: "resolved", resolvedAt: at });
    outgoing.push({ alertId: alert.id, kind: "resolved", chat: alert.escalated ? "escalation" : "primary" });
  }
  return { changed, outgoing };
}

export type AckResult = { ok: true; alert: Alert } | { ok: false; reason: "resolved" };

/** Someone takes it: repeats stop (the alert still resolves, with a message, when the condition clears). */
export function acknowledge(alert: Alert, by: string, now: number): AckResult {
  if (alert.state === "resolved") return { ok: false, reason: "resolved" };
  if (alert.state === "acknowledged") return { ok: true, alert };
  return {
    ok: true,
    alert: { ...alert, state: "acknowledged", acknowledgedAt: new Date(now).toISOString(), acknowledgedBy: by },
  };
}

/** No repeats until `until` (the alert keeps firing and resolves as usual). */
export function silence(alert: Alert, until: string): Alert {
  return { ...alert, silencedUntil: until };
}

/** What dashboards are sent: the alerts that changed, numbered. */
export interface AlertChange {
  seq: number;
  type: "alerts.changed";
  alerts: Alert[];
}

/** An alert list as CSV: its columns (the API's and the alerts page's download). */
export const ALERT_CSV_COLUMNS = [
  "id",
  "rule",
  "severity",
  "state",
  "containerId",
  "subject",
  "message",
  "firedAt",
  "repeats",
  "acknowledgedAt",
  "acknowledgedBy",
  "silencedUntil",
  "resolvedAt",
] as const;
