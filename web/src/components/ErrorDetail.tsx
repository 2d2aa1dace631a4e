import { useQuery } from "@tanstack/react-query";
import { api, data } from "../api";
import { detailOf, type HeldError } from "../errors-model";
import { Failed, Loading } from "./ui";

/**
 * An opened error record's context, stack and fingerprint: from the copy held when it has them (a
 * record as GET /v1/errors listed it), otherwise read by id, since the stream pushes summaries.
 */
export function ErrorDetail({ record }: { record: HeldError }) {
  const held = detailOf(record);
  // Keyed by how far the record has come, so a new occurrence while it is open is read again.
  const whole = useQuery({
    queryKey: ["error", record.id, record.count, record.lastSeen],
    queryFn: () => data(api.v1.errors[":id"].$get({ param: { id: record.id } })),
    enabled: held === null,
  });
  const detail = held ?? (whole.data ? detailOf(whole.data.record) : null);
  if (!detail) {
    return (
      <div className="error-detail">
        {whole.error ? (
          <Failed error={whole.error} retry={() => void whole.refetch()} />
        ) : (
          <Loading what="the stack and context" />
        )}
      </div>
    );
  }
  return (
    <div className="error-detail">
      {Object.keys(detail.context).length ? (
        <dl className="facts">
          {Object.entries(detail.context).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd className="mono">{String(v)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {detail.stack ? <pre className="stack">{detail.stack}</pre> : <p className="muted">No stack.</p>}
      <p className="muted small mono">fingerprint {detail.fingerprint}</p>
    </div>
  );
}
