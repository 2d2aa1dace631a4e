import { useErrors, useFleet } from "../stores";
import type { LiveStatus } from "../live";

const LABEL: Record<LiveStatus, string> = { live: "Live", connecting: "Connecting…", offline: "Offline, reconnecting" };

/** Whether what the page shows is live: both streams (fleet, errors) must be. */
export function LiveIndicator() {
  const fleet = useFleet().status;
  const errors = useErrors().status;
  const status: LiveStatus = fleet === "live" && errors === "live" ? "live" : fleet === "offline" || errors === "offline" ? "offline" : "connecting";
  return (
    <div className={`live live-${status}`} role="status" aria-live="polite" data-status={status} title={`Fleet: ${LABEL[fleet]} · Errors: ${LABEL[errors]}`}>
      <span className="dot" aria-hidden="true" />
      {LABEL[status]}
    </div>
  );
}
