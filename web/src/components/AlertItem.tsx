// One alert as the alerts page and a container's page show it: what happened in words, what it is
// about (links to the container and the order), its history, and acknowledge or silence.
import { useMutation } from "@tanstack/react-query";
import { Link } from "wouter";
import type { Alert } from "../alerts-model";
import { api, data } from "../api";
import { alertStore } from "../stores";
import { Badge, FormProblem, Time } from "./ui";

const CONTAINER_RULES = new Set(["silent", "battery", "fillDrop", "anomaly"]);
const ORDER_RULES = new Set(["notAccepted", "assemblingTooLong", "overdue", "noPartner"]);

function Subject({ alert }: { alert: Alert }) {
  const container = alert.containerId ? (
    <Link href={`/containers/${encodeURIComponent(alert.containerId)}`}>{alert.containerId}</Link>
  ) : null;
  if (CONTAINER_RULES.has(alert.rule)) return container ?? <span className="mono">{alert.subject}</span>;
  if (ORDER_RULES.has(alert.rule))
    return (
      <>
        {container ? <>{container} · </> : null}
        <Link
          href={`/orders?${new URLSearchParams({ ...(alert.containerId ? { container: alert.containerId } : {}), order: alert.subject }).toString()}`}
          className="mono"
        >
          {alert.subject}
        </Link>
      </>
    );
  if (alert.rule === "deadLetters") return <Link href="/admin/dead-letters">dead letters</Link>;
  if (alert.rule === "errorsGrowing") return <Link href="/errors">{alert.subject}</Link>;
  return <span className="mono">{alert.subject}</span>;
}

export function AlertItem({ alert: a, focused, canAct }: { alert: Alert; focused: boolean; canAct: boolean }) {
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
        <Badge kind={a.state}>{a.state}</Badge>
        {a.escalated && a.state !== "resolved" ? <Badge kind="escalated">escalated</Badge> : null}
      </div>
      <div className="muted small">
        <Subject alert={a} /> · fired <Time at={a.firedAt} />
        {a.repeats ? ` · repeated ${a.repeats}×` : ""}
        {a.acknowledgedBy ? (
          <>
            {" "}
            · acknowledged by {a.acknowledgedBy} <Time at={a.acknowledgedAt} />
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
