// A container's outbox on its own: a ContainerLog and an Outbox over a real object's storage, with
// the queue and the alarm as the object would hand them in (here: recorded, held or failing).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChangeRange, SentRange, SizedRange } from "../domain/change-message";
import type { ContainerChange } from "../domain/container";
import { ContainerLog } from "../durable-objects/container-log";
import {
  OUTBOX_BACKOFF_MAX_MS,
  OUTBOX_GUARD_MS,
  Outbox,
  RESEND_MAX,
  type OutboxPorts,
} from "../durable-objects/container-outbox";

/** A fresh object's storage, for the parts to run on. */
function withStorage<T>(work: (storage: DurableObjectStorage) => Promise<T>): Promise<T> {
  return runInDurableObject(env.CONTAINERS.getByName(`outbox-unit-${crypto.randomUUID()}`), (_instance, state) =>
    work(state.storage),
  );
}

/** The ports as recorded: every send's ranges, every alarm set; `fail` and `hold` steer the next sends. */
function recordedPorts() {
  const sends: SizedRange[][] = [];
  const alarms: number[] = [];
  const reports: string[] = [];
  const steer = { fail: false, hold: null as Promise<void> | null, registered: true };
  const ports: OutboxPorts = {
    send: async (ranges) => {
      sends.push(ranges);
      if (steer.hold) await steer.hold;
      if (steer.fail) throw new Error("queue unavailable");
    },
    setAlarm: async (at) => void alarms.push(at),
    register: async () => steer.registered,
    report: async (error, where) => void reports.push(`${where}: ${String(error)}`),
  };
  return { ports, sends, alarms, reports, steer };
}

const reading = (fill: number): ContainerChange =>
  ({
    type: "reading.recorded",
    outcome: "applied",
    reading: {
      readingId: `r-${fill}-${crypto.randomUUID()}`,
      fillPercent: fill,
      location: null,
      measuredAt: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      clockSkewMs: 0,
    },
  }) as ContainerChange;

/** One commit of `fills` through the outbox, as the object makes it; returns what it handed back. */
function commit(log: ContainerLog, outbox: Outbox, fills: number[], relay = false) {
  const handing = relay && outbox.mayHandOver();
  const committed = log.commit(
    () => {
      for (const fill of fills) log.append(reading(fill), { kind: "device", id: "k" }, log.clock(), null);
    },
    { handed: handing, readingsAreNew: false, watermark: outbox.watermark(handing) },
  );
  return committed ? outbox.committed(committed, handing) : null;
}

const seqs = (ranges: SizedRange[]) => ranges.flatMap((r) => r.range.events.map((e) => e.seq));
/** The seqs of ranges handed over as text (what crosses to the caller). */
const sentSeqs = (ranges: SentRange[]) =>
  ranges.flatMap((r) => (JSON.parse(r.text) as ChangeRange).events.map((e) => e.seq));
const settle = () => new Promise((r) => setTimeout(r, 20));

