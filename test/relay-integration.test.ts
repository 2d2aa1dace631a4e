// The ingest worker sends the events a request's containers committed to the projection queue
// itself, many containers to a message: one queue message for a batch across containers, every row
// in Postgres once; requests answered while a send is on its way go together in the next; and when
// a send fails, the containers send their events themselves.
import {
  createExecutionContext,
  env,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { packRanges, type ChangeRange, type RangeBatch } from "../domain/change-message";
import { STATE_EVERY_EVENTS, type ContainerDO } from "../durable-objects/container";
import { withDatabase } from "../workers/db/client";
import { containerEvents, readings } from "../workers/db/schema";
import worker from "../workers/index";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  postReadings,
  reading,
  uniqueContainer,
  watchProjectionQueue,
  type ReadingsAnswer,
} from "./helpers";

let key: string;
let viewer: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  viewer = await adminToken();
});

type Sent = MessageSendRequest<unknown>[];

/** A relayed message as its JSON text says (the relay sends text: domain/change-message.ts `packRanges`). */
function bodyOf(message: MessageSendRequest<unknown>): RangeBatch {
  expect(message.contentType).toBe("text");
  return JSON.parse(message.body as string) as RangeBatch;
}

/**
 * The worker's bindings with the projection queue's sendBatch watched (and then done, or refused);
 * with `hold`, the first send waits for it before going on.
 */
function watchedQueue(refuse: boolean, hold?: Promise<void>): { env: Env; sent: Sent[] } {
  const sent: Sent[] = [];
  const queue = env.PROJECTION_QUEUE;
  const watched: Queue = {
    send: (body, options) => queue.send(body, options),
    sendBatch: async (messages, options) => {
      sent.push([...messages]);
      if (hold && sent.length === 1) await hold;
      if (refuse) throw new Error("projection queue unavailable");
      return queue.sendBatch(messages, options);
    },
  } as Queue;
  return { env: { ...env, PROJECTION_QUEUE: watched }, sent };
}

/** POST /v1/readings through the worker with these bindings, and what it left running after its answer. */
async function postAnswered(bindings: Env, body: unknown): Promise<{ answer: ReadingsAnswer; after: Promise<void> }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch!(
    new Request("http://fillgrid.test/v1/readings", {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "CF-Connecting-IP": "2001:db8::77",
      },
      body: JSON.stringify(body),
    }) as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );
  return { answer: await json<ReadingsAnswer>(res, 200), after: waitOnExecutionContext(ctx) };
}

/** POST /v1/readings through the worker with these bindings, once all it does after answering is done. */
async function postWith(bindings: Env, body: unknown): Promise<ReadingsAnswer> {
  const { answer, after } = await postAnswered(bindings, body);
  await after;
  return answer;
}

/** Containers that exist and are in the index (their first commit sent and registered them). */
async function knownContainers(n: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => uniqueContainer(prefix));
  await json(await postReadings(key, { readings: ids.map((id) => reading(id, 70)) }), 200);
  for (const id of ids) {
    await eventually(
      () =>
        env.CONTAINERS.getByName(id)
          .outboxStatus()
          // Registered, everything sent, and its drain over (a drain still finishing sends what comes next itself).
          .then((s) => (s.registered && !s.draining && s.pending === 0 ? true : undefined)),
      15_000,
      `${id} registered`,
    );
  }
  return ids;
}

const landed = (ids: string[]) =>
  withDatabase(env, async (db) => ({
    readings: await db.select().from(readings).where(inArray(readings.containerId, ids)),
    events: await db.select().from(containerEvents).where(inArray(containerEvents.containerId, ids)),
  }));

/**
 * Containers known (seq 1) whose second reading opened an order (seqs 2 and 3), its relay refused:
 * every event and reading is in Postgres, sent by the containers themselves, and nothing is owed.
 */
async function sentByThemselves(ids: string[]): Promise<void> {
  const rows = await eventually(
    async () => {
      const r = await landed(ids);
      // Both tables: the two are read one after the other, and a batch may land in between.
      return r.events.length === ids.length * 3 && r.readings.length === ids.length * 2 ? r : undefined;
    },
    20_000,
    "every event in Postgres, sent by the containers",
  );
  expect(rows.events.map((e) => `${e.containerId}:${e.seq}:${e.type}`).sort()).toEqual(
    ids.flatMap((id) => [`${id}:1:reading.recorded`, `${id}:2:reading.recorded`, `${id}:3:order.opened`]).sort(),
  );
  expect(rows.readings).toHaveLength(ids.length * 2);
  for (const id of ids) expect(await env.CONTAINERS.getByName(id).pendingOutbox()).toBe(0);
}

