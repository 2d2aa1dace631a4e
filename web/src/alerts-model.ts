// The alerts a page holds: GET /v1/alerts, then every change from the alert stream, merged so that
// nothing shows twice and an older copy never replaces a newer one.
import type { Alert, AlertState, Severity } from "../../domain/alerts";
import { ruleTitle } from "../../domain/monitor";
import { mergeNewer } from "./errors-model";

export type { Alert, AlertState, Severity };

const STATE_RANK: Record<AlertState, number> = { firing: 0, acknowledged: 1, resolved: 2 };
const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** How far an alert has come: acknowledged or resolved (never back), repeated, last sent, silenced. */
function progress(a: Alert): number[] {
  return [STATE_RANK[a.state], a.repeats, Date.parse(a.lastSentAt), a.silencedUntil ? Date.parse(a.silencedUntil) : 0];
}

export function isNewer(a: Alert, b: Alert): boolean {
  const pa = progress(a);
  const pb = progress(b);
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) return pa[i]! > pb[i]!;
  return false;
}

export function mergeAlerts(held: ReadonlyMap<string, Alert>, incoming: readonly Alert[]): ReadonlyMap<string, Alert> {
  return mergeNewer(held, incoming, isNewer);
}

export type AlertView = "open" | AlertState | "all";

/** What the page narrows the alerts to: a state, a severity, a rule, a container, and text to find. */
export interface AlertFilter {
  view: AlertView;
  severity: Severity | "all";
  rule?: string;
  containerId?: string;
  /** Words the message, the subject, the container or the rule's title hold (any case). */
  text?: string;
}

function matches(a: Alert, f: AlertFilter): boolean {
  if (f.view !== "all" && (f.view === "open" ? a.state === "resolved" : a.state !== f.view)) return false;
  if (f.severity !== "all" && a.severity !== f.severity) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.containerId && a.containerId !== f.containerId) return false;
  const words = (f.text ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = [a.message, a.subject, a.containerId ?? "", ruleTitle(a.rule)].join(" ").toLowerCase();
  return words.every((w) => hay.includes(w));
}

/** What the page lists: open ones (firing, then acknowledged) by severity, then latest fired first. */
export function alertsToShow(held: ReadonlyMap<string, Alert>, filter: AlertFilter): Alert[] {
  return [...held.values()]
    .filter((a) => matches(a, filter))
    .sort(
      (a, b) =>
        STATE_RANK[a.state] - STATE_RANK[b.state] ||
        SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
        Date.parse(b.firedAt) - Date.parse(a.firedAt) ||
        (a.id < b.id ? 1 : -1),
    );
}

/** One rule's alerts, as the page shows them: a card per rule, its subjects inside. */
export interface AlertGroup {
  rule: string;
  title: string;
  alerts: Alert[];
  /** How many are firing (not yet acknowledged), and how many are not resolved. */
  firing: number;
  open: number;
  /** The worst severity among them. */
  severity: Severity;
}

/** Alerts (as alertsToShow orders them) by rule, the groups in the order of their first alert. */
export function groupAlerts(list: readonly Alert[]): AlertGroup[] {
  const groups = new Map<string, AlertGroup>();
  for (const a of list) {
    let g = groups.get(a.rule);
    if (!g) {
      g = { rule: a.rule, title: ruleTitle(a.rule), alerts: [], firing: 0, open: 0, severity: a.severity };
      groups.set(a.rule, g);
    }
    g.alerts.push(a);
    if (a.state === "firing") g.firing++;
    if (a.state !== "resolved") g.open++;
    if (SEVERITY_RANK[a.severity] < SEVERITY_RANK[g.severity]) g.severity = a.severity;
  }
  return [...groups.values()];
}

/** The badge: alerts firing and not taken by anyone, and the worst severity among them. */
export function firingSummary(held: ReadonlyMap<string, Alert>): { count: number; worst: Severity | null } {
  let count = 0;
  let worst: Severity | null = null;
  for (const a of held.values()) {
    if (a.state !== "firing") continue;
    count++;
    if (worst === null || SEVERITY_RANK[a.severity] < SEVERITY_RANK[worst]) worst = a.severity;
  }
  return { count, worst };
}