describe("the outbox", () => {
  it("drains a commit it is not handed over from, one range a send; commits made while a send is on its way go together in the next", async () => {
    await withStorage(async (storage) => {
      const { ports, sends, alarms, steer } = recordedPorts();
      const log = new ContainerLog(storage, storage.sql, "tank-a");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(false);
      let release!: () => void;
      steer.hold = new Promise((r) => (release = r));
      expect(commit(log, outbox, [70])).toBeNull();
      await settle();
      for (const fill of [71, 72, 73]) commit(log, outbox, [fill]);
      expect(sends.map(seqs)).toEqual([[1]]);
      expect(outbox.pending()).toBe(4);
      steer.hold = null;
      release();
      await settle();
      expect(sends.map(seqs)).toEqual([[1], [2, 3, 4]]);
      expect(outbox.status()).toMatchObject({
        pending: 0,
        sentSeq: 4,
        registered: true,
        draining: false,
        failedSends: 0,
      });
      // The guard alarm: set once for the quiet spell, not per commit.
      expect(alarms).toHaveLength(1);
      expect(alarms[0]! - Date.now()).toBeGreaterThan(OUTBOX_GUARD_MS - 5_000);
    });
  });

  it("a failing send is tried again by the alarm, 1 s, 2 s, 4 s later, at most 5 minutes apart; nothing is lost", async () => {
    await withStorage(async (storage) => {
      const { ports, sends, alarms, reports, steer } = recordedPorts();
      const log = new ContainerLog(storage, storage.sql, "tank-b");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(false);
      steer.fail = true;
      const committedAt = Date.now();
      commit(log, outbox, [40, 41]);
      await settle();
      const delays: number[] = [Math.round((alarms.at(-1)! - committedAt) / 1000) * 1000];
      for (let i = 0; i < 12; i++) {
        const before = Date.now();
        await outbox.alarm();
        delays.push(Math.round((alarms.at(-1)! - before) / 1000) * 1000);
      }
      expect(delays.slice(0, 5)).toEqual([1000, 2000, 4000, 8000, 16000]);
      expect(Math.max(...delays)).toBe(OUTBOX_BACKOFF_MAX_MS);
      expect(outbox.status()).toMatchObject({ pending: 2, failedSends: 13 });
      expect(reports.every((r) => r.startsWith("ContainerDO outbox: Error: queue unavailable"))).toBe(true);
      steer.fail = false;
      await outbox.alarm();
      expect(seqs(sends.at(-1)!)).toEqual([1, 2]);
      expect(outbox.status()).toMatchObject({ pending: 0, failedSends: 0 });
    });
  });

  it("hands a commit's events to its caller only when the index knows the container and nothing else waits; a restart knows them sent", async () => {
    await withStorage(async (storage) => {
      const { ports, sends, steer } = recordedPorts();
      steer.registered = false;
      const log = new ContainerLog(storage, storage.sql, "tank-c");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(false);
      // Not yet in the index: drained by the outbox itself, and registration is tried after.
      expect(commit(log, outbox, [60], true)).toBeNull();
      await settle();
      expect(outbox.status()).toMatchObject({ registered: false, pending: 0 });
      expect(commit(log, outbox, [61], true)).toBeNull();
      steer.registered = true;
      await settle();
      expect(outbox.status().registered).toBe(true);
      const handed = commit(log, outbox, [62, 63], true);
      expect(handed).toMatchObject({ fromSeq: 3 });
      expect(sentSeqs(handed!.ranges)).toEqual([3, 4]);
      expect(sends.map(seqs)).toEqual([[1], [2]]);
      expect(outbox.pending()).toBe(0);

      // A new instance over the same storage: the handed events count as sent.
      const again = new ContainerLog(storage, storage.sql, "tank-c");
      const restarted = new Outbox(again, recordedPorts().ports);
      again.load();
      restarted.load(true);
      expect(restarted.status()).toMatchObject({ pending: 0, sentSeq: 4 });
      expect(again.state).toMatchObject({ containerId: "tank-c", fillPercent: 63, version: 4 });
    });
  });

  it("a commit made while the first drain registers the container is sent by that drain, not left to the guard alarm", async () => {
    await withStorage(async (storage) => {
      const { ports, sends, alarms } = recordedPorts();
      let registered!: (ok: boolean) => void;
      ports.register = () => new Promise<boolean>((r) => (registered = r));
      const log = new ContainerLog(storage, storage.sql, "tank-r");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(false);
      commit(log, outbox, [60], true);
      await settle();
      expect(sends.map(seqs)).toEqual([[1]]);
      // The drain waits on the index; a second request commits meanwhile and cannot hand over.
      expect(commit(log, outbox, [61, 62], true)).toBeNull();
      registered(true);
      await settle();
      expect(sends.map(seqs)).toEqual([[1], [2, 3]]);
      expect(outbox.status()).toMatchObject({ pending: 0, registered: true, draining: false });
      // Only the guard set by the first commit stands; nothing waits for it.
      expect(alarms).toHaveLength(1);
    });
  });

  it("events whose relay failed go back to the outbox, which sends them, and a restart does not take them for sent", async () => {
    await withStorage(async (storage) => {
      const { ports, sends, steer } = recordedPorts();
      const log = new ContainerLog(storage, storage.sql, "tank-d");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(true);
      commit(log, outbox, [50]);
      await settle();
      const handed = commit(log, outbox, [51, 52], true)!;
      expect(handed.fromSeq).toBe(2);
      steer.fail = true;
      outbox.relayFailed(handed.fromSeq);
      await settle();
      expect(outbox.status()).toMatchObject({ pending: 2, failedSends: 1 });
      const restarted = new Outbox(log, recordedPorts().ports);
      restarted.load(true);
      expect(restarted.pending()).toBe(2);
      steer.fail = false;
      await outbox.alarm();
      expect(seqs(sends.at(-1)!)).toEqual([2, 3]);
      expect(outbox.pending()).toBe(0);
    });
  });

  it("sends a range again when asked, at most RESEND_MAX events, not twice within 5 s unless forced", async () => {
    await withStorage(async (storage) => {
      const { ports, sends } = recordedPorts();
      const log = new ContainerLog(storage, storage.sql, "tank-e");
      const outbox = new Outbox(log, ports);
      log.load();
      outbox.load(true);
      commit(log, outbox, [10, 20, 30, 40, 50]);
      await settle();
      const before = sends.length;
      expect(await outbox.resend(2, 4)).toBe(3);
      expect(await outbox.resend(2, 4)).toBe(0);
      expect(await outbox.resend(2, 4, true)).toBe(3);
      expect(sends.slice(before).map(seqs)).toEqual([
        [2, 3, 4],
        [2, 3, 4],
      ]);
      expect(sends.slice(before).every((call) => call.every((r) => r.range.resent === true))).toBe(true);
      expect(await outbox.resend(9, 20)).toBe(0);
      expect(RESEND_MAX).toBe(1000);
    });
  });
});
