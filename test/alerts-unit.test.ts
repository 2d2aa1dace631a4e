// Alerts over minutes: one per condition and subject, repeats while unacknowledged, escalation,
// acknowledgement, silence, and a resolve message when the condition clears.
import { describe, expect, it } from "vitest";
import { acknowledge, DEFAULT_POLICY, silence, step, type Alert, type Condition } from "../domain/alerts";

const T0 = Date.parse("2026-12-01T08:00:00Z");
const minute = (n: number) => T0 + n * 60_000;
const silent: Condition = {
  key: "container_silent:tank-1",
  rule: "container_silent",
  subject: "tank-1",
  severity: "critical",
  message: "tank-1 silent for 61 min",
  containerId: "tank-1",
};
let ids = 0;
const newId = () => `alr_${++ids}`;

/** Run the monitor once a minute from minute `from` to `to` with the conditions `at(minute)` gives; return every message. */
function minutes(open: Alert[], from: number, to: number, at: (m: number) => Condition[]) {
  let alerts = open;
  const sent: { minute: number; kind: string; chat: string }[] = [];
  for (let m = from; m <= to; m++) {
    const s = step(
      alerts.filter((a) => a.state !== "resolved"),
      at(m),
      minute(m),
      DEFAULT_POLICY,
      newId,
    );
    const byId = new Map(alerts.map((a) => [a.id, a]));
    for (const a of s.changed) byId.set(a.id, a);
    alerts = [...byId.values()];
    for (const o of s.outgoing) sent.push({ minute: m, kind: o.kind, chat: o.chat });
  }
  return { alerts, sent };
}

describe("alerts", () => {
  it("a condition that stays true fires one alert, not one per minute; it clears → resolved, with a message", () => {
    const { alerts, sent } = minutes([], 0, 5, (m) => (m < 5 ? [silent] : []));
    expect(alerts).toHaveLength(1);
    expect(sent).toEqual([
      { minute: 0, kind: "fired", chat: "primary" },
      { minute: 5, kind: "resolved", chat: "primary" },
    ]);
    expect(alerts[0]).toMatchObject({ state: "resolved", resolvedAt: new Date(minute(5)).toISOString() });
  });

  it("unacknowledged: repeated every N minutes (critical: 10), escalated to the second chat after M repeats (3)", () => {
    const { sent } = minutes([], 0, 45, () => [silent]);
    expect(sent).toEqual([
      { minute: 0, kind: "fired", chat: "primary" },
      { minute: 10, kind: "repeat", chat: "primary" },
      { minute: 20, kind: "repeat", chat: "primary" },
      { minute: 30, kind: "escalated", chat: "escalation" },
      { minute: 40, kind: "repeat", chat: "escalation" },
    ]);
  });

  it("acknowledged: the repeats stop; the resolve message still goes out", () => {
    const first = minutes([], 0, 12, () => [silent]);
    const acked = acknowledge(first.alerts[0]!, "ann@fillgrid.test", minute(12));
    expect(acked.ok && acked.alert).toMatchObject({ state: "acknowledged", acknowledgedBy: "ann@fillgrid.test" });
    const later = minutes([acked.ok ? acked.alert : first.alerts[0]!], 13, 60, (m) => (m < 60 ? [silent] : []));
    expect(later.sent).toEqual([{ minute: 60, kind: "resolved", chat: "primary" }]);
    expect(acknowledge(later.alerts[0]!, "bob", minute(61))).toEqual({ ok: false, reason: "resolved" });
  });

  it("silenced until a time: no repeats until then, then repeats again", () => {
    const first = minutes([], 0, 0, () => [silent]);
    const quiet = silence(first.alerts[0]!, new Date(minute(35)).toISOString());
    const later = minutes([quiet], 1, 40, () => [silent]);
    expect(later.sent).toEqual([{ minute: 35, kind: "repeat", chat: "primary" }]);
  });

  it("the same minute twice (an overlapping run) changes nothing and sends nothing the second time", () => {
    const once = step([], [silent], minute(0), DEFAULT_POLICY, newId);
    const again = step(once.changed, [silent], minute(0), DEFAULT_POLICY, newId);
    expect(again).toEqual({ changed: [], outgoing: [] });
  });
});
