// `npm run seed`: its options (a --help, and a message for a wrong one instead of a stack trace),
// the demonstration fleet it makes (every container named at a town, weeks of history in time
// order with a weekly pattern, each refill the delivery of an order), and that fleet seeded into
// the whole system as `npm run dev` starts it: orders delivered by the partners with their sales
// documents, and no anomaly but those made on purpose.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Anomaly } from "../domain/anomalies";
import type { Order } from "../domain/order";
import { freePort } from "../scripts/lib/local-system.mjs";
import { DEMO_PARTNERS, fleetHistory, fleetReadings, historyReadings, login, seedFleet } from "../scripts/lib/seed.mjs";
import { TEST_SECRETS } from "./support/secrets.mjs";
import { startDevSystem } from "./browser/system";

const seed = (...args: string[]) => spawnSync(process.execPath, ["scripts/seed.mjs", ...args], { encoding: "utf8" });

describe("npm run seed", () => {
  it("prints its options with --help, and names what is wrong with an option it does not know", () => {
    const help = seed("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^npm run seed -- \[options\]/);
    expect(help.stdout).toContain("--days N");
    expect(help.stdout).toContain("--partner URL");
    const wrong = seed("--bogus");
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/^Unknown option '--bogus'/);
    expect(wrong.stderr).toContain("--containers N");
    const bad = seed("--days", "a week");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^--days must be a whole number from 0 to 365, not "a week"/);
    const url = seed("--partner", "stand-in");
    expect(url.status).toBe(2);
    expect(url.stderr).toMatch(/^--partner must be an http:\/\/ or https:\/\/ URL, not "stand-in"/);
  });

  it("posts weeks of history per container, in time order, with deliveries, ending where today's reading starts", () => {
    const now = fleetReadings(40, { measuredAt: "2026-12-06T12:00:00.000Z" });
    const history = historyReadings(now, 21);
    // A reading every 6 hours, and the sudden drop's second reading on one container.
    expect(history).toHaveLength(40 * 84 + 1);
    const times = history.map((r) => r.measuredAt);
    expect([...times].sort()).toEqual(times);
    const one = history.filter((r) => r.containerId === now[0]!.containerId);
    expect(one[0]!.measuredAt).toBe("2026-11-15T12:00:00.000Z");
    expect(new Set(one.map((r) => r.readingId)).size).toBe(84);
    // Every container stands at a named town, on land near it, with a size in its unit.
    for (const r of now) {
      expect(r.town).toMatch(/^[A-Z]/);
      expect(r.location.lat).toBeGreaterThan(37);
      expect(r.location.lat).toBeLessThan(55);
      expect(r.capacity).toBeGreaterThan(0);
      expect(["l", "kg"]).toContain(r.unit);
    }
  });

  it("makes each refill the delivery of an order: below the threshold the level stays down until the partner delivers", () => {
    const now = fleetReadings(40, { measuredAt: "2026-12-06T12:00:00.000Z" });
    const fleet = fleetHistory(now, 21);
    expect(fleet.reduce((n, c) => n + c.deliveries.length, 0)).toBeGreaterThan(30);
    for (const c of fleet) {
      const fills = c.readings.map((r) => r.fillPercent);
      // Today's reading is the last, and the fleet's reading of now says the same.
      expect(c.readings.at(-1)!.readingId).toBeUndefined();
      expect(fills.at(-1)).toBe(now.find((r) => r.containerId === c.containerId)!.fillPercent);
      let since = 0;
      for (const d of c.deliveries) {
        // An order opened below the threshold before the refill, and no reading above it closed the order.
        const before = fills.slice(since, d.index);
        const opened = before.findIndex((f) => f < 50);
        expect(opened).toBeGreaterThanOrEqual(0);
        expect(before.slice(opened).every((f) => f < 50)).toBe(true);
        expect(d.index - (since + opened)).toBeGreaterThanOrEqual(4);
        expect(fills[d.index]! - fills[d.index - 1]!).toBeGreaterThan(30);
        since = d.index;
      }
      // Any other rise is the one refill nobody ordered, on purpose.
      const cuts = new Set(c.deliveries.map((d) => d.index));
      const rises = fills.flatMap((f, i) => (i > 0 && f - fills[i - 1]! > 10 && !cuts.has(i) ? [i] : []));
      expect(rises).toHaveLength(c.anomaly === "unexpected_refill" ? 1 : 0);
    }
    expect(fleet.filter((c) => c.anomaly).map((c) => [c.containerId, c.anomaly])).toEqual([
      ["tank-00006", "sudden_drop"],
      ["tank-00012", "unexpected_refill"],
      ["tank-00024", "stuck_sensor"],
      ["tank-00030", "delivery_mismatch"],
    ]);
  });
});

