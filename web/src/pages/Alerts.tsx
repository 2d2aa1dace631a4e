import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useSearch } from "wouter";
import { alertsToShow, type Alert, type AlertView, type Severity } from "../alerts-model";
import { api, data } from "../api";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
import { can, useSession } from "../session";
import { alertStore, useAlerts } from "../stores";

const VIEWS: { view: AlertView; label: string }[] = [
  { view: "open", label: "Open" },
  { view: "firing", label: "Firing" },
  { view: "acknowledged", label: "Taken" },
  { view: "resolved", label: "Resolved" },
  { view: "all", label: "All" },
];
const SEVERITIES: Severity[] = ["critical", "warning", "info"];
const CONTAINER_RULES = new Set(["silent", "battery", "fillDrop"]);
const ORDER_RULES = new Set(["notAccepted", "assemblingTooLong", "overdue", "noPartner"]);

/** What the monitor found, live over the alert stream: who has taken what, and what was sent to whom. */
export function AlertsPage() {
  const person = useSession();
  const { alerts, loaded, failure } = useAlerts();
  const search = new URLSearchParams(useSearch());
  const focus = search.get("id");
  const [view, setView] = useState<AlertView>(focus ? "all" : "open");
  const [severity, setSeverity] = useState<Severity | "all">("all");
  const list = useMemo(() => alertsToShow(alerts, view, severity), [alerts, view, severity]);
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
        <div className="filters">
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
        </div>
      </div>
      {failure && !loaded ? (
        <Failed error={failure} retry={() => void alertStore.load()} />
      ) : !loaded ? (
        <Loading what="alerts" />
      ) : list.length === 0 ? (
        <Empty>
          {view === "open"
            ? "Nothing needs anyone. The monitor looks at the fleet and the order flow every minute."
            : "Nothing here."}
        </Empty>
      ) : (
        <ul className="alert-list" aria-label="Alerts">
          {list.map((a) => (
            <AlertItem key={a.id} alert={a} focused={a.id === focus} canAct={can(person, "operator")} />
          ))}
        </ul>
      )}
      <Messages />
      {can(person, "admin") ? <WhoIsTold /> : null}
    </section>
  );
}

function Subject({ alert }: { alert: Alert }) {
  if (CONTAINER_RULES.has(alert.rule))
    return <Link href={`/containers/${encodeURIComponent(alert.subject)}`}>{alert.subject}</Link>;
  if (ORDER_RULES.has(alert.rule)) return <Link href={`/orders`}>{alert.subject}</Link>;
  if (alert.rule === "deadLetters") return <Link href="/admin/dead-letters">dead letters</Link>;
  if (alert.rule === "errorsGrowing") return <Link href="/errors">{alert.subject}</Link>;
  return <span className="mono">{alert.subject}</span>;
}

