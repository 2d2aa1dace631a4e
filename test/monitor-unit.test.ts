// What the minute monitor finds, rule by rule, with the default rules.
import { describe, expect, it } from "vitest";
import { conditionsOf, DEFAULT_RULES, type Snapshot } from "../domain/monitor";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const ago = (minutes: number) => new Date(NOW - minutes * 60_000).toISOString();
const empty: Snapshot = {
  containers: [],
  fillDrops: [],
  activeOrders: [],
  deadLettersWaiting: 0,
  errorRecords: [],
  projectionLagSeconds: 0,
  failingDeliveries: [],
  refusedKeys: [],
  openAnomalies: [],
  backup: { newestComplete: null, since: null },
};
const keys = (s: Partial<Snapshot>, rules = DEFAULT_RULES) =>
  conditionsOf({ ...empty, ...s }, rules, NOW).map((c) => c.key);

describe("the minute monitor's conditions", () => {
  it("backups that stopped: the newest complete one older than 2 hours, or none for 2 hours since they began", () => {
    expect(keys({ backup: { newestComplete: ago(60), since: ago(600) } })).toEqual([]);
    const stale = conditionsOf({ ...empty, backup: { newestComplete: ago(181), since: ago(600) } }, DEFAULT_RULES, NOW);
    expect(stale).toMatchObject([{ key: "backupStale:all", severity: "critical" }]);
    expect(stale[0]!.message).toMatch(/^The newest complete backup is 3 h old/);
    // A new system: nothing until backups have run for 2 hours without a complete one.
    expect(keys({ backup: { newestComplete: null, since: null } })).toEqual([]);
    expect(keys({ backup: { newestComplete: null, since: ago(100) } })).toEqual([]);
    expect(keys({ backup: { newestComplete: null, since: ago(121) } })).toEqual(["backupStale:all"]);
    expect(
      keys(
        { backup: { newestComplete: ago(181), since: ago(600) } },
        { ...DEFAULT_RULES, backupStale: { enabled: true, severity: "warning", hours: 4 } },
      ),
    ).toEqual([]);
  });

  it("one alert per open anomaly, naming the container and saying what was seen; none when the rule is off", () => {
    const openAnomalies = [
      {
        id: "anm_1",
        containerId: "tank-7",
        name: "North silo",
        kind: "sudden_drop",
        message: "The level fell 21 points more than its consumption explains: a theft or a leak?",
      },
      {
        id: "anm_2",
        containerId: "tank-8",
        name: null,
        kind: "stuck_sensor",
        message: "The sensor has read 40 % since …",
      },
    ];
    const found = conditionsOf({ ...empty, openAnomalies }, DEFAULT_RULES, NOW);
    expect(found.map((c) => [c.key, c.severity])).toEqual([
      ["anomaly:anm_1", "warning"],
      ["anomaly:anm_2", "warning"],
    ]);
    expect(found[0]!.message).toBe(
      "North silo (tank-7): The level fell 21 points more than its consumption explains: a theft or a leak?",
    );
    expect(keys({ openAnomalies }, { ...DEFAULT_RULES, anomaly: { enabled: false, severity: "warning" } })).toEqual([]);
  });

  it("silent past the container's own interval (default 1 h), or never heard", () => {
    expect(
      keys({
        containers: [
          { id: "a", name: null, lastSeenAt: ago(59), reportIntervalSeconds: null, battery: 80 },
          { id: "b", name: null, lastSeenAt: ago(61), reportIntervalSeconds: null, battery: 80 },
          { id: "c", name: null, lastSeenAt: ago(11), reportIntervalSeconds: 600, battery: 80 },
          { id: "d", name: null, lastSeenAt: null, reportIntervalSeconds: null, battery: null },
        ],
      }),
    ).toEqual(["silent:b", "silent:c", "silent:d"]);
  });

  it("battery below 15 %, and a drop of more than 30 points with no delivery", () => {
    expect(
      keys({
        containers: [{ id: "a", name: null, lastSeenAt: ago(1), reportIntervalSeconds: null, battery: 14 }],
        fillDrops: [
          { containerId: "a", from: 80, to: 49, at: ago(1) },
          { containerId: "b", from: 80, to: 50, at: ago(1) },
        ],
      }),
    ).toEqual(["battery:a", "fillDrop:a"]);
  });

  it("orders: not accepted within 15 min, assembling over 4 h, 2 h past the ETA, no partner at all", () => {
    const base = { containerId: "t", fulfilmentAt: null, eta: null, partnerId: "p", servedBy: "p" };
    expect(
      keys({
        activeOrders: [
          { ...base, id: "o1", fulfilment: "pending", openedAt: ago(16) },
          { ...base, id: "o2", fulfilment: "pending", openedAt: ago(14) },
          { ...base, id: "o3", fulfilment: "assembling", openedAt: ago(600), fulfilmentAt: ago(241) },
          { ...base, id: "o4", fulfilment: "dispatched", openedAt: ago(600), eta: ago(121) },
          { ...base, id: "o5", fulfilment: "dispatched", openedAt: ago(600), eta: ago(119) },
          { ...base, id: "o6", fulfilment: "accepted", openedAt: ago(1), partnerId: null, servedBy: null },
        ],
      }),
    ).toEqual(["notAccepted:o1", "assemblingTooLong:o3", "overdue:o4", "noPartner:o6"]);
  });

  it("an order no partner serves is one alert (no partner), not also 'not accepted'; order alerts name their container in words", () => {
    const base = {
      containerId: "tank-00012",
      fulfilmentAt: null,
      eta: null,
      fulfilment: "pending" as const,
      openedAt: ago(60),
    };
    const found = conditionsOf(
      {
        ...empty,
        activeOrders: [
          { ...base, id: "o1", partnerId: null, servedBy: null },
          { ...base, id: "o2", partnerId: "p", servedBy: "p" },
        ],
      },
      DEFAULT_RULES,
      NOW,
    );
    expect(found.map((c) => [c.key, c.containerId, c.message])).toEqual([
      ["noPartner:o1", "tank-00012", "Order for tank-00012 has no partner to deliver it"],
      ["notAccepted:o2", "tank-00012", "Order for tank-00012 not accepted after 60 min"],
    ]);
    // With the no-partner rule off, the unserved order is not accepted either, and says so.
    const rules = { ...DEFAULT_RULES, noPartner: { ...DEFAULT_RULES.noPartner, enabled: false } };
    expect(
      conditionsOf(
        { ...empty, activeOrders: [{ ...base, id: "o1", partnerId: null, servedBy: null }] },
        rules,
        NOW,
      ).map((c) => c.key),
    ).toEqual(["notAccepted:o1"]);
  });

  it("the system: dead letters, an error record growing fast, projection lag over 60 s, deliveries failing", () => {
    expect(
      keys({
        deadLettersWaiting: 2,
        errorRecords: [
          { id: "e1", name: "E", message: "m", seenLastHour: 20 },
          { id: "e2", name: "E", message: "m", seenLastHour: 3 },
        ],
        projectionLagSeconds: 61,
        failingDeliveries: [{ partnerId: "acme", retrying: 1, dead: 0 }],
      }),
    ).toEqual(["deadLetters:all", "errorsGrowing:e1", "projectionLag:all", "deliveriesFailing:acme"]);
  });

  it("a device key refused for its rate in 3 or more of the last 10 minutes is a noisy or broken device; one burst is not", () => {
    const refusedKeys = [
      { keyId: "dk_gateway", label: "north gateway", kind: "gateway" as const, minutes: 3, refused: 4200 },
      { keyId: "dk_burst", label: null, kind: "sensor" as const, minutes: 1, refused: 900 },
    ];
    const found = conditionsOf({ ...empty, refusedKeys }, DEFAULT_RULES, NOW);
    expect(found.map((c) => c.key)).toEqual(["rateLimited:dk_gateway"]);
    expect(found[0]!.message).toBe(
      "gateway key north gateway (dk_gateway) refused for its rate 4200 times in 3 of the last 10 minutes: a noisy or broken device?",
    );
    expect(found[0]!.severity).toBe("warning");
    expect(
      keys({ refusedKeys }, { ...DEFAULT_RULES, rateLimited: { ...DEFAULT_RULES.rateLimited, minutes: 1 } }),
    ).toEqual(["rateLimited:dk_gateway", "rateLimited:dk_burst"]);
  });

  it("a rule switched off finds nothing; thresholds are the admin's", () => {
    const rules = {
      ...DEFAULT_RULES,
      battery: { ...DEFAULT_RULES.battery, belowPercent: 30 },
      silent: { ...DEFAULT_RULES.silent, enabled: false },
    };
    expect(
      keys(
        { containers: [{ id: "a", name: null, lastSeenAt: null, reportIntervalSeconds: null, battery: 25 }] },
        rules,
      ),
    ).toEqual(["battery:a"]);
  });
});
