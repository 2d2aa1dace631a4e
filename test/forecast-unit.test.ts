import { describe, expect, it } from "vitest";
import {
  DEFAULT_REFILL_RISE,
  emptyWindow,
  estimate,
  LOOKBACK_DAYS,
  observe,
  windowOf,
  type ConsumptionWindow,
  type Forecast,
  type ForecastSettings,
} from "../domain/forecast";
import { DAY, HOUR, series, trueReachAt, type SeriesOptions } from "./support/series";

const T0 = Date.parse("2026-03-02T00:00:00Z"); // a Monday
const SETTINGS: ForecastSettings = { threshold: 30, capacity: null, unit: null };

function feed(readings: { measuredAt: number; fill: number }[], rise = DEFAULT_REFILL_RISE) {
  let window: ConsumptionWindow = emptyWindow();
  const refills: number[] = [];
  for (const r of readings) {
    const seen = observe(window, r.measuredAt, r.fill, rise);
    if (seen.refill) refills.push(r.measuredAt);
    window = seen.window;
  }
  return { window, refills };
}

function forecastOf(o: Partial<SeriesOptions>, settings = SETTINGS): { forecast: Forecast; refills: number[] } {
  const s = series({ start: T0, days: 5, everyMinutes: 60, startLevel: 90, ratePerDay: 4, noise: 0, seed: 1, ...o });
  const { window, refills } = feed(s.readings);
  return { forecast: estimate(window, settings)!, refills };
}

const hoursBetween = (a: string | null, b: number) => Math.abs(Date.parse(a!) - b) / HOUR;

