// A container's log and its command store on their own, over a real object's storage; and the
// range messages cut from a log (pure).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  packRanges,
  RANGE_EVENTS,
  RANGE_MAX_BYTES,
  rangesOf,
  SEND_BATCH_MAX_BYTES,
  sendBatchesOf,
  utf8Length,
  type OrderAsOf,
  type StoredEvent,
} from "../domain/change-message";
import { emptyContainer, type ContainerChange, type ContainerEvent } from "../domain/container";
import { CommandStore } from "../durable-objects/container-commands";
import { ContainerLog, SeenBefore, STATE_EVERY_EVENTS, type Watermark } from "../durable-objects/container-log";

function withStorage<T>(work: (storage: DurableObjectStorage) => Promise<T> | T): Promise<T> {
  return runInDurableObject(env.CONTAINERS.getByName(`log-unit-${crypto.randomUUID()}`), (_instance, state) =>
    work(state.storage),
  );
}

const reading = (fill: number, readingId = `r-${crypto.randomUUID()}`): ContainerChange =>
  ({
    type: "reading.recorded",
    outcome: "applied",
    reading: {
      readingId,
      fillPercent: fill,
      location: null,
      measuredAt: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      clockSkewMs: 0,
    },
  }) as ContainerChange;

const nothingSent: Watermark = () => ({ sentSeq: 0, force: false });
const commitFills = (log: ContainerLog, fills: number[]) =>
  log.commit(() => fills.forEach((fill) => log.append(reading(fill), { kind: "device", id: "k" }, log.clock(), null)), {
    handed: false,
    readingsAreNew: false,
    watermark: nothingSent,
  });
const stateRow = (storage: DurableObjectStorage) =>
  storage.sql
    .exec<{ state: string }>("SELECT state FROM container")
    .toArray()
    .map((r) => (JSON.parse(r.state) as { version: number }).version)[0];

