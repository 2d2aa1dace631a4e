import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { InferResponseType } from "hono/client";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link } from "wouter";
import { api, ApiProblem, data } from "../api";
import { FillChart } from "../components/FillChart";
import { DeviceKeys } from "../components/DeviceKeys";
import {
  ANOMALY_LABEL,
  Ago,
  Badge,
  CsvDownload,
  Empty,
  Failed,
  FillBar,
  FormProblem,
  Loading,
  Time,
} from "../components/ui";
import { thresholdHint, whoActed } from "../container-model";
import { isSilent } from "../fleet-model";
import { formatDays, formatFigure, formatPercent, formatTime, plural } from "../format";
import { can, useSession } from "../session";
import { useAlerts, useFleet } from "../stores";
import { alertsToShow } from "../alerts-model";
import { AlertItem } from "../components/AlertItem";

type Range = "24h" | "7d" | "30d" | "all";
const RANGE_HOURS: Record<Exclude<Range, "all">, number> = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30 };
const RANGE_LABEL: Record<Range, string> = { "24h": "24 h", "7d": "7 days", "30d": "30 days", all: "All" };

export function ContainerPage({ id }: { id: string }) {
  const person = useSession();
  const queries = useQueryClient();
  const param = { param: { containerId: id } };
  const live = useFleet().fleet.get(id);
  const state = useQuery({
    queryKey: ["container", id],
    queryFn: () => data(api.v1.containers[":containerId"].$get(param)),
  });
  // The fleet stream brings each committed change: when it is newer than what the page shows,
  // everything on the page that comes from Postgres is read again.
  const shownVersion = state.data?.container.version ?? -1;
  const liveVersion = live?.version;
  useEffect(() => {
    if (liveVersion !== undefined && liveVersion > shownVersion)
      void queries.invalidateQueries({ queryKey: ["container", id] });
  }, [liveVersion, shownVersion, queries, id]);

  if (state.isPending) return <Loading what={`container ${id}`} />;
  if (state.isError) {
    if (state.error instanceof ApiProblem && state.error.status === 404)
      return (
        <section className="page">
          <h1>Container {id}</h1>
          <Empty>
            No container is called {id}. It appears with its first reading. <Link href="/">Back to the fleet</Link>
          </Empty>
        </section>
      );
    return <Failed error={state.error} retry={() => state.refetch()} />;
  }
  const c = state.data.container;
  return (
    <section className="page container-page" aria-labelledby="container-title">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/">Fleet</Link> / <span className="mono">{c.containerId}</span>
      </nav>
      <header className="container-head">
        <div>
          <h1 id="container-title">{c.name ?? c.containerId}</h1>
          {c.name ? <div className="mono muted">{c.containerId}</div> : null}
        </div>
        <div className="big-fill">
          <FillBar fill={c.fillPercent} threshold={c.threshold} />
        </div>
      </header>
      <dl className="facts">
        <div>
          <dt>Threshold</dt>
          <dd>{c.threshold} %</dd>
        </div>
        <div>
          <dt>Contents</dt>
          <dd>{c.contents ?? "—"}</dd>
        </div>
        <div>
          <dt>Capacity</dt>
          <dd data-fact="capacity">
            {c.capacity === null
              ? "—"
              : `${formatFigure(c.capacity)} ${c.unit ?? "units"}${
                  c.fillPercent !== null
                    ? ` · ${formatFigure(Math.round((c.capacity * c.fillPercent) / 100))} ${c.unit ?? "units"} left`
                    : ""
                }`}
          </dd>
        </div>
        <div>
          <dt>Battery</dt>
          <dd>{formatPercent(c.battery)}</dd>
        </div>
        <div>
          <dt>Measured</dt>
          <dd>
            <Time at={c.measuredAt} />
          </dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd className={isSilent(c, Date.now()) ? "silent" : ""}>
            <Ago at={c.lastSeenAt} />
          </dd>
        </div>
        <div>
          <dt>Location</dt>
          <dd>{c.location ? `${c.location.lat.toFixed(4)}, ${c.location.lon.toFixed(4)}` : "—"}</dd>
        </div>
        <div>
          <dt>Reports every</dt>
          <dd>{c.reportIntervalSeconds ? `${Math.round(c.reportIntervalSeconds / 60)} min` : "60 min (default)"}</dd>
        </div>
      </dl>
      <Outlook container={c} />
      <ActiveOrder
        containerId={c.containerId}
        order={c.activeOrder}
        paused={!c.autoOpenArmed}
        threshold={c.threshold}
        canAct={can(person, "operator")}
      />
      <ContainerAlerts containerId={c.containerId} canAct={can(person, "operator")} />
      <Anomalies containerId={c.containerId} version={c.version} canAct={can(person, "operator")} />
      <History
        containerId={c.containerId}
        projected={live?.version ?? 0}
        forecast={c.forecast}
        anomalies={c.anomalies}
      />
      <div className="two">
        <Orders containerId={c.containerId} version={c.version} />
        <Events containerId={c.containerId} version={c.version} />
      </div>
      {can(person, "admin") ? (
        <div className="two">
          <Settings container={c} />
          <DeviceKeys containerId={c.containerId} />
        </div>
      ) : null}
    </section>
  );
}

