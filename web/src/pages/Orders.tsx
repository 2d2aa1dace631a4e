import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import { Link, useSearch } from "wouter";
import { api, data, download, openFile } from "../api";
import {
  Ago,
  Badge,
  CsvDownload,
  Empty,
  Failed,
  FillBar,
  FormProblem,
  Loading,
  messageOf,
  Time,
} from "../components/ui";
import { fulfilmentInWords, orderedQuantity, type Order, type OrderContainer } from "../../../domain/order";
import { formatPercent, zoneName } from "../format";
import { can, useSession } from "../session";
import { useFleet } from "../stores";

type Status = "" | "active" | "closed";
type Fulfilment = "" | "pending" | "accepted" | "assembling" | "dispatched" | "delivered" | "rejected" | "cancelled";

/** A datetime-local value (the viewer's zone) as an instant, or undefined when empty. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function OrdersPage() {
  const person = useSession();
  const queries = useQueryClient();
  const [status, setStatus] = useState<Status>("");
  const [fulfilment, setFulfilment] = useState<Fulfilment>("");
  // A link may name a container and an order (an alert's): the list opens on them.
  const linked = new URLSearchParams(useSearch());
  const [containerId, setContainerId] = useState(linked.get("container") ?? "");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [open, setOpen] = useState<string | null>(linked.get("order"));
  const filters = { status, fulfilment, containerId: containerId.trim(), from, to };
  const orders = useInfiniteQuery({
    queryKey: ["orders", filters],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      data(
        api.v1.orders.$get({
          query: {
            limit: "50",
            ...(status ? { status } : {}),
            ...(fulfilment ? { fulfilment } : {}),
            ...(filters.containerId ? { container: filters.containerId } : {}),
            ...(from ? { openedFrom: instant(from) } : {}),
            ...(to ? { openedTo: instant(to) } : {}),
            ...(pageParam ? { cursor: pageParam } : {}),
          },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const close = useMutation({
    mutationFn: (o: { containerId: string; id: string }) =>
      data(
        api.v1.containers[":containerId"].orders[":orderId"].close.$post({
          param: { containerId: o.containerId, orderId: o.id },
          json: {},
        }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: ["orders"] }),
  });
  const loaded = orders.data?.pages.flatMap((p) => p.orders) ?? [];
  const facts = Object.assign({}, ...(orders.data?.pages.map((p) => p.containers) ?? [])) as Record<
    string,
    OrderContainer
  >;
  const total = orders.data?.pages[0]?.total ?? 0;
  const [sort, setSort] = useState<{ by: SortKey; desc: boolean }>({ by: "opened", desc: true });
  const rows = sortOrders(loaded, facts, sort);
  const csvQuery = {
    format: "csv" as const,
    ...(status ? { status } : {}),
    ...(fulfilment ? { fulfilment } : {}),
    ...(filters.containerId ? { container: filters.containerId } : {}),
    ...(from ? { openedFrom: instant(from) } : {}),
    ...(to ? { openedTo: instant(to) } : {}),
  };
  const header = (key: SortKey, label: string) => (
    <th scope="col" aria-sort={sort.by === key ? (sort.desc ? "descending" : "ascending") : "none"}>
      <button
        type="button"
        className="link sort"
        onClick={() => setSort({ by: key, desc: sort.by === key ? !sort.desc : key === "opened" })}
      >
        {label}
        {sort.by === key ? (sort.desc ? " ↓" : " ↑") : ""}
      </button>
    </th>
  );
  // Orders change with the fleet: each batch Postgres commits reloads the list, at most once a second.
  const { lastChangeAt } = useFleet();
  useEffect(() => {
    if (lastChangeAt === null) return;
    const t = setTimeout(() => void queries.invalidateQueries({ queryKey: ["orders"] }), 1000);
    return () => clearTimeout(t);
  }, [lastChangeAt, queries]);

  return (
    <section className="page" aria-labelledby="orders-page-title">
      <div className="panel-head">
        <h1 id="orders-page-title">
          Orders{" "}
          {orders.data ? (
            <span className="muted" data-testid="orders-total">
              ({total.toLocaleString("en-GB")} {total === 1 ? "order" : "orders"})
            </span>
          ) : null}
        </h1>
        <CsvDownload url={api.v1.orders.$url({ query: csvQuery })} fallbackName="orders.csv" />
      </div>
      <div className="filters" role="search">
        <label>
          Status
          <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="closed">Closed</option>
          </select>
        </label>
        <label>
          Fulfilment
          <select
            aria-label="Fulfilment"
            value={fulfilment}
            onChange={(e) => setFulfilment(e.target.value as Fulfilment)}
          >
            <option value="">Any</option>
            <option value="pending">Pending</option>
            <option value="accepted">Accepted</option>
            <option value="assembling">Assembling</option>
            <option value="dispatched">Dispatched</option>
            <option value="delivered">Delivered</option>
            <option value="rejected">Rejected</option>
            <option value="cancelled">Cancelled</option>
          </select>
        </label>
        <label>
          Container
          <input
            value={containerId}
            onChange={(e) => setContainerId(e.target.value)}
            placeholder="id or name, any part"
          />
        </label>
        <label>
          Opened from
          <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          to
          <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <span className="muted small">Times in {zoneName}</span>
      </div>
      <FormProblem error={close.error} />
      {orders.isError ? (
        <Failed error={orders.error} retry={() => orders.refetch()} />
      ) : orders.isPending ? (
        <Loading what="orders" />
      ) : rows.length === 0 ? (
        <Empty>No order matches these filters.</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Order</th>
                {header("container", "Container")}
                <th scope="col">Contents</th>
                {header("fill", "Fill now")}
                {header("quantity", "Quantity")}
                <th scope="col">Status</th>
                <th scope="col">Fulfilment</th>
                {header("opened", "Opened")}
                <th scope="col">Closed</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <Fragment key={o.id}>
                  <tr>
                    <td data-label="Order">
                      <button
                        type="button"
                        className="link mono"
                        aria-expanded={open === o.id}
                        onClick={() => setOpen(open === o.id ? null : o.id)}
                      >
                        {o.id}
                      </button>
                    </td>
                    <td data-label="Container">
                      <Link href={`/containers/${encodeURIComponent(o.containerId)}`}>
                        {facts[o.containerId]?.name ?? <span className="mono">{o.containerId}</span>}
                      </Link>
                      {facts[o.containerId]?.name ? <div className="mono muted small">{o.containerId}</div> : null}
                    </td>
                    <td data-label="Contents">{facts[o.containerId]?.contents ?? o.lines[0]?.product ?? "—"}</td>
                    <td data-label="Fill now">
                      {facts[o.containerId] ? (
                        <FillBar fill={facts[o.containerId]!.fillPercent} threshold={facts[o.containerId]!.threshold} />
                      ) : (
                        "—"
                      )}
                    </td>
                    <td data-label="Quantity" data-cell="quantity">
                      {quantityText(o)}
                    </td>
                    <td data-label="Status">
                      <Badge kind={o.status}>{o.status}</Badge>
                    </td>
                    <td data-label="Fulfilment" data-cell="fulfilment">
                      {fulfilmentInWords(o)}
                    </td>
                    <td data-label="Opened">
                      <Time at={o.openedAt} />
                      <div className="muted small">
                        <Ago at={o.openedAt} />
                      </div>
                    </td>
                    <td data-label="Closed">
                      <Time at={o.closedAt} />
                    </td>
                    <td>
                      {o.status === "active" && can(person, "operator") ? (
                        <button
                          type="button"
                          className="danger small"
                          disabled={close.isPending}
                          onClick={() => {
                            const name = facts[o.containerId]?.name ?? o.containerId;
                            if (
                              window.confirm(
                                `Close the order for ${name}? Automatic ordering then waits until its fill is back above the threshold.`,
                              )
                            )
                              close.mutate(o);
                          }}
                        >
                          Close
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === o.id ? (
                    <tr className="detail">
                      <td colSpan={10}>
                        <OrderDetail order={o} />
                        <ol className="timeline">
                          <li>
                            <Time at={o.openedAt} /> opened{" "}
                            {o.source === "auto"
                              ? "by the container (fill below threshold)"
                              : `by hand by ${o.openedBy}`}{" "}
                            at {formatPercent(o.fillAtOpen)}
                            {o.thresholdAtOpen !== null ? `, threshold ${o.thresholdAtOpen} %` : ""}
                          </li>
                          <li>
                            fulfilment: {fulfilmentInWords(o)}
                            {o.fulfilmentAt ? (
                              <>
                                {" "}
                                since <Time at={o.fulfilmentAt} />
                              </>
                            ) : null}
                            {o.fulfilmentReason ? ` (${o.fulfilmentReason})` : ""}
                          </li>
                          {o.closedAt ? (
                            <li>
                              <Time at={o.closedAt} /> closed by {o.closedBy} ({o.closeReason?.replaceAll("_", " ")}) at{" "}
                              {formatPercent(o.fillAtClose)}
                            </li>
                          ) : null}
                        </ol>
                        <Link href={`/containers/${encodeURIComponent(o.containerId)}`}>The container's event log</Link>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {orders.hasNextPage ? (
        <button type="button" onClick={() => orders.fetchNextPage()} disabled={orders.isFetchingNextPage}>
          {orders.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </section>
  );
}

type OrderRow = Order;
type SortKey = "opened" | "container" | "fill" | "quantity";

/** The quantity ordered, with its unit: "750 l". */
function quantityText(o: OrderRow): string {
  const q = orderedQuantity(o);
  return q ? `${q.quantity.toLocaleString("en-GB")} ${q.unit}` : "—";
}

