// The archive's rules: which months are due, how parts are named, when the backup lets a month
// go, and a history range folded from hot buckets and archived readings as if from one table.
import { describe, expect, it } from "vitest";
import {
  addMonths,
  blockedBy,
  bucketSecondsFor,
  firstHotMonth,
  hotDaysOf,
  mergeBuckets,
  monthOf,
  monthOfPartition,
  monthSpan,
  partitionOf,
  partKey,
  partsHolding,
  type ArchivePart,
  type Bucket,
} from "../domain/archive";

const DAY = 24 * 3600_000;

describe("archive months", () => {
  it("a month is due once all of it is older than READINGS_HOT_DAYS", () => {
    const now = Date.parse("2026-12-06T05:00:00Z");
    // 400 days before is 2025-11-01T05:00Z: October 2025 ended before that, November did not.
    expect(firstHotMonth(now, 400)).toBe("2025-11-01");
    expect(firstHotMonth(Date.parse("2026-12-05T23:00:00Z"), 400)).toBe("2025-10-01");
    expect(firstHotMonth(now, 31)).toBe("2026-11-01");
  });

  it("months add across years, and know their span in UTC", () => {
    expect(addMonths("2025-11-01", 3)).toBe("2026-02-01");
    expect(addMonths("2026-01-01", -1)).toBe("2025-12-01");
    expect(monthOf(Date.parse("2024-02-29T23:59:59.999Z"))).toBe("2024-02-01");
    const feb = monthSpan("2024-02-01");
    expect((feb.end - feb.start) / DAY).toBe(29);
  });

  it("READINGS_HOT_DAYS defaults to 400 and refuses what is not a whole number of at least 31 days", () => {
    expect(hotDaysOf(undefined)).toBe(400);
    expect(hotDaysOf("")).toBe(400);
    expect(hotDaysOf("730")).toBe(730);
    expect(() => hotDaysOf("30")).toThrow(/READINGS_HOT_DAYS must be a whole number of days, at least 31; it is "30"/);
    expect(() => hotDaysOf("1.5")).toThrow(/READINGS_HOT_DAYS/);
    expect(() => hotDaysOf("a year")).toThrow(/READINGS_HOT_DAYS/);
  });

  it("partitions and parts are named by month, parts Hive-style with their generation", () => {
    expect(partitionOf("2025-03-01")).toBe("readings_2025_03");
    expect(monthOfPartition("readings_2025_03")).toBe("2025-03-01");
    expect(monthOfPartition("readings_default")).toBeNull();
    expect(() => partitionOf("2025-03-01; drop table readings")).toThrow(/not a month/);
    expect(partKey("2025-03-01", 2, 17)).toBe("readings/month=2025-03/g2-part-00017.parquet");
  });
});

describe("when a month may leave", () => {
  it("only when a complete backup exists and every container's backup reaches its newest reading's event", () => {
    const needs = [
      { containerId: "tank-1", needs: 40, has: 40 },
      { containerId: "tank-2", needs: 12, has: 11 },
    ];
    expect(blockedBy(needs, null)).toBe("no complete backup yet");
    expect(blockedBy(needs, "2026-12-06T04:05:00Z")).toBe(
      "1 container not yet in a backup (tank-2 needs seq 12, the backup holds 11)",
    );
    expect(blockedBy([needs[0]!], "2026-12-06T04:05:00Z")).toBeNull();
    expect(blockedBy([needs[0]!], "2026-12-06T04:05:00Z", 3)).toMatch(/^3 readings have no event seq/);
    const many = Array.from({ length: 5 }, (_, i) => ({ containerId: `t${i}`, needs: 2, has: 0 }));
    expect(blockedBy(many, "x")).toMatch(
      /^5 containers not yet in a backup \(t0 .*; t2 needs seq 2, the backup holds 0; …\)$/,
    );
  });

  it("a container's readings are looked for only in the parts whose range holds it", () => {
    const part = (first: string, last: string): ArchivePart => ({
      key: `${first}-${last}`,
      rows: 1,
      bytes: 1,
      sha256: "",
      firstContainer: first,
      lastContainer: last,
      outcomes: {},
    });
    const parts = [part("a", "c"), part("c", "f"), part("g", "k")];
    expect(partsHolding(parts, "c").map((p) => p.key)).toEqual(["a-c", "c-f"]);
    expect(partsHolding(parts, "fz")).toEqual([]);
    expect(partsHolding(parts, "h").map((p) => p.key)).toEqual(["g-k"]);
  });
});

describe("history across the archive's horizon", () => {
  it("buckets folded from Postgres's sums and archived readings equal buckets of all the readings at once", () => {
    const from = Date.parse("2025-09-20T00:00:00Z");
    const to = Date.parse("2025-10-20T00:00:00Z");
    const horizon = Date.parse("2025-10-01T00:00:00Z");
    const readings = Array.from({ length: 300 }, (_, i) => ({
      at: from + i * 2.4 * 3600_000 + 17,
      fill: 80 - i * 0.2 + (i % 7),
    }));
    const bucketSeconds = bucketSecondsFor(readings.length, from, to, 50)!;
    expect(bucketSeconds).toBe(Math.ceil((to - from) / 1000 / 50));
    const sums = (rs: typeof readings): Bucket[] => {
      const m = new Map<number, Bucket>();
      for (const r of rs) {
        const bucket = Math.floor((r.at - from) / 1000 / bucketSeconds);
        const b = m.get(bucket) ?? { bucket, sum: 0, min: Infinity, max: -Infinity, n: 0 };
        m.set(bucket, {
          bucket,
          sum: b.sum + r.fill,
          min: Math.min(b.min, r.fill),
          max: Math.max(b.max, r.fill),
          n: b.n + 1,
        });
      }
      return [...m.values()];
    };
    const whole = mergeBuckets(from, bucketSeconds, sums(readings), []);
    const split = mergeBuckets(
      from,
      bucketSeconds,
      sums(readings.filter((r) => r.at >= horizon)),
      readings.filter((r) => r.at < horizon),
    );
    expect(split.map((p) => [p.at, p.count, p.min, p.max])).toEqual(whole.map((p) => [p.at, p.count, p.min, p.max]));
    split.forEach((p, i) => expect(p.fillPercent).toBeCloseTo(whole[i]!.fillPercent, 9));
    expect(split.reduce((n, p) => n + p.count, 0)).toBe(300);
    // A bucket that straddles the horizon holds readings from both sides.
    const straddling = Math.floor((horizon - from) / 1000 / bucketSeconds);
    expect(split.find((p) => p.at === new Date(from + straddling * bucketSeconds * 1000).toISOString())!.count).toBe(
      readings.filter((r) => Math.floor((r.at - from) / 1000 / bucketSeconds) === straddling).length,
    );
    expect(bucketSecondsFor(50, from, to, 50)).toBeNull();
  });
});
