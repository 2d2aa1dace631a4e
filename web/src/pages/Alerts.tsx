import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useSearch } from "wouter";
import { ruleTitle } from "../../../domain/monitor";
import {
  alertsToShow,
  groupAlerts,
  type AlertFilter,
  type AlertGroup,
  type AlertView,
  type Severity,
} from "../alerts-model";
import { api, data } from "../api";
import { AlertItem } from "../components/AlertItem";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
import { csvText } from "../../../domain/csv";
import { ALERT_CSV_COLUMNS } from "../../../domain/alerts";
import { summaryInWords } from "../../../domain/notifications";
import { saveText } from "../download";
import { can, useSession } from "../session";
import { alertStore, useAlerts } from "../stores";

const VIEWS: { view: AlertView; label: string }[] = [
  { view: "open", label: "Open" },
  { view: "firing", label: "Firing" },
  { view: "acknowledged", label: "Acknowledged" },
  { view: "resolved", label: "Resolved" },
  { view: "all", label: "All" },
];
const SEVERITIES: Severity[] = ["critical", "warning", "info"];
/** A group shows this many of its alerts until asked for all. */
const SHOWN = 10;

/**
 * What the monitor found, live over the alert stream: a card per rule with its subjects, found by
 * words, rule, container, state and severity; each alert or a whole card acknowledged or silenced.
 */
export function AlertsPage() {
  const person = useSession();
  const { alerts, loaded, failure } = useAlerts();
  const search = new URLSearchParams(useSearch());
  const focus = search.get("id");
  const [view, setView] = useState<AlertView>(focus ? "all" : "open");
  const [severity, setSeverity] = useState<Severity | "all">("all");
  const [rule, setRule] = useState<string>("all");
  const [text, setText] = useState("");
  // A container's page links here with ?container=: its alerts only, until the chip is cleared.
  const [container, setContainer] = useState(search.get("container"));
  const filter = useMemo<AlertFilter>(
    () => ({
      view,
      severity,
      text,
      ...(rule === "all" ? {} : { rule }),
      ...(container ? { containerId: container } : {}),
    }),
    [view, severity, rule, text, container],
  );
  const list = useMemo(() => alertsToShow(alerts, filter), [alerts, filter]);
  const narrowed = [text.trim(), container ?? ""].filter(Boolean).join("|");
  const groups = useMemo(() => groupAlerts(list), [list]);
  const rules = useMemo(() => [...new Set([...alerts.values()].map((a) => a.rule))].sort(), [alerts]);
  const firing = useMemo(() => [...alerts.values()].filter((a) => a.state === "firing").length, [alerts]);

  useEffect(() => {
    if (focus && loaded)
      document.querySelector(`[data-alert-id="${CSS.escape(focus)}"]`)?.scrollIntoView({ block: "center" });
  }, [focus, loaded]);

  return (
    <section className="page" aria-labelledby="alerts-title">
      <div className="panel-head">
        <h1 id="alerts-title">
          Alerts <span className="muted">({firing} firing)</span>
        </h1>
        <button
          type="button"
          className="link small"
          onClick={() => saveText("alerts.csv", csvText(ALERT_CSV_COLUMNS, list))}
          disabled={list.length === 0}
        >
          Download CSV ({list.length})
        </button>
      </div>
      <div className="filters alert-filters">
        <div className="segmented" role="group" aria-label="Show">
          {VIEWS.map((v) => (
            <button key={v.view} type="button" aria-pressed={view === v.view} onClick={() => setView(v.view)}>
              {v.label}
            </button>
          ))}
        </div>
        <label>
          Severity{" "}
          <select value={severity} onChange={(e) => setSeverity(e.target.value as Severity | "all")}>
            <option value="all">All</option>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Rule{" "}
          <select value={rule} onChange={(e) => setRule(e.target.value)}>
            <option value="all">All</option>
            {rules.map((r) => (
              <option key={r} value={r}>
                {ruleTitle(r)}
              </option>
            ))}
          </select>
        </label>
        {container ? (
          <button
            type="button"
            className="small chip"
            onClick={() => setContainer(null)}
            aria-label="Show every container's"
          >
            Container: <span className="mono">{container}</span> ✕
          </button>
        ) : null}
        <input
          type="search"
          aria-label="Find alerts"
          placeholder="Find: a container, an order, words…"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </div>
      {failure && !loaded ? (
        <Failed error={failure} retry={() => void alertStore.load()} />
      ) : !loaded ? (
        <Loading what="alerts" />
      ) : groups.length === 0 ? (
        <Empty>
          {view === "open" && !text && !container && rule === "all" && severity === "all"
            ? "Nothing needs anyone. The monitor looks at the fleet and the order flow every minute."
            : "No alert matches."}
        </Empty>
      ) : (
        <ul className="alert-groups" aria-label="Alerts by rule">
          {groups.map((g) => (
            <AlertGroupCard
              // A search or a container opens every card it leaves (each starts again when it changes).
              key={`${g.rule}:${narrowed}`}
              group={g}
              focus={focus}
              canAct={can(person, "operator")}
              startOpen={
                narrowed !== "" || groups.length === 1 || g.alerts.length <= 5 || g.alerts.some((a) => a.id === focus)
              }
            />
          ))}
        </ul>
      )}
      <Messages />
      {can(person, "admin") ? <WhoIsTold /> : null}
    </section>
  );
}

