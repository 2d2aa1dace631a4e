// The states every view has (loading, empty, failed) and small pieces shared by the pages.
import { useState, type ReactNode } from "react";
import { ApiProblem, download } from "../api";
import { standingOf, type FillStanding } from "../fleet-model";
import { formatAgo, formatPercent, formatTime } from "../format";

export function Loading({ what }: { what: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

export function Failed({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state failed" role="alert">
      <strong>Could not load this.</strong> {messageOf(error)}
      {retry ? (
        <button type="button" onClick={retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiProblem) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** What the API said was wrong with a form, field by field. */
export function FormProblem({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="form-problem" role="alert">
      {messageOf(error)}
      {error instanceof ApiProblem && error.issues.length > 1 ? (
        <ul>
          {error.issues.map((i) => (
            <li key={i.path}>
              <code>{i.path}</code> {i.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Time({ at }: { at: string | null | undefined }) {
  return at ? <time dateTime={at}>{formatTime(at)}</time> : <span className="muted">—</span>;
}

export function Ago({ at, now }: { at: string | null | undefined; now?: number }) {
  return at ? (
    <time dateTime={at} title={formatTime(at)}>
      {formatAgo(at, now)}
    </time>
  ) : (
    <span className="muted">never</span>
  );
}

const STANDING_LABEL: Record<FillStanding, string> = {
  below: "below threshold",
  near: "near threshold",
  ok: "above threshold",
  unknown: "no reading yet",
};

/** Fill as a bar against the threshold mark, with the figure beside it. */
export function FillBar({ fill, threshold }: { fill: number | null; threshold: number }) {
  const standing = standingOf({ fillPercent: fill, threshold });
  return (
    <span
      className={`fill fill-${standing}`}
      title={`${formatPercent(fill)}, threshold ${threshold} % (${STANDING_LABEL[standing]})`}
    >
      <span className="bar" aria-hidden="true">
        <span className="level" style={{ width: `${fill ?? 0}%` }} />
        <span className="mark" style={{ left: `${threshold}%` }} />
      </span>
      <span className="figure">{formatPercent(fill)}</span>
    </span>
  );
}

export function Badge({ kind, children }: { kind: string; children: ReactNode }) {
  return <span className={`tag tag-${kind}`}>{children}</span>;
}

/** An anomaly's kind in words. */
export const ANOMALY_LABEL: Record<string, string> = {
  sudden_drop: "Sudden drop",
  stuck_sensor: "Stuck sensor",
  unexpected_refill: "Unexpected refill",
  delivery_mismatch: "Delivery mismatch",
  noisy_sensor: "Noisy sensor",
};

/** "Download CSV": the same question as the list on the page, as a file (fetched with the token). */
export function CsvDownload({ url, fallbackName }: { url: URL; fallbackName: string }) {
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  return (
    <span className="csv">
      <a
        href={url.toString()}
        download={fallbackName}
        aria-disabled={state.busy}
        onClick={(e) => {
          e.preventDefault();
          if (state.busy) return;
          setState({ busy: true, error: null });
          download(url, fallbackName).then(
            () => setState({ busy: false, error: null }),
            (error: unknown) => setState({ busy: false, error }),
          );
        }}
      >
        {state.busy ? "Preparing CSV…" : "Download CSV"}
      </a>
      <FormProblem error={state.error} />
    </span>
  );
}