function AlertItem({ alert: a, focused, canAct }: { alert: Alert; focused: boolean; canAct: boolean }) {
  const ack = useMutation({
    mutationFn: () => data(api.v1.alerts[":id"].ack.$post({ param: { id: a.id } })),
    onSuccess: (answer) => alertStore.apply(answer.alert),
  });
  const silence = useMutation({
    mutationFn: (hours: number) =>
      data(
        api.v1.alerts[":id"].silence.$post({
          param: { id: a.id },
          json: { until: new Date(Date.now() + hours * 3600_000).toISOString() },
        }),
      ),
    onSuccess: (answer) => alertStore.apply(answer.alert),
  });
  const silenced = a.silencedUntil && Date.parse(a.silencedUntil) > Date.now();
  return (
    <li
      className={`alert-item sev-${a.severity} state-${a.state}${focused ? " focused" : ""}`}
      data-alert-id={a.id}
      data-state={a.state}
    >
      <div className="alert-line">
        <Badge kind={a.severity}>{a.severity}</Badge>
        <strong className="alert-message">{a.message}</strong>
        <Badge kind={a.state}>{a.state === "acknowledged" ? "taken" : a.state}</Badge>
        {a.escalated && a.state !== "resolved" ? <Badge kind="escalated">escalated</Badge> : null}
      </div>
      <div className="muted small">
        {a.rule} · <Subject alert={a} /> · fired <Time at={a.firedAt} />
        {a.repeats ? ` · repeated ${a.repeats}×` : ""}
        {a.acknowledgedBy ? (
          <>
            {" "}
            · taken by {a.acknowledgedBy} <Time at={a.acknowledgedAt} />
          </>
        ) : null}
        {silenced ? (
          <>
            {" "}
            · silenced until <Time at={a.silencedUntil} />
          </>
        ) : null}
        {a.resolvedAt ? (
          <>
            {" "}
            · resolved <Time at={a.resolvedAt} />
          </>
        ) : null}
      </div>
      {canAct && a.state !== "resolved" ? (
        <div className="actions">
          {a.state === "firing" ? (
            <button type="button" className="small primary" disabled={ack.isPending} onClick={() => ack.mutate()}>
              Acknowledge
            </button>
          ) : null}
          <button type="button" className="small" disabled={silence.isPending} onClick={() => silence.mutate(1)}>
            Silence 1 h
          </button>
          <button type="button" className="small" disabled={silence.isPending} onClick={() => silence.mutate(8)}>
            Silence 8 h
          </button>
          <FormProblem error={ack.error ?? silence.error} />
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
        <div className="table-wrap">
          <table className="table" aria-label="Messages sent">
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
                  <td>
                    <Time at={n.finishedAt} />
                  </td>
                  <td>
                    <span className="muted">{n.channel === "telegram" ? "Telegram" : "Email"}</span>{" "}
                    <span className="mono">{n.target}</span>
                  </td>
                  <td>
                    {n.kind}{" "}
                    <span className="muted">
                      · {n.subject ?? (n.alertId ? alerts.get(n.alertId)?.message : null) ?? ""}
                    </span>
                  </td>
                  <td>
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

type Settings = {
  telegram: Record<Severity, { primary: string | null; escalation: string | null }>;
  email: { alerts: Record<Severity, string[]>; newErrors: string[] };
};

const list = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** Admins: which chats and addresses hear about each severity. */
function WhoIsTold() {
  const current = useQuery({
    queryKey: ["notification-settings"],
    queryFn: () => data(api.v1["notification-settings"].$get()),
  });
  const queries = useQueryClient();
  const [draft, setDraft] = useState<Settings | null>(null);
  // The address lists as typed (comma-separated), turned into lists when saved.
  const [emails, setEmails] = useState<Record<Severity | "newErrors", string> | null>(null);
  const adopt = (settings: Settings) => {
    setDraft(settings);
    setEmails({
      critical: settings.email.alerts.critical.join(", "),
      warning: settings.email.alerts.warning.join(", "),
      info: settings.email.alerts.info.join(", "),
      newErrors: settings.email.newErrors.join(", "),
    });
  };
  useEffect(() => {
    if (current.data && !draft) adopt(current.data.settings as Settings);
  }, [current.data, draft]);
  const save = useMutation({
    mutationFn: (settings: Settings) => data(api.v1["notification-settings"].$put({ json: { settings } })),
    onSuccess: (answer) => {
      adopt(answer.settings as Settings);
      void queries.invalidateQueries({ queryKey: ["notification-settings"] });
    },
  });
  if (current.isError) return <Failed error={current.error} retry={() => void current.refetch()} />;
  if (!draft || !emails) return <Loading what="notification settings" />;
  const chat = (sev: Severity, which: "primary" | "escalation", value: string) =>
    setDraft({
      ...draft,
      telegram: {
        ...draft.telegram,
        [sev]: { ...draft.telegram[sev], [which]: value.trim() === "" ? null : value.trim() },
      },
    });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({
      ...draft,
      email: {
        alerts: { critical: list(emails.critical), warning: list(emails.warning), info: list(emails.info) },
        newErrors: list(emails.newErrors),
      },
    });
  };
  return (
    <section className="panel" aria-labelledby="told-title">
      <h2 id="told-title">Who is told</h2>
      <form onSubmit={submit} className="settings-grid">
        <table className="table">
          <thead>
            <tr>
              <th>Severity</th>
              <th>Telegram chat</th>
              <th>Escalation chat</th>
              <th>Email (comma-separated)</th>
            </tr>
          </thead>
          <tbody>
            {SEVERITIES.map((sev) => (
              <tr key={sev}>
                <th scope="row">
                  <Badge kind={sev}>{sev}</Badge>
                </th>
                <td>
                  <input
                    aria-label={`${sev} Telegram chat`}
                    value={draft.telegram[sev].primary ?? ""}
                    placeholder="-100…"
                    onChange={(e) => chat(sev, "primary", e.target.value)}
                  />
                </td>
                <td>
                  <input
                    aria-label={`${sev} escalation chat`}
                    value={draft.telegram[sev].escalation ?? ""}
                    placeholder="-100…"
                    onChange={(e) => chat(sev, "escalation", e.target.value)}
                  />
                </td>
                <td>
                  <input
                    aria-label={`${sev} email`}
                    value={emails[sev]}
                    onChange={(e) => setEmails({ ...emails, [sev]: e.target.value })}
                  />
                </td>
              </tr>
            ))}
            <tr>
              <th scope="row">New errors</th>
              <td colSpan={2} className="muted small">
                by email only
              </td>
              <td>
                <input
                  aria-label="new errors email"
                  value={emails.newErrors}
                  onChange={(e) => setEmails({ ...emails, newErrors: e.target.value })}
                />
              </td>
            </tr>
          </tbody>
        </table>
        <p className="muted small">
          Repeats go to the Telegram chat only; fired, escalated and resolved alerts also by email, at most one digest
          per address every 5 minutes.
        </p>
        <FormProblem error={save.error} />
        <button type="submit" className="primary" disabled={save.isPending}>
          Save
        </button>
        {save.isSuccess ? <span className="muted small"> Saved.</span> : null}
      </form>
    </section>
  );
}
