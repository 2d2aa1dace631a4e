// Partners (admin): the suppliers that deliver. Add one (its signing secret is shown once), change
// its name and webhook address, rotate its secret, issue its API key, send it a test event, disable
// it, and read what Fillgrid sent to it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import type { Partner } from "../../../../domain/partners";
import { api, data } from "../../api";
import { plural } from "../../format";
import { useFleet } from "../../stores";
import { Badge, Empty, Failed, FormProblem, Loading, messageOf, Time } from "../ui";

export const partnersQuery = {
  queryKey: ["partners"],
  queryFn: () => data(api.v1.partners.$get()),
};

const KEYS_LISTED = 500;
/**
 * When each partner's API key was issued. The API lists no keys, so the audit says it: the latest
 * issue per partner. `complete` is false when older issues did not fit in the page read.
 */
const apiKeysQuery = {
  queryKey: ["partner-api-keys"],
  queryFn: async () => {
    const { entries, nextCursor } = await data(
      api.v1.audit.$get({ query: { action: "partner.api_key_issued", limit: String(KEYS_LISTED) } }),
    );
    const issued = new Map<string, string>();
    // Newest first: the first entry of a partner is its key now.
    for (const e of entries) if (!issued.has(e.target)) issued.set(e.target, e.at);
    return { issued, complete: nextCursor === null };
  },
};

type TestOutcome = { eventId: string; received: boolean; status: number | null; error: string | null; ms: number };
type TestResult = { sending: true } | { outcome: TestOutcome } | { failed: unknown };

/** What a test event came to, in words: a headline and, when the webhook said why, what it said. */
function testInWords(
  result: TestResult,
  p: Pick<Partner, "id" | "name">,
): { ok?: boolean; words: string; said?: string } {
  if ("sending" in result) return { words: "Sending a test event…" };
  if ("failed" in result) return { ok: false, words: `Not sent: ${messageOf(result.failed)}` };
  const { received, status, error, ms } = result.outcome;
  const took = `${Math.round(ms)} ms`;
  if (received) return { ok: true, words: `Received: answered ${status} in ${took}` };
  if (status !== null) {
    const said = error?.replace(/^answered \d+:?\s*/, "");
    return { ok: false, words: `Not received: answered ${status} in ${took}`, ...(said ? { said } : {}) };
  }
  const why =
    error === `partner ${p.id} is disabled`
      ? `${p.name} is disabled, so nothing is sent to it`
      : error === `partner ${p.id} no longer exists`
        ? `${p.name} no longer exists`
        : (error?.replace(/^webhook URL refused: /, "the webhook address is refused: ") ?? "no answer");
  return { ok: false, words: `Not received: ${why}` };
}

