// The week ahead and the weeks behind: consumption per day (stacked by contents, partner or
// container), what partners must deliver on the next days (open orders and forecasts), how fast
// partners fulfil, and the open anomalies. Every figure comes from /v1/analytics/* (Postgres'
// daily rollups, the forecasts, the orders' step times); every table downloads as CSV.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Link } from "wouter";
import type { ConsumptionGroup, ConsumptionRow, FulfilmentRow } from "../../../domain/analytics";
import {
  consumptionSeries,
  DEMAND_COLOURS,
  daysBetween,
  demandLines,
  demandSeries,
  groupLabel,
  lastDays,
  measuresOf,
  partnersOf,
  pickMeasure,
  uncounted,
  unitOf,
  type Due,
  type Measure,
} from "../analytics-model";
import { api, data } from "../api";
import { DayBars } from "../components/DayBars";
import { ANOMALY_LABEL, Ago, Badge, CsvDownload, Empty, Failed, Loading } from "../components/ui";
import {
  formatCount,
  formatDay,
  formatFigure,
  formatHours,
  formatPercent,
  formatQuantity,
  formatShare,
} from "../format";
import { useFleet } from "../stores";

const RANGES = [7, 30, 90] as const;
type RangeDays = (typeof RANGES)[number];
const DEMAND_DAYS = [7, 14] as const;
type DemandDays = (typeof DEMAND_DAYS)[number];
const GROUP_LABEL: Record<ConsumptionGroup, string> = {
  contents: "Contents",
  partner: "Partner",
  container: "Container",
  all: "All together",
};
/** The consumption table shows this many rows; the CSV has them all. */
const TABLE_ROWS = 500;

export function AnalyticsPage() {
  const [range, setRange] = useState<RangeDays>(30);
  const { from, to } = lastDays(range);
  useRefreshOnFleetChanges();
  return (
    <section className="page analytics" aria-labelledby="analytics-title">
      <div className="panel-head page-head">
        <h1 id="analytics-title">Analytics</h1>
        <Segmented
          label="Range"
          options={RANGES.map((d) => [d, `${d} days`])}
          value={range}
          onChange={(d) => setRange(d)}
        />
      </div>
      <p className="muted small lead">
        {formatDay(from)} – {formatDay(to)}, in UTC days. Consumption and fulfilment cover this range; demand looks
        ahead from today.
      </p>
      <Consumption from={from} to={to} />
      <Demand />
      <Fulfilment from={from} to={to} />
      <OpenAnomalies />
    </section>
  );
}

/**
 * The figures follow the fleet: a change Postgres commits reloads them, at most every 15 s (they are
 * sums over days; a reading a second later changes little).
 */
function useRefreshOnFleetChanges() {
  const queries = useQueryClient();
  const { lastChangeAt } = useFleet();
  const refreshed = useRef(Date.now());
  useEffect(() => {
    if (lastChangeAt === null) return;
    const wait = Math.max(1000, refreshed.current + 15_000 - Date.now());
    const t = setTimeout(() => {
      refreshed.current = Date.now();
      void queries.invalidateQueries({ queryKey: ["analytics"] });
    }, wait);
    return () => clearTimeout(t);
  }, [lastChangeAt, queries]);
}

