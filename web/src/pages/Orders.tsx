import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { Fragment, useEffect, useState } from "react";
import { Link } from "wouter";
import { api, data } from "../api";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../components/ui";
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
  const [containerId, setContainerId] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [open, setOpen] = useState<string | null>(null);
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
    mutationFn: (o: { containerId: string; id: string }) => data(api.v1.containers[":containerId"].orders[":orderId"].close.$post({ param: { containerId: o.containerId, orderId: o.id } })),
    onSettled: () => queries.invalidateQueries({ queryKey: ["orders"] }),
  });
  const rows = orders.data?.pages.flatMap((p) => p.orders) ?? [];
  // Orders change with the fleet: each batch Postgres commits reloads the list, at most once a second.
  const { lastChangeAt } = useFleet();
  useEffect(() => {
    if (lastChangeAt === null) return;
    const t = setTimeout(() => void queries.invalidateQueries({ queryKey: ["orders"] }), 1000);
    return () => clearTimeout(t);
  }, [lastChangeAt]);

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
          <select aria-label="Fulfilment" value={fulfilment} onChange={(e) => setFulfilment(e.target.value as Fulfilment)}>
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
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <Fragment key={o.id}>
                  <tr>
                    <td>
                      <button type="button" className="link mono" aria-expanded={open === o.id} onClick={() => setOpen(open === o.id ? null : o.id)}>
                        {o.id}
                      </button>
                    </td>
                    <td><Link href={`/containers/${encodeURIComponent(o.containerId)}`} className="mono">{o.containerId}</Link></td>
                    <td><Badge kind={o.status}>{o.status}</Badge></td>
                    <td>{o.fulfilment}</td>
                    <td><Time at={o.openedAt} /></td>
                    <td><Time at={o.closedAt} /></td>
                    <td>
                      {o.status === "active" && can(person, "operator") ? (
                        <button type="button" className="danger small" disabled={close.isPending} onClick={() => close.mutate(o)}>
                          Close
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {open === o.id ? (
                    <tr className="detail">
                      <td colSpan={7}>
                        <ol className="timeline">
                          <li>
                            <Time at={o.openedAt} /> opened {o.source === "auto" ? "by the container (fill below threshold)" : `by hand by ${o.openedBy}`} at {formatPercent(o.fillAtOpen)}
                            {o.thresholdAtOpen !== null ? `, threshold ${o.thresholdAtOpen} %` : ""}
                          </li>
                          <li>fulfilment: {o.fulfilment}</li>
                          {o.closedAt ? (
                            <li>
                              <Time at={o.closedAt} /> closed by {o.closedBy} ({o.closeReason?.replaceAll("_", " ")}) at {formatPercent(o.fillAtClose)}
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
