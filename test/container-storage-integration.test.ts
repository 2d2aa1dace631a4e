// How a container stores its readings: once, as a row of its log holding the reading's events (its
// own and the order it opened or closed) with its answer and what the sensor sent. Two rows written
// per reading; duplicates and conflicts told from that row; stale readings in the history at their
// time; the same rows after a restart and after a replay of the log; archival keeps the events.
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ContainerEvent } from "../domain/container";
import type { ContainerDO } from "../durable-objects/container";
import { usageNow } from "../platform/usage";
import {
  api,
  adminToken,
  containerHoldings,
  deviceKey,
  eventually,
  json,
  postReadings,
  reading,
  uniqueContainer,
  wipeObject,
  type ReadingsAnswer,
} from "./helpers";

let key: string;
let admin: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

const stub = (id: string) => env.CONTAINERS.getByName(id);
const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();

type LogRow = {
  last_seq: number;
  handed: number;
  events: string;
  reading_id: string | null;
  measured_at: number | null;
  status: string | null;
  result: string | null;
  fingerprint: string | null;
};

const logRows = (id: string) =>
  runInDurableObject(stub(id), (_i: ContainerDO, state) =>
    state.storage.sql.exec<LogRow>("SELECT * FROM log ORDER BY last_seq").toArray(),
  );

