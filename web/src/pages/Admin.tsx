import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "wouter";
import { api, data } from "../api";
import { DeviceKeys } from "../components/DeviceKeys";
import { AlertRulesAdmin } from "../components/admin/AlertRules";
import { Documents } from "../components/admin/Documents";
import { Partners } from "../components/admin/Partners";
import { PriceLists } from "../components/admin/PriceLists";
import { Badge, CsvDownload, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
import { AUDIT_ACTIONS, auditSentence, type AuditAction } from "../../../domain/access";
import { useSession, type Role } from "../session";

const TABS = [
  ["people", "People"],
  ["keys", "Device keys"],
  ["partners", "Partners"],
  ["prices", "Price lists"],
  ["documents", "Sales documents"],
  ["alert-rules", "Alert rules"],
  ["dead-letters", "Dead letters"],
  ["audit", "Audit"],
] as const;
const ROLES: Role[] = ["viewer", "assembler", "operator", "admin"];

export function AdminPage({ tab }: { tab: string }) {
  return (
    <section className="page" aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <nav className="tabs" aria-label="Admin">
        {TABS.map(([id, label]) => (
          <Link
            key={id}
            href={`/admin/${id}`}
            className={tab === id ? "active" : ""}
            aria-current={tab === id ? "page" : undefined}
          >
            {label}
          </Link>
        ))}
      </nav>
      {tab === "keys" ? (
        <DeviceKeys />
      ) : tab === "partners" ? (
        <Partners />
      ) : tab === "prices" ? (
        <PriceLists />
      ) : tab === "documents" ? (
        <Documents />
      ) : tab === "alert-rules" ? (
        <AlertRulesAdmin />
      ) : tab === "dead-letters" ? (
        <DeadLetters />
      ) : tab === "audit" ? (
        <Audit />
      ) : (
        <People />
      )}
    </section>
  );
}

function People() {
  const me = useSession()!;
  const queries = useQueryClient();
  const people = useQuery({ queryKey: ["users"], queryFn: () => data(api.v1.users.$get()) });
  const refresh = () => queries.invalidateQueries({ queryKey: ["users"] });
  const [form, setForm] = useState({ email: "", password: "", role: "viewer" as Role });
  const [shown, setShown] = useState<{ email: string; password: string } | null>(null);
  const add = useMutation({
    mutationFn: () =>
      data(api.v1.users.$post({ json: { email: form.email.trim(), password: form.password, role: form.role } })),
    onSuccess: () => {
      setForm({ email: "", password: "", role: "viewer" });
      void refresh();
    },
  });
  const change = useMutation({
    mutationFn: (p: { email: string; role?: Role; disabled?: boolean; telegramUserId?: number | null }) =>
      data(
        api.v1.users[":email"].$patch({
          param: { email: p.email },
          json: {
            ...(p.role ? { role: p.role } : {}),
            ...(p.disabled !== undefined ? { disabled: p.disabled } : {}),
            ...(p.telegramUserId !== undefined ? { telegramUserId: p.telegramUserId } : {}),
          },
        }),
      ),
    onSettled: refresh,
  });
  const reset = useMutation({
    mutationFn: (email: string) => data(api.v1.users[":email"].password.$post({ param: { email }, json: {} })),
    onSuccess: (answer) =>
      setShown(answer.temporaryPassword ? { email: answer.user.email, password: answer.temporaryPassword } : null),
    onSettled: refresh,
  });
  function submit(e: FormEvent) {
    e.preventDefault();
    add.mutate();
  }
  return (
    <section className="panel" aria-labelledby="people-title">
      <h2 id="people-title">People</h2>
      <form className="form inline" onSubmit={submit}>
        <label>
          Email
          <input
            type="email"
            required
            value={form.email}
            onChange={(e) => setForm({ ...form, email: e.target.value })}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            required
            minLength={12}
            autoComplete="new-password"
            value={form.password}
            onChange={(e) => setForm({ ...form, password: e.target.value })}
          />
        </label>
        <label>
          Role
          <select
            aria-label="Role"
            value={form.role}
            onChange={(e) => setForm({ ...form, role: e.target.value as Role })}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={add.isPending}>
          {add.isPending ? "Adding…" : "Add person"}
        </button>
      </form>
      <FormProblem error={add.error ?? change.error ?? reset.error} />
      {shown ? (
        <div className="secret" role="alert">
          <p>
            <strong>New password for {shown.email}.</strong> Give it to them now; it is not shown again.
          </p>
          <code data-secret="password">{shown.password}</code>
          <div className="actions">
            <button type="button" className="link" onClick={() => setShown(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      {people.isError ? (
        <Failed error={people.error} retry={() => people.refetch()} />
      ) : people.isPending ? (
        <Loading what="people" />
      ) : people.data.users.length === 0 ? (
        <Empty>No one yet.</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col" title="The Telegram user who may acknowledge alerts from a chat for this person">
                  Telegram user
                </th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {people.data.users.map((u) => (
                <tr key={u.email} className={u.disabled ? "revoked" : ""}>
                  <td data-label="Email">
                    {u.email}
                    {u.email === me.email ? <span className="muted small"> (you)</span> : null}
                  </td>
                  <td data-label="Role">
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      disabled={change.isPending}
                      onChange={(e) => change.mutate({ email: u.email, role: e.target.value as Role })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td data-label="State">
                    {u.disabled ? <Badge kind="closed">disabled</Badge> : <Badge kind="active">enabled</Badge>}
                  </td>
                  <td data-label="Telegram user">
                    <TelegramLink
                      email={u.email}
                      value={u.telegramUserId}
                      disabled={change.isPending}
                      save={(telegramUserId) => change.mutate({ email: u.email, telegramUserId })}
                    />
                  </td>
                  <td data-label="Added">
                    <Time at={u.createdAt} /> <span className="muted small">by {u.createdBy}</span>
                  </td>
                  <td className="actions">
                    <button
                      type="button"
                      className="small"
                      disabled={change.isPending}
                      onClick={() => change.mutate({ email: u.email, disabled: !u.disabled })}
                    >
                      {u.disabled ? "Enable" : "Disable"}
                    </button>
                    <button
                      type="button"
                      className="small"
                      disabled={reset.isPending}
                      onClick={() =>
                        confirm(`Reset the password of ${u.email}? Their sessions end.`) && reset.mutate(u.email)
                      }
                    >
                      Reset password
                    </button>
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

/** A person's Telegram user id (numeric), saved when the field is left or Enter is pressed; empty unlinks. */
function TelegramLink({
  email,
  value,
  disabled,
  save,
}: {
  email: string;
  value: number | null;
  disabled: boolean;
  save: (id: number | null) => void;
}) {
  const [text, setText] = useState(value === null ? "" : String(value));
  const commit = () => {
    const next = text.trim() === "" ? null : Number(text.trim());
    if (next !== null && !Number.isSafeInteger(next)) return;
    if (next !== value) save(next);
  };
  return (
    <input
      className="narrow"
      inputMode="numeric"
      pattern="[0-9]*"
      aria-label={`Telegram user of ${email}`}
      placeholder="none"
      value={text}
      disabled={disabled}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => e.key === "Enter" && commit()}
    />
  );
}

function DeadLetters() {
  const queries = useQueryClient();
  const [pending, setPending] = useState(true);
  const letters = useInfiniteQuery({
    queryKey: ["dead-letters", pending],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) =>
      data(
        api.v1["dead-letters"].$get({
          query: {
            limit: "50",
            ...(pending ? { pending: "true" as const } : {}),
            ...(pageParam ? { cursor: String(pageParam) } : {}),
          },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const replay = useMutation({
    mutationFn: (id: number) => data(api.v1["dead-letters"][":id"].replay.$post({ param: { id: String(id) } })),
    onSettled: () => queries.invalidateQueries({ queryKey: ["dead-letters"] }),
  });
  const rows = letters.data?.pages.flatMap((p) => p.deadLetters) ?? [];
  return (
    <section className="panel" aria-labelledby="dl-title">
      <div className="panel-head">
        <h2 id="dl-title">Dead letters</h2>
        <label className="check">
          <input type="checkbox" checked={pending} onChange={(e) => setPending(e.target.checked)} /> Only those not
          replayed
        </label>
      </div>
      <p className="muted small">
        Messages that exhausted their retries. Replay sends one back to its queue once the cause is fixed.
      </p>
      <FormProblem error={replay.error} />
      {letters.isError ? (
        <Failed error={letters.error} retry={() => letters.refetch()} />
      ) : letters.isPending ? (
        <Loading what="dead letters" />
      ) : rows.length === 0 ? (
        <Empty>No dead letters{pending ? " waiting" : ""}.</Empty>
      ) : (
        <ul className="list">
          {rows.map((d) => (
            <li key={d.id}>
              <div className="error-line">
                <span>
                  <strong>#{d.id}</strong> <span className="mono">{d.queue}</span> · {d.attempts} attempts ·{" "}
                  <Time at={d.receivedAt} />
                </span>
                {d.replayedAt ? (
                  <span className="muted small">
                    replayed <Time at={d.replayedAt} />
                  </span>
                ) : (
                  <button
                    type="button"
                    className="small"
                    disabled={replay.isPending || d.poison}
                    title={d.poison ? "It can never be written as it is" : undefined}
                    onClick={() => replay.mutate(d.id)}
                  >
                    Replay
                  </button>
                )}
              </div>
              {d.reason ? (
                <div className="small">
                  {d.poison ? <Badge kind="closed">poison</Badge> : null} {d.reason}
                </div>
              ) : null}
              <details>
                <summary className="small">Message</summary>
                <pre className="stack">{JSON.stringify(d.body, null, 2)}</pre>
              </details>
            </li>
          ))}
        </ul>
      )}
      {letters.hasNextPage ? (
        <button type="button" onClick={() => letters.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

function Audit() {
  const [action, setAction] = useState<AuditAction | "">("");
  const [actor, setActor] = useState("");
  const query = { ...(action ? { action } : {}), ...(actor.trim() ? { actor: actor.trim() } : {}) };
  const entries = useInfiniteQuery({
    queryKey: ["audit", query],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) =>
      data(
        api.v1.audit.$get({
          query: { limit: "100", ...query, ...(pageParam ? { cursor: String(pageParam) } : {}) },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const rows = entries.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <section className="panel" aria-labelledby="audit-title">
      <div className="panel-head">
        <h2 id="audit-title">Audit</h2>
        <CsvDownload
          url={api.v1.audit.$url({ query: { limit: "500", format: "csv", ...query } })}
          fallbackName="audit.csv"
        />
      </div>
      <div className="filters" role="search">
        <label>
          Action{" "}
          <select aria-label="Action" value={action} onChange={(e) => setAction(e.target.value as AuditAction | "")}>
            <option value="">Any</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a.replace(".", ": ").replaceAll("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          By <input aria-label="By" value={actor} onChange={(e) => setActor(e.target.value)} placeholder="email" />
        </label>
      </div>
      {entries.isError ? (
        <Failed error={entries.error} retry={() => entries.refetch()} />
      ) : entries.isPending ? (
        <Loading what="the audit list" />
      ) : rows.length === 0 ? (
        <Empty>{action || actor.trim() ? "No admin action matches." : "No admin actions yet."}</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.seq}>
                  <td data-label="When">
                    <Time at={e.at} />
                  </td>
                  <td data-cell="what" data-label="What">
                    {auditSentence(e)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {entries.hasNextPage ? (
        <button type="button" onClick={() => entries.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
