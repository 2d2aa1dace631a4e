// The pure part of backups: object names, what an event object holds, coverage with holes, and when
// a backup is complete.
import { describe, expect, it } from "vitest";
import {
  backupEventsMessages,
  completeness,
  cover,
  eventLines,
  eventsKey,
  hourPath,
  manifestKey,
  snapshotKey,
} from "../domain/backups";
import { utf8Length } from "../domain/change-message";
import type { ContainerEvent } from "../domain/events";

const event = (containerId: string, seq: number, at = "2026-12-05T14:20:00.000Z") =>
  ({ id: `${containerId}-${seq}`, containerId, seq, at, type: "settings.changed" }) as unknown as ContainerEvent;

describe("backups", () => {
  it("names objects by the UTC hour of their first event", () => {
    const t = Date.parse("2026-12-05T14:59:59.999Z");
    expect(hourPath(t)).toBe("2026/12/05/14");
    expect(eventsKey(t, "ab12")).toBe("events/2026/12/05/14/ab12.ndjson.gz");
    expect(snapshotKey(Date.parse("2026-01-01T00:00:00Z"), Date.parse("2026-01-01T01:05:00Z"))).toBe(
      "snapshots/2026/01/01/00/snapshot-20260101T010500000Z.json.gz",
    );
    expect(manifestKey(t, Date.parse("2026-12-05T15:05:00.123Z"))).toBe(
      "manifests/2026/12/05/14/manifest-20261205T150500123Z.json",
    );
  });

  it("holds each event once, by container and seq, whatever order and repeats a batch brings", () => {
    const a = eventLines([
      event("b", 2),
      event("a", 10, "2026-12-05T13:05:00.000Z"),
      event("b", 1),
      event("b", 2),
      event("a", 11),
      event("b", 4),
    ]);
    expect(a.count).toBe(5);
    expect(
      a.lines
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as ContainerEvent).id),
    ).toEqual(["a-10", "a-11", "b-1", "b-2", "b-4"]);
    expect(a.ranges).toEqual([
      { containerId: "a", fromSeq: 10, toSeq: 11 },
      { containerId: "b", fromSeq: 1, toSeq: 2 },
      { containerId: "b", fromSeq: 4, toSeq: 4 },
    ]);
    expect(new Date(a.firstAt).toISOString()).toBe("2026-12-05T13:05:00.000Z");
    // The same events in another order: the same lines (the same name and bytes).
    expect(
      eventLines([
        event("b", 4),
        event("b", 1),
        event("a", 11),
        event("b", 2),
        event("a", 10, "2026-12-05T13:05:00.000Z"),
      ]).lines,
    ).toBe(a.lines);
  });

  it("covers a container's seqs up to the first hole, and closes the hole when its range arrives", () => {
    expect(cover(0, [{ fromSeq: 1, toSeq: 5 }])).toEqual({ contiguous: 5, beyond: [] });
    const holed = cover(5, [
      { fromSeq: 9, toSeq: 12 },
      { fromSeq: 14, toSeq: 14 },
    ]);
    expect(holed).toEqual({
      contiguous: 5,
      beyond: [
        { fromSeq: 9, toSeq: 12 },
        { fromSeq: 14, toSeq: 14 },
      ],
    });
    expect(cover(holed.contiguous, [...holed.beyond, { fromSeq: 6, toSeq: 8 }])).toEqual({
      contiguous: 12,
      beyond: [{ fromSeq: 14, toSeq: 14 }],
    });
    // Overlaps and ranges already covered change nothing.
    expect(
      cover(12, [
        { fromSeq: 3, toSeq: 12 },
        { fromSeq: 10, toSeq: 13 },
      ]),
    ).toEqual({ contiguous: 13, beyond: [] });
  });

  it("is complete when every event Postgres knew of is covered and the snapshot was written", () => {
    const coverage = new Map([
      ["a", 10],
      ["b", 3],
    ]);
    const expected = [
      { containerId: "a", version: 10 },
      { containerId: "b", version: 5 },
      { containerId: "c", version: 1 },
    ];
    expect(completeness(coverage, expected, true)).toEqual({
      complete: false,
      missing: [
        { containerId: "b", backedUp: 3, version: 5 },
        { containerId: "c", backedUp: 0, version: 1 },
      ],
    });
    expect(completeness(coverage, expected.slice(0, 1), true)).toEqual({ complete: true, missing: [] });
    expect(completeness(coverage, expected.slice(0, 1), false).complete).toBe(false);
  });

  it("passes events on as messages of events alone, in order, each within the limit in UTF-8 bytes; one larger goes alone", () => {
    const events = Array.from({ length: 40 }, (_, i) => event(i % 3 === 0 ? "tänk-ü" : "bin", i + 1));
    const messages = backupEventsMessages(events, 1_000);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(m.bytes).toBe(utf8Length(m.body));
      expect(m.bytes).toBeLessThanOrEqual(1_000);
    }
    expect(messages.flatMap((m) => (JSON.parse(m.body) as { events: ContainerEvent[] }).events)).toEqual(events);
    // As many as fit: no two neighbours would have fitted in one.
    for (let i = 1; i < messages.length; i++)
      expect(messages[i - 1]!.bytes + messages[i]!.bytes - 12).toBeGreaterThan(1_000);

    const big = { ...event("bin", 99), note: "x".repeat(2_000) } as unknown as ContainerEvent;
    const withBig = backupEventsMessages([event("bin", 1), big, event("bin", 2)], 1_000);
    expect(withBig.map((m) => (JSON.parse(m.body) as { events: ContainerEvent[] }).events.length)).toEqual([1, 1, 1]);
    expect(backupEventsMessages([])).toEqual([]);
  });
});
