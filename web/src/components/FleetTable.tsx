import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef, type KeyboardEvent } from "react";
import { useLocation } from "wouter";
import { isSilent, type FleetContainer, type FleetQuery } from "../fleet-model";
import { formatCount, formatPercent, formatRunsOut, formatTime } from "../format";
import { Ago, Empty, FillBar } from "./ui";
import { DEFAULT_RULES } from "../../../domain/monitor";

const ROW_HEIGHT = 44;
/** The columns, each with the class its cells share (the styles drop some as the table narrows). */
const COLUMNS: { key: FleetQuery["sort"] | null; label: string; col: string }[] = [
  { key: "name", label: "Container", col: "col-container" },
  { key: "fillPercent", label: "Fill", col: "col-fill" },
  { key: "threshold", label: "Threshold", col: "col-threshold" },
  { key: "battery", label: "Battery", col: "col-battery" },
  { key: "thresholdAt", label: "Runs out", col: "col-runs-out" },
  { key: null, label: "Contents", col: "col-contents" },
  { key: null, label: "Delivery", col: "col-order" },
  { key: "lastSeenAt", label: "Last seen", col: "col-last-seen" },
];
/** The battery level below which the table marks it, as the battery alert's default rule. */
const LOW_BATTERY = DEFAULT_RULES.battery.belowPercent;

/**
 * Every matching container, with only the rows in view in the DOM (TanStack Virtual), so 10,000
 * scroll as smoothly as ten. Rows have one fixed height: a live update never moves the page.
 */
export function FleetTable({
  rows,
  total,
  query,
  onSort,
  now,
}: {
  rows: FleetContainer[];
  total: number;
  query: FleetQuery;
  onSort: (key: FleetQuery["sort"]) => void;
  now: number;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [, navigate] = useLocation();
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]!.containerId,
  });

  function onKey(event: KeyboardEvent<HTMLDivElement>, index: number) {
    const step = event.key === "ArrowDown" ? 1 : event.key === "ArrowUp" ? -1 : 0;
    if (event.key === "Enter") return navigate(`/containers/${encodeURIComponent(rows[index]!.containerId)}`);
    if (!step) return;
    event.preventDefault();
    const next = Math.min(rows.length - 1, Math.max(0, index + step));
    virtual.scrollToIndex(next);
    requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index="${next}"]`)?.focus());
  }

  return (
    <div className="fleet-table" role="table" aria-label="Containers" aria-rowcount={rows.length + 1}>
      <div className="row head" role="row">
        {COLUMNS.map((c) => (
          <div
            key={c.label}
            role="columnheader"
            className={`cell ${c.col}`}
            aria-sort={c.key && c.key === query.sort ? (query.descending ? "descending" : "ascending") : undefined}
          >
            {c.key ? (
              <button type="button" className="sort" onClick={() => onSort(c.key!)}>
                {c.label}
                <span aria-hidden="true">{c.key === query.sort ? (query.descending ? " ▼" : " ▲") : ""}</span>
              </button>
            ) : (
              c.label
            )}
          </div>
        ))}
      </div>
      <div className="rows" ref={scroller} role="rowgroup">
        {rows.length === 0 ? (
          <Empty>
            {total === 0
              ? "No containers yet. They appear here with their first reading."
              : "No container matches the search and filters."}
          </Empty>
        ) : (
          <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
            {virtual.getVirtualItems().map((item) => {
              const c = rows[item.index]!;
              return (
                <div
                  key={item.key}
                  role="row"
                  tabIndex={0}
                  data-index={item.index}
                  data-container={c.containerId}
                  aria-rowindex={item.index + 2}
                  className="row"
                  style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
                  onClick={() => navigate(`/containers/${encodeURIComponent(c.containerId)}`)}
                  onKeyDown={(e) => onKey(e, item.index)}
                >
                  <div role="cell" className="cell col-container" title={c.containerId}>
                    {c.name ? (
                      <>
                        <span className="name">{c.name}</span>
                        <span className="id mono">{c.containerId}</span>
                      </>
                    ) : (
                      <span className="name mono">{c.containerId}</span>
                    )}
                  </div>
                  <div role="cell" className="cell col-fill">
                    <FillBar fill={c.fillPercent} threshold={c.threshold} />
                  </div>
                  <div role="cell" className="cell col-threshold">
                    {formatPercent(c.threshold)}
                  </div>
                  <div
                    role="cell"
                    className={`cell col-battery ${c.battery !== null && c.battery < LOW_BATTERY ? "low" : ""}`}
                    title={c.battery !== null && c.battery < LOW_BATTERY ? "Battery low: replace it soon" : undefined}
                  >
                    {c.battery === null ? <span className="muted">—</span> : formatPercent(c.battery)}
                  </div>
                  <RunsOut container={c} now={now} />
                  <div role="cell" className="cell col-contents">
                    {c.contents ?? <span className="muted">—</span>}
                  </div>
                  <div role="cell" className="cell col-order">
                    {c.activeOrder ? (
                      <span className="tag tag-order">{c.activeOrder.fulfilment}</span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </div>
                  <div role="cell" className={`cell col-last-seen ${isSilent(c, now) ? "silent" : ""}`}>
                    <Ago at={c.lastSeenAt} now={now} />
                  </div>
                </div>
              );
            })}
          </div>
        )}
      </div>
      <div className="table-foot muted" aria-live="polite">
        {rows.length === total
          ? `${formatCount(total)} containers`
          : `${formatCount(rows.length)} of ${formatCount(total)} containers`}
      </div>
    </div>
  );
}

/** When the forecast reaches the threshold, from now; the dates and why there is none in the title. */
function RunsOut({ container: c, now }: { container: FleetContainer; now: number }) {
  const f = c.forecast;
  const { text, soon } = formatRunsOut(f, now);
  const title =
    f === null
      ? "No readings yet"
      : f.status === "ok"
        ? `Threshold ${formatTime(f.thresholdAt)} (p10–p90 ${formatTime(f.thresholdAtP10)} – ${formatTime(f.thresholdAtP90)}); empty ${formatTime(f.emptyAt)}`
        : {
            too_few_readings: "Too few readings since the last refill",
            too_short: "Less than a day of readings since the last refill",
            not_falling: "The level is not falling",
          }[f.status];
  return (
    <div role="cell" className={`cell col-runs-out ${soon ? "soon" : ""}`} title={title}>
      {text}
    </div>
  );
}
