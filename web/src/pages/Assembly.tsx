// The assembler's screen: orders their partner accepted wait here to be assembled. An assembler
// starts one, sets what goes on the truck and dispatches it; each step goes through the container's
// own object (PATCH /v1/orders/{id}), which tells the partner.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "wouter";
import { FULFILMENT_CHAIN, type Fulfilment, type Order, type OrderContainer } from "../../../domain/order";
import { api, ApiProblem, data } from "../api";
import { Ago, Empty, Failed, FillBar, FormProblem, Loading, Time } from "../components/ui";
import { formatQuantity, plural, zoneName } from "../format";
import { useFleet } from "../stores";

type Step = "accepted" | "assembling";
/** A line as typed: the quantity stays text until it is sent, so the API judges what was typed. */
interface DraftLine {
  product: string;
  quantity: string;
  unit: string;
}

/** How long what this page changed outranks an older copy from Postgres (the projection follows the change). */
const OWN_CHANGE_MS = 15_000;
const rank = (f: Fulfilment) => (FULFILMENT_CHAIN as readonly Fulfilment[]).indexOf(f);

const queue = (fulfilment: Step) => ({
  queryKey: ["assembly", fulfilment],
  queryFn: () => data(api.v1.assembly.queue.$get({ query: { fulfilment, limit: "200" } })),
});

export function AssemblyPage() {
  const queries = useQueryClient();
  const waiting = useQuery(queue("accepted"));
  const working = useQuery(queue("assembling"));
  // What this page changed, as the API answered: shown until Postgres has caught up.
  const [own, setOwn] = useState<Record<string, { order: Order; at: number }>>({});
  const [done, setDone] = useState<string | null>(null);
  // The queue moves as partners accept orders: each batch Postgres commits reloads it, at most once a second.
  const { lastChangeAt } = useFleet();
  useEffect(() => {
    if (lastChangeAt === null) return;
    const t = setTimeout(() => void queries.invalidateQueries({ queryKey: ["assembly"] }), 1000);
    return () => clearTimeout(t);
  }, [lastChangeAt, queries]);

  const containers: Record<string, OrderContainer> = { ...waiting.data?.containers, ...working.data?.containers };
  const listed = new Map<string, Order>();
  for (const o of [...(waiting.data?.orders ?? []), ...(working.data?.orders ?? [])]) {
    const mine = own[o.id];
    const fresh = mine && Date.now() - mine.at < OWN_CHANGE_MS && rank(mine.order.fulfilment) >= rank(o.fulfilment);
    listed.set(o.id, fresh ? mine.order : o);
  }
  const orders = [...listed.values()];
  const of = (step: Step) => orders.filter((o) => o.fulfilment === step);
  const nameOf = (o: Order) => containers[o.containerId]?.name ?? o.containerId;
  const changed = (order: Order) => {
    setOwn((all) => ({ ...all, [order.id]: { order, at: Date.now() } }));
    setDone(
      order.fulfilment === "dispatched"
        ? `The order for ${nameOf(order)} is on its way; the partner has been told.`
        : order.fulfilment === "assembling"
          ? `You are assembling the order for ${nameOf(order)}.`
          : `Lines saved for ${nameOf(order)}.`,
    );
    void queries.invalidateQueries({ queryKey: ["assembly"] });
  };

  return (
    <section className="page assembly" aria-labelledby="assembly-title">
      <h1 id="assembly-title">Assembly</h1>
      <p className="lead muted">
        Orders wait here once their partner has accepted them. Start assembling one, set what goes on the truck, and
        dispatch it; the partner is told at each step.
      </p>
      {done ? (
        <p role="status" className="ok-note">
          {done}
        </p>
      ) : null}
      <Queue
        title="Being assembled"
        query={working}
        orders={of("assembling")}
        containers={containers}
        empty="Nothing is being assembled right now."
        onChanged={changed}
      />
      <Queue
        title="Waiting for assembly"
        query={waiting}
        orders={of("accepted")}
        containers={containers}
        empty="No order is waiting. Orders arrive here once their partner accepts them."
        onChanged={changed}
      />
    </section>
  );
}

