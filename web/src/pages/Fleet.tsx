import { lazy, Suspense, useDeferredValue, useEffect, useMemo, useState } from "react";
import { FleetTable } from "../components/FleetTable";
import { Failed, Loading } from "../components/ui";
import { formatCount } from "../format";
import { ANY_QUERY, contentsOf, figuresOf, rowsOf, type FleetQuery } from "../fleet-model";
import { fleetStore, useFleet } from "../stores";
import { csvText } from "../../../domain/csv";
import { FLEET_CSV_COLUMNS, fleetCsvRows } from "../../../domain/fleet";
import { saveText } from "../download";

// MapLibre is the largest part of the app: the figures and the table are usable before it arrives.
// Its download starts with the page, beside the fleet's.
const loadMap = () => import("../components/FleetMap");
const FleetMap = lazy(loadMap);

/** Re-render once a minute so that "silent" and "last seen" move on with the clock. */
function useMinuteClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function FleetPage() {
  const { fleet, loaded, failure } = useFleet();
  const now = useMinuteClock();
  const [query, setQuery] = useState<FleetQuery>(ANY_QUERY);
  const deferredQuery = useDeferredValue(query);
  const figures = useMemo(() => figuresOf(fleet, now), [fleet, now]);
  const rows = useMemo(() => rowsOf(fleet, deferredQuery, now), [fleet, deferredQuery, now]);
  const kinds = useMemo(() => contentsOf(fleet), [fleet]);
  // The map frames anew when what the table matches changes, not when it is only sorted.
  const { sort: _sort, descending: _descending, ...matching } = deferredQuery;
  const fitKey = JSON.stringify(matching);
  const set = (patch: Partial<FleetQuery>) => setQuery((q) => ({ ...q, ...patch }));
  useEffect(() => void loadMap(), []);

  if (failure && !loaded) return <Failed error={failure} retry={() => fleetStore.retry()} />;

  return (
    <section className="page fleet" aria-labelledby="fleet-title">
      <h1 id="fleet-title" className="sr-only">
        Fleet
      </h1>
      <ul className="figures" aria-label="The fleet's figures">
        <Figure label="Containers" value={loaded ? figures.containers : null} onClick={() => setQuery(ANY_QUERY)} />
        <Figure
          label="Below threshold"
          value={loaded ? figures.belowThreshold : null}
          tone="below"
          onClick={() => set({ belowThreshold: !query.belowThreshold })}
          pressed={query.belowThreshold}
        />
        <Figure
          label="Active orders"
          value={loaded ? figures.activeOrders : null}
          tone="order"
          onClick={() => set({ activeOrder: !query.activeOrder })}
          pressed={query.activeOrder}
        />
        <Figure
          label="Silent sensors"
          value={loaded ? figures.silent : null}
          tone="silent"
          onClick={() => set({ silent: !query.silent })}
          pressed={query.silent}
        />
      </ul>
      <div className="fleet-body">
        <div className="map-pane">
          <Suspense fallback={<Loading what="the map" />}>
            {loaded ? <FleetMap rows={rows} fleet={fleet} fitKey={fitKey} /> : <Loading what="the map" />}
          </Suspense>
        </div>
        <div className="table-pane">
          <div className="filters" role="search">
            <label className="grow">
              <span className="sr-only">Search by id or name</span>
              <input
                type="search"
                placeholder="Search id or name"
                value={query.search}
                onChange={(e) => set({ search: e.target.value })}
              />
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={query.belowThreshold}
                onChange={(e) => set({ belowThreshold: e.target.checked })}
              />{" "}
              Below threshold
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={query.activeOrder}
                onChange={(e) => set({ activeOrder: e.target.checked })}
              />{" "}
              Active order
            </label>
            <label className="check">
              <input type="checkbox" checked={query.silent} onChange={(e) => set({ silent: e.target.checked })} />{" "}
              Silent
            </label>
            <label>
              <span className="sr-only">Contents</span>
              <select value={query.contents} onChange={(e) => set({ contents: e.target.value })} aria-label="Contents">
                <option value="">Any contents</option>
                {kinds.map((k) => (
                  <option key={k} value={k}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
            <label>
              <span className="sr-only">Runs out within</span>
              <select
                value={query.runsOutWithinDays ?? ""}
                onChange={(e) => set({ runsOutWithinDays: e.target.value === "" ? null : Number(e.target.value) })}
                aria-label="Runs out within"
              >
                <option value="">Runs out: any time</option>
                {[1, 3, 7, 14].map((d) => (
                  <option key={d} value={d}>
                    Runs out within {d} {d === 1 ? "day" : "days"}
                  </option>
                ))}
              </select>
            </label>
            {loaded ? (
              <button
                type="button"
                className="link small fleet-csv"
                onClick={() => saveText("fleet.csv", csvText(FLEET_CSV_COLUMNS, fleetCsvRows(rows)))}
              >
                Download CSV ({formatCount(rows.length)})
              </button>
            ) : null}
          </div>
          {loaded ? (
            <FleetTable
              rows={rows}
              total={fleet.size}
              query={query}
              onSort={(sort) =>
                set(sort === query.sort ? { descending: !query.descending } : { sort, descending: false })
              }
              now={now}
            />
          ) : (
            <Loading what="the fleet" />
          )}
        </div>
      </div>
    </section>
  );
}

function Figure({
  label,
  value,
  tone,
  onClick,
  pressed,
}: {
  label: string;
  value: number | null;
  tone?: string;
  onClick: () => void;
  pressed?: boolean;
}) {
  return (
    <li className={`figure ${tone ? `tone-${tone}` : ""}`}>
      <button
        type="button"
        onClick={onClick}
        aria-pressed={pressed}
        title={pressed === undefined ? "Show all" : `Show only: ${label.toLowerCase()}`}
      >
        <span className="value" data-figure={label}>
          {value === null ? "…" : formatCount(value)}
        </span>
        <span className="label">{label}</span>
      </button>
    </li>
  );
}
