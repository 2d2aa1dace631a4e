// A container's log restored from a backup into an empty object: the same state, log, readings and
// orders as the original, its sensors' retries still told from new readings, and to a moment in the
// middle the state it had then. An object that holds anything refuses a log.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { commitsUpTo, restoreParts } from "../domain/backups";
import { replay, type ContainerEvent } from "../domain/container";
import {
  adminToken,
  api,
  containerHoldings,
  containerState,
  deviceKey,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  wipeObject,
  type OrderAnswer,
  type ReadingsAnswer,
} from "./helpers";

let key: string;
let admin: string;
let operator: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
  operator = await personWith("operator");
});

const stub = (id: string) => env.CONTAINERS.getByName(id);

const holdings = containerHoldings;

/** The container's object wiped: it holds nothing. */
async function wipe(id: string) {
  await wipeObject(stub(id));
  expect(await containerState(id)).toBeNull();
}

async function restore(id: string, events: ContainerEvent[]) {
  const lastSeq = events.at(-1)!.seq;
  for (const part of restoreParts(events, 7)) {
    const answer = await stub(id).restoreEvents(part, lastSeq);
    expect(answer).toMatchObject({ ok: true, version: part.at(-1)!.seq });
  }
}

const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

describe("restoring a container's log", () => {
  it("brings back its state, log, readings and orders, and its sensors' retries are still retries", async () => {
    const id = uniqueContainer("rs");
    // Readings falling through the threshold (an order opens), a stale one, a manual close, a
    // settings change, a manual order, and readings back above the threshold.
    const sent = [80, 70, 60, 45].map((f, i) => reading(id, f, { readingId: `r-${i}`, measuredAt: at(60 - i) }));
    const first = await json<ReadingsAnswer>(await postReadings(key, { readings: sent }), 200);
    expect(first.results.some((r) => r.orderOpened)).toBe(true);
    await json(await postReadings(key, reading(id, 99, { readingId: "late", measuredAt: at(120) })), 200);
    const auto = first.results.find((r) => r.orderOpened)!.orderOpened!;
    await json(await api(`/v1/containers/${id}/orders/${auto.id}/close`, { method: "POST", token: operator }), 200);
    await json(
      await api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { threshold: 40, capacity: 5000, unit: "l" },
      }),
      200,
    );
    await json<OrderAnswer>(await api(`/v1/containers/${id}/orders`, { method: "POST", token: operator }), 201);
    await json(
      await postReadings(key, {
        readings: [30, 85].map((f, i) => reading(id, f, { readingId: `s-${i}`, measuredAt: at(10 - i) })),
      }),
      200,
    );
    const before = await holdings(id);
    expect(before.events.length).toBeGreaterThan(10);
    expect(before.orders.map((o) => o.source).sort()).toEqual(["auto", "manual"]);

    await wipe(id);
    // Parts in the wrong order are refused; so is a part past the announced end.
    const events = before.events;
    const lastSeq = events.at(-1)!.seq;
    const parts = restoreParts(events, 7);
    expect(parts.length).toBeGreaterThan(1);
    expect(await stub(id).restoreEvents(parts[1]!, lastSeq)).toEqual({
      ok: false,
      reason: "the next event must be seq 1",
    });
    expect(await stub(id).restoreEvents(parts[0]!, parts[0]!.at(-1)!.seq - 1)).toMatchObject({ ok: false });
    // A restore that stopped after its first part, run again from the start, goes on where it stopped.
    expect(await stub(id).restoreEvents(parts[0]!, lastSeq)).toMatchObject({ ok: true, done: false });
    expect(await stub(id).restoreEvents(parts[0]!, lastSeq + 1)).toMatchObject({ ok: false });
    await restore(id, events);
    const after = await holdings(id);
    expect(after.state).toEqual(before.state);
    expect(after.events).toEqual(before.events);
    expect(after.readings).toEqual(before.readings);
    expect(after.orders).toEqual(before.orders);
    expect(after.state).toEqual(replay(id, events));

    // A full object takes no log.
    expect(await stub(id).restoreEvents(events.slice(0, 1), lastSeq)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^holds \d+ events/),
    });
    // The sensor's retry gets its first answer; a different reading under the same id is a conflict.
    const retry = await json<ReadingsAnswer>(await postReadings(key, sent[3]), 200);
    expect(retry.results[0]).toMatchObject({ status: "duplicate", original: first.results[3] });
    expect(retry.results[0]).not.toHaveProperty("conflict");
    const other = await json<ReadingsAnswer>(await postReadings(key, { ...sent[3], fillPercent: 44 }), 200);
    expect(other.results[0]).toMatchObject({ status: "duplicate", conflict: true });
    // And it goes on: a new reading is the next event.
    await json(await postReadings(key, reading(id, 80)), 200);
    expect((await containerState(id))!.version).toBe(lastSeq + 1);
  });

  it("to a moment in the middle: the state it had then", async () => {
    const id = uniqueContainer("rs-pit");
    await json(
      await postReadings(key, {
        readings: [90, 80, 70].map((f, i) => reading(id, f, { readingId: `a-${i}`, measuredAt: at(30 - i) })),
      }),
      200,
    );
    await json(await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold: 75 } }), 200);
    const then = (await holdings(id)).state!;
    const moment = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await json(
      await postReadings(key, {
        readings: [60, 50].map((f, i) => reading(id, f, { readingId: `b-${i}`, measuredAt: at(5 - i) })),
      }),
      200,
    );
    const all = (await holdings(id)).events;
    await wipe(id);
    const upTo = commitsUpTo(all, moment);
    expect(upTo.length).toBe(then.version);
    await restore(id, upTo);
    expect((await holdings(id)).state).toEqual(then);
  });
});
