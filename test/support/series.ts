// Generated fill series with a known truth, for the consumption model's tests and its backtest: a
// level that falls at a set rate (with a weekly pattern if asked), refilled at set times, read every
// so often with Gaussian noise, with gaps and injected anomalies. Deterministic for a seed.

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** mulberry32: a small seeded generator, so that every series is the same on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export interface SeriesOptions {
  start: number;
  days: number;
  everyMinutes: number;
  startLevel: number;
  /** Points a day on the mean day. */
  ratePerDay: number;
  /** Standard deviation of a reading's noise, in points. */
  noise: number;
  /** ± share of the rate by weekday (0.3: from 0.7× to 1.3×), heaviest mid-week. */
  weekly?: number;
  /** Refill to `to` points at these times. */
  refills?: { at: number; to: number }[];
  /** No readings in these spans. */
  gaps?: { from: number; to: number }[];
  /** A sudden fall of `points` at `at` (a theft or a leak). */
  drops?: { at: number; points: number }[];
  /** From `from` on, the sensor repeats its last value (until `stuckUntil`, if given). */
  stuckFrom?: number;
  stuckUntil?: number;
  /** Refilled to `to` half a day after the true level fell below `below` (a delivery the orders arranged). */
  refillBelow?: { below: number; to: number };
  seed: number;
}

export interface Series {
  readings: { measuredAt: number; fill: number }[];
  /** When `refillBelow` refilled it, and from which level. */
  autoRefills: { at: number; from: number; to: number }[];
  /** The level without noise at any time within the series. */
  level: (t: number) => number;
  /** The rate factor of the weekday of `t` (1 without a weekly pattern). */
  factor: (t: number) => number;
}

const STEP = 5 * 60_000;

export function series(o: SeriesOptions): Series {
  const factor = (t: number) => {
    if (!o.weekly) return 1;
    const weekday = (Math.floor(t / DAY) + 4) % 7;
    // Heaviest on Wednesday, lightest on Sunday; the mean over a week is 1.
    return 1 + o.weekly * Math.cos((2 * Math.PI * (weekday - 3)) / 7);
  };
  // The true level on a 5-minute grid, integrated forward.
  const end = o.start + o.days * DAY;
  const grid: number[] = [];
  let level = o.startLevel;
  const refills = [...(o.refills ?? [])].sort((a, b) => a.at - b.at);
  const drops = [...(o.drops ?? [])].sort((a, b) => a.at - b.at);
  const autoRefills: Series["autoRefills"] = [];
  let belowSince: number | null = null;
  for (let t = o.start; t <= end; t += STEP) {
    grid.push(level);
    const next = t + STEP;
    level = Math.max(0, level - (o.ratePerDay * factor(t) * STEP) / DAY);
    // Refilled half a day after it fell below: the time an order takes to arrive.
    if (o.refillBelow && level < o.refillBelow.below) belowSince ??= next;
    if (o.refillBelow && belowSince !== null && next - belowSince >= 12 * HOUR) {
      autoRefills.push({ at: next, from: level, to: o.refillBelow.to });
      level = o.refillBelow.to;
      belowSince = null;
    }
    for (const r of refills) if (r.at > t && r.at <= next) level = r.to;
    for (const d of drops) if (d.at > t && d.at <= next) level = Math.max(0, level - d.points);
  }
  const levelAt = (t: number) => grid[Math.min(grid.length - 1, Math.max(0, Math.floor((t - o.start) / STEP)))]!;
  const noise = gaussian(random(o.seed));
  const readings: { measuredAt: number; fill: number }[] = [];
  let stuck: number | null = null;
  for (let t = o.start; t <= end; t += o.everyMinutes * 60_000) {
    if (o.gaps?.some((g) => t >= g.from && t < g.to)) continue;
    let fill = Math.min(100, Math.max(0, levelAt(t) + o.noise * noise()));
    fill = Math.round(fill * 10) / 10;
    if (o.stuckFrom !== undefined && t >= o.stuckFrom && (o.stuckUntil === undefined || t < o.stuckUntil))
      fill = stuck ??= readings.at(-1)?.fill ?? fill;
    readings.push({ measuredAt: t, fill });
  }
  return { readings, level: levelAt, factor, autoRefills };
}

/** When the true level first falls to `target` at or after `from`, or null within the series. */
export function trueReachAt(s: Series, from: number, target: number, until: number): number | null {
  for (let t = from; t <= until; t += STEP) if (s.level(t) <= target) return t;
  return null;
}