describe("the ingest relay", () => {
  it("a batch across 20 containers is one queue message with every container's range; each row lands once", async () => {
    const ids = await knownContainers(20, "relay");
    const { env: bindings, sent } = watchedQueue(false);
    const batch = ids.map((id) => reading(id, 65));
    const answer = await postWith(bindings, { readings: batch });
    expect(answer.results.map((r) => r.status)).toEqual(ids.map(() => "applied"));

    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(1);
    const message = bodyOf(sent[0]![0]!);
    expect(message.ranges.map((r) => r.containerId).sort()).toEqual([...ids].sort());
    expect(message.ranges.every((r) => r.events.length === 1 && r.events[0]!.seq === 2 && r.state.version === 2)).toBe(
      true,
    );
    // The containers sent nothing themselves.
    for (const id of ids) expect(await env.CONTAINERS.getByName(id).pendingOutbox()).toBe(0);

    const rows = await eventually(
      async () => {
        const r = await landed(ids);
        return r.readings.length === 40 ? r : undefined;
      },
      20_000,
      "every reading in Postgres",
    );
    expect(new Set(rows.readings.map((r) => r.readingId)).size).toBe(40);
    expect(rows.readings.filter((r) => batch.some((b) => b.readingId === r.readingId))).toHaveLength(20);
    expect(rows.events.map((e) => `${e.containerId}:${e.seq}`).sort()).toEqual(
      ids.flatMap((id) => [`${id}:1`, `${id}:2`]).sort(),
    );
  });

  it("a container evicted between readings still hands its next events over, and sends nothing again", async () => {
    const ids = await knownContainers(5, "relayevict");
    await postWith(watchedQueue(false).env, { readings: ids.map((id) => reading(id, 66)) });
    for (const id of ids) await evictDurableObject(env.CONTAINERS.getByName(id));
    const { env: bindings, sent } = watchedQueue(false);
    await postWith(bindings, { readings: ids.map((id) => reading(id, 67)) });
    expect(sent).toHaveLength(1);
    const message = bodyOf(sent[0]![0]!);
    expect(message.ranges.map((r) => r.containerId).sort()).toEqual([...ids].sort());
    expect(message.ranges.every((r) => r.events.map((e) => e.seq).join() === "3")).toBe(true);
    for (const id of ids) expect(await env.CONTAINERS.getByName(id).pendingOutbox()).toBe(0);
  });

  it("a container evicted right after its own first send hands its next commit over with only its own events", async () => {
    // Its first commit it sent itself (it was new); the watermark that send reached is stored.
    const ids = await knownContainers(3, "firstsend");
    for (const id of ids) await evictDurableObject(env.CONTAINERS.getByName(id));
    const { env: bindings, sent } = watchedQueue(false);
    await postWith(bindings, { readings: ids.map((id) => reading(id, 65)) });
    expect(sent).toHaveLength(1);
    const message = bodyOf(sent[0]![0]!);
    expect(message.ranges.map((r) => r.containerId).sort()).toEqual([...ids].sort());
    expect(message.ranges.every((r) => r.events.map((e) => e.seq).join() === "2")).toBe(true);
    for (const id of ids)
      expect(await env.CONTAINERS.getByName(id).outboxStatus()).toMatchObject({ pending: 0, draining: false });
  });

  it("requests answered while a send is on its way go together in the next send; every reading lands once", async () => {
    const ids = await knownContainers(12, "coalesce");
    let release!: () => void;
    const { env: bindings, sent } = watchedQueue(false, new Promise<void>((r) => (release = r)));
    // The first request's send is held; the others are answered meanwhile, their events waiting for it.
    const first = await postAnswered(bindings, { readings: [reading(ids[0]!, 64)] });
    const rest = await Promise.all(ids.slice(1).map((id) => postAnswered(bindings, { readings: [reading(id, 63)] })));
    expect([first, ...rest].every(({ answer }) => answer.results[0]!.status === "applied")).toBe(true);
    expect(sent).toHaveLength(1);
    release();
    await Promise.all([first, ...rest].map(({ after }) => after));
    expect(sent).toHaveLength(2);
    expect(bodyOf(sent[0]![0]!).ranges.map((r) => r.containerId)).toEqual([ids[0]]);
    expect(sent[1]).toHaveLength(1);
    expect(
      bodyOf(sent[1]![0]!)
        .ranges.map((r) => r.containerId)
        .sort(),
    ).toEqual(ids.slice(1).sort());
    for (const id of ids) expect(await env.CONTAINERS.getByName(id).pendingOutbox()).toBe(0);

    const rows = await eventually(
      async () => {
        const r = await landed(ids);
        return r.readings.length === ids.length * 2 && r.events.length === ids.length * 2 ? r : undefined;
      },
      20_000,
      "every reading in Postgres",
    );
    expect(new Set(rows.readings.map((r) => r.readingId)).size).toBe(ids.length * 2);
    expect(rows.events.map((e) => `${e.containerId}:${e.seq}`).sort()).toEqual(
      ids.flatMap((id) => [`${id}:1`, `${id}:2`]).sort(),
    );
  });

  it("when a send that carries several requests' events is refused, every one of their containers sends its own: nothing lost", async () => {
    const ids = await knownContainers(6, "coalescefail");
    let release!: () => void;
    const { env: bindings, sent } = watchedQueue(true, new Promise<void>((r) => (release = r)));
    const posted = [await postAnswered(bindings, { readings: [reading(ids[0]!, 15)] })];
    posted.push(
      ...(await Promise.all(ids.slice(1).map((id) => postAnswered(bindings, { readings: [reading(id, 15)] })))),
    );
    // Below the threshold: each reading opens an order, and each answer says so before any send.
    expect(posted.every(({ answer }) => answer.results[0]!.orderOpened !== undefined)).toBe(true);
    release();
    await Promise.all(posted.map(({ after }) => after));
    expect(sent).toHaveLength(2);
    await sentByThemselves(ids);
  });

  it("events a worker took and never sent (it died with them) are asked for by the container's next message", async () => {
    const [id] = await knownContainers(1, "relaylost");
    // A send that never returns: the events it carries are gone with the worker, and count as sent.
    let release!: () => void;
    const lost = watchedQueue(true, new Promise<void>((r) => (release = r)));
    const { answer } = await postAnswered(lost.env, { readings: [reading(id!, 62)] });
    expect(answer.results[0]!.status).toBe("applied");
    expect(await env.CONTAINERS.getByName(id!).pendingOutbox()).toBe(0);
    // The next reading goes through a worker that sends: the projection sees seq 3 without 2 ...
    await postWith(watchedQueue(false).env, { readings: [reading(id!, 63)] });
    await eventually(
      async () => ((await landed([id!])).events.some((e) => e.seq === 3) ? true : undefined),
      20_000,
      "seq 3 in Postgres",
    );
    expect((await landed([id!])).events.map((e) => e.seq).sort()).toEqual([1, 3]);
    // ... and, the gap standing past its grace period (the missing event may be a moment behind), the next message has it asked for.
    await new Promise((r) => setTimeout(r, (Number(env.PROJECTION_GAP_GRACE_SECONDS) + 0.5) * 1000));
    await postWith(watchedQueue(false).env, { readings: [reading(id!, 64)] });
    const rows = await eventually(
      async () => {
        const r = await landed([id!]);
        return r.events.length === 4 && r.readings.length === 4 ? r : undefined;
      },
      20_000,
      "the lost event asked for and in Postgres",
    );
    expect(rows.events.map((e) => e.seq).sort()).toEqual([1, 2, 3, 4]);
    release();
  });

  it("a batch where one container's commit fails: the answer is a 500, and every other container's events are relayed and reach Postgres without a reconciliation", async () => {
    const ids = await knownContainers(6, "onefails");
    const broken = ids[0]!;
    // Its storage refuses every write to the log: its commit fails and rolls back, as a failing object would.
    await runInDurableObject(
      env.CONTAINERS.getByName(broken),
      (_instance: ContainerDO, state) =>
        void state.storage.sql.exec(
          "CREATE TRIGGER refuse BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'storage refused the write'); END",
        ),
    );
    const { env: bindings, sent } = watchedQueue(false);
    const ctx = createExecutionContext();
    const res = await worker.fetch!(
      new Request("http://fillgrid.test/v1/readings", {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "CF-Connecting-IP": "2001:db8::77",
        },
        body: JSON.stringify({ readings: ids.map((id) => reading(id, 68)) }),
      }) as Request<unknown, IncomingRequestCfProperties>,
      bindings,
      ctx,
    );
    expect((await json<{ error: { code: string } }>(res, 500)).error.code).toBe("internal");
    await waitOnExecutionContext(ctx);
    // The others' commits went to the queue from this request, in one message.
    expect(sent).toHaveLength(1);
    const others = ids.slice(1);
    expect(
      bodyOf(sent[0]![0]!)
        .ranges.map((r) => r.containerId)
        .sort(),
    ).toEqual([...others].sort());
    const rows = await eventually(
      async () => {
        const r = await landed(others);
        return r.events.length === others.length * 2 ? r : undefined;
      },
      20_000,
      "the other containers' events in Postgres",
    );
    expect(rows.events.map((e) => `${e.containerId}:${e.seq}`).sort()).toEqual(
      others.flatMap((id) => [`${id}:1`, `${id}:2`]).sort(),
    );
    for (const id of others) expect(await env.CONTAINERS.getByName(id).pendingOutbox()).toBe(0);
    // The failed container stored nothing of it.
    expect((await env.CONTAINERS.getByName(broken).getState())!.version).toBe(1);
  });

  it("when the queue refuses the relay, each container sends its events itself: the answer stands, nothing is lost, an error record says so", async () => {
    const ids = await knownContainers(5, "relayfail");
    const { env: bindings, sent } = watchedQueue(true);
    const batch = ids.map((id) => reading(id, 10));
    const answer = await postWith(bindings, { readings: batch });
    // Readings below the threshold: each opens an order, as the answer says.
    expect(answer.results.every((r) => r.status === "applied" && r.orderOpened)).toBe(true);
    expect(sent).toHaveLength(1);

    await sentByThemselves(ids);
    await eventually(
      async () => {
        const body = await json<{ errors: { message: string; source: string; context: Record<string, unknown> }[] }>(
          await api("/v1/errors?limit=500", { token: viewer }),
          200,
        );
        return body.errors.find(
          (e) => e.message === "projection queue unavailable" && e.source === "worker" && e.context.messages === 1,
        );
      },
      20_000,
      "the error record",
    );
  });
});

