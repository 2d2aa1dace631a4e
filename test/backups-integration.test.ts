// Backups through the runtime: the backup queue's consumer writes a batch's new events to the
// bucket once (a batch that comes again writes nothing new), the hourly job writes a snapshot and a
// manifest whose checksums match the objects, and GET /v1/backups, /metrics and the monitor say how
// old the newest complete backup is.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { textMessage, utf8Length } from "../domain/change-message";
import type { ContainerEvent } from "../domain/events";
import worker from "../workers/index";
import { DEFAULT_RULES, conditionsOf } from "../domain/monitor";
import { gunzip, takeHourlyBackup, unseal, type Snapshot } from "../workers/backups";
import { sha256Hex } from "../platform/crypto";
import { monitorSnapshot } from "../workers/monitor";
import { withDatabase } from "../workers/db/client";
import { deadLetters } from "../workers/db/schema";
import { BACKUP_QUEUE, DEAD_LETTER_QUEUE, PROJECTION_QUEUE } from "../workers/queues";
import { backupLedger, fleetHub } from "../workers/stubs";
import {
  adminToken,
  logAsRange,
  api,
  deliverBatch,
  deviceKey,
  eventually,
  json,
  newPartner,
  postReadings,
  reading,
  uniqueContainer,
} from "./helpers";

let key: string;
let admin: string;
beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

const HOUR = 3_600_000;

/** The container's whole log as one range message, as the projection consumer passes it on. */

const deliver = (bodies: unknown[]) => deliverBatch(BACKUP_QUEUE, bodies);

