// What the analytics page draws from the API's rows (domain/analytics.ts): the days of a range, the
// measures a chart can show (a unit where containers have a capacity, else fill points or
// containers), the stacked series per day, and demand turned into one line per day and partner.
import type { ConsumptionGroup, ConsumptionRow, DemandRow } from "../../domain/analytics";

const DAY_MS = 86_400_000;
const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The `days` UTC days up to today, as the API counts them. */
export function lastDays(days: number, now = Date.now()): { from: string; to: string } {
  return { from: dayOf(now - (days - 1) * DAY_MS), to: dayOf(now) };
}

/** Every UTC day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end && out.length <= 400; t += DAY_MS) out.push(dayOf(t));
  return out;
}

/**
 * What a chart adds up: the quantity in one unit ("unit:l"), or what every row has besides
 * (consumption: fill points; demand: containers).
 */
export type Measure = `unit:${string}` | "points" | "containers";
export const unitOf = (m: Measure): string | null => (m.startsWith("unit:") ? m.slice(5) : null);

/** The units the rows have quantities in, the most used first, then the fallback. */
export function measuresOf(
  rows: readonly { unit: string | null; quantity: number | null }[],
  fallback: "points" | "containers",
): Measure[] {
  const uses = new Map<string, number>();
  for (const r of rows) if (r.unit !== null && r.quantity !== null) uses.set(r.unit, (uses.get(r.unit) ?? 0) + 1);
  const units = [...uses.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([u]) => u);
  return [...units.map((u): Measure => `unit:${u}`), fallback];
}

/** The measure chosen if the rows still have it, else the first they have. */
export function pickMeasure(chosen: Measure | null, available: readonly Measure[]): Measure {
  return chosen !== null && available.includes(chosen) ? chosen : available[0]!;
}

export interface DaySeries {
  label: string;
  colour: string;
  values: number[];
}

// Distinct on white and for the common kinds of colour blindness (Okabe–Ito, then Tableau).
const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#8c6d31", "#6f4e7c"];
const OTHER = "#9aa4b1";
/** The chart stacks at most this many groups; the rest are added up as "Other". */
export const MAX_SERIES = PALETTE.length;

const NONE: Record<ConsumptionGroup, string> = {
  contents: "no contents",
  partner: "no partner",
  container: "no container",
  all: "all",
};
/** A group's name as the page shows it. */
export function groupLabel(by: ConsumptionGroup, key: string | null): string {
  if (by === "all") return "All containers";
  return key ?? NONE[by];
}

/** The value a consumption row adds to the measure (null: it does not count in it). */
function consumed(r: ConsumptionRow, m: Measure): number | null {
  if (m === "points") return r.consumption;
  return r.unit === unitOf(m) ? r.quantity : null;
}

/** Consumption per day, one series per group (the largest first), stacked in the chart. */
export function consumptionSeries(
  rows: readonly ConsumptionRow[],
  by: ConsumptionGroup,
  measure: Measure,
  days: readonly string[],
): DaySeries[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const groups = new Map<string, { label: string; values: number[]; total: number }>();
  for (const r of rows) {
    const v = consumed(r, measure);
    const i = index.get(r.day);
    if (v === null || i === undefined) continue;
    const label = groupLabel(by, r.key);
    let g = groups.get(label);
    if (!g) groups.set(label, (g = { label, values: days.map(() => 0), total: 0 }));
    g.values[i]! += v;
    g.total += v;
  }
  const ranked = [...groups.values()].filter((g) => g.total > 0).sort((a, b) => b.total - a.total);
  const shown = ranked.length > MAX_SERIES ? ranked.slice(0, MAX_SERIES - 1) : ranked;
  const rest = ranked.slice(shown.length);
  const series = shown.map((g, i) => ({ label: g.label, colour: PALETTE[i]!, values: g.values.map(tidy) }));
  if (rest.length)
    series.push({
      label: `Other (${rest.length})`,
      colour: OTHER,
      values: days.map((_, i) => tidy(rest.reduce((sum, g) => sum + g.values[i]!, 0))),
    });
  return series;
}

/** Sums of rounded figures, without the float dust (0.1 + 0.2). */
const tidy = (v: number) => Math.round(v * 1000) / 1000;

/** Rows that do not count in the measure (containers with no capacity, or another unit). */
export function uncounted(rows: readonly ConsumptionRow[], measure: Measure): number {
  return measure === "points" ? 0 : rows.filter((r) => consumed(r, measure) === null && r.readings > 0).length;
}

export const DEMAND_COLOURS = { order: "#0072b2", forecast: "#e69f00" } as const;

/** Demand per day, open orders and forecasts stacked, in the measure. */
export function demandSeries(rows: readonly DemandRow[], measure: Measure, days: readonly string[]): DaySeries[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const unit = unitOf(measure);
  const of = (source: DemandRow["source"]) => {
    const values = days.map(() => 0);
    for (const r of rows) {
      const i = index.get(r.day);
      if (r.source !== source || i === undefined) continue;
      if (unit === null) values[i]! += r.containers;
      else if (r.unit === unit && r.quantity !== null) values[i]! += r.quantity;
    }
    return values.map(tidy);
  };
  return [
    { label: "Open orders", colour: DEMAND_COLOURS.order, values: of("order") },
    { label: "Forecasts", colour: DEMAND_COLOURS.forecast, values: of("forecast") },
  ];
}

export interface Due {
  containers: number;
  quantity: number | null;
}

/** One line of the demand table: a day, partner, contents and unit, with what orders and forecasts add. */
export interface DemandLine {
  day: string;
  partnerId: string | null;
  contents: string | null;
  unit: string | null;
  order: Due | null;
  forecast: Due | null;
}

export function demandLines(rows: readonly DemandRow[]): DemandLine[] {
  const lines = new Map<string, DemandLine>();
  for (const r of rows) {
    const key = JSON.stringify([r.day, r.partnerId, r.contents, r.unit]);
    let line = lines.get(key);
    if (!line)
      lines.set(
        key,
        (line = {
          day: r.day,
          partnerId: r.partnerId,
          contents: r.contents,
          unit: r.unit,
          order: null,
          forecast: null,
        }),
      );
    line[r.source] = { containers: r.containers, quantity: r.quantity };
  }
  // The API's order: by day, then partner (none last), contents, unit.
  return [...lines.values()];
}

/** The partners the rows name, by id. */
export function partnersOf(rows: readonly { partnerId: string | null }[]): string[] {
  return [...new Set(rows.map((r) => r.partnerId).filter((p): p is string => p !== null))].sort();
}
