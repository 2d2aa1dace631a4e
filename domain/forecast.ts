// The consumption model of one container: how fast its level falls, and when it reaches the
// threshold and empties. Pure: the container feeds it every applied reading (`observe`) and asks it
// for the forecast (`estimate`); rebuilding a container from its log feeds it the same readings, so
// the two agree.
//
// The statistics are written here rather than taken from a package: what the model needs —
// Theil–Sen's slope with its rank-based interval on at most a hundred points, refills cutting the
// series into segments, a weekday profile — is a few dozen lines, and the statistics packages on npm
// offer a plain median at best (none has Sen's interval) while adding weight to every object.
import { z } from "zod";
import type { Signals } from "./anomalies";
import { nullableInstantText } from "./validation";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** How far back the model looks: four weeks, enough for a weekday profile. */
export const LOOKBACK_DAYS = 28;
/** The rate is fitted on the last two weeks of the current segment. */
export const RATE_DAYS = 14;
/** Fewer readings than this since the last refill, or less time than MIN_SPAN_MS: no forecast. */
export const MIN_READINGS = 6;
export const MIN_SPAN_MS = DAY_MS;
/** A rise of at least this many points above the level of the hours before is a refill (setting `refillRise`). */
export const DEFAULT_REFILL_RISE = 10;
/** Falling slower than this (points a day) is not falling: no date would mean anything. */
export const MIN_RATE_PER_DAY = 0.05;
/** How far ahead a date is given; beyond it the forecast says none. */
export const HORIZON_DAYS = 365;
/** A refill is judged against the level of the last few buckets within these hours. */
const REFILL_BASE_MS = 12 * HOUR_MS;
const REFILL_BASE_BUCKETS = 6;
/** A midnight's level is read from the buckets this far either side of it. */
const MIDNIGHT_MS = 6 * HOUR_MS;
/**
 * At most this many buckets are kept (an hour each over the look-back, and as many again for
 * refills); beyond it the oldest go, so a sensor that jumps all the time costs no more than this.
 */
const MAX_BUCKETS = 2 * LOOKBACK_DAYS * 24;
/** Theil–Sen is quadratic in its points: a longer segment is merged to this many. */
const MAX_FIT_POINTS = 32;
/** The local level is the line moved by the mean residual of this last stretch: short, so that a sudden fall counts at once. */
const LEVEL_MS = 4 * HOUR_MS;
const RATE_FLOOR = 0.15;
/** The normal quantile of p90: the interval is p10–p90. */
const Z80 = 1.2815515655446004;

/** An hour of applied readings (a refill starts a new one). Times are epoch milliseconds. */
export interface Bucket {
  /** measuredAt of its first reading; a refill's bucket starts at the refill. */
  first: number;
  last: number;
  n: number;
  sumFill: number;
  sumTime: number;
  /** The hour it belongs to (epoch hours). */
  hour: number;
  /** It starts a segment (the first bucket after a refill). */
  refill: boolean;
}

interface Fit {
  /** Points a day, positive when the level falls, and its p10–p90 interval. */
  rate: number;
  rateLow: number;
  rateHigh: number;
  /** The line: level = intercept − rate × days since `origin`. */
  origin: number;
  intercept: number;
  /** Robust spread of a bucket's mean around the line (points). */
  spread: number;
  /** A single reading's noise (the steps between hourly means × √ readings per bucket). */
  readingNoise: number;
  /** The fit spans two days: its noise says something of the sensor. */
  noiseKnown: boolean;
  /** How long the fitted points span. */
  spanMs: number;
}

interface Profile {
  /** The day it was made for (see `profileDay`): made again once a day. */
  day: number;
  /** Consumption by UTC weekday (0 = Sunday) relative to the mean, once there are four weeks. */
  factors: number[] | null;
}

/** What the model keeps between readings; replaced, never changed in place (a rolled-back commit keeps the old one). */
export interface ConsumptionWindow {
  /** Oldest first, none older than LOOKBACK_DAYS before the newest reading. */
  readonly buckets: readonly Bucket[];
  /** Computed when a bucket closes: the open (newest) bucket is not in it. */
  readonly fit: Fit | null;
  readonly profile: Profile;
  /** The newest reading, and how far below what consumption explains it read. */
  readonly last: { t: number; fill: number; below: number } | null;
  /** The run of readings repeating one value, up to the newest. */
  readonly same: { fill: number; since: number; count: number } | null;
  /** When a run of REPEATED_READINGS or more last ended. */
  readonly repeatEnded: number | null;
}

