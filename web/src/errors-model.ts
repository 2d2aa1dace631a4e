// The error records a page holds: a first page from GET /v1/errors and every change from the error
// stream, merged so that nothing shows twice and an older copy never replaces a newer one.
import type { ErrorRecord, ErrorSummary } from "../../domain/errors";

export type { ErrorRecord, ErrorSummary };

/**
 * A record as the page holds it: whole from GET /v1/errors, or the summary the stream pushes (no
 * stack, context or fingerprint; the page reads those by id when a person opens the record).
 */
export type HeldError = ErrorSummary | ErrorRecord;

export type ErrorDetail = Pick<ErrorRecord, "stack" | "context" | "fingerprint">;

/** The stack, context and fingerprint, when the copy held has them. */
export function detailOf(r: HeldError): ErrorDetail | null {
  return "fingerprint" in r ? { stack: r.stack, context: r.context, fingerprint: r.fingerprint } : null;
}

/** How far a record has come: it is seen again (count, lastSeen) or resolved; the further copy wins. */
function progress(r: ErrorSummary): [number, number, number] {
  return [r.count, Date.parse(r.lastSeen), r.resolvedAt && r.status === "resolved" ? Date.parse(r.resolvedAt) : 0];
}

export function isNewer(a: ErrorSummary, b: ErrorSummary): boolean {
  const [ac, al, ar] = progress(a);
  const [bc, bl, br] = progress(b);
  return ac !== bc ? ac > bc : al !== bl ? al > bl : ar > br;
}

/**
 * `held` with every incoming item that is new or further than the copy held (by `newer`); the same
 * map when nothing changed, so React skips the render.
 */
export function mergeNewer<T extends { id: string }>(
  held: ReadonlyMap<string, T>,
  incoming: readonly T[],
  newer: (a: T, b: T) => boolean,
): ReadonlyMap<string, T> {
  let next: Map<string, T> | null = null;
  for (const item of incoming) {
    const current = (next ?? held).get(item.id);
    if (current && !newer(item, current)) continue;
    next ??= new Map(held);
    next.set(item.id, item);
  }
  return next ?? held;
}

/**
 * A summary that only resolves a record keeps the detail held: stack and context change only with
 * a new occurrence, which moves the count.
 */
export function mergeRecords(
  held: ReadonlyMap<string, HeldError>,
  incoming: readonly HeldError[],
): ReadonlyMap<string, HeldError> {
  const kept = incoming.map((r) => {
    const current = held.get(r.id);
    const detail = current && !detailOf(r) ? detailOf(current) : null;
    return detail && current!.count === r.count && current!.lastSeen === r.lastSeen ? { ...r, ...detail } : r;
  });
  return mergeNewer(held, kept, isNewer);
}

/** Latest seen first, as GET /v1/errors answers. */
export function byLastSeen(records: ReadonlyMap<string, HeldError>): HeldError[] {
  return [...records.values()].sort(
    (a, b) => Date.parse(b.lastSeen) - Date.parse(a.lastSeen) || (a.id < b.id ? 1 : -1),
  );
}
