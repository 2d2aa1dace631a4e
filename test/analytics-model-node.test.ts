// What the Analytics page draws from the API's rows (web/src/analytics-model.ts) and how it writes
// durations, quantities and shares (web/src/format.ts).
import { describe, expect, it } from "vitest";
import type { ConsumptionRow, DemandRow } from "../domain/analytics";
import {
  consumptionSeries,
  daysBetween,
  demandLines,
  demandSeries,
  lastDays,
  measuresOf,
  pickMeasure,
  uncounted,
  MAX_SERIES,
} from "../web/src/analytics-model";
import { formatHours, formatQuantity, formatShare } from "../web/src/format";

const row = (day: string, key: string | null, consumption: number, unit: string | null, quantity: number | null) =>
  ({
    day,
    key,
    unit,
    containers: 1,
    readings: 10,
    consumption,
    quantity,
    refills: 0,
    deliveries: 0,
    anomalies: 0,
    meanFill: 50,
    minFill: 40,
    maxFill: 60,
  }) satisfies ConsumptionRow;

describe("the analytics page's model", () => {
  it("counts the days of a range in UTC, today included", () => {
    expect(lastDays(7, Date.parse("2026-12-06T00:30:00Z"))).toEqual({ from: "2026-11-30", to: "2026-12-06" });
    expect(daysBetween("2026-02-27", "2026-03-01")).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
  });

  it("stacks consumption per group in the chosen unit, the largest first, leaving out rows of another unit", () => {
    const days = ["2026-12-01", "2026-12-02"];
    const rows = [
      row("2026-12-01", "diesel", 5, "l", 100),
      row("2026-12-02", "diesel", 5, "l", 150),
      row("2026-12-02", "grain", 4, "kg", 900),
      row("2026-12-02", "water", 2, "l", 300),
      row("2026-12-02", null, 1, null, null),
    ];
    expect(measuresOf(rows, "points")).toEqual(["unit:l", "unit:kg", "points"]);
    expect(pickMeasure("unit:t", measuresOf(rows, "points"))).toBe("unit:l");
    expect(consumptionSeries(rows, "contents", "unit:l", days).map((s) => [s.label, s.values])).toEqual([
      ["water", [0, 300]],
      ["diesel", [100, 150]],
    ]);
    expect(uncounted(rows, "unit:l")).toBe(2);
    expect(consumptionSeries(rows, "contents", "points", days).map((s) => [s.label, s.values])).toEqual([
      ["diesel", [5, 5]],
      ["grain", [0, 4]],
      ["water", [0, 2]],
      ["no contents", [0, 1]],
    ]);
  });

  it("adds the groups past what the chart can tell apart as Other", () => {
    const rows = Array.from({ length: MAX_SERIES + 3 }, (_, i) => row("2026-12-01", `c${i}`, i + 1, null, null));
    const series = consumptionSeries(rows, "container", "points", ["2026-12-01"]);
    expect(series).toHaveLength(MAX_SERIES);
    expect(series.at(-1)).toMatchObject({ label: "Other (4)", values: [1 + 2 + 3 + 4] });
  });

  it("puts what open orders and forecasts bring due on one line per day and partner", () => {
    const demand: DemandRow[] = [
      {
        day: "2026-12-06",
        partnerId: "p1",
        contents: "diesel",
        unit: "l",
        source: "order",
        containers: 1,
        quantity: 750,
      },
      {
        day: "2026-12-06",
        partnerId: "p1",
        contents: "diesel",
        unit: "l",
        source: "forecast",
        containers: 2,
        quantity: 1400,
      },
      {
        day: "2026-12-08",
        partnerId: null,
        contents: "grain",
        unit: "kg",
        source: "forecast",
        containers: 1,
        quantity: 500,
      },
    ];
    expect(demandLines(demand)).toEqual([
      {
        day: "2026-12-06",
        partnerId: "p1",
        contents: "diesel",
        unit: "l",
        order: { containers: 1, quantity: 750 },
        forecast: { containers: 2, quantity: 1400 },
      },
      {
        day: "2026-12-08",
        partnerId: null,
        contents: "grain",
        unit: "kg",
        order: null,
        forecast: { containers: 1, quantity: 500 },
      },
    ]);
    const days = ["2026-12-06", "2026-12-07", "2026-12-08"];
    expect(demandSeries(demand, "unit:l", days).map((s) => s.values)).toEqual([
      [750, 0, 0],
      [1400, 0, 0],
    ]);
    expect(demandSeries(demand, "containers", days).map((s) => s.values)).toEqual([
      [1, 0, 0],
      [2, 0, 1],
    ]);
  });

  it("writes durations, quantities and shares the way an operator reads them", () => {
    expect([formatHours(null), formatHours(0.25), formatHours(3.5), formatHours(52), formatHours(48)]).toEqual([
      "—",
      "15 min",
      "3.5 h",
      "2 d 4 h",
      "2 d",
    ]);
    expect([formatQuantity(1400, "l"), formatQuantity(12.5, null), formatQuantity(null, "l")]).toEqual([
      "1,400 l",
      "12.5 points",
      "—",
    ]);
    expect([formatShare(0.923, 25), formatShare(null, 0)]).toEqual(["92 % of 25", "—"]);
  });
});