export const emptyWindow = (): ConsumptionWindow => ({
  buckets: [],
  fit: null,
  profile: { day: -1, factors: null },
  last: null,
  same: null,
  repeatEnded: null,
});

/** A run of this many equal readings is a sensor repeating itself; for CATCH_UP_MS after it moves again, no fall is reported. */
const REPEATED_READINGS = 6;
const CATCH_UP_MS = 6 * HOUR_MS;

/** Two readings below what consumption explains count as one fall when they are this close. */
const DROP_PAIR_MS = 2 * HOUR_MS;

/**
 * The day whose profile a bucket opened at `t` uses: days change at 06:00 UTC, once the midnight
 * before has the buckets after it that its level is read from (see weekdayProfile).
 */
const profileDay = (t: number) => Math.floor((t - MIDNIGHT_MS) / DAY_MS);

export interface Observed {
  window: ConsumptionWindow;
  /** This reading is a refill: it starts a new segment. */
  refill: boolean;
  /** What the anomaly rules (anomalies.ts) read. */
  signals: Signals;
}

/** Feed one applied reading (in measuredAt order). */
export function observe(window: ConsumptionWindow, measuredAt: number, fill: number, refillRise: number): Observed {
  return step(window, measuredAt, fill, refillRise, true);
}

/** `fit`: false when many readings are fed at once (windowOf), the fit made once at the end instead. */
function step(window: ConsumptionWindow, measuredAt: number, fill: number, refillRise: number, fit: boolean): Observed {
  const buckets = window.buckets;
  const open = buckets.at(-1);
  const base = open === undefined ? null : levelBefore(buckets, measuredAt);
  // A rise within a noisy sensor's reach is not taken for a refill (four times its noise).
  const refill = base !== null && fill - base.level >= Math.max(refillRise, 4 * (window.fit?.readingNoise ?? 0));
  const hour = Math.floor(measuredAt / HOUR_MS);
  // How far below the level before (less what the fitted rate consumed since) this reading is.
  const rate = Math.max(0, window.fit?.rate ?? 0);
  const below = base === null ? 0 : base.level - (rate * (measuredAt - base.at)) / DAY_MS - fill;
  const prior = window.last;
  const same =
    window.same && window.same.fill === fill
      ? { ...window.same, count: window.same.count + 1 }
      : { fill, since: measuredAt, count: 1 };
  // A sensor that repeated one value and moves again catches up at once: no fall to report.
  const repeatEnded =
    window.same && window.same.fill !== fill && window.same.count >= REPEATED_READINGS
      ? measuredAt
      : window.repeatEnded;
  const catchingUp = repeatEnded !== null && measuredAt - repeatEnded <= CATCH_UP_MS;
  const last = { t: measuredAt, fill, below };
  const noise = window.fit?.noiseKnown ? window.fit.readingNoise : null;
  // A fall is beyond a sensor's noise when it is four times it.
  const noiseFloor = 4 * (window.fit?.readingNoise ?? 0);
  const signals: Signals = {
    established: window.fit !== null && window.fit.spanMs >= DAY_MS,
    refillRise: refill ? fill - base!.level : null,
    drop:
      prior &&
      !refill &&
      !catchingUp &&
      measuredAt - prior.t <= DROP_PAIR_MS &&
      Math.min(prior.below, below) > noiseFloor
        ? { points: Math.min(prior.below, below), since: prior.t }
        : null,
    stuck: same.count > 1 ? { ...same, expectedFall: (rate * (measuredAt - same.since)) / DAY_MS } : null,
    spread: noise,
  };
  if (open && !refill && open.hour === hour) {
    const grown: Bucket = {
      ...open,
      last: measuredAt,
      n: open.n + 1,
      sumFill: open.sumFill + fill,
      sumTime: open.sumTime + measuredAt,
    };
    const grownBuckets = buckets.slice();
    grownBuckets[grownBuckets.length - 1] = grown;
    return { window: { ...window, buckets: grownBuckets, last, same, repeatEnded }, refill, signals };
  }
  const bucket: Bucket = {
    first: measuredAt,
    last: measuredAt,
    n: 1,
    sumFill: fill,
    sumTime: measuredAt,
    hour,
    refill,
  };
  const since = measuredAt - LOOKBACK_DAYS * DAY_MS;
  let keepFrom = Math.max(0, buckets.length + 1 - MAX_BUCKETS);
  while (keepFrom < buckets.length && buckets[keepFrom]!.last < since) keepFrom++;
  const closed = buckets.slice(keepFrom);
  // The fit follows the closed buckets: it changes when one closes, not with every reading; the
  // profile once a day.
  const day = profileDay(measuredAt);
  const profile = window.profile.day === day ? window.profile : { day, factors: weekdayProfile(closed) };
  const fitted = fit ? fitSegment(closed) : null;
  // `closed` is a copy of its own (slice), so the new bucket goes onto it.
  (closed as Bucket[]).push(bucket);
  return { window: { buckets: closed, fit: fitted, profile, last, same, repeatEnded }, refill, signals };
}