function Segmented<T extends string | number>({
  label,
  options,
  value,
  onChange,
}: {
  label: string;
  options: readonly (readonly [T, string])[];
  value: T;
  onChange: (value: T) => void;
}) {
  return (
    <div className="segmented" role="group" aria-label={label}>
      {options.map(([v, text]) => (
        <button key={String(v)} type="button" aria-pressed={value === v} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

const MEASURE_TEXT: Record<"points" | "containers", string> = { points: "fill points", containers: "containers" };
const measureText = (m: Measure) => unitOf(m) ?? MEASURE_TEXT[m as "points" | "containers"];

/** What a chart adds up: each unit the rows have quantities in, or the figure every row has. */
function MeasureChoice({
  measures,
  value,
  onChange,
}: {
  measures: readonly Measure[];
  value: Measure;
  onChange: (m: Measure) => void;
}) {
  if (measures.length < 2) return null;
  return (
    <span className="measure">
      <span aria-hidden="true">In</span>
      <Segmented label="Show in" options={measures.map((m) => [m, measureText(m)])} value={value} onChange={onChange} />
    </span>
  );
}

/** A figure in the measure, as the legend and the tables say it. */
function formatterOf(m: Measure): (v: number) => string {
  const unit = unitOf(m);
  if (unit !== null) return (v) => formatQuantity(v, unit);
  if (m === "points") return (v) => `${formatFigure(v)} points`;
  return (v) => `${formatCount(v)} container${v === 1 ? "" : "s"}`;
}

function Consumption({ from, to }: { from: string; to: string }) {
  const [by, setBy] = useState<ConsumptionGroup>("contents");
  const [chosen, setChosen] = useState<Measure | null>(null);
  const query = { from, to, by };
  const answer = useQuery({
    queryKey: ["analytics", "consumption", query],
    queryFn: () => data(api.v1.analytics.consumption.$get({ query })),
    placeholderData: (previous) => previous,
  });
  const rows = answer.data?.rows;
  const days = useMemo(() => daysBetween(from, to), [from, to]);
  const measures = useMemo(() => measuresOf(rows ?? [], "points"), [rows]);
  const measure = pickMeasure(chosen, measures);
  const shownBy = answer.data?.by ?? by;
  const series = useMemo(() => consumptionSeries(rows ?? [], shownBy, measure, days), [rows, shownBy, measure, days]);
  const format = useMemo(() => formatterOf(measure), [measure]);
  const left = rows ? uncounted(rows, measure) : 0;
  const withReadings = rows?.filter((r) => r.readings > 0) ?? [];
  return (
    <section className="panel" aria-labelledby="consumption-title" aria-busy={answer.isFetching}>
      <div className="panel-head">
        <h2 id="consumption-title">Consumption per day</h2>
        <div className="controls">
          <label>
            By{" "}
            <select aria-label="Group by" value={by} onChange={(e) => setBy(e.target.value as ConsumptionGroup)}>
              {(Object.keys(GROUP_LABEL) as ConsumptionGroup[]).map((g) => (
                <option key={g} value={g}>
                  {GROUP_LABEL[g]}
                </option>
              ))}
            </select>
          </label>
          <MeasureChoice measures={measures} value={measure} onChange={setChosen} />
        </div>
      </div>
      {answer.isError ? (
        <Failed error={answer.error} retry={() => answer.refetch()} />
      ) : !answer.data ? (
        <Loading what="consumption" />
      ) : withReadings.length === 0 ? (
        <Empty>No readings in this range yet.</Empty>
      ) : (
        <>
          {series.length === 0 ? (
            <Empty>Nothing was consumed in this range: the levels did not fall.</Empty>
          ) : (
            <DayBars
              days={days}
              series={series}
              format={format}
              label={`Consumption per day in ${measureText(measure)}, by ${GROUP_LABEL[shownBy].toLowerCase()}`}
            />
          )}
          <p className="muted small">
            What the levels fell by each day, refills added back
            {unitOf(measure) !== null ? `, in ${unitOf(measure)} (fill points × capacity)` : ", in fill points"}.
            {left > 0
              ? ` ${formatCount(left)} row${left === 1 ? " is" : "s are"} of containers with no capacity (or another unit), left out here: show fill points to include ${left === 1 ? "it" : "them"}.`
              : ""}
          </p>
          <div className="table-head">
            <h3>The days</h3>
            <CsvDownload
              url={api.v1.analytics.consumption.$url({ query: { ...query, format: "csv" } })}
              fallbackName={`consumption-${from}-${to}.csv`}
            />
          </div>
          <ConsumptionTable rows={withReadings} by={shownBy} />
        </>
      )}
    </section>
  );
}

function ConsumptionTable({ rows, by }: { rows: readonly ConsumptionRow[]; by: ConsumptionGroup }) {
  // Newest day first: the week just gone is what is looked at most.
  const shown = useMemo(() => [...rows].reverse().slice(0, TABLE_ROWS), [rows]);
  return (
    <>
      <div className="scroll-x">
        <table className="table figures-table" data-table="consumption">
          <thead>
            <tr>
              <th scope="col">Day</th>
              {by === "all" ? null : <th scope="col">{GROUP_LABEL[by]}</th>}
              <th scope="col" className="num">
                Consumed
              </th>
              <th scope="col" className="num">
                Fill points
              </th>
              <th scope="col" className="num">
                Containers
              </th>
              <th scope="col" className="num">
                Readings
              </th>
              <th scope="col" className="num">
                Refills
              </th>
              <th scope="col" className="num">
                Deliveries
              </th>
              <th scope="col" className="num">
                Anomalies
              </th>
              <th scope="col" className="num">
                Fill mean (min–max)
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr
                key={`${r.day} ${r.key ?? ""} ${r.unit ?? ""}`}
                data-day={r.day}
                data-key={r.key ?? ""}
                data-unit={r.unit ?? ""}
              >
                <td className="nowrap">{formatDay(r.day)}</td>
                {by === "all" ? null : (
                  <td>
                    {by === "container" && r.key !== null ? (
                      <Link href={`/containers/${encodeURIComponent(r.key)}`} className="mono">
                        {r.key}
                      </Link>
                    ) : (
                      <span className={r.key === null ? "muted" : ""}>{groupLabel(by, r.key)}</span>
                    )}
                  </td>
                )}
                <td className="num" data-cell="quantity">
                  {r.quantity === null ? (
                    <span className="muted">no capacity</span>
                  ) : (
                    formatQuantity(r.quantity, r.unit)
                  )}
                </td>
                <td className="num" data-cell="consumption">
                  {formatFigure(r.consumption)}
                </td>
                <td className="num" data-cell="containers">
                  {formatCount(r.containers)}
                </td>
                <td className="num">{formatCount(r.readings)}</td>
                <td className="num">{formatCount(r.refills)}</td>
                <td className="num">{formatCount(r.deliveries)}</td>
                <td className="num">{formatCount(r.anomalies)}</td>
                <td className="num nowrap">
                  {formatPercent(r.meanFill)}{" "}
                  <span className="muted">
                    ({r.minFill === null ? "—" : formatFigure(r.minFill)}–
                    {r.maxFill === null ? "—" : formatFigure(r.maxFill)})
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.length > shown.length ? (
        <p className="muted small">
          The newest {formatCount(shown.length)} of {formatCount(rows.length)} rows; the CSV has them all.
        </p>
      ) : null}
    </>
  );
}

function Demand() {
  const [days, setDays] = useState<DemandDays>(7);
  const [partner, setPartner] = useState("");
  const [chosen, setChosen] = useState<Measure | null>(null);
  const answer = useQuery({
    queryKey: ["analytics", "demand", days],
    queryFn: () => data(api.v1.analytics.demand.$get({ query: { days: String(days) } })),
    placeholderData: (previous) => previous,
  });
  const all = answer.data?.rows;
  const partners = useMemo(() => partnersOf(all ?? []), [all]);
  // A partner no longer in the answer (nothing due any more) is still offered while chosen.
  const offered = partner && !partners.includes(partner) ? [...partners, partner] : partners;
  const rows = useMemo(() => (all ?? []).filter((r) => !partner || r.partnerId === partner), [all, partner]);
  const dayList = useMemo(() => (answer.data ? daysBetween(answer.data.from, answer.data.to) : []), [answer.data]);
  const measures = useMemo(() => measuresOf(rows, "containers"), [rows]);
  const measure = pickMeasure(chosen, measures);
  const series = useMemo(() => demandSeries(rows, measure, dayList), [rows, measure, dayList]);
  const format = useMemo(() => formatterOf(measure), [measure]);
  const lines = useMemo(() => demandLines(rows), [rows]);
  const csvQuery = { days: String(days), format: "csv" as const, ...(partner ? { partnerId: partner } : {}) };
  return (
    <section className="panel" aria-labelledby="demand-title" aria-busy={answer.isFetching}>
      <div className="panel-head">
        <h2 id="demand-title">Demand ahead</h2>
        <div className="controls">
          <Segmented
            label="Days ahead"
            options={DEMAND_DAYS.map((d) => [d, `Next ${d} days`])}
            value={days}
            onChange={setDays}
          />
          <label>
            Partner{" "}
            <select aria-label="Partner" value={partner} onChange={(e) => setPartner(e.target.value)}>
              <option value="">All partners</option>
              {offered.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <MeasureChoice measures={measures} value={measure} onChange={setChosen} />
        </div>
      </div>
      {answer.isError ? (
        <Failed error={answer.error} retry={() => answer.refetch()} />
      ) : !answer.data ? (
        <Loading what="demand" />
      ) : rows.length === 0 ? (
        <Empty>
          Nothing is due {partner ? `from ${partner} ` : ""}in the next {days} days: no open order, and no forecast
          reaches its threshold.
        </Empty>
      ) : (
        <>
          <DayBars
            days={dayList}
            series={series}
            format={format}
            label={`Demand per day in ${measureText(measure)}: open orders and forecasts`}
          />
          <p className="muted small">
            <Swatch colour={DEMAND_COLOURS.order} /> open orders not delivered yet, due at their ETA (else when their
            forecast reaches the threshold, else today) · <Swatch colour={DEMAND_COLOURS.forecast} /> containers with no
            order whose forecast reaches the threshold that day, each ordering what fills it back from the threshold.
          </p>
          <div className="table-head">
            <h3>Per day and partner</h3>
            <CsvDownload
              url={api.v1.analytics.demand.$url({ query: csvQuery })}
              fallbackName={`demand-${answer.data.from}-${answer.data.to}.csv`}
            />
          </div>
          <div className="scroll-x">
            <table className="table figures-table" data-table="demand">
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">Partner</th>
                  <th scope="col">Contents</th>
                  <th scope="col" className="num">
                    Open orders
                  </th>
                  <th scope="col" className="num">
                    Forecasts
                  </th>
                  <th scope="col" className="num">
                    Total
                  </th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l) => (
                  <tr
                    key={JSON.stringify([l.day, l.partnerId, l.contents, l.unit])}
                    data-day={l.day}
                    data-partner={l.partnerId ?? ""}
                    data-contents={l.contents ?? ""}
                  >
                    <td className="nowrap">{formatDay(l.day)}</td>
                    <td>{l.partnerId ?? <span className="muted">no partner</span>}</td>
                    <td>{l.contents ?? <span className="muted">no contents</span>}</td>
                    <td className="num" data-cell="order">
                      <DueCell due={l.order} unit={l.unit} />
                    </td>
                    <td className="num" data-cell="forecast">
                      <DueCell due={l.forecast} unit={l.unit} />
                    </td>
                    <td className="num" data-cell="total">
                      <DueCell due={sum(l.order, l.forecast)} unit={l.unit} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Swatch({ colour }: { colour: string }) {
  return <span className="swatch square" style={{ background: colour }} aria-hidden="true" />;
}

const sum = (a: Due | null, b: Due | null): Due | null =>
  a === null ? b : b === null ? a : { containers: a.containers + b.containers, quantity: add(a.quantity, b.quantity) };
const add = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : a + b);

function DueCell({ due, unit }: { due: Due | null; unit: string | null }) {
  if (due === null) return <span className="muted">—</span>;
  const containers = `${formatCount(due.containers)} container${due.containers === 1 ? "" : "s"}`;
  return due.quantity === null || unit === null ? (
    <>{containers}</>
  ) : (
    <>
      {formatQuantity(due.quantity, unit)} <span className="muted small block">{containers}</span>
    </>
  );
}

const STEPS = [
  ["openedToAccepted", "Opened → accepted"],
  ["acceptedToDispatched", "Accepted → dispatched"],
  ["dispatchedToDelivered", "Dispatched → delivered"],
  ["openedToDelivered", "Opened → delivered"],
] as const;

function scopeName(r: FulfilmentRow): ReactNode {
  if (r.scope === "all") return "All orders";
  if (r.scope === "unassigned") return <span className="muted">No partner took them</span>;
  return r.partnerId;
}

function Fulfilment({ from, to }: { from: string; to: string }) {
  const query = { from, to };
  const answer = useQuery({
    queryKey: ["analytics", "fulfilment", query],
    queryFn: () => data(api.v1.analytics.fulfilment.$get({ query })),
    placeholderData: (previous) => previous,
  });
  const rows = answer.data?.rows ?? [];
  const total = rows.find((r) => r.scope === "all");
  return (
    <section className="panel" aria-labelledby="fulfilment-title" aria-busy={answer.isFetching}>
      <div className="panel-head">
        <h2 id="fulfilment-title">Fulfilment</h2>
        {answer.data && total && total.orders > 0 ? (
          <CsvDownload
            url={api.v1.analytics.fulfilment.$url({ query: { ...query, format: "csv" } })}
            fallbackName={`fulfilment-${from}-${to}.csv`}
          />
        ) : null}
      </div>
      {answer.isError ? (
        <Failed error={answer.error} retry={() => answer.refetch()} />
      ) : !answer.data ? (
        <Loading what="fulfilment times" />
      ) : !total || total.orders === 0 ? (
        <Empty>No orders were opened in this range.</Empty>
      ) : (
        <>
          <p className="muted small">
            Of the orders opened in the range: how long each step took (median · 90th percentile), and the share
            delivered on time (by the forecast&apos;s threshold date on a forecast order, else by the ETA the partner
            gave).
          </p>
          <div className="scroll-x">
            <table className="table figures-table" data-table="fulfilment">
              <thead>
                <tr>
                  <th scope="col">Partner</th>
                  <th scope="col" className="num">
                    Orders
                  </th>
                  <th scope="col" className="num">
                    Delivered
                  </th>
                  <th scope="col" className="num">
                    Open
                  </th>
                  <th scope="col" className="num">
                    Cancelled
                  </th>
                  {STEPS.map(([key, name]) => (
                    <th key={key} scope="col" className="num">
                      {name}
                      <span className="block muted">median · p90</span>
                    </th>
                  ))}
                  <th scope="col" className="num">
                    On time
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr
                    key={`${r.scope} ${r.partnerId ?? ""}`}
                    className={r.scope === "all" ? "total" : ""}
                    data-scope={r.scope}
                    data-partner={r.partnerId ?? ""}
                  >
                    <th scope="row">{scopeName(r)}</th>
                    <td className="num">{formatCount(r.orders)}</td>
                    <td className="num" data-cell="delivered">
                      {formatCount(r.delivered)}
                    </td>
                    <td className="num" data-cell="open">
                      {formatCount(r.open)}
                    </td>
                    <td className="num" data-cell="cancelled">
                      {formatCount(r.cancelled)}
                    </td>
                    {STEPS.map(([key]) => (
                      <td key={key} className="num nowrap" data-cell={key}>
                        {r[`${key}P50`] === null ? (
                          <span className="muted">—</span>
                        ) : (
                          `${formatHours(r[`${key}P50`])} · ${formatHours(r[`${key}P90`])}`
                        )}
                      </td>
                    ))}
                    <td className="num nowrap" data-cell="on-time">
                      {formatShare(r.onTimeShare, r.onTimeOf)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function OpenAnomalies() {
  const answer = useQuery({
    queryKey: ["analytics", "anomalies"],
    queryFn: () => data(api.v1.anomalies.$get({ query: { status: "open", limit: "50" } })),
  });
  return (
    <section className="panel" aria-labelledby="anomalies-title" aria-busy={answer.isFetching}>
      <h2 id="anomalies-title">Open anomalies</h2>
      {answer.isError ? (
        <Failed error={answer.error} retry={() => answer.refetch()} />
      ) : !answer.data ? (
        <Loading what="anomalies" />
      ) : answer.data.anomalies.length === 0 ? (
        <Empty>No open anomalies: every level moves as its consumption explains.</Empty>
      ) : (
        <>
          <ul className="list anomaly-list">
            {answer.data.anomalies.map((a) => (
              <li key={a.id} data-anomaly={a.kind} data-container={a.containerId}>
                <div className="anomaly-line">
                  <Badge kind="anomaly">{ANOMALY_LABEL[a.kind] ?? a.kind}</Badge>
                  <Link href={`/containers/${encodeURIComponent(a.containerId)}`} className="mono">
                    {a.containerId}
                  </Link>
                  <span className="muted small">
                    <Ago at={a.measuredAt ?? a.raisedAt} />
                  </span>
                </div>
                <div className="small">{a.message}</div>
              </li>
            ))}
          </ul>
          {answer.data.nextCursor ? (
            <p className="muted small">The newest 50; each container&apos;s page lists its own.</p>
          ) : null}
        </>
      )}
    </section>
  );
}
