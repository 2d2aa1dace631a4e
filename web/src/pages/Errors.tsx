import { useMutation } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { ERROR_SOURCES, type ErrorSource } from "../../../domain/errors";
import { api, data } from "../api";
import { ErrorDetail } from "../components/ErrorDetail";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
import { can, useSession } from "../session";
import { byLastSeen, errorStore, useErrors } from "../stores";

type Show = "open" | "resolved" | "all";

/** Every failure of the system, live over the error stream (with catch-up after a reconnect). */
export function ErrorsPage() {
  const person = useSession();
  const { records, loaded, failure, openCount } = useErrors();
  const [show, setShow] = useState<Show>("open");
  const [source, setSource] = useState<ErrorSource | "">("");
  const [expanded, setExpanded] = useState<string | null>(null);
  const list = useMemo(
    () => byLastSeen(records).filter((r) => (show === "all" || r.status === show) && (!source || r.source === source)),
    [records, show, source],
  );
  const resolve = useMutation({
    mutationFn: (id: string) => data(api.v1.errors[":id"].resolve.$post({ param: { id } })),
    onSuccess: (answer) => errorStore.apply(answer.record),
  });

  return (
    <section className="page" aria-labelledby="errors-title">
      <div className="panel-head">
        <h1 id="errors-title">
          Errors {openCount !== null ? <span className="muted">({openCount} open)</span> : null}
        </h1>
        <div className="actions">
          <label>
            Source{" "}
            <select aria-label="Source" value={source} onChange={(e) => setSource(e.target.value as ErrorSource | "")}>
              <option value="">Any</option>
              {ERROR_SOURCES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <div className="segmented" role="group" aria-label="Show">
            {(["open", "resolved", "all"] as Show[]).map((s) => (
              <button key={s} type="button" aria-pressed={show === s} onClick={() => setShow(s)}>
                {s[0]!.toUpperCase() + s.slice(1)}
              </button>
            ))}
          </div>
        </div>
      </div>
      <FormProblem error={resolve.error} />
      {failure && !loaded ? (
        <Failed error={failure} retry={() => void errorStore.load()} />
      ) : !loaded ? (
        <Loading what="error records" />
      ) : list.length === 0 ? (
        <Empty>
          {show === "open" && !source
            ? "No open errors. Every failure of the system appears here the moment it happens."
            : "Nothing here."}
        </Empty>
      ) : (
        <ul className="error-list" aria-label="Error records">
          {list.map((r) => (
            <li key={r.id} className={`error-item ${r.status}`} data-error-id={r.id}>
              <div className="error-line">
                <button
                  type="button"
                  className="link"
                  aria-expanded={expanded === r.id}
                  onClick={() => setExpanded(expanded === r.id ? null : r.id)}
                >
                  <strong>{r.name}</strong>: {r.message}
                </button>
                <span className="error-meta">
                  <Badge kind={r.status}>{r.status}</Badge>
                  <span className="count" title="Times seen" data-count={r.count}>
                    ×{r.count}
                  </span>
                  <Badge kind="source">{r.source}</Badge>
                </span>
              </div>
              <div className="muted small">
                First seen <Time at={r.firstSeen} /> · last seen <Time at={r.lastSeen} />
                {r.resolvedAt && r.status === "resolved" ? (
                  <>
                    {" "}
                    · resolved <Time at={r.resolvedAt} /> by {r.resolvedBy}
                  </>
                ) : null}
              </div>
              {expanded === r.id ? <ErrorDetail record={r} /> : null}
              {r.status === "open" && can(person, "operator") ? (
                <button
                  type="button"
                  className="small"
                  disabled={resolve.isPending}
                  onClick={() => resolve.mutate(r.id)}
                >
                  Resolve
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