type ContainerT = InferResponseType<(typeof api.v1.containers)[":containerId"]["$get"], 200>["container"];
type ForecastT = ContainerT["forecast"];

/** The forecast in words: how fast it empties, when it reaches the threshold and empties. */
export function outlookText(f: NonNullable<ForecastT>, unit: string | null): string {
  if (f.status !== "ok") return `No forecast yet: ${f.message.charAt(0).toLowerCase()}${f.message.slice(1)}.`;
  const toThreshold = f.daysToThreshold ?? null;
  const toEmpty = f.daysOfSupply ?? null;
  const when =
    toThreshold === null
      ? "the threshold is further than a year away"
      : toThreshold <= 0
        ? "the threshold has been reached"
        : `about ${formatDays(toThreshold)} to the threshold`;
  const empty = toEmpty === null ? "" : `, ${formatDays(toEmpty)} to empty`;
  const quantity = f.quantityPerDay !== null ? ` (${Math.round(f.quantityPerDay)} ${unit ?? f.unit ?? ""} a day)` : "";
  return `Uses ${formatFigure(f.ratePerDay ?? 0)} points a day${quantity}: ${when}${empty}, counted from the newest reading.`;
}

function Outlook({ container: c }: { container: ContainerT }) {
  const f = c.forecast;
  if (!f) return null;
  const lead = c.leadTimeHours ?? c.partnerLeadTimeHours ?? 0;
  return (
    <section className="panel outlook" aria-labelledby="outlook-title">
      <h2 id="outlook-title">Forecast</h2>
      <p data-outlook={f.status}>{outlookText(f, c.unit)}</p>
      {f.status === "ok" ? (
        <dl className="facts">
          <div>
            <dt>Threshold reached</dt>
            <dd>
              <Time at={f.thresholdAt} />
              <span className="muted small block">
                p10–p90: {formatTime(f.thresholdAtP10)} – {formatTime(f.thresholdAtP90)}
              </span>
            </dd>
          </div>
          <div>
            <dt>Empty</dt>
            <dd>
              <Time at={f.emptyAt} />
              <span className="muted small block">
                p10–p90: {formatTime(f.emptyAtP10)} – {formatTime(f.emptyAtP90)}
              </span>
            </dd>
          </div>
          <div>
            <dt>Since the last refill</dt>
            <dd>
              <Time at={f.since} />
              <span className="muted small block">{f.readings} readings</span>
            </dd>
          </div>
          <div>
            <dt>Orders ahead</dt>
            <dd>
              {lead > 0
                ? `${lead} h before the threshold${c.leadTimeHours === null ? " (the partner's default)" : ""}${c.forecastArmed ? "" : ", paused until the next refill"}`
                : "Off: orders open at the threshold"}
            </dd>
          </div>
        </dl>
      ) : null}
    </section>
  );
}
type OrderT = NonNullable<ContainerT["activeOrder"]>;
type EventT = InferResponseType<(typeof api.v1.containers)[":containerId"]["events"]["$get"], 200>["events"][number];

