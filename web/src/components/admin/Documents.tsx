// Sales documents (admin): one per delivered order, issued hourly. Narrow them by partner, order
// and when they were issued; open one as its printable page, or save it as CSV or JSON.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, data, download, openFile } from "../../api";
import { saveBlob } from "../../download";
import { zoneName } from "../../format";
import { useFleet } from "../../stores";
import { Badge, Empty, Failed, FormProblem, Loading, Time } from "../ui";
import { partnersQuery } from "./Partners";

/** A datetime-local value (the viewer's zone) as an instant, or undefined when empty. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);
const LIMIT = 100;

export function Documents() {
  const queries = useQueryClient();
  const { fleet } = useFleet();
  const partners = useQuery(partnersQuery);
  const [partnerId, setPartnerId] = useState("");
  const [orderId, setOrderId] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const query = {
    limit: String(LIMIT),
    ...(partnerId ? { partnerId } : {}),
    ...(orderId.trim() ? { orderId: orderId.trim() } : {}),
    ...(from ? { from: instant(from) } : {}),
    ...(to ? { to: instant(to) } : {}),
  };
  const documents = useQuery({
    queryKey: ["documents", query],
    queryFn: () => data(api.v1.documents.$get({ query })),
  });
  const run = useMutation({
    mutationFn: () => data(api.v1.documents.run.$post({ query: {} })),
    onSettled: () => queries.invalidateQueries({ queryKey: ["documents"] }),
  });
  // Each action's failure shows under the list, in the API's words.
  const [failure, setFailure] = useState<unknown>(null);
  const act = (work: Promise<unknown>) => {
    setFailure(null);
    work.catch(setFailure);
  };
  const saveJson = async (id: string) => {
    const { document } = await data(api.v1.documents[":id"].$get({ param: { id } }));
    saveBlob(`${id}.json`, new Blob([JSON.stringify(document, null, 2)], { type: "application/json" }));
  };
  const partnerName = (id: string) => partners.data?.partners.find((p) => p.id === id)?.name ?? id;
  const rows = documents.data?.documents ?? [];
  const filtered = Boolean(partnerId || orderId.trim() || from || to);

  return (
    <section className="panel" aria-labelledby="documents-title">
      <div className="panel-head">
        <h2 id="documents-title">Sales documents</h2>
        <div className="actions">
          <button type="button" disabled={run.isPending} onClick={() => run.mutate()}>
            {run.isPending ? "Issuing…" : "Issue owed documents now"}
          </button>
          {run.data ? (
            <span role="status" className="ok-note small">
              {run.data.issued === 1 ? "1 document issued" : `${run.data.issued} documents issued`}
              {run.data.waiting ? `; ${run.data.waiting} waiting for a price` : ""}
            </span>
          ) : null}
        </div>
      </div>
      <p className="muted small">
        Every delivered order gets one sales document, numbered per partner and year, priced from the partner's price
        list. They are issued every hour; an order whose goods have no price waits until they have one.
      </p>
      <div className="filters" role="search">
        <label>
          Partner
          <select aria-label="Partner" value={partnerId} onChange={(e) => setPartnerId(e.target.value)}>
            <option value="">Any</option>
            {(partners.data?.partners ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order
          <input value={orderId} onChange={(e) => setOrderId(e.target.value)} placeholder="ord_…" />
        </label>
        <label>
          Issued from
          <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          to
          <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <span className="muted small">Times in {zoneName}</span>
      </div>
      <FormProblem error={run.error ?? failure} />
      {documents.isError ? (
        <Failed error={documents.error} retry={() => documents.refetch()} />
      ) : documents.isPending ? (
        <Loading what="sales documents" />
      ) : rows.length === 0 ? (
        <Empty>{filtered ? "No document matches these filters." : "No sales documents yet."}</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards">
            <thead>
              <tr>
                <th scope="col">Number</th>
                <th scope="col">Partner</th>
                <th scope="col">Delivered to</th>
                <th scope="col">Goods</th>
                <th scope="col">Total</th>
                <th scope="col">Issued</th>
                <th scope="col">
                  <span className="sr-only">Open or save</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} data-document={d.id} className={d.voidAt ? "revoked" : ""}>
                  <td data-label="Number">
                    <div>
                      <span className="mono">{d.id}</span>
                      {d.voidAt ? (
                        <div className="small">
                          <Badge kind="closed">void</Badge> replaced by <span className="mono">{d.replacedBy}</span>{" "}
                          after the partner corrected the delivery
                        </div>
                      ) : d.revision > 0 ? (
                        <div className="muted small">for the corrected delivery</div>
                      ) : null}
                    </div>
                  </td>
                  <td data-label="Partner">{partnerName(d.partnerId)}</td>
                  <td data-label="Delivered to">
                    <div>
                      {fleet.get(d.containerId)?.name ?? d.containerId}
                      <div className="muted small">
                        <Time at={d.deliveredAt} />
                      </div>
                    </div>
                  </td>
                  <td data-label="Goods">
                    {d.lines.map((l) => `${l.quantity.toLocaleString("en-GB")} ${l.unit} ${l.product}`).join(", ")}
                  </td>
                  <td data-label="Total">
                    <div>
                      <span className="nowrap">
                        {d.gross} {d.currency}
                      </span>
                      <div className="muted small">
                        net {d.net}, VAT {d.vat}
                      </div>
                    </div>
                  </td>
                  <td data-label="Issued">
                    <Time at={d.issuedAt} />
                  </td>
                  <td>
                    <div className="actions">
                      <button
                        type="button"
                        className="small"
                        aria-label={`Open ${d.id} as a page`}
                        onClick={() => act(openFile(d.links.html))}
                      >
                        Open
                      </button>
                      <button
                        type="button"
                        className="small"
                        aria-label={`Save ${d.id} as CSV`}
                        onClick={() => act(download(d.links.csv, `${d.id}.csv`))}
                      >
                        CSV
                      </button>
                      <button
                        type="button"
                        className="small"
                        aria-label={`Save ${d.id} as JSON`}
                        onClick={() => act(saveJson(d.id))}
                      >
                        JSON
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length === LIMIT ? (
        <p className="muted small">The latest {LIMIT} are shown; narrow the dates to see older ones.</p>
      ) : null}
    </section>
  );
}