/** The container's state row as stored: its version and watermark. */
const storedRow = (id: string) =>
  runInDurableObject(
    env.CONTAINERS.getByName(id),
    (_instance: ContainerDO, state) =>
      state.storage.sql
        .exec<{ state: string; sent_seq: number }>("SELECT state, sent_seq FROM container")
        .toArray()
        .map((r) => ({ version: (JSON.parse(r.state) as { version: number }).version, sentSeq: r.sent_seq }))[0]!,
  );

describe("the state row, written every so many events", () => {
  it("a container restarted between writes of its state has the state its commits made, orders included, and sends nothing again", async () => {
    const [id] = await knownContainers(1, "fold");
    const { env: bindings, sent } = watchedQueue(false);
    // Low and high in turn: each low reading opens an order, each high one closes it.
    for (const fill of [60, 10, 80, 12, 75, 11]) await postWith(bindings, { readings: [reading(id!, fill)] });
    const before = await env.CONTAINERS.getByName(id!).getState();
    expect(before!.activeOrder).toMatchObject({ status: "active" });
    const row = await storedRow(id!);
    // The row holds an older state than the object does: what follows it comes from the log.
    expect(row.version).toBeLessThan(before!.version);
    expect(before!.version - row.version).toBeLessThan(STATE_EVERY_EVENTS);

    await evictDurableObject(env.CONTAINERS.getByName(id!));
    expect(await env.CONTAINERS.getByName(id!).getState()).toEqual(before);
    expect(await env.CONTAINERS.getByName(id!).pendingOutbox()).toBe(0);
    // The next reading is handed over as before the restart, and only its own events go.
    const sends = sent.length;
    await postWith(bindings, { readings: [reading(id!, 90)] });
    expect(sent).toHaveLength(sends + 1);
    const ranges = bodyOf(sent[sends]![0]!).ranges;
    expect(ranges.flatMap((r) => r.events.map((e) => e.seq))).toEqual([before!.version + 1, before!.version + 2]);
  });

  it("is written again once the events since it reach STATE_EVERY_EVENTS, not at the commits between", async () => {
    const [id] = await knownContainers(1, "every");
    const { env: bindings } = watchedQueue(false);
    // The container's own first send stored its watermark (one column of the row, the state as of
    // its first commit); a handed-over commit after it writes no row.
    await postWith(bindings, { readings: [reading(id!, 60)] });
    const first = await storedRow(id!);
    expect(first).toEqual({ version: 1, sentSeq: 1 });
    // Readings above the threshold: one event each, no order.
    const seen: number[] = [];
    for (let i = 0; i < STATE_EVERY_EVENTS + 3; i++) {
      await postWith(bindings, { readings: [reading(id!, 60 + (i % 10))] });
      seen.push((await storedRow(id!)).version);
    }
    expect([...new Set(seen)]).toEqual([first.version, first.version + STATE_EVERY_EVENTS]);
    expect((await storedRow(id!)).sentSeq).toBe(first.version + STATE_EVERY_EVENTS);
  });

  it("events whose relay failed, and that the container could not send either, are not taken for sent after a restart", async () => {
    const [id] = await knownContainers(1, "unsent");
    const stub = env.CONTAINERS.getByName(id!);
    // The queue refuses the worker's relay and the container's own sends alike.
    const refusing = await watchProjectionQueue(id!, async () => {
      throw new Error("projection queue unavailable");
    });
    await refusing.post(key, { readings: [reading(id!, 61)] });
    await refusing.post(key, { readings: [reading(id!, 62)] });
    const version = (await stub.getState())!.version;
    expect(await stub.pendingOutbox()).toBeGreaterThan(0);

    await evictDurableObject(stub);
    // A fresh instance (its outbox the real queue) still owes them, and its guard alarm sends them.
    expect(await stub.pendingOutbox()).toBe(version - (await storedRow(id!)).sentSeq);
    expect(await stub.pendingOutbox()).toBeGreaterThan(0);
    await runDurableObjectAlarm(stub);
    const rows = await eventually(
      async () => {
        const r = await landed([id!]);
        return r.events.length === version ? r : undefined;
      },
      20_000,
      "every event in Postgres",
    );
    expect(rows.events.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: version }, (_, i) => i + 1),
    );
    expect(await stub.pendingOutbox()).toBe(0);
  });
});