function ActiveOrder({
  containerId,
  order,
  paused,
  threshold,
  canAct,
}: {
  containerId: string;
  order: OrderT | null;
  /** Automatic ordering waits for a reading above the threshold (an order was closed by hand). */
  paused: boolean;
  threshold: number;
  canAct: boolean;
}) {
  const queries = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [note, setNote] = useState("");
  const done = () => {
    setConfirming(false);
    setNote("");
    return queries.invalidateQueries({ queryKey: ["container", containerId] });
  };
  const open = useMutation({
    mutationFn: () => data(api.v1.containers[":containerId"].orders.$post({ param: { containerId } })),
    onSuccess: done,
    onError: done,
  });
  const close = useMutation({
    mutationFn: (orderId: string) =>
      data(
        api.v1.containers[":containerId"].orders[":orderId"].close.$post({
          param: { containerId, orderId },
          json: note.trim() ? { note: note.trim() } : {},
        }),
      ),
    onSuccess: done,
  });
  return (
    <div className={`order-card ${order ? "active" : ""}`} aria-live="polite">
      {order ? (
        <>
          <div>
            <strong>Active order</strong> <span className="mono">{order.id}</span>{" "}
            <Badge kind="order">{order.fulfilment}</Badge>
            <div className="muted small">
              Opened <Time at={order.openedAt} />{" "}
              {order.source === "auto"
                ? "by the container, on a reading"
                : order.source === "forecast"
                  ? "by the forecast"
                  : order.source === "partner"
                    ? `by partner ${order.partnerId ?? order.openedBy}`
                    : `by hand by ${order.openedBy}`}{" "}
              at {formatPercent(order.fillAtOpen)}
              {order.thresholdAtOpen !== null ? `, threshold ${order.thresholdAtOpen} %` : ""}
              {order.source === "forecast" && order.forecast?.thresholdAt
                ? `; the forecast then reached the threshold ${formatTime(order.forecast.thresholdAt)}`
                : ""}
            </div>
          </div>
          {canAct && !confirming ? (
            <button type="button" className="danger" onClick={() => setConfirming(true)}>
              Close order…
            </button>
          ) : null}
          {canAct && confirming ? (
            <form
              className="confirm-close"
              onSubmit={(e) => {
                e.preventDefault();
                close.mutate(order.id);
              }}
            >
              <p>
                Close this order? Automatic ordering then waits until the fill is back above the threshold ({threshold}{" "}
                %).
              </p>
              <label>
                Reason (optional){" "}
                <input value={note} maxLength={500} onChange={(e) => setNote(e.target.value)} placeholder="why" />
              </label>
              <button type="submit" className="danger" disabled={close.isPending}>
                {close.isPending ? "Closing…" : "Close order"}
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep it open
              </button>
            </form>
          ) : null}
        </>
      ) : (
        <>
          <div>
            <strong>No active order.</strong>{" "}
            <span className="muted small" data-testid="auto-order">
              {paused
                ? `Automatic ordering is paused until the fill rises above the threshold (${threshold} %), because an order was closed by hand. Open one by hand if it is needed.`
                : "One opens by itself when the fill drops below the threshold."}
            </span>
          </div>
          {canAct ? (
            <button type="button" disabled={open.isPending} onClick={() => open.mutate()}>
              {open.isPending ? "Opening…" : "Open order"}
            </button>
          ) : null}
        </>
      )}
      <FormProblem error={open.error ?? close.error} />
    </div>
  );
}

