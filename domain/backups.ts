// Backups, the pure part: where each object goes, what an event object holds, how far each
// container's events are covered without a hole, and when an hour's backup is complete.
//
// Every committed container event reaches the backup bucket as a line of an NDJSON object
// (gzip-compressed), one object per batch of the backup queue, named by the hour of its first event
// and by a hash of what it holds: a batch that comes again writes the same name with the same bytes.
// Every hour a snapshot of what no container holds and a manifest of the objects written since the
// last one (with each object's SHA-256 and every container's covered seq) make a backup checkable.
import { z } from "zod";
import { BATCH_MAX_BYTES, packTexts, utf8Length } from "./change-message";
import type { ContainerEvent } from "./events";

export const HOUR_MS = 3_600_000;

/** The hour an instant falls in, as the object names spell it: `2026/12/05/14`. */
export function hourPath(ms: number): string {
  const iso = new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}`;
}

/** The hour an instant falls in, as an RFC 3339 instant (its start). */
export function hourOf(ms: number): string {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
}

export const eventsKey = (firstAt: number, hash: string) => `events/${hourPath(firstAt)}/${hash}.ndjson.gz`;
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:.]/g, "");
/** A snapshot per run, named by when it was taken: a second run in the hour adds one, never replaces. */
export const snapshotKey = (hour: number, takenAt: number) =>
  `snapshots/${hourPath(hour)}/snapshot-${stamp(takenAt)}.json.gz`;
/** A manifest per run, named by when it was written: a second run in the hour adds one, never replaces. */
export const manifestKey = (hour: number, writtenAt: number) =>
  `manifests/${hourPath(hour)}/manifest-${stamp(writtenAt)}.json`;

/** A run of one container's events, `fromSeq` to `toSeq` with no seq missing. */
export interface SeqRange {
  containerId: string;
  fromSeq: number;
  toSeq: number;
}

/**
 * What the projection consumer passes on to the backup queue: the events of its batch, the only part
 * of a range message a backup keeps. A range carries the container's state and the orders its events
 * touch as well, about two thirds of its bytes; the backup queue takes, and its consumer reads, a
 * third of what it would as whole ranges. Told from a range by having `events` and no `range`.
 */
export interface BackupEventsMessage {
  events: ContainerEvent[];
}

/**
 * Events as backup messages: JSON text, as few messages as fit within `maxBytes` each (counted in
 * UTF-8, as the queue counts them), the events in order; one event larger than that goes alone.
 */
export function backupEventsMessages(
  events: readonly ContainerEvent[],
  maxBytes = BATCH_MAX_BYTES,
): { body: string; bytes: number }[] {
  const texts = events.map((event) => {
    const text = JSON.stringify(event);
    return { text, bytes: utf8Length(text) };
  });
  return packTexts("events", texts, maxBytes).map(({ body, bytes }) => ({ body, bytes }));
}

/**
 * The events of a batch as an object holds them: one per container and seq (a batch may carry an
 * event twice: a range sent again), ordered by container and seq, one JSON line each.
 */
export function eventLines(events: Iterable<ContainerEvent>): {
  lines: string;
  ranges: SeqRange[];
  count: number;
  firstAt: number;
} {
  const unique = new Map<string, ContainerEvent>();
  for (const e of events) unique.set(`${e.containerId}\u0000${String(e.seq).padStart(12, "0")}`, e);
  const keys = [...unique.keys()].sort();
  const ranges: SeqRange[] = [];
  let lines = "";
  let firstAt = Infinity;
  for (const k of keys) {
    const e = unique.get(k)!;
    lines += JSON.stringify(e) + "\n";
    firstAt = Math.min(firstAt, Date.parse(e.at));
    const last = ranges.at(-1);
    if (last && last.containerId === e.containerId && last.toSeq + 1 === e.seq) last.toSeq = e.seq;
    else ranges.push({ containerId: e.containerId, fromSeq: e.seq, toSeq: e.seq });
  }
  return { lines, ranges, count: keys.length, firstAt };
}

/**
 * A container's coverage: every seq up to `contiguous` is in some object, and `ranges` beyond it
 * (after a hole) are too. Adding a range moves `contiguous` on over every range that now joins it.
 */
export function cover(
  contiguous: number,
  ranges: readonly { fromSeq: number; toSeq: number }[],
): { contiguous: number; beyond: { fromSeq: number; toSeq: number }[] } {
  const sorted = [...ranges].sort((a, b) => a.fromSeq - b.fromSeq);
  let upTo = contiguous;
  const beyond: { fromSeq: number; toSeq: number }[] = [];
  for (const r of sorted) {
    if (r.toSeq <= upTo) continue;
    if (r.fromSeq <= upTo + 1) upTo = r.toSeq;
    else beyond.push(r);
  }
  // In order of where they start: once one starts past a hole, so does every one after it.
  return { contiguous: upTo, beyond };
}

/** What a backup is checked against: the events each container had committed, as the projection knows them. */
export interface Expected {
  containerId: string;
  version: number;
}

/**
 * Complete: every event the projection knows of is in the backup without a hole before it, and the
 * snapshot was written. The containers still missing, with how many events each, say why not.
 */
export function completeness(
  coverage: ReadonlyMap<string, number>,
  expected: readonly Expected[],
  snapshot: boolean,
): { complete: boolean; missing: { containerId: string; backedUp: number; version: number }[] } {
  const missing = expected
    .filter((e) => (coverage.get(e.containerId) ?? 0) < e.version)
    .map((e) => ({ containerId: e.containerId, backedUp: coverage.get(e.containerId) ?? 0, version: e.version }));
  return { complete: snapshot && missing.length === 0, missing };
}

const sha256Text = z.string().regex(/^[0-9a-f]{64}$/);

export const manifestObjectSchema = z.object({
  key: z.string(),
  bytes: z.number().int(),
  sha256: sha256Text.meta({ description: "SHA-256 of the object's bytes, lowercase hex" }),
  events: z.number().int(),
  ranges: z.array(z.object({ containerId: z.string(), fromSeq: z.number().int(), toSeq: z.number().int() })),
});
export type ManifestObject = z.infer<typeof manifestObjectSchema>;

export const manifestSchema = z
  .object({
    format: z.literal(1),
    hour: z.string().meta({ description: "The hour it closes (its start, RFC 3339)" }),
    writtenAt: z.string(),
    complete: z.boolean().meta({
      description:
        "Every event Postgres knew of when it was written is in the backup with no hole, and the snapshot too",
    }),
    missing: z
      .array(z.object({ containerId: z.string(), backedUp: z.number().int(), version: z.number().int() }))
      .meta({ description: "Containers with events not yet in the backup (at most 100 listed)" }),
    missingCount: z.number().int(),
    snapshot: manifestObjectSchema.omit({ events: true, ranges: true }).nullable(),
    objects: z.array(manifestObjectSchema).meta({ description: "Event objects written since the last manifest" }),
    events: z.number().int().meta({ description: "Events in those objects" }),
    containers: z
      .record(z.string(), z.number().int())
      .meta({ description: "Every container's events in the backup up to this seq, with no hole" }),
  })
  .meta({ id: "BackupManifest" });
export type Manifest = z.infer<typeof manifestSchema>;

export const backupSummarySchema = z
  .object({
    hour: z.string(),
    key: z.string(),
    writtenAt: z.string(),
    complete: z.boolean(),
    missingCount: z.number().int(),
    objects: z.number().int(),
    events: z.number().int(),
    bytes: z.number().int(),
    containers: z.number().int(),
  })
  .meta({ id: "Backup", description: "An hour's manifest: what it holds and whether it is complete" });
export type BackupSummary = z.infer<typeof backupSummarySchema>;

/** Seconds since the newest complete backup was taken (its manifest written); null: there is none. */
export function backupAgeSeconds(newestCompleteWrittenAt: string | null, now: number): number | null {
  if (newestCompleteWrittenAt === null) return null;
  return Math.max(0, (now - Date.parse(newestCompleteWrittenAt)) / 1000);
}

/**
 * A container's log in parts for a restore: each at most about `size` events, ending where a commit
 * ended (a commit's events share their time: the reading and the order it opened stay together).
 */
export function restoreParts<E extends { at: string }>(events: readonly E[], size: number): E[][] {
  const parts: E[][] = [];
  let part: E[] = [];
  for (const e of events) {
    const last = part.at(-1);
    if (last && part.length >= size && last.at !== e.at) {
      parts.push(part);
      part = [];
    }
    part.push(e);
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** The log as it stood at a moment: the commits made up to then (whole: their events share a time). */
export function commitsUpTo<E extends { at: string }>(events: readonly E[], moment: number): E[] {
  return events.filter((e) => Date.parse(e.at) <= moment);
}

export const restoreSummarySchema = z
  .object({
    snapshot: z
      .object({
        takenAt: z.string(),
        people: z.number().int(),
        deviceKeys: z.number().int(),
        partners: z.number().int(),
      })
      .nullable()
      .meta({ description: "The snapshot restored; null when the backup held none taken by then" }),
    containers: z.number().int().meta({ description: "Containers restored" }),
    events: z.number().int().meta({ description: "Events replayed into them" }),
    documents: z.number().int().meta({ description: "Sales documents' files put back into the documents bucket" }),
    refused: z
      .array(z.object({ containerId: z.string(), reason: z.string() }))
      .meta({ description: "Containers not restored, and why" }),
  })
  .meta({ id: "RestoreSummary" });

export const BACKUP_PREFIXES = ["events/", "snapshots/", "manifests/", "documents/"] as const;
const BACKUP_KEY = /^(events|snapshots|manifests)\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[A-Za-z0-9._-]{1,128}$/;
/** A sales document's file, under the key it has in the documents bucket. */
const DOCUMENT_KEY = /^documents\/[A-Za-z0-9._-]{1,64}\/\d{4}\/[A-Za-z0-9._-]{1,128}\.(csv|html)$/;

/** Whether a key is one a backup writes (events/, snapshots/, manifests/ by hour; documents/ as issued). */
export const isBackupKey = (key: string) => BACKUP_KEY.test(key) || DOCUMENT_KEY.test(key);

export const backupKeySchema = z.string().max(512).refine(isBackupKey, {
  error:
    "is not a backup object's key (events/, snapshots/ or manifests/<yyyy>/<mm>/<dd>/<hh>/<name>, or documents/<partner>/<year>/<number>.csv|html)",
});

/**
 * What R2 sends a queue when an object is written (an event notification), and what the backup's
 * writer sends itself where no notification rule exists (locally): the replication consumer reads
 * both alike.
 */
export const objectCreatedSchema = z.object({
  account: z.string(),
  action: z.enum(["PutObject", "CopyObject", "CompleteMultipartUpload"]),
  bucket: z.string(),
  object: z.object({ key: z.string(), size: z.number().int().nonnegative(), eTag: z.string() }),
  eventTime: z.string(),
});
export type ObjectCreated = z.infer<typeof objectCreatedSchema>;

/** Seconds the oldest object not yet in the replica has waited (0: none waits). */
export function replicationLagSeconds(oldestWaiting: number | null, now: number): number {
  return oldestWaiting === null ? 0 : Math.max(0, (now - oldestWaiting) / 1000);
}
