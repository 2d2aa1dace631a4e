// `npm run seed`: its options (a --help, and a message for a wrong one instead of a stack trace),
// and the demonstration fleet it posts: every container named at a town, weeks of history in time
// order with deliveries and a weekly pattern.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { fleetReadings, historyReadings } from "../scripts/lib/seed.mjs";

const seed = (...args: string[]) => spawnSync(process.execPath, ["scripts/seed.mjs", ...args], { encoding: "utf8" });

describe("npm run seed", () => {
  it("prints its options with --help, and names what is wrong with an option it does not know", () => {
    const help = seed("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^npm run seed -- \[options\]/);
    expect(help.stdout).toContain("--days N");
    const wrong = seed("--bogus");
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/^Unknown option '--bogus'/);
    expect(wrong.stderr).toContain("--containers N");
    const bad = seed("--days", "a week");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^--days must be a whole number from 0 to 365, not "a week"/);
  });

  it("posts weeks of history per container, in time order, with deliveries, ending where today's reading starts", () => {
    const now = fleetReadings(40, { measuredAt: "2026-12-06T12:00:00.000Z" });
    const history = historyReadings(now, 21);
    expect(history).toHaveLength(40 * 84);
    const times = history.map((r) => r.measuredAt);
    expect([...times].sort()).toEqual(times);
    const one = history.filter((r) => r.containerId === now[0]!.containerId);
    expect(one[0]!.measuredAt).toBe("2026-11-15T12:00:00.000Z");
    expect(new Set(one.map((r) => r.readingId)).size).toBe(84);
    // Deliveries: somewhere the level rises by more than the refill rise.
    const rises = history.filter((r, i, all) => {
      const before = all.slice(0, i).findLast((p) => p.containerId === r.containerId);
      return before !== undefined && r.fillPercent - before.fillPercent > 30;
    });
    expect(rises.length).toBeGreaterThan(5);
    // Every container stands at a named town, on land near it.
    for (const r of now) {
      expect(r.town).toMatch(/^[A-Z]/);
      expect(r.location.lat).toBeGreaterThan(37);
      expect(r.location.lat).toBeLessThan(55);
    }
  });
});
