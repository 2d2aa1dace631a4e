// The anomaly rules on generated series with known events (pure): each kind raised once when it
// happens, not on clean series, deduplicated while open, raised again after a dismissal.
import { describe, expect, it } from "vitest";
import { fleetNoiseOf, fleetNoiseStale, noisyAbove } from "../domain/anomalies";
import { replay } from "../domain/container";
import { DAY, HOUR, series, type SeriesOptions } from "./support/series";
import { Tank } from "./support/tank";

const T0 = Date.parse("2026-03-02T00:00:00Z");

const readings = (o: Partial<SeriesOptions> = {}) =>
  series({ start: T0, days: 12, everyMinutes: 60, startLevel: 95, ratePerDay: 3, noise: 0.8, seed: 4, ...o }).readings;

function run(o: Partial<SeriesOptions> = {}, settings = {}) {
  const tank = new Tank({ threshold: 10, ...settings }, T0);
  tank.feed(readings(o));
  return tank;
}

describe("anomalies", () => {
  it("none on clean series, noisy or not", () => {
    for (const noise of [0, 0.5, 1.5])
      for (const seed of [1, 2, 3]) expect(run({ noise, seed, days: 20 }).raised()).toEqual([]);
  });

  it("a sudden drop (theft, a leak) is raised once, at the second reading below what consumption explains", () => {
    const at = T0 + 8 * DAY + 30 * 60_000;
    const tank = run({ drops: [{ at, points: 20 }] });
    const raised = tank.raised("sudden_drop");
    expect(raised).toHaveLength(1);
    expect(raised[0]!.anomaly).toMatchObject({
      status: "open",
      measuredAt: new Date(T0 + 8 * DAY + 2 * HOUR).toISOString(),
    });
    expect(raised[0]!.anomaly.details.points as number).toBeGreaterThan(15);
    expect(raised[0]!.anomaly.message).toMatch(/^The level fell \d+(\.\d)? points more than its consumption explains/);
    expect(tank.state.anomalies.map((a) => a.kind)).toEqual(["sudden_drop"]);
    // Smaller than the setting: nothing.
    expect(run({ drops: [{ at, points: 20 }] }, { suddenDrop: 25 }).raised()).toEqual([]);
  });

  it("one open anomaly per kind: a second drop while the first is open raises nothing; after a dismissal the next does", () => {
    const tank = new Tank({ threshold: 10 }, T0);
    const data = readings({
      days: 16,
      drops: [
        { at: T0 + 6 * DAY + 30 * 60_000, points: 15 },
        { at: T0 + 9 * DAY + 30 * 60_000, points: 15 },
        { at: T0 + 13 * DAY + 30 * 60_000, points: 15 },
      ],
    });
    tank.feed(data.filter((r) => r.measuredAt < T0 + 11 * DAY));
    expect(tank.raised("sudden_drop")).toHaveLength(1);
    tank.dismiss(tank.state.anomalies[0]!.id, T0 + 11 * DAY);
    expect(tank.state.anomalies).toEqual([]);
    expect(tank.log.at(-1)).toMatchObject({
      type: "anomaly.closed",
      anomaly: { status: "dismissed", closedBy: "op@x" },
    });
    tank.feed(data.filter((r) => r.measuredAt >= T0 + 11 * DAY));
    expect(tank.raised("sudden_drop")).toHaveLength(2);
    expect(replay("tank-f", tank.log)).toEqual(tank.state);
  });

  it("a stuck sensor is raised after a day of one value while the level should fall, and resolves when it moves", () => {
    const tank = new Tank({ threshold: 10 }, T0);
    const stuckFrom = T0 + 6 * DAY;
    const data = readings({ stuckFrom, days: 9 });
    tank.feed(data);
    const raised = tank.raised("stuck_sensor");
    expect(raised).toHaveLength(1);
    const at = Date.parse(raised[0]!.anomaly.measuredAt!);
    expect(at - stuckFrom).toBeGreaterThanOrEqual(DAY - HOUR);
    expect(at - stuckFrom).toBeLessThanOrEqual(DAY + HOUR);
    expect(raised[0]!.anomaly.details).toMatchObject({ expectedFall: expect.any(Number) });
    // It moves again: resolved by the reading.
    tank.read(T0 + 9 * DAY + HOUR, 50.3);
    expect(tank.state.anomalies).toEqual([]);
    expect(tank.log.at(-1)).toMatchObject({
      type: "anomaly.closed",
      anomaly: { kind: "stuck_sensor", status: "resolved" },
    });
    // A container that is not used (no fall expected) repeating its value is not stuck.
    expect(run({ ratePerDay: 0, noise: 0, days: 6 }).raised()).toEqual([]);
  });

  it("a refill with no order dispatched or delivered is unexpected; one after the order was dispatched is not", () => {
    const refill = { at: T0 + 8 * DAY - 20 * 60_000, to: 95 };
    const alone = run({ refills: [refill] });
    expect(alone.raised().map((e) => e.anomaly.kind)).toEqual(["unexpected_refill"]);
    expect(alone.raised()[0]!.anomaly.details).toMatchObject({ rise: expect.any(Number), fulfilment: null });

    const tank = new Tank({ threshold: 80 }, T0);
    const data = readings({ refills: [refill] });
    tank.feed(data.filter((r) => r.measuredAt < T0 + 7 * DAY));
    expect(tank.state.activeOrder).not.toBeNull();
    tank.fulfil(T0 + 7 * DAY, { to: "accepted" });
    tank.fulfil(T0 + 7 * DAY, { to: "dispatched", vehicle: "ZH 1" });
    tank.feed(data.filter((r) => r.measuredAt >= T0 + 7 * DAY));
    expect(tank.raised()).toEqual([]);
  });

  describe("a delivery whose quantity the level does not show", () => {
    // 10,000 l; refilled from about 71 % to 95 %: 2,400 l measured.
    const refill = { at: T0 + 8 * DAY - 20 * 60_000, to: 95 };
    const delivered = (quantity: number) => [{ product: "diesel", quantity, unit: "l" }];
    const until = (tank: Tank, data: { measuredAt: number; fill: number }[], t: number) =>
      tank.feed(data.filter((r) => r.measuredAt < t));

    it("reported before the level rose: checked at the refill", () => {
      for (const [quantity, mismatch] of [
        [1200, true],
        [2400, false],
      ] as const) {
        const tank = new Tank({ threshold: 80, capacity: 10_000, unit: "l" }, T0);
        const data = readings({ refills: [refill] });
        until(tank, data, T0 + 7 * DAY);
        tank.fulfil(T0 + 7 * DAY, { to: "delivered", delivered: delivered(quantity) });
        tank.feed(data.filter((r) => r.measuredAt >= T0 + 7 * DAY));
        const kinds = tank.raised().map((e) => e.anomaly.kind);
        expect(kinds).toEqual(mismatch ? ["delivery_mismatch"] : []);
        if (mismatch)
          expect(tank.raised()[0]!.anomaly.details).toMatchObject({
            delivered: 1200,
            unit: "l",
            measured: expect.any(Number),
          });
      }
    });

    it("reported after the level rose: checked at the delivery", () => {
      for (const [quantity, mismatch] of [
        [4000, true],
        [2400, false],
      ] as const) {
        const tank = new Tank({ threshold: 80, capacity: 10_000, unit: "l" }, T0);
        const data = readings({ refills: [refill] });
        until(tank, data, T0 + 7 * DAY);
        tank.fulfil(T0 + 7 * DAY, { to: "dispatched", vehicle: "ZH 1" });
        tank.feed(data.filter((r) => r.measuredAt >= T0 + 7 * DAY && r.measuredAt < T0 + 8.5 * DAY));
        tank.fulfil(T0 + 8.5 * DAY, { to: "delivered", delivered: delivered(quantity) });
        expect(tank.raised().map((e) => e.anomaly.kind)).toEqual(mismatch ? ["delivery_mismatch"] : []);
      }
    });
  });

  it("a noisy sensor is raised once its noise is far beyond a sensor's", () => {
    const noisy = run({ noise: 7, days: 6 });
    expect(noisy.raised("noisy_sensor")).toHaveLength(1);
    expect(noisy.raised("noisy_sensor")[0]!.anomaly.details.spread as number).toBeGreaterThan(4);
    expect(run({ noise: 2, days: 6 }).raised("noisy_sensor")).toEqual([]);
  });

  it("noisy is far beyond the fleet's usual noise once the container holds it, never within a few points", () => {
    // A fleet of rough sensors (its usual 3 points): 6 is ordinary there, 12 is not.
    expect(run({ noise: 6, days: 6 }).raised("noisy_sensor")).toHaveLength(1);
    expect(run({ noise: 6, days: 6 }, { fleetNoise: 3 }).raised("noisy_sensor")).toEqual([]);
    const rough = run({ noise: 12, days: 6 }, { fleetNoise: 3 }).raised("noisy_sensor");
    expect(rough).toHaveLength(1);
    expect(rough[0]!.anomaly.message).toMatch(
      /^The sensor's readings scatter \d+(\.\d)? points around the trend, \d+(\.\d)? times the fleet's usual 3$/,
    );
    expect(rough[0]!.anomaly.details).toMatchObject({ fleetNoise: 3, above: 9 });
    // A fleet of fine sensors (0.5): twice its usual is still within the floor of 3 points; 4 is not.
    expect(run({ noise: 1.5, days: 6 }, { fleetNoise: 0.5 }).raised("noisy_sensor")).toEqual([]);
    expect(run({ noise: 5, days: 6 }, { fleetNoise: 0.5 }).raised("noisy_sensor")).toHaveLength(1);
    expect([noisyAbove(null), noisyAbove(0.5), noisyAbove(1), noisyAbove(3)]).toEqual([4, 3, 3, 9]);
  });

  it("the fleet's usual noise is the median of ten or more sensors', told again only when it moves a tenth", () => {
    expect(fleetNoiseOf([1, 1, 1, 1, 1, 1, 1, 1, 1])).toBeNull();
    expect(fleetNoiseOf([0.5, 0.7, 0.9, 1.1, 1.2, 1.3, 1.4, 2, 9, 10])).toBe(1.3);
    expect(fleetNoiseOf([0.5, 0.7, 0.9, 1.1, 1.2, 1.3, 1.4, 2, 9, 10, 11])).toBe(1.3);
    expect(fleetNoiseOf([Number.NaN, -1, ...Array<number>(9).fill(0.84)])).toBeNull();
    expect(fleetNoiseOf(Array<number>(10).fill(0.84))).toBe(0.8);
    expect(fleetNoiseStale(null, null)).toBe(false);
    expect(fleetNoiseStale(null, 1)).toBe(true);
    expect(fleetNoiseStale(1, null)).toBe(true);
    expect(fleetNoiseStale(1, 1.1)).toBe(false);
    expect(fleetNoiseStale(1, 1.2)).toBe(true);
    expect(fleetNoiseStale(1.2, 1)).toBe(true);
  });

  it("a container without an established consumption raises nothing, however its level jumps", () => {
    const tank = new Tank({ threshold: 10 }, T0);
    tank.feed([90, 40, 95, 10, 80, 79, 20, 99].map((fill, i) => ({ measuredAt: T0 + i * 60_000, fill })));
    expect(tank.raised()).toEqual([]);
  });
});
