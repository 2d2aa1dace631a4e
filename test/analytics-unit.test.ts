// What the analytics questions take (pure): the range of days, the map box, CSV cells; and which
// container days a batch's orders and anomalies touch.
import { describe, expect, it } from "vitest";
import { boxText, consumptionQuery, csvColumns, csvRecords, dayRange } from "../domain/analytics";
import { touchedDays } from "../workers/db/rollups";

const NOW = Date.parse("2026-12-05T15:00:00Z");

describe("the range of days", () => {
  it("defaults to the days up to today, and takes from and to as given", () => {
    expect(dayRange({}, NOW)).toEqual({ ok: true, from: "2026-11-06", to: "2026-12-05" });
    expect(dayRange({ to: "2026-03-01" }, NOW, 7)).toEqual({ ok: true, from: "2026-02-23", to: "2026-03-01" });
    expect(dayRange({ from: "2026-01-01", to: "2026-01-01" }, NOW)).toEqual({
      ok: true,
      from: "2026-01-01",
      to: "2026-01-01",
    });
  });

  it("refuses from after to, and more than a year, naming from", () => {
    expect(dayRange({ from: "2026-03-02", to: "2026-03-01" }, NOW)).toMatchObject({ ok: false, field: "from" });
    expect(dayRange({ from: "2025-01-01", to: "2026-01-02" }, NOW)).toMatchObject({
      ok: false,
      field: "from",
      message: "must be at most 366 days before to",
    });
    expect(dayRange({ from: "2025-01-02", to: "2026-01-02" }, NOW)).toMatchObject({ ok: true });
  });

  it("takes only days that exist", () => {
    expect(consumptionQuery.safeParse({ from: "2026-02-29" }).success).toBe(false);
    expect(consumptionQuery.safeParse({ from: "2028-02-29" }).success).toBe(true);
    expect(consumptionQuery.safeParse({ to: "5.12.2026" }).success).toBe(false);
  });
});

describe("the box", () => {
  it("reads minLon,minLat,maxLon,maxLat and refuses anything else", () => {
    expect(boxText.parse("5.9, 47.3,15,55.1")).toEqual({ minLon: 5.9, minLat: 47.3, maxLon: 15, maxLat: 55.1 });
    for (const bad of ["5,47,15", "a,b,c,d", ",,,", "1,2,,4", "5,55,15,47", "5,-91,15,55", "-181,0,0,1", "1,2,3,4,5"])
      expect(boxText.safeParse(bad).success, bad).toBe(false);
    // West of east: across the antimeridian (Fiji).
    expect(boxText.parse("177,-19,-179,-16")).toEqual({ minLon: 177, minLat: -19, maxLon: -179, maxLat: -16 });
  });
});

describe("CSV cells", () => {
  it("are the columns in order, null as empty, numbers as numbers", () => {
    expect(
      csvRecords(
        [{ day: "2026-12-01", key: null, unit: "l", containers: 3, quantity: 12.5 }],
        ["day", "key", "quantity"],
      ),
    ).toEqual([["2026-12-01", "", 12.5]]);
    // Text a spreadsheet would run as a formula is kept as text.
    expect(
      csvRecords(
        [
          { key: "=HYPERLINK(1)", n: -3 },
          { key: "@x", n: 0 },
          { key: "diesel", n: 1 },
        ],
        ["key", "n"],
      ),
    ).toEqual([
      ["'=HYPERLINK(1)", -3],
      ["'@x", 0],
      ["diesel", 1],
    ]);
    expect(csvColumns.consumption.slice(0, 3)).toEqual(["day", "key", "unit"]);
    expect(csvColumns.fulfilment.slice(0, 2)).toEqual(["scope", "partnerId"]);
  });
});

describe("the days a batch touches", () => {
  it("are each delivery's day and each anomaly's measured day (else raised), once each", () => {
    expect(
      touchedDays(
        [
          { containerId: "a", deliveredAt: "2026-12-01T23:59:00Z" },
          { containerId: "a", deliveredAt: null },
          { containerId: "a", deliveredAt: "2026-12-01T01:00:00Z" },
        ],
        [
          { containerId: "b", raisedAt: "2026-12-03T00:10:00Z", measuredAt: "2026-12-02T23:50:00Z" },
          { containerId: "b", raisedAt: "2026-12-04T10:00:00Z", measuredAt: null },
        ],
      ),
    ).toEqual([
      { container_id: "a", day: "2026-12-01" },
      { container_id: "b", day: "2026-12-02" },
      { container_id: "b", day: "2026-12-04" },
    ]);
  });
});