/**
 * The level before a reading: the median of the last few buckets of its segment within
 * REFILL_BASE_MS (at least the newest, however old), and the time it stands for (their middle). A
 * median of bucket means, not the last reading, so that a noisy sensor neither refills itself nor
 * falls. A refill is a reading `refillRise` points or more above it.
 */
function levelBefore(buckets: readonly Bucket[], measuredAt: number): { level: number; at: number } {
  const levels: number[] = [];
  let at = 0;
  for (let i = buckets.length - 1; i >= 0 && levels.length < REFILL_BASE_BUCKETS; i--) {
    const b = buckets[i]!;
    if (levels.length > 0 && b.last < measuredAt - REFILL_BASE_MS) break;
    levels.push(b.sumFill / b.n);
    at += b.sumTime / b.n;
    if (b.refill) break;
  }
  return { level: median(levels.sort((a, b) => a - b)), at: at / levels.length };
}

/** Where the current segment starts: the last refill's bucket (or the first). */
function segmentStart(buckets: readonly Bucket[]): number {
  for (let i = buckets.length - 1; i > 0; i--) if (buckets[i]!.refill) return i;
  return 0;
}

/** The buckets of the current segment: after the last refill. */
function segmentOf(buckets: readonly Bucket[]): readonly Bucket[] {
  const start = segmentStart(buckets);
  return start === 0 ? buckets : buckets.slice(start);
}

interface Point {
  t: number;
  y: number;
  n: number;
}

const pointOf = (b: Bucket): Point => ({ t: b.sumTime / b.n, y: b.sumFill / b.n, n: b.n });

/** Merge neighbours so that at most `max` points remain, each the mean of those it stands for. */
function thin(points: Point[], max: number): Point[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: Point[] = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size);
    const n = group.reduce((s, p) => s + p.n, 0);
    out.push({
      t: group.reduce((s, p) => s + p.t * p.n, 0) / n,
      y: group.reduce((s, p) => s + p.y * p.n, 0) / n,
      n,
    });
  }
  return out;
}