/** The API takes at most this many alerts a call. */
const BULK_MAX = 500;
const chunks = (ids: string[]) =>
  Array.from({ length: Math.ceil(ids.length / BULK_MAX) }, (_, i) => ids.slice(i * BULK_MAX, (i + 1) * BULK_MAX));

/** Acknowledge or silence these alerts, 500 to a call. */
function useBulk(ids: string[]) {
  const ack = useMutation({
    mutationFn: async () => {
      for (const part of chunks(ids))
        (await data(api.v1.alerts.ack.$post({ json: { ids: part } }))).alerts.forEach((a) => alertStore.apply(a));
    },
  });
  const silence = useMutation({
    mutationFn: async (hours: number) => {
      const until = new Date(Date.now() + hours * 3600_000).toISOString();
      for (const part of chunks(ids))
        (await data(api.v1.alerts.silence.$post({ json: { ids: part, until } }))).alerts.forEach((a) =>
          alertStore.apply(a),
        );
    },
  });
  return { ack, silence, busy: ack.isPending || silence.isPending, error: ack.error ?? silence.error };
}

function AlertGroupCard({
  group: g,
  focus,
  canAct,
  startOpen,
}: {
  group: AlertGroup;
  focus: string | null;
  canAct: boolean;
  startOpen: boolean;
}) {
  const [open, setOpen] = useState(startOpen);
  const [all, setAll] = useState(false);
  const firingIds = g.alerts.filter((a) => a.state === "firing").map((a) => a.id);
  const openIds = g.alerts.filter((a) => a.state !== "resolved").map((a) => a.id);
  const ackAll = useBulk(firingIds);
  const silenceAll = useBulk(openIds);
  const shown = all ? g.alerts : g.alerts.slice(0, SHOWN);
  const bodyId = `alert-group-${g.rule}`;
  return (
    <li className={`alert-group sev-${g.severity}`} data-rule={g.rule}>
      <div className="alert-group-head">
        <button
          type="button"
          className="link group-toggle"
          aria-expanded={open}
          aria-controls={open ? bodyId : undefined}
          onClick={() => setOpen(!open)}
        >
          <span aria-hidden="true">{open ? "▾" : "▸"}</span> {g.title}
        </button>
        <Badge kind={g.severity}>{g.severity}</Badge>
        <span className="muted small" data-testid="group-count">
          {g.alerts.length} {g.alerts.length === 1 ? "alert" : "alerts"}
          {g.firing ? ` · ${g.firing} firing` : ""}
        </span>
        {canAct && openIds.length > 0 ? (
          <span className="actions">
            {firingIds.length > 0 ? (
              <button
                type="button"
                className="small primary"
                disabled={ackAll.busy}
                aria-label={`Acknowledge all ${firingIds.length}: ${g.title}`}
                onClick={() => ackAll.ack.mutate()}
              >
                Acknowledge all {firingIds.length}
              </button>
            ) : null}
            <button
              type="button"
              className="small"
              disabled={silenceAll.busy}
              aria-label={`Silence all for 8 h: ${g.title}`}
              onClick={() => silenceAll.silence.mutate(8)}
            >
              Silence all 8 h
            </button>
            <FormProblem error={ackAll.error ?? silenceAll.error} />
          </span>
        ) : null}
      </div>
      {open ? (
        <div id={bodyId}>
          <ul className="alert-list" aria-label={g.title}>
            {shown.map((a) => (
              <AlertItem key={a.id} alert={a} focused={a.id === focus} canAct={canAct} />
            ))}
          </ul>
          {g.alerts.length > shown.length ? (
            <button type="button" className="link small" onClick={() => setAll(true)}>
              Show all {g.alerts.length}
            </button>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

/** The archive of what was sent (or given up), newest first; it follows the alerts as they change. */
function Messages() {
  const { alerts } = useAlerts();
  const messages = useQuery({
    queryKey: ["notifications"],
    queryFn: () => data(api.v1.notifications.$get({ query: { limit: "30" } })),
    refetchInterval: 10_000,
  });
  const queries = useQueryClient();
  // A change of any alert usually means a message is on its way: look again shortly after.
  useEffect(() => {
    const t = setTimeout(() => void queries.invalidateQueries({ queryKey: ["notifications"] }), 2000);
    return () => clearTimeout(t);
  }, [alerts, queries]);
  return (
    <section className="panel" aria-labelledby="messages-title">
      <div className="panel-head">
        <h2 id="messages-title">Messages sent</h2>
        {messages.data ? (
          <span className="muted small">
            waiting: {messages.data.waiting.telegram} Telegram, {messages.data.waiting.email} email
          </span>
        ) : null}
      </div>
      {messages.isError ? (
        <Failed error={messages.error} retry={() => void messages.refetch()} />
      ) : !messages.data ? (
        <Loading what="messages" />
      ) : messages.data.notifications.length === 0 ? (
        <Empty>No message has gone out yet.</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards" aria-label="Messages sent">
            <thead>
              <tr>
                <th>When</th>
                <th>To</th>
                <th>About</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              {messages.data.notifications.map((n) => (
                <tr key={n.id} data-status={n.status}>
                  <td data-label="When">
                    <Time at={n.finishedAt} />
                  </td>
                  <td data-label="To">
                    <span className="muted">{n.channel === "telegram" ? "Telegram" : "Email"}</span>{" "}
                    <span className="mono">{n.target}</span>
                  </td>
                  <td data-label="About" data-cell="about">
                    {/* One message for many alerts of one rule says what it was in words. */}
                    {(n.alertId === null ? summaryInWords(n.kind, n.text) : null) ?? (
                      <>
                        {n.kind}{" "}
                        <span className="muted">
                          · {n.subject ?? (n.alertId ? alerts.get(n.alertId)?.message : null) ?? ""}
                        </span>
                      </>
                    )}
                  </td>
                  <td data-label="Result">
                    <Badge kind={n.status === "sent" ? "resolved" : "open"}>{n.status}</Badge>{" "}
                    {n.status === "failed" ? <span className="small">{n.detail}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Who is told is set with the alert rules, on the admin's Alert rules tab. */
function WhoIsTold() {
  return (
    <section className="panel" aria-labelledby="told-title">
      <h2 id="told-title">Who is told</h2>
      <p>
        The Telegram chats and email addresses for each severity are set with the rules, in{" "}
        <Link href="/admin/alert-rules">Admin → Alert rules</Link>.
      </p>
    </section>
  );
}