function Queue({
  title,
  query,
  orders,
  containers,
  empty,
  onChanged,
}: {
  title: string;
  query: { isPending: boolean; isError: boolean; error: unknown; refetch: () => unknown };
  orders: Order[];
  containers: Record<string, OrderContainer>;
  empty: string;
  onChanged: (order: Order) => void;
}) {
  const id = title.toLowerCase().replaceAll(" ", "-");
  return (
    <section className="panel" aria-labelledby={id}>
      <h2 id={id}>
        {title}{" "}
        {query.isPending || query.isError ? null : <span className="muted">({plural(orders.length, "order")})</span>}
      </h2>
      {query.isError ? (
        <Failed error={query.error} retry={() => query.refetch()} />
      ) : query.isPending ? (
        <Loading what="the assembly queue" />
      ) : orders.length === 0 ? (
        <Empty>{empty}</Empty>
      ) : (
        <ul className="assembly-list">
          {orders.map((o) => (
            <AssemblyCard key={o.id} order={o} container={containers[o.containerId]} onChanged={onChanged} />
          ))}
        </ul>
      )}
    </section>
  );
}

const draftOf = (lines: Order["lines"]): DraftLine[] =>
  lines.map((l) => ({ product: l.product, quantity: String(l.quantity), unit: l.unit }));
const sameLines = (draft: DraftLine[], lines: Order["lines"]) =>
  JSON.stringify(draft) === JSON.stringify(draftOf(lines));
