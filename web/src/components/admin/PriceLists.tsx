// Price lists (admin): what each partner charges per product and unit, and the VAT on it. Sales
// documents price each delivered line from here; the whole list is saved at once.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiProblem, data } from "../../api";
import { Empty, Failed, FormProblem, Loading, Time } from "../ui";
import { partnersQuery } from "./Partners";

type Price = { product: string; unit: string; currency: string; unitPrice: number; vatRate: number };
/** A row as typed: figures stay text until saved, so the API judges what was typed. */
interface DraftPrice {
  product: string;
  unit: string;
  unitPrice: string;
  vatPercent: string;
}

const draftOf = (p: Price): DraftPrice => ({
  product: p.product,
  unit: p.unit,
  unitPrice: String(p.unitPrice),
  // The API keeps a rate (0.2); people think in percent (20).
  vatPercent: String(Math.round(p.vatRate * 1_000_000) / 10_000),
});
/** What is not a number reaches the API as null, which names the field. */
const figure = (text: string) => (text.trim() === "" ? Number.NaN : Number(text.replace(",", ".")));

export function PriceLists() {
  const partners = useQuery(partnersQuery);
  const [chosen, setChosen] = useState<string | null>(null);
  const list = partners.data?.partners ?? [];
  const partnerId = chosen ?? list[0]?.id ?? null;
  return (
    <section className="panel" aria-labelledby="prices-title">
      <div className="panel-head">
        <h2 id="prices-title">Price lists</h2>
        {list.length ? (
          <label>
            Partner{" "}
            <select aria-label="Partner" value={partnerId ?? ""} onChange={(e) => setChosen(e.target.value)}>
              {list.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </div>
      <p className="muted small">
        Each delivered order's sales document prices its lines from its partner's list, by product and unit. Documents
        already issued keep their prices; an order whose goods have no price waits, and is issued by the next hourly run
        once they have one.
      </p>
      {partners.isError ? (
        <Failed error={partners.error} retry={() => partners.refetch()} />
      ) : partners.isPending ? (
        <Loading what="partners" />
      ) : partnerId === null ? (
        <Empty>No partners yet: add one on the Partners tab first.</Empty>
      ) : (
        <PriceList key={partnerId} partnerId={partnerId} />
      )}
    </section>
  );
}

function PriceList({ partnerId }: { partnerId: string }) {
  const queries = useQueryClient();
  const key = ["prices", partnerId];
  const prices = useQuery({
    queryKey: key,
    queryFn: () => data(api.v1.partners[":id"].prices.$get({ param: { id: partnerId } })),
  });
  const [note, setNote] = useState<string | null>(null);
  if (prices.isError) return <Failed error={prices.error} retry={() => prices.refetch()} />;
  if (prices.isPending) return <Loading what="the price list" />;
  return (
    <PriceEditor
      // A new answer (a save, another admin's change) starts the form again from it.
      key={prices.dataUpdatedAt}
      partnerId={partnerId}
      prices={prices.data.prices}
      note={note}
      onEdit={() => setNote(null)}
      saved={(answer) => {
        setNote(`Saved: ${answer.prices.length} ${answer.prices.length === 1 ? "price" : "prices"}.`);
        queries.setQueryData(key, answer);
      }}
    />
  );
}

function PriceEditor({
  partnerId,
  prices,
  note,
  onEdit,
  saved,
}: {
  partnerId: string;
  prices: (Price & { updatedAt: string; updatedBy: string })[];
  note: string | null;
  onEdit: () => void;
  saved: (answer: { prices: (Price & { updatedAt: string; updatedBy: string })[] }) => void;
}) {
  const [currency, setCurrency] = useState(prices[0]?.currency ?? "EUR");
  const [rows, setRows] = useState<DraftPrice[]>(() => prices.map(draftOf));
  const latest = prices.reduce<(typeof prices)[number] | null>(
    (a, p) => (a === null || p.updatedAt > a.updatedAt ? p : a),
    null,
  );
  const save = useMutation({
    mutationFn: () =>
      data(
        api.v1.partners[":id"].prices.$put({
          param: { id: partnerId },
          json: {
            currency: currency.trim(),
            prices: rows.map((r) => ({
              product: r.product,
              unit: r.unit,
              unitPrice: figure(r.unitPrice),
              vatRate: Math.round(figure(r.vatPercent) * 100) / 10_000,
            })),
          },
        }),
      ),
    onSuccess: saved,
  });
  const invalid = (path: string) =>
    save.error instanceof ApiProblem && save.error.issues.some((i) => i.path === path || i.path.startsWith(`${path}.`))
      ? true
      : undefined;
  const edit = (i: number, field: keyof DraftPrice, value: string) => {
    onEdit();
    setRows(rows.map((r, j) => (j === i ? { ...r, [field]: value } : r)));
  };
  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate();
  }

  return (
    <form className="price-list" onSubmit={submit}>
      <div className="form inline">
        <label>
          Currency
          <input
            className="narrow"
            value={currency}
            maxLength={3}
            aria-invalid={invalid("currency")}
            onChange={(e) => setCurrency(e.target.value.toUpperCase())}
          />
          <span className="hint">ISO code, for every price below</span>
        </label>
        {latest ? (
          <span className="muted small">
            Last changed <Time at={latest.updatedAt} /> by {latest.updatedBy}
          </span>
        ) : null}
      </div>
      {rows.length === 0 ? (
        <Empty>No prices yet: orders of this partner wait for their documents until their goods have one.</Empty>
      ) : (
        <div className="scroll-x">
          <table className="table cards prices">
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Unit</th>
                <th scope="col">Price per unit ({currency || "—"})</th>
                <th scope="col">VAT %</th>
                <th scope="col">
                  <span className="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i} data-row={i}>
                  <td data-label="Product">
                    <input
                      aria-label={`Product of row ${i + 1}`}
                      value={r.product}
                      placeholder="diesel"
                      aria-invalid={invalid(`prices[${i}].product`) ?? invalid(`prices[${i}]`)}
                      onChange={(e) => edit(i, "product", e.target.value)}
                    />
                  </td>
                  <td data-label="Unit">
                    <input
                      aria-label={`Unit of row ${i + 1}`}
                      className="narrow"
                      value={r.unit}
                      placeholder="l"
                      aria-invalid={invalid(`prices[${i}].unit`) ?? invalid(`prices[${i}]`)}
                      onChange={(e) => edit(i, "unit", e.target.value)}
                    />
                  </td>
                  <td data-label={`Price (${currency || "—"})`}>
                    <input
                      aria-label={`Price per unit of row ${i + 1}`}
                      className="narrow"
                      inputMode="decimal"
                      value={r.unitPrice}
                      placeholder="1.45"
                      aria-invalid={invalid(`prices[${i}].unitPrice`)}
                      onChange={(e) => edit(i, "unitPrice", e.target.value)}
                    />
                  </td>
                  <td data-label="VAT %">
                    <input
                      aria-label={`VAT percent of row ${i + 1}`}
                      className="narrow"
                      inputMode="decimal"
                      value={r.vatPercent}
                      placeholder="20"
                      aria-invalid={invalid(`prices[${i}].vatRate`)}
                      onChange={(e) => edit(i, "vatPercent", e.target.value)}
                    />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="small"
                      aria-label={`Remove row ${i + 1}`}
                      onClick={() => {
                        onEdit();
                        setRows(rows.filter((_, j) => j !== i));
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <FormProblem error={save.error} />
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            onEdit();
            setRows([...rows, { product: "", unit: "", unitPrice: "", vatPercent: rows.at(-1)?.vatPercent ?? "" }]);
          }}
        >
          Add a price
        </button>
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save price list"}
        </button>
        {note ? (
          <span role="status" className="ok-note">
            {note}
          </span>
        ) : null}
      </div>
    </form>
  );
}
