// Partners (admin): the suppliers that deliver. Add one (its signing secret is shown once), change
// its name and webhook address, rotate its secret, disable it, and read what Fillgrid sent to it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import type { Partner } from "../../../../domain/partners";
import { api, data } from "../../api";
import { plural } from "../../format";
import { useFleet } from "../../stores";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../ui";

export const partnersQuery = {
  queryKey: ["partners"],
  queryFn: () => data(api.v1.partners.$get()),
};

/** Whom a partner delivers to, in words; containers by their names where they have one. */
function servesInWords(p: Pick<Partner, "serves">, nameOf: (containerId: string) => string): string {
  const { contents } = p.serves;
  const containerIds = p.serves.containerIds.map(nameOf);
  if (containerIds.length === 0 && contents.length === 0) return "every container";
  const some = (items: string[]) =>
    items.length > 3 ? `${items.slice(0, 3).join(", ")} and ${items.length - 3} more` : items.join(", ");
  return [
    containerIds.length ? `containers ${some(containerIds)}` : null,
    contents.length ? `anything holding ${some(contents)}` : null,
  ]
    .filter(Boolean)
    .join("; ");
}

/** A comma-separated list as typed, without blanks. */
const listOf = (text: string) =>
  text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);

export function Partners() {
  const queries = useQueryClient();
  const partners = useQuery(partnersQuery);
  const refresh = () => queries.invalidateQueries({ queryKey: ["partners"] });
  const [form, setForm] = useState({ id: "", name: "", webhookUrl: "", contents: "" });
  const [secret, setSecret] = useState<{ name: string; secret: string; oldUntil: string | null } | null>(null);
  const [copied, setCopied] = useState(false);
  const [editing, setEditing] = useState<{ id: string; name: string; webhookUrl: string; contents: string } | null>(
    null,
  );
  const [log, setLog] = useState<string | null>(null);
  const { fleet } = useFleet();
  const nameOf = (containerId: string) => fleet.get(containerId)?.name ?? containerId;
  const showSecret = (answer: { partner: Partner; secret: string }) => {
    setSecret({
      name: answer.partner.name,
      secret: answer.secret,
      oldUntil: answer.partner.previousSecretValidUntil,
    });
    setCopied(false);
  };
  const add = useMutation({
    mutationFn: () =>
      data(
        api.v1.partners.$post({
          json: {
            id: form.id.trim(),
            name: form.name,
            webhookUrl: form.webhookUrl.trim(),
            serves: { containerIds: [], contents: listOf(form.contents) },
          },
        }),
      ),
    onSuccess: (answer) => {
      showSecret(answer);
      setForm({ id: "", name: "", webhookUrl: "", contents: "" });
      void refresh();
    },
  });
  const change = useMutation({
    mutationFn: (p: {
      id: string;
      name?: string;
      webhookUrl?: string;
      serves?: Partner["serves"];
      disabled?: boolean;
    }) => {
      const { id, ...json } = p;
      return data(api.v1.partners[":id"].$patch({ param: { id }, json }));
    },
    onSuccess: () => setEditing(null),
    onSettled: refresh,
  });
  const rotate = useMutation({
    mutationFn: (id: string) => data(api.v1.partners[":id"].secret.$post({ param: { id } })),
    onSuccess: showSecret,
    onSettled: refresh,
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    add.mutate();
  }
  function save(e: FormEvent, p: Partner) {
    e.preventDefault();
    if (!editing) return;
    const name = editing.name !== p.name ? { name: editing.name } : {};
    const url = editing.webhookUrl.trim() !== p.webhookUrl ? { webhookUrl: editing.webhookUrl.trim() } : {};
    const contents = listOf(editing.contents);
    const serves =
      contents.join(",") !== p.serves.contents.join(",")
        ? { serves: { containerIds: p.serves.containerIds, contents } }
        : {};
    if (Object.keys({ ...name, ...url, ...serves }).length === 0) return setEditing(null);
    change.mutate({ id: p.id, ...name, ...url, ...serves });
  }
  async function copy() {
    if (!secret) return;
    await navigator.clipboard.writeText(secret.secret).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  }
  const list = partners.data?.partners ?? [];
  const logged = list.find((p) => p.id === log);

  return (
    <section className="panel partners" aria-labelledby="partners-title">
      <h2 id="partners-title">Partners</h2>
      <p className="muted small">
        Partners deliver the goods of orders. Fillgrid sends every change to an order to the partner's webhook address,
        signed with its secret, and accepts the partner's own updates signed with the same secret.
      </p>
      <form className="form inline" onSubmit={submit} aria-label="Add a partner">
        <label>
          Short name
          <input
            required
            value={form.id}
            onChange={(e) => setForm({ ...form, id: e.target.value })}
            placeholder="acme-fuels"
            autoCapitalize="none"
          />
          <span className="hint">Lower-case, for links and document numbers</span>
        </label>
        <label>
          Name
          <input
            required
            value={form.name}
            onChange={(e) => setForm({ ...form, name: e.target.value })}
            placeholder="Acme Fuels Ltd"
          />
          <span className="hint">As the partner is called</span>
        </label>
        <label className="grow">
          Webhook address
          <input
            required
            inputMode="url"
            value={form.webhookUrl}
            onChange={(e) => setForm({ ...form, webhookUrl: e.target.value })}
            placeholder="https://partner.example/fillgrid/events"
          />
          <span className="hint">Where Fillgrid sends order changes</span>
        </label>
        <label>
          Contents it delivers
          <input
            value={form.contents}
            onChange={(e) => setForm({ ...form, contents: e.target.value })}
            placeholder="diesel, pellets"
          />
          <span className="hint">Comma-separated; empty: every container</span>
        </label>
        <button type="submit" disabled={add.isPending}>
          {add.isPending ? "Adding…" : "Add partner"}
        </button>
      </form>
      <FormProblem error={add.error ?? change.error ?? rotate.error} />
      {secret ? (
        <div className="secret" role="alert">
          <p>
            <strong>Copy the signing secret of {secret.name} now</strong> and give it to them: it signs the events both
            ways, and it is not shown again.
            {secret.oldUntil ? (
              <>
                {" "}
                The previous secret keeps working until <Time at={secret.oldUntil} />.
              </>
            ) : null}
          </p>
          <code data-secret="partner-secret">{secret.secret}</code>
          <div className="actions">
            <button type="button" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="link" onClick={() => setSecret(null)}>
              I have stored it
            </button>
          </div>
        </div>
      ) : null}
      {partners.isError ? (
        <Failed error={partners.error} retry={() => partners.refetch()} />
      ) : partners.isPending ? (
        <Loading what="partners" />
      ) : list.length === 0 ? (
        <Empty>No partners yet. Orders wait for a partner to deliver them: add one above.</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Partner</th>
                <th scope="col">Webhook address</th>
                <th scope="col">Delivers to</th>
                <th scope="col">State</th>
                <th scope="col">Secret</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <Fragment key={p.id}>
                  <tr data-partner={p.id} className={p.disabled ? "revoked" : ""}>
                    <td data-label="Partner">
                      <div>
                        <strong>{p.name}</strong>
                        <div className="mono muted small">{p.id}</div>
                      </div>
                    </td>
                    <td data-label="Webhook">
                      <span className="url">{p.webhookUrl}</span>
                    </td>
                    <td data-label="Delivers to">
                      <div>
                        {servesInWords(p, nameOf)}
                        {p.leadTimeHours !== null ? (
                          <div className="muted small">orders {p.leadTimeHours} h before the forecast threshold</div>
                        ) : null}
                      </div>
                    </td>
                    <td data-label="State">
                      {p.disabled ? <Badge kind="closed">disabled</Badge> : <Badge kind="active">enabled</Badge>}
                    </td>
                    <td data-label="Secret">
                      {p.secretRotatedAt ? (
                        <div>
                          new since <Time at={p.secretRotatedAt} />
                          {p.previousSecretValidUntil && Date.parse(p.previousSecretValidUntil) > Date.now() ? (
                            <div className="muted small">
                              the old one works until <Time at={p.previousSecretValidUntil} />
                            </div>
                          ) : null}
                        </div>
                      ) : (
                        <div className="muted">
                          unchanged since <Time at={p.createdAt} />
                        </div>
                      )}
                    </td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          className="small"
                          aria-expanded={editing?.id === p.id}
                          onClick={() =>
                            setEditing(
                              editing?.id === p.id
                                ? null
                                : {
                                    id: p.id,
                                    name: p.name,
                                    webhookUrl: p.webhookUrl,
                                    contents: p.serves.contents.join(", "),
                                  },
                            )
                          }
                        >
                          Edit
                        </button>
                        <button
                          type="button"
                          className="small"
                          disabled={rotate.isPending}
                          onClick={() =>
                            confirm(
                              `Give ${p.name} a new signing secret? The current one keeps working for a grace period, so they can switch without missing events.`,
                            ) && rotate.mutate(p.id)
                          }
                        >
                          New secret
                        </button>
                        <button
                          type="button"
                          className="small"
                          aria-pressed={log === p.id}
                          onClick={() => setLog(log === p.id ? null : p.id)}
                        >
                          Delivery log
                        </button>
                        <button
                          type="button"
                          className={p.disabled ? "small" : "small danger"}
                          disabled={change.isPending}
                          onClick={() =>
                            p.disabled
                              ? change.mutate({ id: p.id, disabled: false })
                              : confirm(
                                  `Disable ${p.name}? Its updates are refused and nothing more is sent to it until it is enabled again.`,
                                ) && change.mutate({ id: p.id, disabled: true })
                          }
                        >
                          {p.disabled ? "Enable" : "Disable"}
                        </button>
                      </div>
                    </td>
                  </tr>
                  {editing?.id === p.id ? (
                    <tr className="detail">
                      <td colSpan={6}>
                        <form className="form inline" aria-label={`Change ${p.name}`} onSubmit={(e) => save(e, p)}>
                          <label>
                            Name
                            <input
                              required
                              value={editing.name}
                              onChange={(e) => setEditing({ ...editing, name: e.target.value })}
                            />
                          </label>
                          <label className="grow">
                            Webhook address
                            <input
                              required
                              inputMode="url"
                              value={editing.webhookUrl}
                              onChange={(e) => setEditing({ ...editing, webhookUrl: e.target.value })}
                            />
                          </label>
                          <label>
                            Contents it delivers
                            <input
                              value={editing.contents}
                              placeholder="every container"
                              onChange={(e) => setEditing({ ...editing, contents: e.target.value })}
                            />
                            <span className="hint">
                              Comma-separated; empty: every container
                              {p.serves.containerIds.length
                                ? `, besides ${plural(p.serves.containerIds.length, "named container")}`
                                : ""}
                            </span>
                          </label>
                          <button type="submit" className="primary" disabled={change.isPending}>
                            {change.isPending ? "Saving…" : "Save"}
                          </button>
                          <button type="button" onClick={() => setEditing(null)}>
                            Cancel
                          </button>
                        </form>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {logged ? <DeliveryLog partner={logged} /> : null}
    </section>
  );
}

type DeliveryState = "" | "delivered" | "retrying" | "dead";

const EVENT_WORDS: Record<string, string> = {
  "order.opened": "Order opened",
  "order.closed": "Order closed",
  "order.lines_changed": "Lines changed",
  "order.accepted": "Accepted",
  "order.assembling": "Being assembled",
  "order.dispatched": "Dispatched",
  "order.delivered": "Delivered",
  "order.rejected": "Rejected",
  "order.cancelled": "Cancelled",
};
const STATE_WORDS: Record<Exclude<DeliveryState, "">, [kind: string, words: string]> = {
  delivered: ["active", "delivered"],
  retrying: ["warning", "retrying"],
  dead: ["critical", "gave up"],
};

/** What Fillgrid sent to one partner's webhook, latest first: whether it arrived, and if not, why. */
function DeliveryLog({ partner }: { partner: Partner }) {
  const [state, setState] = useState<DeliveryState>("");
  const { fleet } = useFleet();
  const log = useQuery({
    queryKey: ["partner-deliveries", partner.id, state],
    queryFn: () =>
      data(
        api.v1.partners[":id"].deliveries.$get({
          param: { id: partner.id },
          query: { limit: "100", ...(state ? { state } : {}) },
        }),
      ),
    refetchInterval: 5_000,
  });
  const rows = log.data?.deliveries ?? [];
  return (
    <section className="delivery-log" aria-labelledby="delivery-log-title">
      <div className="panel-head">
        <h3 id="delivery-log-title">Sent to {partner.name}</h3>
        <label>
          Show{" "}
          <select aria-label="Delivery state" value={state} onChange={(e) => setState(e.target.value as DeliveryState)}>
            <option value="">everything</option>
            <option value="delivered">delivered</option>
            <option value="retrying">still retrying</option>
            <option value="dead">given up</option>
          </select>
        </label>
      </div>
      <p className="muted small">
        The latest 100 events sent to <span className="url">{partner.webhookUrl}</span>. One the partner does not take
        is tried again, with growing pauses, and given up after its last try (it then shows on the Dead letters tab).
      </p>
      {log.isError ? (
        <Failed error={log.error} retry={() => log.refetch()} />
      ) : log.isPending ? (
        <Loading what="the delivery log" />
      ) : rows.length === 0 ? (
        <Empty>{state ? "Nothing in this state." : `Nothing has been sent to ${partner.name} yet.`}</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Order</th>
                <th scope="col">State</th>
                <th scope="col">Tries</th>
                <th scope="col">Last answer</th>
                <th scope="col">Last try</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => {
                const [kind, words] = STATE_WORDS[d.state];
                return (
                  <tr key={d.eventId} data-event={d.type}>
                    <td data-label="Event">{EVENT_WORDS[d.type] ?? d.type}</td>
                    <td data-label="Order">
                      <div>
                        for {fleet.get(d.containerId)?.name ?? d.containerId}
                        {d.orderId ? <div className="mono muted small">{d.orderId}</div> : null}
                      </div>
                    </td>
                    <td data-label="State">
                      <div>
                        <Badge kind={kind}>{words}</Badge>
                        {d.state === "retrying" && d.nextTryAt ? (
                          <div className="muted small">
                            next <Time at={d.nextTryAt} />
                          </div>
                        ) : null}
                      </div>
                    </td>
                    <td data-label="Tries">{d.attempts}</td>
                    <td data-label="Last answer">
                      <div>
                        {d.lastStatus !== null ? `HTTP ${d.lastStatus}` : null}
                        {d.lastError ? <div className="muted small">{d.lastError}</div> : null}
                        {d.lastStatus === null && !d.lastError ? "—" : null}
                      </div>
                    </td>
                    <td data-label="Last try">
                      <Time at={d.updatedAt} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