/** From Postgres: read again whenever the fleet stream says Postgres has a newer version (`projected`). */
function History({
  containerId,
  projected,
  forecast,
  anomalies,
}: {
  containerId: string;
  projected: number;
  forecast: ForecastT;
  anomalies: ContainerT["anomalies"];
}) {
  const marks = useMemo(
    () => anomalies.map((a) => ({ at: a.measuredAt ?? a.raisedAt, label: ANOMALY_LABEL[a.kind] ?? a.kind })),
    [anomalies],
  );
  const [range, setRange] = useState<Range>("24h");
  // The range ends now, and "now" moves on with each version Postgres has. "All" starts at the
  // oldest reading by when it was measured (a sensor's buffered readings included), as the API finds it.
  const [asOf, setAsOf] = useState(() => Date.now());
  useEffect(() => setAsOf(Date.now()), [projected]);
  const from = useMemo(
    () => (range === "all" ? undefined : new Date(asOf - RANGE_HOURS[range] * 3600_000).toISOString()),
    [range, asOf],
  );
  const history = useQuery({
    queryKey: ["container", containerId, "history", range, projected],
    queryFn: () =>
      data(
        api.v1.containers[":containerId"].history.$get({
          param: { containerId },
          query: {
            ...(from === undefined ? { all: "true" } : { from }),
            to: new Date(Date.now() + 1000).toISOString(),
            points: "600",
          },
        }),
      ),
    placeholderData: (previous) => previous,
  });
  return (
    <section className="panel" aria-labelledby="history-title">
      <div className="panel-head">
        <h2 id="history-title">Fill history</h2>
        <div className="segmented" role="group" aria-label="Range">
          {(Object.keys(RANGE_LABEL) as Range[]).map((r) => (
            <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
              {RANGE_LABEL[r]}
            </button>
          ))}
        </div>
      </div>
      {history.isError ? (
        <Failed error={history.error} retry={() => history.refetch()} />
      ) : !history.data ? (
        <Loading what="the history" />
      ) : history.data.points.length === 0 ? (
        <Empty>No readings in this range.</Empty>
      ) : (
        <>
          <FillChart history={history.data} forecast={forecast?.status === "ok" ? forecast : null} anomalies={marks} />
          <p className="muted small">
            {history.data.bucketSeconds === null
              ? plural(history.data.points.length, "reading")
              : `${plural(history.data.points.length, "bucket")} of ${Math.round(history.data.bucketSeconds / 60)} min (mean, min–max band)`}
            {history.data.orders.length
              ? ` · ${plural(history.data.orders.length, "order")}: red dashes opened, green closed`
              : ""}
            {forecast?.status === "ok" ? " · orange: the forecast, with its p10–p90 band" : ""}
            {marks.length ? ` · purple: ${marks.length} open anomal${marks.length === 1 ? "y" : "ies"}` : ""}
          </p>
          <CsvDownload
            url={api.v1.containers[":containerId"].readings.$url({
              param: { containerId },
              query: { from: history.data.from, to: history.data.to, format: "csv" },
            })}
            fallbackName={`readings-${containerId}.csv`}
          />
        </>
      )}
    </section>
  );
}