describe("the consumption model", () => {
  it("has nothing to say before any reading", () => {
    expect(estimate(emptyWindow(), SETTINGS)).toBeNull();
  });

  it("reads the rate of a clean series and says when it reaches the threshold and empties", () => {
    const { forecast } = forecastOf({});
    expect(forecast.status).toBe("ok");
    expect(forecast.ratePerDay).toBeCloseTo(4, 2);
    // 5 days at 4 a day from 90: 70 at the newest reading; 40 points to the threshold, 70 to empty.
    expect(forecast.level).toBeCloseTo(70, 1);
    expect(forecast.daysToThreshold).toBeCloseTo(10, 1);
    expect(forecast.daysOfSupply).toBeCloseTo(17.5, 1);
    expect(hoursBetween(forecast.thresholdAt, T0 + 15 * DAY)).toBeLessThan(1);
    expect(hoursBetween(forecast.emptyAt, T0 + 22.5 * DAY)).toBeLessThan(1);
    expect(forecast.readings).toBe(121);
    expect(forecast.since).toBe(new Date(T0).toISOString());
  });

  it("keeps its rate and dates through noise", () => {
    const s = series({ start: T0, days: 10, everyMinutes: 15, startLevel: 90, ratePerDay: 2, noise: 2, seed: 7 });
    const forecast = estimate(feed(s.readings).window, SETTINGS)!;
    // 70 at the newest reading, 40 points above the threshold at 2 a day.
    const truth = T0 + 30 * DAY;
    expect(forecast.status).toBe("ok");
    expect(forecast.ratePerDay!).toBeGreaterThan(1.8);
    expect(forecast.ratePerDay!).toBeLessThan(2.2);
    expect(Math.abs(Date.parse(forecast.thresholdAt!) - truth) / DAY).toBeLessThan(2);
  });

  it("gives p10–p90 intervals that hold the truth at least eight times in ten, and stay narrow on a steady series", () => {
    let rateHeld = 0;
    let dateHeld = 0;
    let width = 0;
    const runs = 40;
    for (let seed = 1; seed <= runs; seed++) {
      const s = series({ start: T0, days: 6, everyMinutes: 60, startLevel: 90, ratePerDay: 3, noise: 1.5, seed });
      const f = estimate(feed(s.readings).window, SETTINGS)!;
      if (f.ratePerDayP10! <= 3 && 3 <= f.ratePerDayP90!) rateHeld++;
      // 72 at the newest reading: 42 points above the threshold at 3 a day.
      const truth = T0 + 20 * DAY;
      if (Date.parse(f.thresholdAtP10!) <= truth && truth <= Date.parse(f.thresholdAtP90!)) dateHeld++;
      width += (f.ratePerDayP90! - f.ratePerDayP10!) / 3;
    }
    // (Their calibration on varied series is the backtest's to measure: test/backtest-node.test.ts.)
    expect(rateHeld / runs).toBeGreaterThanOrEqual(0.8);
    expect(dateHeld / runs).toBeGreaterThanOrEqual(0.8);
    // At least ±15 % of the rate, not much more on a steady series.
    expect(width / runs).toBeGreaterThanOrEqual(0.3);
    expect(width / runs).toBeLessThan(0.45);
  });

  it("learns a weekly pattern after four weeks and uses it", () => {
    const s = series({
      start: T0,
      days: 35,
      everyMinutes: 60,
      startLevel: 99,
      ratePerDay: 1.5,
      noise: 0.5,
      weekly: 0.3,
      seed: 3,
    });
    const { window } = feed(s.readings);
    const forecast = estimate(window, { threshold: 20, capacity: null, unit: null })!;
    expect(forecast.status).toBe("ok");
    const profile = forecast.weekdayProfile!;
    expect(profile).toHaveLength(7);
    // Wednesday (3) is the heaviest day, Sunday (0) the lightest.
    expect(profile[3]!).toBeGreaterThan(1.15);
    expect(profile[0]!).toBeLessThan(0.85);
    // The truth beyond the series: the same pattern carried on, without noise.
    const asOf = Date.parse(forecast.asOf);
    const longer = series({
      start: T0,
      days: 120,
      everyMinutes: 60,
      startLevel: 99,
      ratePerDay: 1.5,
      noise: 0,
      weekly: 0.3,
      seed: 3,
    });
    const expected = trueReachAt(longer, asOf, 20, asOf + 90 * DAY)!;
    expect(Math.abs(Date.parse(forecast.thresholdAt!) - expected) / HOUR).toBeLessThan(24);
  });

  it("has no profile before four weeks", () => {
    const { forecast } = forecastOf({ days: 20, weekly: 0.3, ratePerDay: 2 });
    expect(forecast.weekdayProfile).toBeNull();
  });

  it("starts a new segment at a refill, and waits for enough readings after it", () => {
    // Filled 40 minutes before a reading: the reading after is the refill.
    const refillAt = T0 + 4 * DAY + HOUR;
    const { forecast, refills } = forecastOf({ days: 4.5, refills: [{ at: refillAt - 40 * 60_000, to: 95 }] });
    expect(refills).toEqual([refillAt]);
    expect(forecast.status).toBe("too_short");
    expect(forecast.since).toBe(new Date(refillAt).toISOString());
    expect(forecast.readings).toBe(12);
    expect(forecast.message).toMatch(/11 h of readings since the last refill/);

    const later = forecastOf({ days: 7, refills: [{ at: refillAt - 40 * 60_000, to: 95 }] }).forecast;
    expect(later.status).toBe("ok");
    expect(later.ratePerDay).toBeCloseTo(4, 1);
    // The level after the refill: 95 minus what went since.
    expect(later.level).toBeCloseTo(95 - 4 * ((T0 + 7 * DAY - (refillAt - 40 * 60_000)) / DAY), 0);
  });

  it("says when there are too few readings", () => {
    const { forecast } = forecastOf({ days: 2, everyMinutes: 12 * 60 });
    expect(forecast.status).toBe("too_few_readings");
    expect(forecast.readings).toBe(5);
    expect(forecast.message).toBe("5 readings since the last refill; a forecast needs 6");
    expect(forecast.thresholdAt).toBeNull();
  });

  it("says when the level is not falling", () => {
    const { forecast } = forecastOf({ ratePerDay: 0, noise: 1.5, days: 6 });
    expect(forecast.status).toBe("not_falling");
    expect(forecast.thresholdAt).toBeNull();
    expect(forecast.ratePerDay).toBeNull();
  });

  it("does not take a noisy sensor's jumps for refills", () => {
    const s = series({ start: T0, days: 60, everyMinutes: 60, startLevel: 99, ratePerDay: 1, noise: 2, seed: 11 });
    expect(feed(s.readings).refills).toEqual([]);
  });

  it("finds a refill however small its steps, once the rise reaches refillRise", () => {
    const before = series({ start: T0, days: 3, everyMinutes: 60, startLevel: 60, ratePerDay: 3, noise: 0, seed: 1 });
    const last = before.readings.at(-1)!;
    // A pump raising the level by 4 points a reading.
    const rising = [1, 2, 3, 4].map((i) => ({
      measuredAt: last.measuredAt + i * 15 * 60_000,
      fill: last.fill + 4 * i,
    }));
    const { refills } = feed([...before.readings, ...rising]);
    expect(refills).toEqual([rising[2]!.measuredAt]);
    expect(feed([...before.readings, ...rising], 20).refills).toEqual([]);
  });

  it("says levels and rates in the container's unit when it has a capacity", () => {
    const { forecast } = forecastOf({}, { threshold: 30, capacity: 5000, unit: "l" });
    expect(forecast.unit).toBe("l");
    expect(forecast.quantityPerDay).toBeCloseTo(200, 0);
    expect(forecast.quantityLeft).toBeCloseTo(3500, -1);
    expect(forecastOf({}).forecast.quantityPerDay).toBeNull();
  });

  it("gives a date already passed when the level is under the threshold", () => {
    const { forecast } = forecastOf({ days: 16 });
    expect(forecast.status).toBe("ok");
    expect(forecast.daysToThreshold!).toBeLessThan(0);
    expect(hoursBetween(forecast.thresholdAt, T0 + 15 * DAY)).toBeLessThan(1);
  });

  it("leaves the window it was given as it was (a rolled-back commit keeps the old one)", () => {
    const s = series({ start: T0, days: 3, everyMinutes: 60, startLevel: 90, ratePerDay: 4, noise: 0, seed: 1 });
    const { window } = feed(s.readings);
    const copy = structuredClone(window);
    observe(window, s.readings.at(-1)!.measuredAt + 10 * 60_000, 10, DEFAULT_REFILL_RISE);
    observe(window, s.readings.at(-1)!.measuredAt + 2 * HOUR, 99, DEFAULT_REFILL_RISE);
    expect(window).toEqual(copy);
  });

  it("rebuilt from the readings of its look-back, says what it said live", () => {
    const s = series({
      start: T0,
      days: 70,
      everyMinutes: 30,
      startLevel: 95,
      ratePerDay: 3,
      noise: 1,
      weekly: 0.2,
      refills: [
        { at: T0 + 20 * DAY, to: 96 },
        { at: T0 + 41 * DAY, to: 97 },
        { at: T0 + 62 * DAY, to: 94 },
      ],
      seed: 5,
    });
    const live = feed(s.readings).window;
    const newest = s.readings.at(-1)!.measuredAt;
    const recent = s.readings.filter((r) => r.measuredAt >= newest - (LOOKBACK_DAYS + 2) * DAY);
    const rebuilt = windowOf(recent, DEFAULT_REFILL_RISE);
    expect(estimate(rebuilt, SETTINGS)).toEqual(estimate(live, SETTINGS));
  });
});