/** A secret or key shown this once, to copy and hand to the partner. */
function ShownOnce({
  value,
  name,
  title,
  use,
  onStored,
  children,
}: {
  value: string;
  name: string;
  title: ReactNode;
  /** What it is for, when the partner needs telling. */
  use?: ReactNode;
  onStored: () => void;
  children: ReactNode;
}) {
  const [copied, setCopied] = useState(false);
  const titleId = useId();
  const box = useRef<HTMLDivElement>(null);
  // It shows above the list, which may be scrolled far below it (on a phone, always).
  useEffect(() => box.current?.scrollIntoView({ block: "nearest" }), []);
  async function copy() {
    await navigator.clipboard.writeText(value).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  }
  return (
    <div ref={box} className="secret" role="alert" aria-labelledby={titleId}>
      <p>
        <strong id={titleId}>{title}</strong> {children}
      </p>
      {use ? <p className="small">{use}</p> : null}
      <code data-secret={name}>{value}</code>
      <div className="actions">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="link" onClick={onStored}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

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
  const [apiKey, setApiKey] = useState<{
    name: string;
    key: string;
    before: "replaced" | "maybe" | "none";
    disabled: boolean;
  } | null>(null);
  const keys = useQuery(apiKeysQuery);
  const [tests, setTests] = useState<Record<string, TestResult>>({});
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
  };
  /** Whether the partner has an API key: "maybe" when the audit cannot say. */
  const keyOf = (id: string) => {
    const at = keys.data?.issued.get(id);
    if (at) return { has: "yes" as const, at };
    return { has: keys.data?.complete ? ("no" as const) : ("maybe" as const) };
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
  const issueKey = useMutation({
    mutationFn: (p: Partner) => data(api.v1.partners[":id"]["api-key"].$post({ param: { id: p.id } })),
    onSuccess: (answer, p) => {
      const has = keyOf(p.id).has;
      setApiKey({
        name: p.name,
        key: answer.key,
        before: has === "yes" ? "replaced" : has === "maybe" ? "maybe" : "none",
        disabled: p.disabled,
      });
    },
    onSettled: () => {
      void queries.invalidateQueries({ queryKey: ["partner-api-keys"] });
      void queries.invalidateQueries({ queryKey: ["audit"] });
    },
  });
  const test = useMutation({
    mutationFn: (id: string) => data(api.v1.partners[":id"]["test-event"].$post({ param: { id } })),
    onMutate: (id) => setTests((t) => ({ ...t, [id]: { sending: true } })),
    onSuccess: (outcome, id) => setTests((t) => ({ ...t, [id]: { outcome } })),
    onError: (failed, id) => setTests((t) => ({ ...t, [id]: { failed } })),
    onSettled: (_answer, _error, id) => queries.invalidateQueries({ queryKey: ["partner-deliveries", id] }),
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
  function askForKey(p: Partner) {
    const has = keyOf(p.id).has;
    const asked =
      has === "yes"
        ? `Give ${p.name} a new API key? The key it has now stops working within seconds: the partner must switch to the new one.`
        : has === "maybe"
          ? `Issue ${p.name} an API key? If it has one already, that one stops working within seconds.`
          : null;
    if (asked === null || confirm(asked)) issueKey.mutate(p);
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
      <FormProblem error={add.error ?? change.error ?? rotate.error ?? issueKey.error} />
      {secret ? (
        <ShownOnce
          key={secret.secret}
          value={secret.secret}
          name="partner-secret"
          title={`Copy the signing secret of ${secret.name} now`}
          onStored={() => setSecret(null)}
        >
          and give it to them: it signs the events both ways, and it is not shown again.
          {secret.oldUntil ? (
            <>
              {" "}
              The previous secret keeps working until <Time at={secret.oldUntil} />.
            </>
          ) : null}
        </ShownOnce>
      ) : null}
      {apiKey ? (
        <ShownOnce
          key={apiKey.key}
          value={apiKey.key}
          name="partner-api-key"
          title={`Copy the API key of ${apiKey.name} now`}
          onStored={() => setApiKey(null)}
          use={
            <>
              The partner reads its own orders, deliveries and documents with it:{" "}
              <span className="url">Authorization: Bearer …</span>, under{" "}
              <span className="url">{location.origin}/v1/partner/</span>
            </>
          }
        >
          and give it to them: only its hash is kept, and it is not shown again.
          {apiKey.before === "replaced"
            ? " The key it had before stops working within seconds."
            : apiKey.before === "maybe"
              ? " A key issued to it before stops working within seconds."
              : null}
          {apiKey.disabled ? ` It works once ${apiKey.name} is enabled again.` : null}
        </ShownOnce>
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
                <th scope="col">API key</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => {
                const key = keyOf(p.id);
                return (
                  <Fragment key={p.id}>
                    <tr data-partner={p.id} className={p.disabled ? "revoked" : ""}>
                      <td data-label="Partner">
                        <div>
                          <strong>{p.name}</strong>
                          <div className="mono muted small">{p.id}</div>
                        </div>
                      </td>
                      <td data-label="Webhook">
                        <div>
                          <span className="url">{p.webhookUrl}</span>
                          <TestEvent result={tests[p.id]} partner={p} send={() => test.mutate(p.id)} />
                        </div>
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
                      <td data-label="API key">
                        <div>
                          {key.has === "yes" ? (
                            <div>
                              issued <Time at={key.at} />
                            </div>
                          ) : key.has === "no" ? (
                            <div className="muted">none yet</div>
                          ) : null}
                          <button
                            type="button"
                            className="small cell-action"
                            disabled={issueKey.isPending || keys.isPending}
                            onClick={() => askForKey(p)}
                          >
                            {key.has === "yes" ? "New API key" : "Issue API key"}
                          </button>
                        </div>
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
                        <td colSpan={7}>
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
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {logged ? <DeliveryLog partner={logged} /> : null}
    </section>
  );
}

/** "Send test event" for one partner, and what the last one came to. */
function TestEvent({ result, partner, send }: { result: TestResult | undefined; partner: Partner; send: () => void }) {
  const said = result ? testInWords(result, partner) : null;
  return (
    <div className="test-event">
      <button type="button" className="small" disabled={result !== undefined && "sending" in result} onClick={send}>
        Send test event
      </button>
      <div role="status" className={said?.ok === undefined ? undefined : said.ok ? "test-ok" : "test-failed"}>
        {said?.words}
        {said?.said ? (
          <div className="muted small">
            It said: <span className="url">{said.said}</span>
          </div>
        ) : null}
      </div>
    </div>
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
  ping: "Test event",
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
                // A test event is tried once: one that did not arrive was not given up on, it was just not received.
                const [kind, words] =
                  d.type === "ping" && d.state === "dead" ? ["critical", "not received"] : STATE_WORDS[d.state];
                return (
                  <tr key={d.eventId} data-event={d.type}>
                    <td data-label="Event">{EVENT_WORDS[d.type] ?? d.type}</td>
                    <td data-label="Order">
                      {d.type === "ping" ? (
                        <span className="muted">none: a test</span>
                      ) : (
                        <div>
                          for {fleet.get(d.containerId)?.name ?? d.containerId}
                          {d.orderId ? <div className="mono muted small">{d.orderId}</div> : null}
                        </div>
                      )}
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
