// What the projection consumer takes from its queue: ranges, batches of ranges and single changes
// of the right shape, as the changes they stand for; anything else refused with the field that is wrong.
import { describe, expect, it } from "vitest";
import { parseBackupMessage, parseProjectionMessage } from "../workers/projection/message";

const event = (seq: number, extra: Record<string, unknown> = {}) => ({
  id: `evt_${seq}`,
  seq,
  containerId: "tank-1",
  type: "reading.recorded",
  at: "2026-12-06T10:00:00.000Z",
  actor: { kind: "device", id: "key-1" },
  ...extra,
});
const state = { containerId: "tank-1", version: 2, fillPercent: 40 };
const range = (events = [event(1), event(2)]) => ({ range: true, containerId: "tank-1", events, state, orders: [] });

describe("projection messages", () => {
  it("a range, a batch of ranges and a single change are the changes they stand for, left as they came", () => {
    const single = parseProjectionMessage(range());
    expect(single.ok && single.changes.map((c) => c.event.seq)).toEqual([1, 2]);
    const batch = parseProjectionMessage({ ranges: [range(), range([event(3)])] });
    expect(batch.ok && batch.changes.map((c) => c.event.seq)).toEqual([1, 2, 3]);
    const one = { event: event(5), state, order: null };
    const change = parseProjectionMessage(one);
    expect(change.ok && change.changes[0]).toBe(one);
    // Fields the writer does not need are the container's own, kept as they are.
    const kept = parseProjectionMessage(range([event(1, { reading: { fillPercent: 40 } })]));
    expect(kept.ok && kept.changes[0]!.event).toMatchObject({ reading: { fillPercent: 40 } });
  });

  it("a message sent as JSON text is the changes its JSON stands for, with the value it holds", () => {
    const batch = { ranges: [range(), range([event(3)])], bytes: 900 };
    const parsed = parseProjectionMessage(JSON.stringify(batch));
    expect(parsed.ok && parsed.changes.map((c) => c.event.seq)).toEqual([1, 2, 3]);
    expect(parsed.ok && parsed.value).toEqual(batch);
  });

  it("anything else is refused, saying which field is wrong", () => {
    const refused = (body: unknown) => {
      const parsed = parseProjectionMessage(body);
      expect(parsed.ok).toBe(false);
      return parsed.ok ? "" : parsed.error;
    };
    expect(refused(range([event(1, { seq: 0 })]))).toBe("not a change range: events.0.seq must be a positive integer");
    expect(refused(range([]))).toBe("not a change range: events must hold at least one");
    expect(refused({ ...range(), state: { containerId: "tank-1" } })).toBe(
      "not a change range: state.version is missing",
    );
    expect(refused({ ranges: [range(), range([event(2, { type: "order.exploded" })])] })).toMatch(
      /^not a batch of change ranges: ranges\.1\.events\.0\.type must be one of reading\.recorded, /,
    );
    expect(refused({ ranges: [] })).toBe("not a batch of change ranges: ranges must hold at least one");
    expect(refused({ ...range(), orders: [{ order: { id: "" }, version: 1 }] })).toBe(
      "not a change range: orders.0.order.id must be a non-empty string",
    );
    expect(refused({ event: { id: "x" } })).toBe("not a change message: event.seq is missing");
    expect(refused("hello")).toMatch(/^not a projection message: not JSON: /);
    expect(refused('"hello"')).toBe("not a change message: (body) must be an object");
    expect(refused(JSON.stringify(range([])))).toBe("not a change range: events must hold at least one");
    expect(refused({ event: event(1), state, order: { id: 3 } })).toBe(
      "not a change message: order.id must be a non-empty string",
    );
  });

  it("the backup queue's messages: events alone, or a projection message's events; anything else refused by field", () => {
    expect(parseBackupMessage(JSON.stringify({ events: [event(1), event(2)] }))).toEqual({
      ok: true,
      events: [event(1), event(2)],
    });
    expect(parseBackupMessage({ events: [event(3)] })).toEqual({ ok: true, events: [event(3)] });
    expect(parseBackupMessage({ ranges: [range(), range([event(3)])] })).toEqual({
      ok: true,
      events: [event(1), event(2), event(3)],
    });
    expect(parseBackupMessage({ events: [event(1, { containerId: "" })] })).toEqual({
      ok: false,
      error: "not a backup message: events.0.containerId must be a non-empty string",
    });
    expect(parseBackupMessage({ events: [] })).toEqual({
      ok: false,
      error: "not a backup message: events must hold at least one",
    });
    expect(parseBackupMessage("{")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^not a backup message: not JSON/),
    });
  });
});