describe("the container log", () => {
  it("an object only asked about has no tables and gets none; the first commit makes them", async () => {
    await withStorage((storage) => {
      const log = new ContainerLog(storage, storage.sql, "tank-1");
      log.load();
      expect(log.exists).toBe(false);
      expect(log.state).toBeNull();
      expect(log.orderById("ord_x")).toBeNull();
      expect(storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
      expect(commitFills(log, [70])).toMatchObject({ before: 0, storedWatermark: 0 });
      expect(log.exists).toBe(true);
      expect(log.state).toMatchObject({ containerId: "tank-1", fillPercent: 70, version: 1 });
    });
  });

  it("writes the state row at the first commit and every STATE_EVERY_EVENTS events; a restart folds the events after it into the same state", async () => {
    await withStorage((storage) => {
      const log = new ContainerLog(storage, storage.sql, "tank-2");
      log.load();
      const rows: (number | undefined)[] = [];
      for (let i = 0; i < STATE_EVERY_EVENTS + 5; i++) {
        commitFills(log, [50 + (i % 40)]);
        rows.push(stateRow(storage));
      }
      expect([...new Set(rows)]).toEqual([1, 1 + STATE_EVERY_EVENTS]);
      const again = new ContainerLog(storage, storage.sql, "tank-2");
      again.load();
      expect(again.state).toEqual(log.state);
      expect(again.stateRowBehind).toBe(true);
      // The model's window is stored with the state row, as of its version; the start fed it the rest.
      expect(
        storage.sql.exec<{ version: number }>("SELECT window_version AS version FROM container").toArray(),
      ).toEqual([{ version: 1 + STATE_EVERY_EVENTS }]);
      expect(again.state!.forecast).toEqual(log.state!.forecast);
    });
  });

  it("a commit that throws leaves nothing stored and the state as it was", async () => {
    await withStorage((storage) => {
      const log = new ContainerLog(storage, storage.sql, "tank-3");
      log.load();
      commitFills(log, [80]);
      const before = log.state;
      expect(() =>
        log.commit(
          () => {
            log.append(reading(10), { kind: "device", id: "k" }, log.clock(), null);
            throw new Error("the rules refused it");
          },
          { handed: false, readingsAreNew: false, watermark: nothingSent },
        ),
      ).toThrow("the rules refused it");
      expect(log.state).toEqual(before);
      expect(log.eventsAfter(0, 10).map((e) => e.event.seq)).toEqual([1]);
    });
  });

  it("a reading row that is there already, written as new, throws SeenBefore and rolls back; a look finds it", async () => {
    await withStorage((storage) => {
      const log = new ContainerLog(storage, storage.sql, "tank-4");
      log.load();
      const row = (id: string) => ({
        readingId: id,
        measuredAt: 1,
        status: "applied" as const,
        result: `{"readingId":"${id}"}`,
        fingerprint: "f",
      });
      log.commit(
        () => (
          log.append(reading(70, "r-1"), { kind: "device", id: "k" }, log.clock(), "r-1"),
          log.addReading(row("r-1"))
        ),
        { handed: false, readingsAreNew: true, watermark: nothingSent },
      );
      expect(() =>
        log.commit(
          () => (
            log.append(reading(71, "r-1"), { kind: "device", id: "k" }, log.clock(), "r-1"),
            log.addReading(row("r-1"))
          ),
          { handed: false, readingsAreNew: true, watermark: nothingSent },
        ),
      ).toThrow(SeenBefore);
      expect(log.version).toBe(1);
      expect([...log.seenReadings(["r-1", "r-2"]).keys()]).toEqual(["r-1"]);
    });
  });
});

describe("the command store", () => {
  it("keeps the first answer to a key, and tells a repeat from another command under the same key; recalling in an object without tables makes none", async () => {
    await withStorage((storage) => {
      const log = new ContainerLog(storage, storage.sql, "tank-5");
      log.load();
      const commands = new CommandStore<{ answer: number }>(
        storage.sql,
        () => log.exists,
        () => log.ensureTables(),
      );
      const key = { id: "evt-1", fingerprint: "a" };
      expect(commands.recalled(key)).toBeUndefined();
      expect(storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
      expect(commands.remembered(key, { answer: 1 })).toEqual({ answer: 1 });
      commands.remember({ id: "evt-1", fingerprint: "b" }, { answer: 2 });
      expect(commands.recalled(key)).toEqual({ answer: { answer: 1 }, sameCommand: true });
      expect(commands.recalled({ id: "evt-1", fingerprint: "b" })).toEqual({
        answer: { answer: 1 },
        sameCommand: false,
      });
      expect(commands.recalled(null)).toBeUndefined();
      // An answer kept before fingerprints were compares as the same command.
      storage.sql.exec("UPDATE commands SET fingerprint = NULL");
      expect(commands.recalled({ id: "evt-1", fingerprint: "b" })?.sameCommand).toBe(true);
    });
  });
});

describe("range messages from a log", () => {
  const state = { ...emptyContainer("tank-6"), version: 250 };
  const event = (seq: number, note = ""): StoredEvent => {
    const e = {
      type: "reading.recorded",
      seq,
      id: `evt_${seq}`,
      containerId: "tank-6",
      at: "2026-01-01T00:00:00.000Z",
      actor: { kind: "device", id: "k" },
      readingId: `r${seq}`,
      outcome: "applied",
      reading: { note },
    } as unknown as ContainerEvent;
    return { event: e, body: JSON.stringify(e) };
  };

  const stateJson = { text: JSON.stringify(state), bytes: utf8Length(JSON.stringify(state)) };
  const encodedBytes = (text: string) => new TextEncoder().encode(text).byteLength;

  it("cuts at RANGE_EVENTS events and at RANGE_MAX_BYTES, in order, and counts each message's bytes exactly", () => {
    const many = Array.from({ length: 250 }, (_, i) => event(i + 1));
    const ranges = rangesOf(state, stateJson, many, false, () => null);
    expect(ranges.map((r) => r.range.events.length)).toEqual([RANGE_EVENTS, RANGE_EVENTS, 50]);
    expect(ranges.flatMap((r) => r.range.events.map((e) => e.seq))).toEqual(many.map((e) => e.event.seq));
    for (const r of ranges) expect(r.bytes).toBe(encodedBytes(r.text));
    // Large events (names in any script: bytes, not characters) cut the range by size.
    const big = Array.from({ length: 8 }, (_, i) => event(i + 1, "ü".repeat(20_000)));
    const bySize = rangesOf(state, stateJson, big, true, () => null);
    expect(bySize.length).toBeGreaterThan(1);
    expect(bySize.every((r) => r.range.resent === true && r.bytes - stateJson.bytes < RANGE_MAX_BYTES + 1024)).toBe(
      true,
    );
    for (const r of bySize) expect(r.bytes).toBe(encodedBytes(r.text));
  });

  it("makes each range's text from the stored texts: what JSON.stringify of the range says, orders and a resend included", () => {
    const order = {
      order: { id: "ord_1", containerId: "tank-6", note: "Füllstand 😀" },
      version: 7,
    } as unknown as OrderAsOf;
    const opened = {
      ...event(1).event,
      type: "order.opened",
      order: order.order,
    } as unknown as ContainerEvent;
    const items = [{ event: opened, body: JSON.stringify(opened) }, event(2, "ü😀"), event(3)];
    for (const resent of [false, true]) {
      const [r] = rangesOf(state, stateJson, items, resent, (id) => (id === "ord_1" ? order : null));
      expect(r!.text).toBe(JSON.stringify(r!.range));
      expect(r!.range.orders).toEqual([order]);
      expect(r!.bytes).toBe(encodedBytes(r!.text));
    }
  });

  it("packs ranges for many containers into messages by joining their text, each message's bytes exact", () => {
    const ranges = rangesOf(
      state,
      stateJson,
      Array.from({ length: 30 }, (_, i) => event(i + 1, "ü".repeat(i * 50))),
      false,
      () => null,
    );
    const packed = packRanges([...ranges, ...ranges, ...ranges], 40 * 1024);
    expect(packed.length).toBeGreaterThan(1);
    for (const { body, bytes, ranges: carried } of packed) {
      expect(bytes).toBe(encodedBytes(body));
      expect(body).toBe(JSON.stringify({ ranges: carried.map((r) => r.range) }));
      expect(bytes <= 40 * 1024 || carried.length === 1).toBe(true);
    }
    expect(packed.flatMap((p) => p.ranges)).toEqual([...ranges, ...ranges, ...ranges]);
  });

  it("groups messages into sendBatch calls of at most 100 messages and 250 KB", () => {
    const small = Array.from({ length: 250 }, () => ({ bytes: 100 }));
    expect(sendBatchesOf(small).map((c) => c.length)).toEqual([100, 100, 50]);
    const large = Array.from({ length: 5 }, () => ({ bytes: 100 * 1024 }));
    expect(sendBatchesOf(large).map((c) => c.length)).toEqual([2, 2, 1]);
    expect(sendBatchesOf(large).every((c) => c.reduce((n, m) => n + m.bytes, 0) <= SEND_BATCH_MAX_BYTES)).toBe(true);
    expect(sendBatchesOf([])).toEqual([]);
  });
});
