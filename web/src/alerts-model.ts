// The alerts a page holds: GET /v1/alerts, then every change from the alert stream, merged so that
// nothing shows twice and an older copy never replaces a newer one.
import type { Alert, AlertState, Severity } from "../../domain/alerts";
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

/** What the page lists: open ones (firing, then acknowledged) by severity, then latest fired first. */
export function alertsToShow(held: ReadonlyMap<string, Alert>, view: AlertView, severity: Severity | "all"): Alert[] {
  return [...held.values()]
    .filter((a) => (view === "all" ? true : view === "open" ? a.state !== "resolved" : a.state === view))
    .filter((a) => severity === "all" || a.severity === severity)
    .sort(
      (a, b) =>
        STATE_RANK[a.state] - STATE_RANK[b.state] ||
        SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
        Date.parse(b.firedAt) - Date.parse(a.firedAt) ||
        (a.id < b.id ? 1 : -1),
    );
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
