// The error records a page holds: a first page from GET /v1/errors and every change from the error
// stream, merged so that nothing shows twice and an older copy never replaces a newer one.
import type { ErrorRecord } from "../../domain/errors";

export type { ErrorRecord };

/** How far a record has come: it is seen again (count, lastSeen) or resolved; the further copy wins. */
function progress(r: ErrorRecord): [number, number, number] {
  return [r.count, Date.parse(r.lastSeen), r.resolvedAt && r.status === "resolved" ? Date.parse(r.resolvedAt) : 0];
}

export function isNewer(a: ErrorRecord, b: ErrorRecord): boolean {
  const [ac, al, ar] = progress(a);
  const [bc, bl, br] = progress(b);
  return ac !== bc ? ac > bc : al !== bl ? al > bl : ar > br;
}

export function mergeRecords(held: ReadonlyMap<string, ErrorRecord>, incoming: readonly ErrorRecord[]): ReadonlyMap<string, ErrorRecord> {
  let next: Map<string, ErrorRecord> | null = null;
  for (const r of incoming) {
    const current = (next ?? held).get(r.id);
    if (current && !isNewer(r, current)) continue;
    next ??= new Map(held);
    next.set(r.id, r);
  }
  return next ?? held;
}

/** Latest seen first, as GET /v1/errors answers. */
export function byLastSeen(records: ReadonlyMap<string, ErrorRecord>): ErrorRecord[] {
  return [...records.values()].sort((a, b) => Date.parse(b.lastSeen) - Date.parse(a.lastSeen) || (a.id < b.id ? 1 : -1));
}
