// Archival of old readings, the rules without the platform: which months are due, what a month's
// Parquet objects are named, when the backup allows a month to leave, and a range's history put
// together from the hot rows and the archived ones.

const DAY_MS = 24 * 3600_000;

/** A readings row as archived (ms for times). */
export interface ArchivedReading {
  containerId: string;
  readingId: string;
  measuredAt: number;
  receivedAt: number;
  fillPercent: number;
  contents: string | null;
  lat: number | null;
  lon: number | null;
  battery: number | null;
  clockSkewMs: number;
  status: string;
  refillRise: number | null;
  eventId: string;
  seq: number | null;
}

/** One Parquet object of an archived month. */
export interface ArchivePart {
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
  /** The first and last container id it holds (parts are written in container order). */
  firstContainer: string;
  lastContainer: string;
  /** Its readings by outcome (applied, stale): GET /metrics counts them with the hot ones. */
  outcomes: Record<string, number>;
}

/** A month as its first day, `YYYY-MM-01` (UTC). */
export type Month = string;

/** The month (its first day) that holds the instant `ms`. */
export function monthOf(ms: number): Month {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-01`;
}

/** The month `n` months after `month` (n may be negative). */
export function addMonths(month: Month, n: number): Month {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return monthOf(Date.UTC(y, m - 1 + n, 1));
}

/** A month's first instant, in ms. */
export function monthStart(month: Month): number {
  return Date.parse(`${month}T00:00:00Z`);
}

/** A month's span, [start, end) in ms. */
export function monthSpan(month: Month): { start: number; end: number } {
  return { start: monthStart(month), end: monthStart(addMonths(month, 1)) };
}

/**
 * The first month that stays hot: every month before it ended `hotDays` or more ago and is due for
 * the archive (a reading leaves once the whole month it belongs to is older than the setting).
 */
export function firstHotMonth(now: number, hotDays: number): Month {
  return monthOf(now - hotDays * DAY_MS);
}

/** `READINGS_HOT_DAYS` as set (a whole number of days, at least 31), else 400. */
export function hotDaysOf(setting: string | undefined): number {
  if (setting === undefined || setting.trim() === "") return 400;
  const days = Number(setting);
  if (!Number.isInteger(days) || days < 31)
    throw new Error(`READINGS_HOT_DAYS must be a whole number of days, at least 31; it is "${setting}"`);
  return days;
}

/** The Postgres partition of a month's readings. */
export function partitionOf(month: Month): string {
  if (!/^\d{4}-\d{2}-01$/.test(month)) throw new Error(`not a month: ${month}`);
  return `readings_${month.slice(0, 4)}_${month.slice(5, 7)}`;
}

/** The month a partition's name stands for (null: not a month's partition). */
export function monthOfPartition(name: string): Month | null {
  const m = /^readings_(\d{4})_(\d{2})$/.exec(name);
  return m ? `${m[1]}-${m[2]}-01` : null;
}

/**
 * A Parquet part's key: Hive-style by month, so a data tool reads the archive as one table with a
 * `month` column (DuckDB: `read_parquet('readings/*\/*.parquet', hive_partitioning = true)`). The
 * generation tells an export begun again from the one it replaces.
 */
export function partKey(month: Month, generation: number, index: number): string {
  return `readings/month=${month.slice(0, 7)}/g${generation}-part-${String(index).padStart(5, "0")}.parquet`;
}

/** What the backup holds of a container against what one month's readings need. */
export interface CoverageNeed {
  containerId: string;
  /** The newest event seq among the container's readings of the month. */
  needs: number;
  /** Up to which seq the backup holds every event of the container (0: none). */
  has: number;
}

/**
 * Why a month may not leave yet, or null when it may: every reading's event must be in the backup
 * bucket (each container covered with no hole up to its newest reading of the month), and there must
 * be a complete backup at all. Names a few of the containers behind.
 */
export function blockedBy(
  needs: readonly CoverageNeed[],
  completeBackup: string | null,
  unknownSeq = 0,
): string | null {
  if (completeBackup === null) return "no complete backup yet";
  if (unknownSeq > 0) return `${unknownSeq} readings have no event seq to check against the backup`;
  return notBackedUp(needs);
}

/** The containers whose backup does not reach what they need, named (a few), or null when none. */
export function notBackedUp(needs: readonly CoverageNeed[]): string | null {
  const behind = needs.filter((n) => n.has < n.needs);
  if (behind.length === 0) return null;
  const named = behind
    .slice(0, 3)
    .map((n) => `${n.containerId} needs seq ${n.needs}, the backup holds ${n.has}`)
    .join("; ");
  return `${behind.length} container${behind.length === 1 ? "" : "s"} not yet in a backup (${named}${behind.length > 3 ? "; …" : ""})`;
}

/** The parts that may hold a container's readings (parts are in container order, by their ranges). */
export function partsHolding(parts: readonly ArchivePart[], containerId: string): ArchivePart[] {
  return parts.filter((p) => p.firstContainer <= containerId && containerId <= p.lastContainer);
}

/** A point of a container's fill history: one reading, or a bucket of them. */
export interface HistoryPoint {
  at: string;
  fillPercent: number;
  min: number;
  max: number;
  count: number;
}

/** A time bucket of readings as a database sums it. */
export interface Bucket {
  bucket: number;
  sum: number;
  min: number;
  max: number;
  n: number;
}

/** Equal time buckets for a range of `count` readings, or null when they fit in `points` as they are. */
export function bucketSecondsFor(count: number, from: number, to: number, points: number): number | null {
  return count <= points ? null : Math.max(1, Math.ceil((to - from) / 1000 / points));
}

/**
 * A bucketed range's points, one per `bucketSeconds` from `from`: hot buckets (summed by Postgres)
 * and archived readings (from Parquet) fold into the same buckets, so a range that crosses the
 * archive's horizon reads as it did before the move.
 */
export function mergeBuckets(
  from: number,
  bucketSeconds: number,
  hot: readonly Bucket[],
  archived: readonly { at: number; fill: number }[],
): HistoryPoint[] {
  const buckets = new Map<number, Bucket>();
  for (const b of hot) buckets.set(b.bucket, { ...b });
  for (const r of archived) {
    const index = Math.floor((r.at - from) / 1000 / bucketSeconds);
    const b = buckets.get(index);
    if (b) {
      b.sum += r.fill;
      b.min = Math.min(b.min, r.fill);
      b.max = Math.max(b.max, r.fill);
      b.n += 1;
    } else buckets.set(index, { bucket: index, sum: r.fill, min: r.fill, max: r.fill, n: 1 });
  }
  return [...buckets.values()]
    .sort((a, b) => a.bucket - b.bucket)
    .map((b) => ({
      at: new Date(from + b.bucket * bucketSeconds * 1000).toISOString(),
      fillPercent: b.sum / b.n,
      min: b.min,
      max: b.max,
      count: b.n,
    }));
}
