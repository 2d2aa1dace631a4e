// The backup's copy in a second bucket: every object written is a notification on the replication
// queue (R2's event notification, or the writer's own), its consumer copies it and checks its
// SHA-256; a copy that fails or arrives corrupted is retried, and in the end the replica holds what
// the primary holds, key for key and checksum for checksum. One that keeps failing is a dead letter.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { ObjectCreated } from "../domain/backups";
import { gzip, replicateBackupObjects } from "../workers/backups";
import { sha256Hex } from "../platform/crypto";
import { withDatabase } from "../workers/db/client";
import { deadLetters } from "../workers/db/schema";
import worker from "../workers/index";
import { BACKUP_QUEUE, BACKUP_REPLICATION_DEAD_LETTER_QUEUE, BACKUP_REPLICATION_QUEUE } from "../workers/queues";
import {
  adminToken,
  api,
  deliverBatch,
  deviceKey,
  eventually,
  json,
  postReadings,
  reading,
  uniqueContainer,
} from "./helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminToken();
});

async function checksums(bucket: R2Bucket): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ cursor });
    for (const o of page.objects)
      out.set(o.key, await sha256Hex(new Uint8Array(await (await bucket.get(o.key))!.arrayBuffer())));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

const notice = (key: string, size: number): ObjectCreated => ({
  account: "local",
  action: "PutObject",
  bucket: "fillgrid-backups",
  object: { key, size, eTag: "0" },
  eventTime: new Date().toISOString(),
});

/** The replication consumer over these notifications, with `replica` standing in for the second bucket. */
async function replicate(notices: ObjectCreated[], replica: R2Bucket) {
  const batch = createMessageBatch(
    BACKUP_REPLICATION_QUEUE,
    notices.map((body, i) => ({ id: `r-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await replicateBackupObjects(batch, { ...env, BACKUP_REPLICA: replica });
  return getQueueResult(batch, ctx);
}

/** The replica with faults put in: its next `failures` puts fail, or store other bytes than they were given. */
function faulty(failures: number, kind: "refuse" | "corrupt"): R2Bucket {
  let left = failures;
  return new Proxy(env.BACKUP_REPLICA, {
    get(target, property) {
      if (property === "put")
        return async (key: string, value: Uint8Array) => {
          if (left-- > 0) {
            if (kind === "refuse") throw new Error("the replica is unreachable");
            return target.put(key, new Uint8Array([...value, 0]));
          }
          return target.put(key, value);
        };
      const v = Reflect.get(target, property) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe("the backup replica", () => {
  it("copies each object with its checksum, through refusals and corrupted copies, until the replica equals the primary", async () => {
    // Objects the hourly job and the backup consumer write: the writer notifies the queue itself.
    const { key } = await deviceKey();
    const id = uniqueContainer("rep");
    await json(await postReadings(key, { readings: [reading(id, 70), reading(id, 60)] }), 200);
    const s = env.CONTAINERS.getByName(id);
    await deliverBatch(BACKUP_QUEUE, [
      { range: true, containerId: id, events: await s.listEvents(0, 100), state: await s.getState(), orders: [] },
    ]);

    // Two more, copied through faults: the first try of each is refused, the second stores bad bytes.
    const keys = [0, 1].map((i) => `events/2001/01/01/0${i}/${crypto.randomUUID().replaceAll("-", "")}.ndjson.gz`);
    const sizes: number[] = [];
    for (const k of keys) {
      const body = await gzip(`{"replica":"${k}"}\n`);
      sizes.push(body.byteLength);
      await env.BACKUPS.put(k, body, { sha256: await sha256Hex(body) });
    }
    const notices = keys.map((k, i) => notice(k, sizes[i]!));
    const refused = await replicate(notices, faulty(2, "refuse"));
    expect(refused.retryMessages.length).toBe(2);
    const corrupted = await replicate(notices, faulty(2, "corrupt"));
    expect(corrupted.retryMessages.length).toBe(2);
    const copied = await replicate(notices, env.BACKUP_REPLICA);
    expect(copied.retryMessages).toEqual([]);
    expect(copied.explicitAcks.length).toBe(2);

    // The rest arrive through the queue; then the replica holds every object, byte for byte.
    await eventually(
      async () => {
        const [primary, replica] = await Promise.all([checksums(env.BACKUPS), checksums(env.BACKUP_REPLICA)]);
        return primary.size > 2 && [...primary].every(([k, sum]) => replica.get(k) === sum) ? true : undefined;
      },
      20_000,
      "the replica equal to the primary",
    );
    const state = await json<{ replication: { waiting: number; lagSeconds: number } }>(
      await api("/v1/backups", { token: admin }),
      200,
    );
    expect(state.replication).toEqual({ waiting: 0, lagSeconds: 0 });
    const metrics = await (await api("/metrics", { headers: { authorization: "Bearer test-metrics-token" } })).text();
    expect(metrics).toMatch(/^fillgrid_backup_replication_waiting 0$/m);
  });

  it("a copy that keeps failing is a dead letter, to be replayed once the replica is reachable", async () => {
    const body = notice(`events/2001/01/02/00/${crypto.randomUUID().replaceAll("-", "")}.ndjson.gz`, 10);
    const batch = createMessageBatch(BACKUP_REPLICATION_DEAD_LETTER_QUEUE, [
      { id: `dl-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 11, body },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    const [stored] = await withDatabase(env, (db) =>
      db.select().from(deadLetters).where(eq(deadLetters.messageId, batch.messages[0]!.id)),
    );
    expect(stored).toMatchObject({ queue: BACKUP_REPLICATION_QUEUE, poison: false });
    expect(stored!.reason).toMatch(/replica/);
  });
});
