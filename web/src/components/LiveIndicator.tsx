import { useAlerts, useErrors, useFleet } from "../stores";
import type { LiveStatus } from "../live";

const LABEL: Record<LiveStatus, string> = { live: "Live", connecting: "Connecting…", offline: "Offline, reconnecting" };

/** Whether what the page shows is live: every stream (fleet, errors, alerts) must be. */
export function LiveIndicator() {
  const fleet = useFleet().status;
  const errors = useErrors().status;
  const alerts = useAlerts().status;
  const all = [fleet, errors, alerts];
  const status: LiveStatus = all.every((s) => s === "live")
    ? "live"
    : all.includes("offline")
      ? "offline"
      : "connecting";
  return (
    <div
      className={`live live-${status}`}
      role="status"
      aria-live="polite"
      data-status={status}
      title={`Fleet: ${LABEL[fleet]} · Errors: ${LABEL[errors]} · Alerts: ${LABEL[alerts]}`}
    >
      <span className="dot" aria-hidden="true" />
      {LABEL[status]}
    </div>
  );
}