function median(sorted: ArrayLike<number>): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Theil–Sen on the closed buckets of the segment's last RATE_DAYS, with Sen's interval for the slope. */
function fitSegment(closed: readonly Bucket[]): Fit | null {
  const segment = segmentOf(closed);
  const newest = segment.at(-1);
  if (!newest) return null;
  const recent = segment.filter((b) => b.last >= newest.last - RATE_DAYS * DAY_MS);
  const points = thin(recent.map(pointOf), MAX_FIT_POINTS);
  if (points.length < 3) return null;
  const origin = points[0]!.t;
  const xs = points.map((p) => (p.t - origin) / DAY_MS);
  const pairs = new Float64Array((points.length * (points.length - 1)) / 2);
  let count = 0;
  for (let i = 0; i < points.length; i++)
    for (let j = i + 1; j < points.length; j++) {
      const dx = xs[j]! - xs[i]!;
      if (dx > 0) pairs[count++] = (points[j]!.y - points[i]!.y) / dx;
    }
  const slopes = pairs.subarray(0, count);
  if (slopes.length === 0) return null;
  // A typed array sorts numerically without a comparator: several times faster at these sizes.
  slopes.sort();
  const slope = median(slopes);
  // Sen's interval: the ranks of the slopes that bound it come from Kendall's S under no ties.
  const n = points.length;
  const c = Z80 * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  const lowIndex = Math.max(0, Math.floor((count - c) / 2));
  const highIndex = Math.min(count - 1, Math.ceil((count + c) / 2));
  const residualsFrom = points.map((p, i) => p.y - slope * xs[i]!).sort((a, b) => a - b);
  const intercept = median(residualsFrom);
  // The scatter of every hourly mean (not the merged points) around the line.
  const deviations = new Float64Array(recent.length);
  const perBucket = new Float64Array(recent.length);
  recent.forEach((b, i) => {
    deviations[i] = Math.abs(b.sumFill / b.n - (intercept + (slope * (b.sumTime / b.n - origin)) / DAY_MS));
    perBucket[i] = b.n;
  });
  deviations.sort();
  perBucket.sort();
  const spread = 1.4826 * median(deviations);
  // A sensor's own noise: from the steps between neighbouring hourly means (the trend taken out),
  // which a fall or a weekly swing moves by one step at most, unlike the scatter around the line.
  const steps = new Float64Array(Math.max(0, recent.length - 1));
  for (let i = 1; i < recent.length; i++) {
    const a = recent[i - 1]!;
    const b = recent[i]!;
    const dt = (b.sumTime / b.n - a.sumTime / a.n) / DAY_MS;
    steps[i - 1] = Math.abs(b.sumFill / b.n - a.sumFill / a.n - slope * dt);
  }
  steps.sort();
  const stepNoise = steps.length > 0 ? (1.4826 * median(steps)) / Math.SQRT2 : 0;
  const spansTwoDays = points.at(-1)!.t - origin >= 2 * DAY_MS;
  return {
    rate: -slope,
    // A steeper fall (the lower slope) is the high rate.
    // At least ±15 % of the rate: consumption varies from week to week more than two weeks of
    // readings show (the backtest's intervals held the truth half as often as they should without).
    rateLow: Math.min(-slopes[highIndex]!, -slope * (1 - RATE_FLOOR)),
    rateHigh: Math.max(-slopes[lowIndex]!, -slope * (1 + RATE_FLOOR)),
    origin,
    intercept,
    spread,
    readingNoise: stepNoise * Math.sqrt(median(perBucket)),
    noiseKnown: spansTwoDays,
    spanMs: points.at(-1)!.t - origin,
  };
}

/**
 * How consumption varies by UTC weekday, from four weeks of buckets. Each day's consumption is the
 * level at its midnight less the level at the next: each midnight's level from a line through the
 * buckets of the six hours either side (a day's ends from single buckets would carry a sensor's
 * noise into every day). A day with a refill in it is left out. Needs 26 such days, every weekday
 * three times; the profile is each weekday's mean over the mean day's.
 */