/** The loaded orders in the order asked for (newest first unless a column is chosen). */
function sortOrders(
  rows: readonly OrderRow[],
  facts: Record<string, OrderContainer>,
  sort: { by: SortKey; desc: boolean },
): OrderRow[] {
  const key = (o: OrderRow): string | number => {
    switch (sort.by) {
      case "opened":
        return o.openedAt;
      case "container":
        return (facts[o.containerId]?.name ?? o.containerId).toLowerCase();
      case "fill":
        return facts[o.containerId]?.fillPercent ?? -1;
      case "quantity":
        return orderedQuantity(o)?.quantity ?? -1;
    }
  };
  return [...rows].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1;
    return sort.desc ? -order : order;
  });
}
const line = (l: { quantity: number; unit: string; product: string }) => `${l.quantity} ${l.unit} ${l.product}`;

/** Who delivers it, what is on it, where it is, and its sales document once there is one. */
function OrderDetail({ order: o }: { order: OrderRow }) {
  const doc = useQuery({
    queryKey: ["document-of", o.id],
    queryFn: () => data(api.v1.documents.$get({ query: { orderId: o.id, limit: "1" } })),
    enabled: o.fulfilment === "delivered",
  });
  const issued = doc.data?.documents[0];
  return (
    <dl className="facts">
      <div>
        <dt>Partner</dt>
        <dd>{o.partnerId ?? "not yet taken"}</dd>
      </div>
      <div>
        <dt>Lines</dt>
        <dd>{o.lines.length ? o.lines.map(line).join(", ") : "—"}</dd>
      </div>
      {o.eta || o.vehicle ? (
        <div>
          <dt>Dispatched</dt>
          <dd>
            {o.vehicle ?? "—"}, ETA <Time at={o.eta} />
          </dd>
        </div>
      ) : null}
      {o.deliveredAt ? (
        <div>
          <dt>Delivered</dt>
          <dd>
            <Time at={o.deliveredAt} />
            {o.deliveryNote ? `, note ${o.deliveryNote}` : ""}
            {o.delivered.length ? `: ${o.delivered.map(line).join(", ")}` : ""}
          </dd>
        </div>
      ) : null}
      {o.fulfilment === "delivered" ? (
        <div>
          <dt>Sales document</dt>
          <dd>
            {doc.isPending ? (
              "…"
            ) : issued ? (
              <>
                <a href={issued.links.html} onClick={(e) => (e.preventDefault(), void openDocument(issued.links.html))}>
                  {issued.id}
                </a>{" "}
                ({issued.gross} {issued.currency}) ·{" "}
                <a
                  href={issued.links.csv}
                  onClick={(e) => (e.preventDefault(), void openDocument(issued.links.csv, `${issued.id}.csv`))}
                >
                  CSV
                </a>
              </>
            ) : (
              "not issued yet (hourly)"
            )}
          </dd>
        </div>
      ) : null}
    </dl>
  );
}

/** Documents need the token, which a plain link does not carry: fetched, then shown or saved. */
async function openDocument(path: string, saveAs?: string) {
  await (saveAs ? download(path, saveAs) : openFile(path)).catch((error: unknown) =>
    alert(`The document could not be loaded: ${messageOf(error)}`),
  );
}
