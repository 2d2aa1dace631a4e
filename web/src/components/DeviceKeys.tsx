import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, data } from "../api";
import { Empty, Failed, FormProblem, Loading, Time } from "./ui";

/** Device keys (admin): issue one (its secret shown once, to copy), list, revoke. For one container, or the fleet. */
export function DeviceKeys({ containerId }: { containerId?: string }) {
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ["device-keys"], queryFn: () => data(api.v1["device-keys"].$get()) });
  const [label, setLabel] = useState("");
  const [scope, setScope] = useState(containerId ?? "");
  const [issued, setIssued] = useState<{ key: string; id: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const issue = useMutation({
    mutationFn: () =>
      data(
        api.v1["device-keys"].$post({
          json: {
            ...(label.trim() ? { label: label.trim() } : {}),
            containerId: scope.trim() === "" ? null : scope.trim(),
          },
        }),
      ),
    onSuccess: (answer) => {
      setIssued({ key: answer.key, id: answer.deviceKey.id });
      setCopied(false);
      // The form starts again as it began: a next key is not silently scoped like the last one.
      setLabel("");
      setScope(containerId ?? "");
      void queries.invalidateQueries({ queryKey: ["device-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => data(api.v1["device-keys"][":id"].$delete({ param: { id } })),
    onSettled: () => queries.invalidateQueries({ queryKey: ["device-keys"] }),
  });
  const shown = keys.data?.deviceKeys.filter((k) => containerId === undefined || k.containerId === containerId) ?? [];

  function submit(e: FormEvent) {
    e.preventDefault();
    issue.mutate();
  }
  async function copy() {
    if (!issued) return;
    await navigator.clipboard.writeText(issued.key).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  }

  return (
    <section className="panel" aria-labelledby="keys-title">
      <h2 id="keys-title">Device keys</h2>
      <form className="form inline" onSubmit={submit}>
        <label>
          Label
          <input value={label} onChange={(e) => setLabel(e.target.value)} maxLength={100} placeholder="gateway north" />
        </label>
        {containerId === undefined ? (
          <label>
            Container (empty: any)
            <input value={scope} onChange={(e) => setScope(e.target.value)} placeholder="the whole fleet" />
          </label>
        ) : null}
        <button type="submit" disabled={issue.isPending}>
          {issue.isPending ? "Issuing…" : containerId ? "Issue a key for this container" : "Issue a key"}
        </button>
      </form>
      <FormProblem error={issue.error ?? revoke.error} />
      {issued ? (
        <div className="secret" role="alert">
          <p>
            <strong>Copy this key now.</strong> Only its hash is kept: it is not shown again.
          </p>
          <code data-secret="device-key">{issued.key}</code>
          <div className="actions">
            <button type="button" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="link" onClick={() => setIssued(null)}>
              I have stored it
            </button>
          </div>
        </div>
      ) : null}
      {keys.isError ? (
        <Failed error={keys.error} retry={() => keys.refetch()} />
      ) : keys.isPending ? (
        <Loading what="device keys" />
      ) : shown.length === 0 ? (
        <Empty>No device keys {containerId ? "for this container" : "yet"}.</Empty>
      ) : (
        <table className="table cards">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Label</th>
              {containerId === undefined ? <th scope="col">Container</th> : null}
              <th scope="col">Issued</th>
              <th scope="col">
                <span className="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((k) => (
              <tr key={k.id} className={k.revokedAt ? "revoked" : ""}>
                <td className="mono" data-label="Key">
                  {k.id}
                </td>
                <td data-label="Label">{k.label ?? "—"}</td>
                {containerId === undefined ? (
                  <td className="mono" data-label="Container">
                    {k.containerId ?? "any"}
                  </td>
                ) : null}
                <td data-label="Issued">
                  <Time at={k.createdAt} /> <span className="muted small">by {k.createdBy}</span>
                </td>
                <td>
                  {k.revokedAt ? (
                    <span className="muted small">
                      revoked <Time at={k.revokedAt} />
                    </span>
                  ) : (
                    <button
                      type="button"
                      className="danger small"
                      disabled={revoke.isPending}
                      onClick={() =>
                        confirm(`Revoke key ${k.id}? Sensors using it are refused within seconds.`) &&
                        revoke.mutate(k.id)
                      }
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