/** A message delivered to the projection's dead-letter queue (whose letters the backup queue's share), as stored. */
async function deadLetter(messageId: string, body: string) {
  const batch = createMessageBatch(DEAD_LETTER_QUEUE, [{ id: messageId, timestamp: new Date(), attempts: 11, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([messageId]);
  const [stored] = await withDatabase(env, (db) =>
    db.select().from(deadLetters).where(eq(deadLetters.messageId, messageId)),
  );
  expect(stored).toBeDefined();
  return stored!;
}

/** Every backed-up event of a container, from the objects the ledger lists, and in how many objects each is. */
async function backedUp(containerId: string) {
  const objects = (await backupLedger(env).unlisted()).filter((o) =>
    o.ranges.some((r) => r.containerId === containerId),
  );
  const seen = new Map<number, number>();
  for (const o of objects) {
    const object = await env.BACKUPS.get(o.key);
    expect(object, o.key).not.toBeNull();
    const bytes = await object!.arrayBuffer();
    expect(await sha256Hex(bytes)).toBe(o.sha256);
    for (const line of (await gunzip(bytes)).trim().split("\n")) {
      const e = JSON.parse(line) as ContainerEvent;
      if (e.containerId === containerId) seen.set(e.seq, (seen.get(e.seq) ?? 0) + 1);
    }
  }
  return { objects, seen };
}

describe("backups", () => {
  it("write each committed event to the bucket once, however often its batch comes", async () => {
    const id = uniqueContainer("bk");
    await json(await postReadings(key, { readings: [reading(id, 80), reading(id, 70)] }), 200);
    const first = await logAsRange(id);
    await deliver([first]);
    await deliver([first, { ranges: [first] }]);
    let { seen } = await backedUp(id);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(first.events.map((e) => e.seq));
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect((await backupLedger(env).coverageOf([id]))[id]).toEqual({ contiguous: first.state.version, beyond: [] });

    // Two more readings: a batch with the whole log again adds only them.
    await json(await postReadings(key, { readings: [reading(id, 60), reading(id, 50)] }), 200);
    const second = await logAsRange(id);
    const objectsBefore = (await backedUp(id)).objects.length;
    await deliver([second]);
    ({ seen } = await backedUp(id));
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(second.events.map((e) => e.seq));
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect((await backedUp(id)).objects.length).toBeLessThanOrEqual(objectsBefore + 1);
    const object = (await backedUp(id)).objects.at(-1)!;
    expect(object.key).toMatch(/^events\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f]{32}\.ndjson\.gz$/);
  });

  it("the projection passes on a batch's events alone, as few messages within the queue's limit as they fit in, and they are backed up from them", async () => {
    // A request's readings across containers, ten each at a steady level (no orders, no forecast
    // to run out): enough events to take more than one message.
    const ids = Array.from({ length: 30 }, () => uniqueContainer("bkevents"));
    await json(
      await postReadings(key, { readings: ids.flatMap((id) => Array.from({ length: 10 }, () => reading(id, 90))) }),
      200,
    );
    const ranges = await Promise.all(ids.map((id) => logAsRange(id)));
    const events = ranges.flatMap((r) => r.events);
    const message = textMessage(JSON.stringify({ ranges }));
    const id = ids[0]!;
    const passed: MessageSendRequest<unknown>[] = [];
    const backupQueue = {
      send: () => Promise.reject(new Error("the consumer sends in batches")),
      sendBatch: async (messages: Iterable<MessageSendRequest<unknown>>) => void passed.push(...messages),
    } as unknown as Queue;
    const batch = createMessageBatch(PROJECTION_QUEUE, [
      { id: `m-${id}`, timestamp: new Date(), attempts: 1, body: message.body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, BACKUP_QUEUE: backupQueue });
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`m-${id}`]);
    // Text of events and nothing else, each message within the 120 KB a batch message may take,
    // together holding every event once, in order.
    expect(passed.length).toBeGreaterThan(1);
    expect(passed.every((m) => m.contentType === "text" && typeof m.body === "string")).toBe(true);
    const bodies = passed.map((m) => JSON.parse(m.body as string) as Record<string, unknown>);
    expect(bodies.every((b) => Object.keys(b).join() === "events")).toBe(true);
    expect(passed.every((m) => utf8Length(m.body as string) <= 120 * 1024)).toBe(true);
    expect(bodies.flatMap((b) => b.events as ContainerEvent[])).toEqual(events);
    // Nothing but the events and each message's frame: the ranges' states are left behind.
    const passedBytes = passed.reduce((n, m) => n + utf8Length(m.body as string), 0);
    expect(passedBytes).toBe(utf8Length(JSON.stringify(events)) + passed.length * 12 - 1);
    expect(passedBytes).toBeLessThan(utf8Length(message.body) - utf8Length(JSON.stringify(ranges.map((r) => r.state))));

    await deliver(passed.map((m) => m.body));
    for (const r of ranges.slice(0, 3))
      expect([...(await backedUp(r.containerId)).seen.keys()].sort((a, b) => a - b)).toEqual(
        r.events.map((e) => e.seq),
      );
  });

  it("a backup message that dies is a dead letter listed as the backup queue's; replayed to it, it is backed up", async () => {
    const id = uniqueContainer("bkdead");
    await json(await postReadings(key, { readings: [reading(id, 80), reading(id, 20)] }), 200);
    const range = await logAsRange(id);
    const stored = await deadLetter(`dl-${id}`, JSON.stringify({ events: range.events }));
    expect(stored).toMatchObject({ queue: BACKUP_QUEUE, poison: false, body: { events: range.events } });
    expect(stored.reason).toMatch(/backing it up failed/);
    expect((await backedUp(id)).seen.size).toBe(0);

    // Replayed, it goes to the backup queue as JSON, and its consumer backs it up.
    const sent: Array<{ body: unknown; options?: QueueSendOptions }> = [];
    const backupQueue = {
      send: async (body: unknown, options?: QueueSendOptions) => void sent.push({ body, options }),
    } as unknown as Queue;
    const replayed = await worker.fetch(
      new Request(`http://fillgrid.test/v1/dead-letters/${stored.id}/replay`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
      }),
      { ...env, BACKUP_QUEUE: backupQueue },
      createExecutionContext(),
    );
    expect(replayed.status).toBe(200);
    expect(sent).toEqual([{ body: { events: range.events }, options: { contentType: "json" } }]);
    await deliver([sent[0]!.body]);
    expect([...(await backedUp(id)).seen.keys()].sort((a, b) => a - b)).toEqual(range.events.map((e) => e.seq));
  });

  it("a dead letter of the projection's own, in the same dead-letter queue, stays the projection's", async () => {
    const id = uniqueContainer("bkdeadp");
    await json(await postReadings(key, reading(id, 80)), 200);
    const range = await logAsRange(id);
    expect(await deadLetter(`dlp-${id}`, textMessage(JSON.stringify(range)).body)).toMatchObject({
      queue: PROJECTION_QUEUE,
      poison: false,
    });
  });

  it("a projection batch the backup queue refuses is not acked: it comes again whole, and is acked once the backup queue takes it; its rows are pushed to the live fleet meanwhile", async () => {
    const id = uniqueContainer("bkrefused");
    await json(await postReadings(key, reading(id, 80)), 200);
    const range = await logAsRange(id);
    // The reading's own way through the projection pushed its state to the live fleet already (a
    // dashboard shows it either way); pushes after this are the refused batch's below.
    const pushesOf = async (since: number) =>
      (await fleetHub(env).changesSince(since)).filter((c) =>
        c.containers.some((container) => container.containerId === id),
      );
    await eventually(async () => ((await pushesOf(0)).length > 0 ? true : undefined), 20_000, "the reading's push");
    const pushedBefore = await fleetHub(env).latestSeq();
    const message = textMessage(JSON.stringify(range));
    const deliverWith = async (backupQueue: Queue) => {
      const batch = createMessageBatch(PROJECTION_QUEUE, [
        { id: `m-${id}`, timestamp: new Date(), attempts: 1, body: message.body },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...env, BACKUP_QUEUE: backupQueue });
      return getQueueResult(batch, ctx);
    };
    const refusing = {
      sendBatch: () => Promise.reject(new Error("backup queue unavailable")),
    } as unknown as Queue;
    const refused = await deliverWith(refusing);
    expect(refused.explicitAcks).toEqual([]);
    expect(refused.retryMessages.map((m) => m.msgId)).toEqual([`m-${id}`]);
    // Its rows are in Postgres all the same (written again when it comes back), and the hub is told
    // so: a backup queue that is down does not hold back the live fleet's pushes.
    expect((await pushesOf(pushedBefore)).map((c) => c.containers.find((x) => x.containerId === id))).toEqual([
      expect.objectContaining({ containerId: id, fillPercent: 80, version: range.state.version }),
    ]);

    const passed: MessageSendRequest<unknown>[] = [];
    const taking = { sendBatch: async (m: Iterable<MessageSendRequest<unknown>>) => void passed.push(...m) };
    const again = await deliverWith(taking as unknown as Queue);
    expect(again.explicitAcks).toEqual([`m-${id}`]);
    expect(passed.map((m) => m.body)).toEqual([JSON.stringify({ events: range.events })]);
  });

  it("every hour: a snapshot with partners' secrets sealed, a manifest whose checksums match, and their age in the API, /metrics and the monitor", async () => {
    const id = uniqueContainer("bk");
    await json(await postReadings(key, { readings: [reading(id, 90)] }), 200);
    const partner = await newPartner();
    // Postgres has the container; until its events are in the bucket it is missing from the backup.
    await eventually(async () => {
      const res = await api(`/v1/containers/${id}`, { token: admin });
      return res.status === 200 ? true : undefined;
    });
    const now = Date.now() + HOUR;
    const before = await takeHourlyBackup(env, now);
    expect(before.complete).toBe(false);
    await deliver([await logAsRange(id)]);
    const summary = await takeHourlyBackup(env, now);
    const manifest = JSON.parse(await (await env.BACKUPS.get(summary.key))!.text()) as {
      objects: { key: string; sha256: string; bytes: number }[];
      containers: Record<string, number>;
      missing: { containerId: string }[];
      snapshot: { key: string; sha256: string };
    };
    expect(manifest.containers[id]).toBe((await logAsRange(id)).state.version);
    expect(manifest.missing.some((m) => m.containerId === id)).toBe(false);
    for (const o of [...manifest.objects, manifest.snapshot]) {
      const bytes = await (await env.BACKUPS.get(o.key))!.arrayBuffer();
      expect(await sha256Hex(bytes)).toBe(o.sha256);
    }
    // What the snapshot holds: the partner, its secret sealed (not as stored), the admin with a hash.
    const snapshot = JSON.parse(
      await gunzip(await (await env.BACKUPS.get(manifest.snapshot.key))!.arrayBuffer()),
    ) as Snapshot;
    const partners = snapshot.directory.partners!;
    const row = partners.rows.find((r) => r[partners.columns.indexOf("id")] === partner.id)!;
    const sealed = String(row[partners.columns.indexOf("secret")]);
    expect(sealed).toMatch(/^aes-256-gcm:/);
    expect(sealed).not.toContain(partner.secret);
    expect(await unseal(env, sealed)).toBe(partner.secret);
    expect(snapshot.alertRules).toMatchObject({ backupStale: { hours: 2 } });
    expect(snapshot.deviceKeys.length).toBeGreaterThan(0);
    expect(snapshot.deviceKeys[0]!.secretHash).toBeTruthy();

    // Listed for an admin, newest first; not for an operator.
    const listed = await json<{
      backups: { hour: string; complete: boolean; objects: number }[];
      newestComplete: string | null;
      ageSeconds: number | null;
    }>(await api("/v1/backups?limit=5", { token: admin }), 200);
    expect(listed.backups[0]).toMatchObject({ hour: summary.hour, objects: summary.objects });
    const bad = await json<{ error: { issues?: { path: string }[] } }>(
      await api("/v1/backups?limit=0", { token: admin }),
      400,
    );
    expect(bad.error.issues?.[0]).toMatchObject({ path: "limit" });

    // A backup of a day ago, before any of these events: complete with its snapshot.
    const dayAgo = await takeHourlyBackup(env, Date.now() - 24 * HOUR);
    expect(dayAgo).toMatchObject({ complete: true, missingCount: 0 });
    const state = await json<{ newestComplete: string; ageSeconds: number }>(
      await api("/v1/backups", { token: admin }),
      200,
    );
    expect(Date.parse(state.newestComplete)).toBeGreaterThanOrEqual(Date.parse(dayAgo.writtenAt));
    const metrics = await (await api("/metrics", { headers: { authorization: "Bearer test-metrics-token" } })).text();
    const age = Number(/^fillgrid_backup_age_seconds (\d+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThanOrEqual(Math.floor(state.ageSeconds) - 1);
    expect(age).toBeLessThan(state.ageSeconds + 60);

    // Backups that stop: 2 hours after the newest complete one, the monitor alerts; not before.
    const { snapshot: seen } = await monitorSnapshot(env);
    expect(seen.backup.newestComplete).toBe(state.newestComplete);
    const taken = Date.parse(state.newestComplete);
    const rule = (at: number) => conditionsOf(seen, DEFAULT_RULES, at).find((c) => c.rule === "backupStale");
    expect(rule(taken + HOUR)).toBeUndefined();
    expect(rule(taken + 3 * HOUR + 60_000)?.message).toMatch(/^The newest complete backup is 3 h old/);
  });

  it("the bucket's objects can be listed, read and put back (a backup kept elsewhere), never overwritten", async () => {
    const id = uniqueContainer("bk");
    await json(await postReadings(key, { readings: [reading(id, 55)] }), 200);
    await deliverBatch(BACKUP_QUEUE, [await logAsRange(id)]);
    await takeHourlyBackup(env, Date.now() + HOUR);
    const listed = await json<{ objects: { key: string; bytes: number }[]; nextCursor: string | null }>(
      await api("/v1/backups/objects?prefix=snapshots/", { token: admin }),
      200,
    );
    const snapshotKey = listed.objects.at(-1)!.key;
    expect(snapshotKey).toMatch(/^snapshots\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/snapshot-\d{8}T\d{9}Z\.json\.gz$/);
    const res = await api(`/v1/backups/object?key=${encodeURIComponent(snapshotKey)}`, { token: admin });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(listed.objects.at(-1)!.bytes);

    const put = (k: string, body: Uint8Array) =>
      api(`/v1/backups/object?key=${encodeURIComponent(k)}`, {
        method: "PUT",
        token: admin,
        headers: { "content-type": "application/octet-stream" },
        body,
      });
    // The same bytes again: nothing changes; other bytes under the same key: refused.
    expect(await json(await put(snapshotKey, bytes), 200)).toMatchObject({
      created: false,
      sha256: await sha256Hex(bytes),
    });
    await json(await put(snapshotKey, new Uint8Array([1, 2, 3])), 409);
    // A snapshot put under a new key says when it was taken, as the hourly job's does.
    const copy = "snapshots/2000/01/01/00/snapshot-20000101T010500000Z.json.gz";
    expect(await json(await put(copy, bytes), 200)).toMatchObject({ created: true });
    const taken = (JSON.parse(await gunzip(bytes)) as { takenAt: string }).takenAt;
    expect((await env.BACKUPS.head(copy))!.customMetadata).toEqual({ takenAt: taken });
    const bad = await json<{ error: { issues?: { path: string; message: string }[] } }>(
      await put("snapshots/2000/01/01/01/snapshot-20000101T020500000Z.json.gz", new Uint8Array([1, 2, 3])),
      400,
    );
    expect(bad.error.issues?.[0]).toMatchObject({ path: "body" });
    const outside = await json<{ error: { issues?: { path: string }[] } }>(await put("documents/x.csv", bytes), 400);
    expect(outside.error.issues?.[0]).toMatchObject({ path: "key" });
    await env.BACKUPS.delete(copy);

    // A backup taken by hand: judged against every event Postgres knows of now; listed first.
    const run = await json<{ hour: string; writtenAt: string; key: string }>(
      await api("/v1/backups/run", { method: "POST", token: admin }),
      200,
    );
    expect(Date.now() - Date.parse(run.writtenAt)).toBeLessThan(60_000);
    expect(run.hour).toBe(new Date(Math.floor(Date.parse(run.writtenAt) / HOUR) * HOUR).toISOString());
    expect(await env.BACKUPS.head(run.key)).not.toBeNull();
  });
});