function weekdayProfile(buckets: readonly Bucket[]): number[] | null {
  if (buckets.length < 2) return null;
  const firstDay = Math.ceil(buckets[0]!.first / DAY_MS);
  const lastDay = Math.floor(buckets.at(-1)!.last / DAY_MS);
  if (lastDay - firstDay < 26) return null;
  const points = buckets.map(pointOf);
  // The level at each midnight, or null where the buckets around it are too few or cut by a refill.
  const levels = new Map<number, number | null>();
  let from = 0;
  for (let day = firstDay; day <= lastDay; day++) {
    const midnight = day * DAY_MS;
    while (from < points.length && points[from]!.t < midnight - MIDNIGHT_MS) from++;
    let n = 0;
    let sumT = 0;
    let sumY = 0;
    let before = 0;
    let cut = false;
    for (let i = from; i < points.length && points[i]!.t <= midnight + MIDNIGHT_MS; i++) {
      if (buckets[i]!.refill && n > 0) cut = true;
      n++;
      sumT += points[i]!.t - midnight;
      sumY += points[i]!.y;
      if (points[i]!.t < midnight) before++;
    }
    if (cut || before < 3 || n - before < 3) {
      levels.set(day, null);
      continue;
    }
    const meanT = sumT / n;
    const meanY = sumY / n;
    let sxy = 0;
    let sxx = 0;
    for (let i = from; i < points.length && points[i]!.t <= midnight + MIDNIGHT_MS; i++) {
      const dx = points[i]!.t - midnight - meanT;
      sxy += dx * (points[i]!.y - meanY);
      sxx += dx * dx;
    }
    levels.set(day, meanY - (sxx > 0 ? (sxy / sxx) * meanT : 0));
  }
  // Refills between two midnights (outside the windows around them) cut that day too.
  const refillDays = new Set(buckets.filter((b) => b.refill).map((b) => Math.floor(b.first / DAY_MS)));
  const sums = new Array<number>(7).fill(0);
  const counts = new Array<number>(7).fill(0);
  let days = 0;
  for (let day = firstDay; day < lastDay; day++) {
    const start = levels.get(day);
    const end = levels.get(day + 1);
    if (start == null || end == null || refillDays.has(day)) continue;
    const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday
    sums[weekday]! += start - end;
    counts[weekday]!++;
    days++;
  }
  if (days < 26 || counts.some((c) => c < 3)) return null;
  const means = sums.map((sum, i) => sum / counts[i]!);
  const overall = means.reduce((sum, m) => sum + m, 0) / 7;
  if (!(overall > 0)) return null;
  return means.map((m) => round(Math.min(4, Math.max(0.25, m / overall)), 3));
}

/**
 * When a level falling at `rate` points a day from `level` at `from` reaches `target`: day by day
 * through the weekday profile when there is one. Null when it falls too slowly to get there within
 * HORIZON_DAYS. A target already passed is reached in the past, on the straight line.
 */
function reachAt(from: number, level: number, target: number, rate: number, profile: number[] | null): number | null {
  if (!(rate > 0)) return null;
  let left = level - target;
  if (left <= 0 || profile === null) {
    const days = left / rate;
    return days > HORIZON_DAYS ? null : from + days * DAY_MS;
  }
  let t = from;
  const end = from + HORIZON_DAYS * DAY_MS;
  while (t < end) {
    const day = Math.floor(t / DAY_MS);
    const dayEnd = (day + 1) * DAY_MS;
    const perDay = rate * profile[(day + 4) % 7]!;
    const possible = (perDay * (dayEnd - t)) / DAY_MS;
    if (possible >= left) return t + (left / perDay) * DAY_MS;
    left -= possible;
    t = dayEnd;
  }
  return null;
}

export const FORECAST_STATUSES = ["ok", "too_few_readings", "too_short", "not_falling"] as const;

const isoOrNull = nullableInstantText;
export const forecastSchema = z
  .object({
    status: z.enum(FORECAST_STATUSES).meta({
      description:
        "ok, or why there is no forecast: too_few_readings (fewer than 6 since the last refill), too_short (less than 24 h since it), not_falling (or not clearly: the slowest likely rate is no fall)",
    }),
    message: z.string().meta({ description: "The status in words" }),
    asOf: z.string().meta({ description: "measuredAt of the newest reading the forecast is made from" }),
    since: z.string().meta({ description: "The first reading after the last refill (or of the last 28 days)" }),
    readings: z.number().int().meta({ description: "Applied readings since then" }),
    ratePerDay: z
      .number()
      .nullable()
      .meta({ description: "Fill points consumed a day (Theil–Sen over the last 14 days)" }),
    ratePerDayP10: z.number().nullable().meta({ description: "The low end of its p10–p90 interval" }),
    ratePerDayP90: z.number().nullable().meta({ description: "The high end" }),
    level: z.number().nullable().meta({ description: "The model's fill percent at asOf (the noise taken out)" }),
    noise: z.number().nullable().meta({
      description:
        "How far a single reading scatters around the trend (points, a robust σ), once two days of readings tell it",
    }),
    weekdayProfile: z.array(z.number()).nullable().meta({
      description: "Consumption by UTC weekday, Sunday first, relative to the mean day; after 4 weeks of readings",
    }),
    thresholdAt: isoOrNull.meta({
      description: "When the level is expected to reach the threshold (in the past: it has)",
    }),
    thresholdAtP10: isoOrNull.meta({ description: "The early end of its p10–p90 interval" }),
    thresholdAtP90: isoOrNull.meta({ description: "The late end (null: it may never, at the slowest likely rate)" }),
    emptyAt: isoOrNull,
    emptyAtP10: isoOrNull,
    emptyAtP90: isoOrNull,
    daysToThreshold: z.number().nullable().meta({ description: "From asOf to thresholdAt, in days" }),
    daysOfSupply: z.number().nullable().meta({ description: "From asOf to emptyAt, in days" }),
    unit: z.string().nullable().meta({ description: "With a capacity set: the unit of the quantities below" }),
    quantityPerDay: z.number().nullable().meta({ description: "ratePerDay × capacity / 100" }),
    quantityLeft: z.number().nullable().meta({ description: "level × capacity / 100" }),
  })
  .meta({ id: "Forecast", description: "When the container reaches its threshold and empties, from its consumption" });
