import type { InferResponseType } from "hono/client";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import { Link, useSearch } from "wouter";
import { api, data } from "../api";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
import { formatPercent, zoneName } from "../format";
import { can, session, useSession } from "../session";
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
            ...(filters.containerId ? { containerId: filters.containerId } : {}),
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
        }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: ["orders"] }),
  });
  const rows = orders.data?.pages.flatMap((p) => p.orders) ?? [];
  // Orders change with the fleet: each batch Postgres commits reloads the list, at most once a second.
  const { lastChangeAt } = useFleet();
  useEffect(() => {
    if (lastChangeAt === null) return;
    const t = setTimeout(() => void queries.invalidateQueries({ queryKey: ["orders"] }), 1000);
    return () => clearTimeout(t);
  }, [lastChangeAt, queries]);

  return (
    <section className="page" aria-labelledby="orders-page-title">
      <h1 id="orders-page-title">Orders</h1>
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
          <input value={containerId} onChange={(e) => setContainerId(e.target.value)} placeholder="any" />
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
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Container</th>
                <th scope="col">Status</th>
                <th scope="col">Fulfilment</th>
                <th scope="col">Opened</th>
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
                    <td>
                      <button
                        type="button"
                        className="link mono"
                        aria-expanded={open === o.id}
                        onClick={() => setOpen(open === o.id ? null : o.id)}
                      >
                        {o.id}
                      </button>
                    </td>
                    <td>
                      <Link href={`/containers/${encodeURIComponent(o.containerId)}`} className="mono">
                        {o.containerId}
                      </Link>
                    </td>
                    <td>
                      <Badge kind={o.status}>{o.status}</Badge>
                    </td>
                    <td>{o.fulfilment}</td>
                    <td>
                      <Time at={o.openedAt} />
                    </td>
                    <td>
                      <Time at={o.closedAt} />
                    </td>
                    <td>
                      {o.status === "active" && can(person, "operator") ? (
                        <button
                          type="button"
                          className="danger small"
                          disabled={close.isPending}
                          onClick={() => close.mutate(o)}
                        >
                          Close
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === o.id ? (
                    <tr className="detail">
                      <td colSpan={7}>
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
                            fulfilment: {o.fulfilment}
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

type OrderRow = InferResponseType<typeof api.v1.orders.$get, 200>["orders"][number];
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

/** Documents need the token, which a plain link does not carry: fetch, then show or save. */
async function openDocument(path: string, saveAs?: string) {
  const token = session.current()?.token;
  const res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) return alert(`The document could not be loaded (${res.status}).`);
  const url = URL.createObjectURL(await res.blob());
  if (saveAs) {
    const a = document.createElement("a");
    a.href = url;
    a.download = saveAs;
    a.click();
  } else {
    window.open(url, "_blank", "noopener");
  }
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
