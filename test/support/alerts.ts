import type { Alert } from "../../domain/alerts";

/** An alert as the AlertsDO stores one: firing, a warning of the battery rule, fired at 10:00 on 1 Dec 2026. */
export function anAlert(over: Partial<Alert> = {}): Alert {
  return {
    id: "alr_01JABCDEFGHJKMNPQRSTVWXYZ0",
    key: "battery:tank-1",
    rule: "battery",
    subject: "tank-1",
    severity: "warning",
    message: "tank-1 battery at 9 %",
    containerId: "tank-1",
    state: "firing",
    firedAt: "2026-12-01T10:00:00.000Z",
    lastSentAt: "2026-12-01T10:00:00.000Z",
    repeats: 0,
    escalated: false,
    acknowledgedAt: null,
    acknowledgedBy: null,
    silencedUntil: null,
    resolvedAt: null,
    ...over,
  };
}