/** The reading history through the API, page by page, `limit` to a page. */
async function history(
  id: string,
  limit: number,
): Promise<{ readingId: string; measuredAt: string; status: string }[]> {
  const out: { readingId: string; measuredAt: string; status: string }[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page: { readings: { readingId: string; measuredAt: string; status: string }[]; nextCursor: string | null } =
      await json(
        await api(`/v1/containers/${id}/readings?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, { token: admin }),
        200,
      );
    out.push(...page.readings.map((r) => ({ readingId: r.readingId, measuredAt: r.measuredAt, status: r.status })));
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

describe("a container's readings, stored once", () => {
  it("a reading is one row of the log with the events it made, two rows written; an order it opens adds none", async () => {
    const id = uniqueContainer("once");
    await json(await postReadings(key, reading(id, 80, { readingId: "a", measuredAt: at(30) })), 200);
    // Once the index knows it (its one registration row), and once a commit handed over its events
    // has stored the watermark past those the object sent itself, a reading writes what it alone needs.
    await eventually(async () => ((await stub(id).outboxStatus()).registered ? true : undefined), 10_000, "registered");
    await json(await postReadings(key, reading(id, 75, { readingId: "b0", measuredAt: at(29.5) })), 200);
    const before = usageNow();
    // Two readings that move no order, then one that opens an order (below the default threshold).
    await json(await postReadings(key, reading(id, 70, { readingId: "b", measuredAt: at(29) })), 200);
    await json(await postReadings(key, reading(id, 60, { readingId: "c", measuredAt: at(28) })), 200);
    const d = reading(id, 5, { readingId: "d", measuredAt: at(27) });
    const low = await json<ReadingsAnswer>(await postReadings(key, d), 200);
    const written = usageNow().rowsWritten - before.rowsWritten;
    expect(low.results[0]!.orderOpened).toBeDefined();
    // Two per reading: its row, its entry in the index by reading id. The order is in the row and the state.
    expect(written).toBe(6);

    const rows = await logRows(id);
    expect(rows.map((r) => r.reading_id)).toEqual(["a", "b0", "b", "c", "d"]);
    const last = rows.at(-1)!;
    const events = last.events.split("\n").map((line) => JSON.parse(line) as ContainerEvent);
    expect(events.map((e) => e.type)).toEqual(["reading.recorded", "order.opened"]);
    expect(events.map((e) => e.seq)).toEqual([last.last_seq - 1, last.last_seq]);
    expect(JSON.parse(last.result!)).toEqual(low.results[0]);
    expect(last).toMatchObject({
      status: "applied",
      measured_at: Date.parse(d.measuredAt),
      fingerprint: expect.any(String),
    });
    // The active order lives in the state: no row of its own until it leaves it.
    const orders = await runInDurableObject(stub(id), (_i: ContainerDO, state) =>
      state.storage.sql.exec("SELECT id FROM orders").toArray(),
    );
    expect(orders).toEqual([]);
    const listed = (await stub(id).listOrders(10, null))!.items;
    expect(listed.map((o) => [o.id, o.status])).toEqual([[low.results[0]!.orderOpened!.id, "active"]]);
  });

  it("a retry is a duplicate with its first answer, a different reading under its id a conflict; neither is stored, before and after a restart", async () => {
    const id = uniqueContainer("dup");
    const first = reading(id, 8, { readingId: "r-1", measuredAt: at(20) });
    const answer = await json<ReadingsAnswer>(await postReadings(key, first), 200);
    expect(answer.results[0]!.orderOpened).toBeDefined();
    for (const restart of [false, true]) {
      if (restart) await evictDurableObject(stub(id));
      const retry = await json<ReadingsAnswer>(await postReadings(key, first), 200);
      expect(retry.results[0]).toEqual({
        readingId: "r-1",
        containerId: id,
        status: "duplicate",
        original: answer.results[0],
      });
      const other = await json<ReadingsAnswer>(await postReadings(key, { ...first, fillPercent: 9 }), 200);
      expect(other.results[0]).toMatchObject({ status: "duplicate", conflict: true, original: answer.results[0] });
      // In one batch with a new reading: the new one is stored, the retry is not.
      const batch = await json<ReadingsAnswer>(
        await postReadings(key, {
          readings: [first, reading(id, 7, { readingId: `n-${restart}`, measuredAt: at(restart ? 10 : 15) })],
        }),
        200,
      );
      expect(batch.results.map((r) => r.status)).toEqual(["duplicate", "applied"]);
    }
    const rows = await logRows(id);
    expect(rows.map((r) => r.reading_id)).toEqual(["r-1", "n-false", "n-true"]);
    expect((await stub(id).getState())!.version).toBe(rows.at(-1)!.last_seq);
  });

  it("stale readings are in the history at their time, newest first, across pages, with applied ones around them", async () => {
    const id = uniqueContainer("stale");
    // The newest first, then older ones (stale), then newer again, and one stale measured at the same time as an applied one.
    const order = [40, 30, 55, 20, 45, 10, 35];
    const sent = order.map((m, i) => reading(id, 70 - i, { readingId: `s-${m}`, measuredAt: at(m) }));
    const answers: ReadingsAnswer["results"] = [];
    for (const r of sent) answers.push((await json<ReadingsAnswer>(await postReadings(key, r), 200)).results[0]!);
    expect(answers.map((a) => a.status)).toEqual([
      "applied",
      "applied",
      "stale",
      "applied",
      "stale",
      "applied",
      "stale",
    ]);
    const tie = reading(id, 50, { readingId: "s-tie", measuredAt: sent[1]!.measuredAt });
    expect((await json<ReadingsAnswer>(await postReadings(key, tie), 200)).results[0]!.status).toBe("stale");

    const expected = [...sent, tie]
      .map((r, i) => ({
        readingId: r.readingId,
        measuredAt: r.measuredAt,
        status: i < answers.length ? answers[i]!.status : "stale",
        seq: i,
      }))
      // Newest measured first; at the same time, the later in the log first.
      .sort((a, b) => Date.parse(b.measuredAt) - Date.parse(a.measuredAt) || b.seq - a.seq)
      .map(({ readingId, measuredAt, status }) => ({ readingId, measuredAt, status }));
    for (const limit of [1, 2, 3, 100]) expect(await history(id, limit)).toEqual(expected);
    // Restarted, the same.
    await evictDurableObject(stub(id));
    expect(await history(id, 2)).toEqual(expected);
  });

  it("a log replayed into an empty object makes the same rows as the live one, and archival keeps the events", async () => {
    const id = uniqueContainer("replay");
    const readings = [80, 12, 9, 95, 94, 30].map((f, i) =>
      reading(id, f, { readingId: `p-${i}`, measuredAt: at(50 - i) }),
    );
    await json(await postReadings(key, { readings: readings.slice(0, 3) }), 200);
    await json(await postReadings(key, reading(id, 50, { readingId: "old", measuredAt: at(100) })), 200);
    for (const r of readings.slice(3)) await json(await postReadings(key, r), 200);
    const live = await logRows(id);
    const holdings = await containerHoldings(id);

    await wipeObject(stub(id));
    const events = holdings.events;
    expect(await stub(id).restoreEvents(events, events.at(-1)!.seq)).toMatchObject({ ok: true, done: true });
    const replayed = await logRows(id);
    // The same rows: a reading's events together, its answer, status and fingerprint; the handed flag aside.
    expect(replayed.map(({ handed: _h, ...r }) => r)).toEqual(live.map(({ handed: _h, ...r }) => r));
    expect(await containerHoldings(id)).toEqual(holdings);

    // Archival: readings measured before the line leave the history and the look-up; their events stay.
    const line = Date.parse(readings[3]!.measuredAt) - 30_000;
    expect(await stub(id).pruneReadings(line, events.at(-1)!.seq)).toEqual({ pruned: 4, needsSeq: null });
    expect((await stub(id).listEvents(0, 1000))!).toEqual(events);
    expect((await history(id, 100)).map((r) => r.readingId)).toEqual(["p-5", "p-4", "p-3"]);
    const again = await json<ReadingsAnswer>(await postReadings(key, readings[0]!), 200);
    expect(again.results[0]!.status).toBe("archived");
  });

  it("an object started again within the reconciliation interval does not tell the index its log moved again; after it, it does", async () => {
    const id = uniqueContainer("moved");
    const index = env.CONTAINER_INDEX.getByName("containers");
    const markOf = () =>
      runInDurableObject(
        index,
        (_i, state) =>
          state.storage.sql.exec<{ at: number }>("SELECT at FROM moved WHERE id = ?", id).toArray()[0]?.at ?? null,
      );
    await json(await postReadings(key, reading(id, 80, { measuredAt: at(10) })), 200);
    const first = await eventually(async () => (await markOf()) ?? undefined, 10_000, "the index told");
    // The time it told is kept with the state row (its first commit wrote one).
    const kept = await runInDurableObject(
      stub(id),
      (_i: ContainerDO, state) =>
        state.storage.sql.exec<{ moved_said_at: number }>("SELECT moved_said_at FROM container").one().moved_said_at,
    );
    expect(kept).toBeGreaterThanOrEqual(first - 1000);
    expect(kept).toBeLessThanOrEqual(first);
    await evictDurableObject(stub(id));
    await json(await postReadings(key, reading(id, 79, { measuredAt: at(9) })), 200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await markOf()).toBe(first);
    // Told longer ago than the interval (as the row says): the next commit tells it again.
    await runInDurableObject(stub(id), (_i: ContainerDO, state) =>
      state.storage.sql.exec("UPDATE container SET moved_said_at = ?", Date.now() - 3_600_000),
    );
    await evictDurableObject(stub(id));
    await json(await postReadings(key, reading(id, 78, { measuredAt: at(8) })), 200);
    await eventually(async () => ((await markOf())! > first ? true : undefined), 10_000, "the index told again");
  });
});