/** A datetime-local value (the viewer's zone) as an instant, or undefined when empty. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);

function AssemblyCard({
  order: o,
  container: c,
  onChanged,
}: {
  order: Order;
  container: OrderContainer | undefined;
  onChanged: (order: Order) => void;
}) {
  const name = c?.name ?? o.containerId;
  const [draft, setDraft] = useState<DraftLine[]>(() => draftOf(o.lines));
  const [vehicle, setVehicle] = useState("");
  const [eta, setEta] = useState("");
  // Lines someone else saved (or this page, answered) replace the draft when it was not touched.
  const [shownLines, setShownLines] = useState(o.lines);
  if (JSON.stringify(shownLines) !== JSON.stringify(o.lines)) {
    if (sameLines(draft, shownLines)) setDraft(draftOf(o.lines));
    setShownLines(o.lines);
  }
  const dirty = !sameLines(draft, o.lines);
  const patch = useMutation({
    mutationFn: (json: Parameters<(typeof api.v1.orders)[":id"]["$patch"]>[0]["json"]) =>
      data(api.v1.orders[":id"].$patch({ param: { id: o.id }, json })),
    onSuccess: (answer) => onChanged(answer.order),
  });
  // Quantities go as typed; what is not a number reaches the API as null, which names the field.
  const lines = () =>
    draft.map((l) => ({
      product: l.product,
      quantity: l.quantity.trim() === "" ? Number.NaN : Number(l.quantity),
      unit: l.unit,
    }));
  const invalid = (path: string) =>
    patch.error instanceof ApiProblem && patch.error.issues.some((i) => i.path === path) ? true : undefined;
  const room = c?.capacity != null && c.fillPercent !== null ? c.capacity * (1 - c.fillPercent / 100) : null;
  // A change to the lines puts the last refusal aside: it was about what was there before.
  const redraft = (next: DraftLine[]) => {
    if (patch.isError) patch.reset();
    setDraft(next);
  };
  const edit = (i: number, field: keyof DraftLine, value: string) =>
    redraft(draft.map((l, j) => (j === i ? { ...l, [field]: value } : l)));

  function dispatch(e: FormEvent) {
    e.preventDefault();
    const at = instant(eta);
    patch.mutate({
      ...(dirty ? { lines: lines() } : {}),
      fulfilment: "dispatched",
      ...(at ? { eta: at } : {}),
      ...(vehicle.trim() ? { vehicle: vehicle.trim() } : {}),
    });
  }

  return (
    <li className="assembly-card" data-order={o.id} aria-label={`Order for ${name}`}>
      <div className="assembly-head">
        <div>
          <h3>
            <Link href={`/containers/${encodeURIComponent(o.containerId)}`}>{name}</Link>
          </h3>
          <div className="muted small">
            {c?.contents ?? o.lines[0]?.product ?? "contents not known"} · order <span className="mono">{o.id}</span>
          </div>
        </div>
        {o.fulfilment === "accepted" ? (
          <button
            type="button"
            className="primary"
            disabled={patch.isPending}
            onClick={() => patch.mutate({ fulfilment: "assembling" })}
          >
            {patch.isPending ? "Starting…" : "Start assembling"}
          </button>
        ) : null}
      </div>
      <dl className="facts">
        <div>
          <dt>Fill now</dt>
          <dd>{c ? <FillBar fill={c.fillPercent} threshold={c.threshold} /> : "—"}</dd>
        </div>
        <div>
          <dt>Room in the container</dt>
          <dd>{room === null ? "not known (no capacity set)" : formatQuantity(Math.max(0, room), c?.unit ?? null)}</dd>
        </div>
        <div>
          <dt>Partner delivering it</dt>
          <dd>{o.partnerId ?? "—"}</dd>
        </div>
        <div>
          <dt>{o.fulfilment === "accepted" ? "Accepted" : "Assembling since"}</dt>
          <dd>
            <Ago at={o.fulfilment === "accepted" ? o.acceptedAt : o.fulfilmentAt} />
          </dd>
        </div>
      </dl>
      {o.fulfilment === "accepted" ? (
        <>
          <p className="small">
            <strong>To load:</strong>{" "}
            {o.lines.length
              ? o.lines.map((l) => `${l.quantity.toLocaleString("en-GB")} ${l.unit} ${l.product}`).join(", ")
              : "nothing proposed yet; set the lines once you start"}
          </p>
          <FormProblem error={patch.error} />
        </>
      ) : (
        <form className="assembly-work" onSubmit={dispatch}>
          <fieldset className="lines">
            <legend>What goes on the truck</legend>
            {draft.length === 0 ? <p className="muted small">No lines yet: add what you load.</p> : null}
            {draft.map((l, i) => (
              <div className="line" key={i}>
                <label>
                  Product
                  <input
                    value={l.product}
                    aria-invalid={invalid(`lines[${i}].product`)}
                    onChange={(e) => edit(i, "product", e.target.value)}
                  />
                </label>
                <label>
                  Quantity
                  <input
                    inputMode="decimal"
                    value={l.quantity}
                    aria-invalid={invalid(`lines[${i}].quantity`)}
                    onChange={(e) => edit(i, "quantity", e.target.value)}
                  />
                </label>
                <label>
                  Unit
                  <input
                    value={l.unit}
                    aria-invalid={invalid(`lines[${i}].unit`)}
                    onChange={(e) => edit(i, "unit", e.target.value)}
                  />
                </label>
                <button
                  type="button"
                  className="small"
                  aria-label={`Remove line ${i + 1}`}
                  onClick={() => redraft(draft.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </div>
            ))}
            <div className="actions">
              <button
                type="button"
                className="small"
                onClick={() => redraft([...draft, { product: c?.contents ?? "", quantity: "", unit: c?.unit ?? "" }])}
              >
                Add a line
              </button>
              <button
                type="button"
                className="small"
                disabled={!dirty || patch.isPending}
                onClick={() => patch.mutate({ lines: lines() })}
              >
                Save lines
              </button>
              {dirty ? <span className="muted small">Not saved yet; dispatching saves them too.</span> : null}
            </div>
          </fieldset>
          <FormProblem error={patch.error} />
          <fieldset className="dispatch">
            <legend>Dispatch</legend>
            <label>
              Vehicle (optional)
              <input value={vehicle} onChange={(e) => setVehicle(e.target.value)} placeholder="ZH 4711" />
            </label>
            <label>
              Expected arrival (optional, {zoneName} time)
              <input type="datetime-local" value={eta} onChange={(e) => setEta(e.target.value)} />
            </label>
            <button type="submit" className="primary" disabled={patch.isPending}>
              {patch.isPending ? "Dispatching…" : "Dispatch"}
            </button>
          </fieldset>
          <p className="muted small">
            Opened <Time at={o.openedAt} />. Once dispatched the lines cannot change.
          </p>
        </form>
      )}
    </li>
  );
}