describe("npm run seed, into the system npm run dev starts", () => {
  let system: { url: string; stop: () => Promise<void> };
  let standIn: string;
  let token: string;
  let seeded: Awaited<ReturnType<typeof seedFleet>>;
  const count = 40;

  beforeAll(async () => {
    const port = await freePort();
    standIn = `http://127.0.0.1:${port}`;
    system = await startDevSystem("seed", { FILLGRID_PARTNER_PORT: String(port), FILLGRID_CRON: "off" });
    token = await login(system.url, TEST_SECRETS.ADMIN_EMAIL, TEST_SECRETS.ADMIN_PASSWORD);
    seeded = await seedFleet(system.url, token, count, { names: count, days: 21, partner: standIn });
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(system.url + path, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, `GET ${path}`).toBe(200);
    return (await res.json()) as T;
  };

  it("every refill of the history is an order the partners delivered, each with its sales document", async () => {
    const planned = fleetHistory(fleetReadings(count), 21).reduce((n, c) => n + c.deliveries.length, 0);
    expect(seeded.delivered).toBe(planned);
    expect(seeded.partners).toEqual(DEMO_PARTNERS.map((p) => p.id));
    const { orders } = await get<{ orders: Order[] }>("/v1/orders?fulfilment=delivered&limit=500");
    expect(orders).toHaveLength(planned);
    const demo = new Set(DEMO_PARTNERS.map((p) => p.id));
    for (const o of orders) {
      expect(o).toMatchObject({ status: "closed", closeReason: "delivered", source: "auto" });
      expect(demo.has(o.partnerId!)).toBe(true);
      expect(o.delivered[0]!.quantity).toBeGreaterThan(0);
    }
    // The partner by contents: a tanker delivers diesel, a bulk haulier grain.
    const tankers = DEMO_PARTNERS.find((p) => p.id === "demo-tankers")!;
    for (const o of orders) expect(tankers.contents.includes(o.delivered[0]!.product)).toBe(o.partnerId === tankers.id);

    expect(seeded.documents).toBe(planned);
    const { documents } = await get<{ documents: { orderId: string; gross: string }[] }>("/v1/documents?limit=500");
    expect(documents.map((d) => d.orderId).sort()).toEqual(orders.map((o) => o.id).sort());
    expect(documents.every((d) => Number(d.gross) > 0)).toBe(true);

    // The orders still open: taken, or on the road when due within a day; only one today's reading opened waits.
    const open = await get<{ orders: Order[] }>("/v1/orders?status=active&limit=500");
    expect(open.orders.length).toBeGreaterThan(0);
    expect(open.orders.filter((o) => o.fulfilment === "pending").length).toBeLessThanOrEqual(2);
    for (const o of open.orders.filter((o) => o.fulfilment === "dispatched"))
      expect(Date.parse(o.eta!)).toBeGreaterThan(Date.now());
  });

  it("the partners' webhook receiver took every event sent to it, so nothing retries or waits as a dead letter", async () => {
    for (const p of DEMO_PARTNERS) {
      const received = (await (await fetch(`${standIn}/__received?partnerId=${p.id}`)).json()) as {
        events: unknown[];
        refusals: unknown[];
      };
      expect(received.events.length).toBeGreaterThan(0);
      expect(received.refusals).toEqual([]);
    }
    await expect
      .poll(
        async () => {
          const counts = await Promise.all(
            DEMO_PARTNERS.map(async (p) => {
              const { deliveries } = await get<{ deliveries: { state: string }[] }>(
                `/v1/partners/${p.id}/deliveries?limit=500`,
              );
              return deliveries.filter((d) => d.state !== "delivered").length;
            }),
          );
          return counts.reduce((a, b) => a + b, 0);
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(0);
    const { deadLetters } = await get<{ deadLetters: unknown[] }>("/v1/dead-letters?limit=10");
    expect(deadLetters).toEqual([]);
  });

  it("the only anomalies are those made on purpose, one of each kind, the refill nobody ordered among them", async () => {
    const { anomalies } = await get<{ anomalies: (Anomaly & { containerId: string })[] }>("/v1/anomalies?limit=500");
    expect(anomalies.map((a) => `${a.containerId} ${a.kind}`).sort()).toEqual([
      "tank-00006 sudden_drop",
      "tank-00012 unexpected_refill",
      "tank-00024 stuck_sensor",
      "tank-00030 delivery_mismatch",
    ]);
  });
});