describe("packing ranges into messages", () => {
  const range = (containerId: string): ChangeRange => ({
    range: true,
    containerId,
    events: [],
    state: { containerId } as ChangeRange["state"],
    orders: [],
  });

  it("fills each message up to the limit, in order, never splitting a range; one too large goes alone", () => {
    const sized = ["a", "b", "c", "d", "e"].map((id, i) => ({
      text: JSON.stringify(range(id)),
      bytes: i === 3 ? 500 : 100,
    }));
    const packed = packRanges(sized, 250);
    const ids = (body: string) => (JSON.parse(body) as RangeBatch).ranges.map((r) => r.containerId);
    expect(packed.map((p) => ids(p.body))).toEqual([["a", "b"], ["c"], ["d"], ["e"]]);
    expect(packed.map((p) => p.ranges)).toEqual([[sized[0], sized[1]], [sized[2]], [sized[3]], [sized[4]]]);
    expect(packed.every((p) => p.bytes <= 250 || p.ranges.length === 1)).toBe(true);
    expect(packRanges([], 250)).toEqual([]);
  });

  it("counts a message's bytes as its JSON has them", () => {
    const sized = ["tank-1", "tank-ü-2", "tank-3"].map((id) => {
      const text = JSON.stringify(range(id));
      return { text, bytes: new TextEncoder().encode(text).byteLength };
    });
    const [packed] = packRanges(sized);
    expect(packed!.bytes).toBe(new TextEncoder().encode(packed!.body).byteLength);
    expect(JSON.parse(packed!.body)).toEqual({ ranges: ["tank-1", "tank-ü-2", "tank-3"].map(range) });
  });
});