/** What the anomaly rules said of this container, open ones first, each dismissable by an operator. */
function Anomalies({ containerId, version, canAct }: { containerId: string; version: number; canAct: boolean }) {
  const queries = useQueryClient();
  const list = useQuery({
    queryKey: ["container", containerId, "anomalies", version],
    queryFn: () => data(api.v1.anomalies.$get({ query: { containerId, limit: "20" } })),
    placeholderData: (previous) => previous,
  });
  const dismiss = useMutation({
    mutationFn: (anomalyId: string) =>
      data(
        api.v1.containers[":containerId"].anomalies[":anomalyId"].dismiss.$post({ param: { containerId, anomalyId } }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: ["container", containerId] }),
  });
  if (!list.data || list.data.anomalies.length === 0) return null;
  const items = [...list.data.anomalies].sort((a, b) => Number(b.status === "open") - Number(a.status === "open"));
  return (
    <section className="panel" aria-labelledby="anomalies-title">
      <h2 id="anomalies-title">Anomalies</h2>
      <ul className="list">
        {items.map((a) => (
          <li key={a.id} data-anomaly={a.kind} data-status={a.status}>
            <div>
              <Badge kind={a.status === "open" ? "anomaly" : a.status}>{ANOMALY_LABEL[a.kind]}</Badge> {a.message}
            </div>
            <div className="muted small">
              Seen <Time at={a.measuredAt ?? a.raisedAt} />
              {a.closedAt ? (
                <>
                  {" "}
                  · {a.status} <Time at={a.closedAt} /> by {a.closedBy}
                </>
              ) : null}
            </div>
            {a.status === "open" && canAct ? (
              <button type="button" disabled={dismiss.isPending} onClick={() => dismiss.mutate(a.id)}>
                Dismiss
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      <FormProblem error={dismiss.error} />
    </section>
  );
}

/** The alerts about this container or its orders that are not resolved, live; none: no panel. */
function ContainerAlerts({ containerId, canAct }: { containerId: string; canAct: boolean }) {
  const { alerts } = useAlerts();
  const mine = useMemo(
    () => alertsToShow(alerts, { view: "open", severity: "all", containerId }),
    [alerts, containerId],
  );
  if (mine.length === 0) return null;
  return (
    <section className="panel" aria-labelledby="container-alerts-title">
      <div className="panel-head">
        <h2 id="container-alerts-title">Alerts</h2>
        <Link href={`/alerts?container=${encodeURIComponent(containerId)}`} className="small">
          All of this container's alerts
        </Link>
      </div>
      <ul className="alert-list" aria-label="This container's alerts">
        {mine.map((a) => (
          <AlertItem key={a.id} alert={a} focused={false} canAct={canAct} />
        ))}
      </ul>
    </section>
  );
}

function Orders({ containerId, version }: { containerId: string; version: number }) {
  const orders = useQuery({
    queryKey: ["container", containerId, "orders", version],
    queryFn: () =>
      data(api.v1.containers[":containerId"].orders.$get({ param: { containerId }, query: { limit: "50" } })),
    placeholderData: (previous) => previous,
  });
  return (
    <section className="panel" aria-labelledby="orders-title">
      <h2 id="orders-title">Orders</h2>
      {orders.isError ? (
        <Failed error={orders.error} retry={() => orders.refetch()} />
      ) : !orders.data ? (
        <Loading what="orders" />
      ) : orders.data.orders.length === 0 ? (
        <Empty>No orders yet.</Empty>
      ) : (
        <ul className="list">
          {orders.data.orders.map((o) => (
            <li key={o.id}>
              <div>
                <Badge kind={o.status}>{o.status}</Badge> <span className="mono small">{o.id}</span>
              </div>
              <div className="muted small">
                Opened <Time at={o.openedAt} /> {whoActed(o.openedBy)} at {formatPercent(o.fillAtOpen)}
                {o.closedAt ? (
                  <>
                    {" "}
                    · closed <Time at={o.closedAt} /> {whoActed(o.closedBy ?? "")} (
                    {o.closeReason?.replaceAll("_", " ")}) at {formatPercent(o.fillAtClose)}
                  </>
                ) : null}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

const EVENTS_SHOWN = 50;

function describe(e: EventT): string {
  switch (e.type) {
    case "reading.recorded":
      return `Reading ${e.reading.fillPercent} %${e.outcome === "stale" ? " (stale: older than the last)" : ""}${e.refill ? " (a refill)" : ""}${e.reading.battery !== undefined ? `, battery ${e.reading.battery} %` : ""}`;
    case "order.opened":
      return `Order opened at ${formatPercent(e.order.fillAtOpen)}${
        e.order.source === "forecast" && e.order.forecast?.thresholdAt
          ? ` by the forecast (threshold ${formatTime(e.order.forecast.thresholdAt)})`
          : ""
      }`;
    case "order.closed":
      return `Order closed (${e.closeReason.replaceAll("_", " ")})${e.note ? `: “${e.note}”` : ""}`;
    case "order.fulfilment_changed":
      return `Order ${e.from} → ${e.to}${e.partnerId ? ` (partner ${e.partnerId})` : ""}${e.reason ? `: ${e.reason}` : ""}${e.vehicle ? `, vehicle ${e.vehicle}` : ""}${e.eta ? `, ETA ${formatTime(e.eta)}` : ""}${e.deliveryNote ? `, delivery note ${e.deliveryNote}` : ""}`;
    case "order.lines_set":
      return `Order lines: ${e.lines.map((l) => `${l.quantity} ${l.unit} ${l.product}`).join(", ") || "none"}`;
    case "order.delivery_corrected":
      return `Delivery corrected by partner ${e.partnerId} to ${e.lines
        .map((l) => `${l.quantity} ${l.unit} ${l.product}`)
        .join(", ")} (was ${e.previous.map((l) => `${l.quantity} ${l.unit}`).join(", ") || "none"}): ${e.reason}`;
    case "anomaly.raised":
      return `Anomaly: ${e.anomaly.message}`;
    case "anomaly.closed":
      return `Anomaly ${e.anomaly.status}: ${ANOMALY_LABEL[e.anomaly.kind] ?? e.anomaly.kind}`;
    case "settings.changed":
      return `Settings: ${Object.entries(e.changes)
        .map(
          ([k, v]) => `${k} ${JSON.stringify(e.previous[k as keyof typeof e.previous] ?? null)} → ${JSON.stringify(v)}`,
        )
        .join(", ")}`;
  }
}
const fetchEvents = (containerId: string, after: number) =>
  data(
    api.v1.containers[":containerId"].events.$get({
      param: { containerId },
      query: { after: String(after), limit: String(EVENTS_SHOWN) },
    }),
  );

function Events({ containerId, version }: { containerId: string; version: number }) {
  const events = useQuery({
    queryKey: ["container", containerId, "events", version],
    queryFn: () => fetchEvents(containerId, Math.max(0, version - EVENTS_SHOWN)),
    placeholderData: (p) => p,
  });
  return (
    <section className="panel" aria-labelledby="events-title">
      <h2 id="events-title">Event log</h2>
      {events.isError ? (
        <Failed error={events.error} retry={() => events.refetch()} />
      ) : !events.data ? (
        <Loading what="events" />
      ) : events.data.events.length === 0 ? (
        <Empty>Nothing has happened yet.</Empty>
      ) : (
        <ol className="list events" reversed>
          {[...events.data.events].reverse().map((e) => (
            <li key={e.id}>
              <div>{describe(e)}</div>
              <div className="muted small">
                <Time at={e.at} /> ·{" "}
                {e.actor.kind === "device"
                  ? `device ${events.data.actors[e.actor.id] ? `“${events.data.actors[e.actor.id]}”` : e.actor.id}`
                  : `${e.actor.kind} ${e.actor.id}`}
              </div>
            </li>
          ))}
        </ol>
      )}
      {version > EVENTS_SHOWN ? (
        <p className="muted small">
          The latest {EVENTS_SHOWN} of {version} events.
        </p>
      ) : null}
    </section>
  );
}

function Settings({ container: c }: { container: ContainerT }) {
  const queries = useQueryClient();
  const [form, setForm] = useState(() => ({
    name: c.name ?? "",
    threshold: String(c.threshold),
    capacity: c.capacity === null ? "" : String(c.capacity),
    lat: c.registeredLocation ? String(c.registeredLocation.lat) : "",
    lon: c.registeredLocation ? String(c.registeredLocation.lon) : "",
    interval: c.reportIntervalSeconds === null ? "" : String(c.reportIntervalSeconds / 60),
    unit: c.unit ?? "",
    leadTimeHours: c.leadTimeHours === null ? "" : String(c.leadTimeHours),
    refillRise: String(c.refillRise),
  }));
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: () => {
      const num = (s: string) => (s.trim() === "" ? null : Number(s));
      const lat = num(form.lat);
      const lon = num(form.lon);
      const minutes = num(form.interval);
      return data(
        api.v1.containers[":containerId"].$put({
          param: { containerId: c.containerId },
          json: {
            name: form.name.trim() === "" ? null : form.name.trim(),
            threshold: Number(form.threshold),
            capacity: num(form.capacity),
            location: lat === null && lon === null ? null : { lat: lat ?? NaN, lon: lon ?? NaN },
            reportIntervalSeconds: minutes === null ? null : Math.round(minutes * 60),
            unit: form.unit.trim() === "" ? null : form.unit.trim(),
            leadTimeHours: num(form.leadTimeHours),
            refillRise: num(form.refillRise) ?? 10,
          },
        }),
      );
    },
    onSuccess: () => {
      setSaved(true);
      void queries.invalidateQueries({ queryKey: ["container", c.containerId] });
    },
  });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onChange: (e: { target: { value: string } }) => (
      setSaved(false),
      setForm((f) => ({ ...f, [key]: e.target.value }))
    ),
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate();
  }
  return (
    <section className="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form className="form" onSubmit={submit}>
        <label>
          Name
          <input {...field("name")} maxLength={100} />
        </label>
        <label>
          Threshold (%)
          <input {...field("threshold")} type="number" min={0} max={100} step="any" required />
          <span className="hint" data-testid="threshold-hint">
            {thresholdHint(c, Number(form.threshold))}
          </span>
        </label>
        <label>
          Capacity
          <input {...field("capacity")} type="number" min={0} step="any" />
        </label>
        <label>
          Unit
          <input {...field("unit")} maxLength={20} placeholder="l, kg, t" />
          <span className="hint">Of the capacity and of the goods ordered; the forecast says quantities in it.</span>
        </label>
        <label>
          Order ahead (hours before the threshold)
          <input
            {...field("leadTimeHours")}
            type="number"
            min={0}
            max={2160}
            step="any"
            placeholder={
              c.partnerLeadTimeHours === null ? "0 (no partner default)" : `${c.partnerLeadTimeHours} (partner default)`
            }
          />
          <span className="hint">
            0: an order opens when the fill falls below the threshold. More: it opens when the forecast reaches the
            threshold within this many hours, so the delivery can arrive in time. Empty: the partner&apos;s default.
          </span>
        </label>
        <label>
          Refill rise (points)
          <input {...field("refillRise")} type="number" min={1} max={100} step="any" />
          <span className="hint">
            A rise of at least this much is a refill: it starts a new forecast and closes an order the forecast opened.
          </span>
        </label>
        <fieldset>
          <legend>Registered location</legend>
          <label>
            Latitude
            <input {...field("lat")} type="number" min={-90} max={90} step="any" />
          </label>
          <label>
            Longitude
            <input {...field("lon")} type="number" min={-180} max={180} step="any" />
          </label>
        </fieldset>
        <label>
          Expected report interval (minutes)
          <input {...field("interval")} type="number" min={1} step="any" placeholder="60 (default)" />
        </label>
        <FormProblem error={save.error} />
        <div className="actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save settings"}
          </button>
          {saved ? (
            <span role="status" className="ok-note">
              Saved
            </span>
          ) : null}
        </div>
      </form>
    </section>
  );
}
