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

/**
 * `held` with every incoming item that is new or further than the copy held (by `newer`); the same
 * map when nothing changed, so React skips the render.
 */
export function mergeNewer<T extends { id: string }>(held: ReadonlyMap<string, T>, incoming: readonly T[], newer: (a: T, b: T) => boolean): ReadonlyMap<string, T> {
  let next: Map<string, T> | null = null;
  for (const item of incoming) {
    const current = (next ?? held).get(item.id);
    if (current && !newer(item, current)) continue;
    next ??= new Map(held);
    next.set(item.id, item);
  }
  return next ?? held;
}

export function mergeRecords(held: ReadonlyMap<string, ErrorRecord>, incoming: readonly ErrorRecord[]): ReadonlyMap<string, ErrorRecord> {
  return mergeNewer(held, incoming, isNewer);
}

/** Latest seen first, as GET /v1/errors answers. */
export function byLastSeen(records: ReadonlyMap<string, ErrorRecord>): ErrorRecord[] {
  return [...records.values()].sort((a, b) => Date.parse(b.lastSeen) - Date.parse(a.lastSeen) || (a.id < b.id ? 1 : -1));
}