export type Forecast = z.infer<typeof forecastSchema>;

/** What the fleet list and stream carry of a forecast: enough to sort and show when it runs out. */
const SUMMARY_FIELDS = [
  "status",
  "asOf",
  "ratePerDay",
  "thresholdAt",
  "thresholdAtP10",
  "thresholdAtP90",
  "emptyAt",
  "daysToThreshold",
  "daysOfSupply",
] as const satisfies readonly (keyof Forecast)[];

export const forecastSummarySchema = forecastSchema
  .pick(Object.fromEntries(SUMMARY_FIELDS.map((k) => [k, true])) as { [K in (typeof SUMMARY_FIELDS)[number]]: true })
  .meta({ id: "ForecastSummary" });
export type ForecastSummary = z.infer<typeof forecastSummarySchema>;

export function summaryOf(f: Forecast | null): ForecastSummary | null {
  if (f === null) return null;
  return Object.fromEntries(SUMMARY_FIELDS.map((k) => [k, f[k]])) as ForecastSummary;
}
export type ForecastStatus = Forecast["status"];

/** What of the container's settings a forecast uses. */
export interface ForecastSettings {
  threshold: number;
  capacity: number | null;
  unit: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Math.round(ms / 1000) * 1000).toISOString());
function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The forecast from the window as it is; null before any reading. */
export function estimate(window: ConsumptionWindow, settings: ForecastSettings): Forecast | null {
  // Read in place: this runs for every reading, and the segment can be hundreds of buckets.
  const buckets = window.buckets;
  const newest = buckets.at(-1);
  if (!newest) return null;
  const start = segmentStart(buckets);
  const first = buckets[start]!.first;
  let readings = 0;
  for (let i = start; i < buckets.length; i++) readings += buckets[i]!.n;
  const base = {
    asOf: iso(newest.last)!,
    since: iso(first)!,
    readings,
    ratePerDay: null,
    ratePerDayP10: null,
    ratePerDayP90: null,
    level: null,
    noise: window.fit?.noiseKnown ? round(window.fit.readingNoise, 2) : null,
    weekdayProfile: null,
    thresholdAt: null,
    thresholdAtP10: null,
    thresholdAtP90: null,
    emptyAt: null,
    emptyAtP10: null,
    emptyAtP90: null,
    daysToThreshold: null,
    daysOfSupply: null,
    unit: null,
    quantityPerDay: null,
    quantityLeft: null,
  } satisfies Omit<Forecast, "status" | "message">;
  if (readings < MIN_READINGS)
    return {
      ...base,
      status: "too_few_readings",
      message: `${readings} reading${readings === 1 ? "" : "s"} since the last refill; a forecast needs ${MIN_READINGS}`,
    };
  const span = newest.last - first;
  if (span < MIN_SPAN_MS)
    return {
      ...base,
      status: "too_short",
      message: `${Math.floor(span / HOUR_MS)} h of readings since the last refill; a forecast needs 24 h`,
    };
  const fit = window.fit;
  // The fit covers the closed buckets; it belongs to this segment only if the segment has closed ones.
  const fitted = fit !== null && buckets.length - start > 1 && fit.origin >= first ? fit : null;
  // Not falling, or not clearly: at the slowest likely rate it would not fall at all.
  if (fitted === null || fitted.rate < MIN_RATE_PER_DAY || fitted.rateLow <= 0)
    return { ...base, status: "not_falling", message: "The level is not clearly falling" };

  // The level now: the line, moved by how far the last four hours' buckets sit from it.
  const line = (t: number) => fitted.intercept - (fitted.rate * (t - fitted.origin)) / DAY_MS;
  let weight = 0;
  let offset = 0;
  let recentBuckets = 0;
  for (let i = buckets.length - 1; i >= start; i--) {
    const b = buckets[i]!;
    if (b.last < newest.last - LEVEL_MS) break;
    offset += b.sumFill - line(b.sumTime / b.n) * b.n;
    weight += b.n;
    recentBuckets++;
  }
  const asOf = newest.last;
  const level = line(asOf) + (weight > 0 ? offset / weight : 0);
  const levelSpread = (Z80 * fitted.spread) / Math.sqrt(Math.max(1, recentBuckets));
  const profile = window.profile.factors;
  const at = (target: number, rate: number, levelAt: number) => reachAt(asOf, levelAt, target, rate, profile);
  const thresholdAt = at(settings.threshold, fitted.rate, level);
  const emptyAt = at(0, fitted.rate, level);
  // The ends of an interval: the faster fall from the lower level, the slower from the higher (a
  // date already passed has them the other way round, so they are put in order).
  const interval = (target: number) => {
    const early = at(target, fitted.rateHigh, level - levelSpread);
    const late = at(target, fitted.rateLow, level + levelSpread);
    return early !== null && late !== null && early > late ? [iso(late), iso(early)] : [iso(early), iso(late)];
  };
  const [thresholdAtP10, thresholdAtP90] = interval(settings.threshold);
  const [emptyAtP10, emptyAtP90] = interval(0);
  const days = (t: number | null) => (t === null ? null : round((t - asOf) / DAY_MS, 2));
  const capacity = settings.capacity;
  return {
    ...base,
    status: "ok",
    message: "Forecast from the consumption since the last refill",
    ratePerDay: round(fitted.rate, 3),
    ratePerDayP10: round(fitted.rateLow, 3),
    ratePerDayP90: round(fitted.rateHigh, 3),
    level: round(level, 2),
    weekdayProfile: profile,
    thresholdAt: iso(thresholdAt),
    thresholdAtP10: thresholdAtP10 ?? null,
    thresholdAtP90: thresholdAtP90 ?? null,
    emptyAt: iso(emptyAt),
    emptyAtP10: emptyAtP10 ?? null,
    emptyAtP90: emptyAtP90 ?? null,
    daysToThreshold: days(thresholdAt),
    daysOfSupply: days(emptyAt),
    unit: capacity === null ? null : settings.unit,
    quantityPerDay: capacity === null ? null : round((fitted.rate * capacity) / 100, 3),
    quantityLeft: capacity === null ? null : round((level * capacity) / 100, 3),
  };
}

/** A window as stored: the same, as JSON (numbers and booleans, so it reads back exactly). */
export function windowText(window: ConsumptionWindow): string {
  return JSON.stringify(window);
}

export function windowFromText(text: string): ConsumptionWindow {
  return { ...emptyWindow(), ...(JSON.parse(text) as Partial<ConsumptionWindow>) };
}

/** Feed applied readings to a window, oldest first (a stored window catching up with the log). */
export function windowAfter(
  window: ConsumptionWindow,
  readings: Iterable<{ measuredAt: number; fill: number }>,
  refillRise: number,
): ConsumptionWindow {
  let next = window;
  for (const r of readings) next = observe(next, r.measuredAt, r.fill, refillRise).window;
  return next;
}

/** Rebuild a window from applied readings, oldest first (a container that has no stored window). */
export function windowOf(
  readings: Iterable<{ measuredAt: number; fill: number }>,
  refillRise: number,
): ConsumptionWindow {
  let window = emptyWindow();
  for (const r of readings) window = step(window, r.measuredAt, r.fill, refillRise, false).window;
  // As live, the fit is of the buckets closed when the newest one opened.
  return { ...window, fit: fitSegment(window.buckets.slice(0, -1)) };
}
