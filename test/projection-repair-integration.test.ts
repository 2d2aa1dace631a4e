// The projection knows what it has (projected_seq), notices gaps, and is reconciled with the
// containers, so whatever is lost between a container and Postgres is sent again: nothing lost,
// nothing twice.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
} from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { changesOf, type ChangeMessage } from "../domain/change-message";
import { withDatabase } from "../workers/db/client";
import { containerEvents, containers, deadLetters, orders, readings } from "../workers/db/schema";
import worker from "../workers/index";
import { DEAD_LETTER_QUEUE } from "../workers/queues";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  rangesOf,
  uniqueContainer,
  watchProjectionQueue,
  type ErrorBody,
} from "./helpers";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

type Status = {
  containersBehind: number;
  eventsMissing: number;
  oldestGapSince: string | null;
  lastReconciliation: { containersChecked: number; eventsResent: number } | null;
};
const status = async () => json<Status>(await api("/v1/projection/status", { token: admin }), 200);
type Run = {
  sweep: string;
  containersChecked: number;
  containersBehind: number;
  containersWoken: number;
  eventsResent: number;
  postgresMs: number;
  wallMs: number;
};
const reconcile = async (sweep: "changed" | "full" = "changed") =>
  json<Run>(await api(`/v1/projection/reconcile?sweep=${sweep}`, { method: "POST", token: admin }), 200);
const db = <T>(work: Parameters<typeof withDatabase<T>>[1]) => withDatabase(env, work);
const row = async (id: string) => (await db((d) => d.select().from(containers).where(eq(containers.id, id))))[0];
const seqs = async (id: string) =>
  (
    await db((d) =>
      d.select({ seq: containerEvents.seq }).from(containerEvents).where(eq(containerEvents.containerId, id)),
    )
  )
    .map((r) => r.seq)
    .sort((a, b) => a - b);
const liveVersion = async (id: string) => (await env.CONTAINERS.getByName(id).getState())!.version;

/** Until Postgres holds exactly the container's events 1..version, once each, and knows it. */
async function converged(id: string) {
  return eventually(
    async () => {
      const version = await liveVersion(id);
      const [r, have] = [await row(id), await seqs(id)];
      return r &&
        r.projectedSeq === version &&
        r.version === version &&
        r.gapSince === null &&
        have.length === version &&
        have.every((s, i) => s === i + 1)
        ? r
        : undefined;
    },
    20_000,
    `container ${id} projected completely`,
  );
}

/**
 * Between the container and the queue, events are lost on purpose: the queue takes the message and
 * sends on only the events `drop` spares (so the container and the worker take them for sent). Its
 * readings are posted with the returned `post`, through a worker whose relay loses them alike.
 */
async function loseMessages(id: string, drop: (m: ChangeMessage) => boolean) {
  return watchProjectionQueue(id, async (bodies) => {
    // Each range keeps the events whose change is not dropped.
    const kept = bodies
      .flatMap(rangesOf)
      .map((range) => ({ ...range, events: range.events.filter((_, i) => !drop(changesOf(range)[i]!)) }))
      .filter((range) => range.events.length > 0);
    if (kept.length > 0)
      await env.PROJECTION_QUEUE.sendBatch(kept.map((body) => ({ body, contentType: "json" as const })));
  });
}

/** A container whose second event never reached the queue, followed by a third that did. */
async function withLostSecondEvent(prefix: string): Promise<string> {
  const id = uniqueContainer(prefix);
  await json(await postReadings(key, { containerId: id, fillPercent: 70 }), 200);
  await converged(id);
  const lossy = await loseMessages(id, (m) => m.event.seq === 2 && !m.resent);
  await json(await lossy.post(key, { containerId: id, fillPercent: 71 }), 200);
  await lossy.unwatch();
  await json(await postReadings(key, { containerId: id, fillPercent: 72 }), 200);
  return id;
}

describe("a gap between the outbox and the consumer", () => {
  it("is found, shown by the status, and filled; the status clears", async () => {
    const id = uniqueContainer("gap");
    await json(await postReadings(key, { containerId: id, fillPercent: 70 }), 200);
    await converged(id);
    // The next two events (a reading and the order it opens) are lost, and so is every attempt to send them again.
    const lossy = await loseMessages(id, (m) => m.event.seq === 2 || m.event.seq === 3);
    await json(await lossy.post(key, { containerId: id, fillPercent: 20 }), 200);
    await json(await lossy.post(key, { containerId: id, fillPercent: 25 }), 200);
    const gapped = await eventually(
      async () => {
        const r = await row(id);
        return r && r.version === 4 && r.projectedSeq === 1 && r.gapSince !== null ? r : undefined;
      },
      20_000,
      "the gap noticed",
    );
    expect(gapped).toMatchObject({ projectedSeq: 1, version: 4 });
    const before = await status();
    expect(before.containersBehind).toBeGreaterThanOrEqual(1);
    expect(before.eventsMissing).toBeGreaterThanOrEqual(2);
    expect(before.oldestGapSince).not.toBeNull();

    await lossy.unwatch();
    const run = await reconcile();
    expect(run.containersBehind).toBeGreaterThanOrEqual(1);
    expect(run.eventsResent).toBeGreaterThanOrEqual(3);
    await converged(id);
    const [order] = await db((d) => d.select().from(orders).where(eq(orders.containerId, id)));
    expect(order).toMatchObject({ status: "active", fillAtOpen: 20 });
    const after = await status();
    expect(after.containersBehind).toBeLessThan(before.containersBehind);
    expect(after.lastReconciliation!.containersChecked).toBeGreaterThanOrEqual(1);
  });

  it("a gap that stands past the grace period is asked for by the container's next message", async () => {
    const id = await withLostSecondEvent("selfheal");
    // Found, and left for the grace period: the missing event may be a moment behind.
    const found = await eventually(
      async () => {
        const r = await row(id);
        return r?.version === 3 && r.gapSince !== null ? r : undefined;
      },
      20_000,
      "the gap noticed",
    );
    expect(found.projectedSeq).toBe(1);
    await new Promise((r) => setTimeout(r, (Number(env.PROJECTION_GAP_GRACE_SECONDS) + 0.5) * 1000));
    expect((await row(id))!.projectedSeq).toBe(1);
    await json(await postReadings(key, { containerId: id, fillPercent: 73 }), 200);
    await converged(id);
  });

  it("a gap no later message finds is asked for by the minute job", async () => {
    const id = await withLostSecondEvent("standing");
    await eventually(async () => ((await row(id))?.gapSince ? true : undefined), 20_000, "the gap noticed");
    await new Promise((r) => setTimeout(r, (Number(env.PROJECTION_GAP_GRACE_SECONDS) + 0.5) * 1000));
    await worker.scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env);
    await converged(id);
  });

  it("a container Postgres never heard of is found through the index and sent whole", async () => {
    const id = uniqueContainer("unheard");
    const lossy = await loseMessages(id, () => true);
    await json(
      await lossy.post(key, {
        readings: [
          { containerId: id, fillPercent: 30 },
          { containerId: id, fillPercent: 90 },
        ],
      }),
      200,
    );
    await eventually(async () =>
      (await env.CONTAINER_INDEX.getByName("containers").list("", 100_000)).includes(id) ? true : undefined,
    );
    expect(await row(id)).toBeUndefined();
    await lossy.unwatch();
    await reconcile();
    await converged(id);
    const rows = await db((d) => d.select().from(readings).where(eq(readings.containerId, id)));
    expect(rows.map((r) => r.fillPercent).sort()).toEqual([30, 90]);
  });
});

describe("rows deleted by hand", () => {
  it("an event, a reading, an order and a container row are restored by the next full sweep", async () => {
    const id = uniqueContainer("deleted");
    await json(
      await postReadings(key, {
        readings: [
          { containerId: id, fillPercent: 20 },
          { containerId: id, fillPercent: 80 },
          { containerId: id, fillPercent: 10 },
        ],
      }),
      200,
    );
    const whole = await converged(id);
    const orderRows = await db((d) => d.select().from(orders).where(eq(orders.containerId, id)));
    expect(orderRows).toHaveLength(2);
    // Verified by a reconciliation first: the rows are below the watermark, where only a full sweep looks.
    await reconcile();
    expect((await row(id))!.verifiedSeq).toBe(whole.version);
    await db(async (d) => {
      await d.delete(containerEvents).where(and(eq(containerEvents.containerId, id), eq(containerEvents.seq, 3)));
      await d.delete(readings).where(eq(readings.containerId, id));
      await d.delete(orders).where(eq(orders.id, orderRows[0]!.id));
    });
    expect((await reconcile("full")).sweep).toBe("full");
    const back = await converged(id);
    expect(back.version).toBe(whole.version);
    expect(await db((d) => d.select().from(readings).where(eq(readings.containerId, id)))).toHaveLength(3);
    expect(
      (await db((d) => d.select().from(orders).where(eq(orders.containerId, id)))).map((o) => o.status).sort(),
    ).toEqual(["active", "closed"]);

    await db((d) => d.delete(containers).where(eq(containers.id, id)));
    await reconcile();
    expect(await converged(id)).toMatchObject({ fillPercent: 10, version: whole.version });
  });
});

describe("dead letters", () => {
  it("a dead-lettered change is repaired by reconciliation, replayed or not", async () => {
    const id = uniqueContainer("dead");
    let lost: ChangeMessage | undefined;
    const lossy = await loseMessages(id, (m) => {
      if (m.event.seq === 2 && !m.resent) lost = m;
      return m.event.seq === 2 && !m.resent;
    });
    await json(await lossy.post(key, { containerId: id, fillPercent: 15 }), 200);
    // The lost message exhausted its retries: the dead-letter consumer keeps it, not poison.
    const letter = { id: `dl-${id}`, timestamp: new Date(), attempts: 4, body: lost! };
    const batch = createMessageBatch<unknown>(DEAD_LETTER_QUEUE, [letter]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([letter.id]);
    const [kept] = await db((d) => d.select().from(deadLetters).where(eq(deadLetters.messageId, letter.id)));
    expect(kept).toMatchObject({ poison: false, reason: expect.stringMatching(/reconciliation/) });
    await lossy.unwatch();
    await reconcile();
    await converged(id);
  });

  it("a poison message is shown as such, with its reason", async () => {
    const marker = crypto.randomUUID();
    const batch = createMessageBatch<unknown>(DEAD_LETTER_QUEUE, [
      { id: `poison-${marker}`, timestamp: new Date(), attempts: 4, body: { marker } },
    ]);
    await worker.queue(batch, env);
    const listed = await json<{ deadLetters: Array<{ messageId: string; poison: boolean; reason: string | null }> }>(
      await api("/v1/dead-letters?limit=500", { token: admin }),
      200,
    );
    expect(listed.deadLetters.find((d) => d.messageId === `poison-${marker}`)).toMatchObject({
      poison: true,
      reason: expect.stringMatching(/not a change message/),
    });
  });
});

describe("access", () => {
  it("reconciling is for admins; the status for anyone signed in", async () => {
    const viewer = await personWith("viewer");
    await json<Status>(await api("/v1/projection/status", { token: viewer }), 200);
    const refused = await json<ErrorBody>(
      await api("/v1/projection/reconcile", { method: "POST", token: viewer }),
      403,
    );
    expect(refused.error.message).toContain("admin");
    await json<ErrorBody>(await api("/v1/projection/reconcile", { method: "POST" }), 401);
    await json<ErrorBody>(await api("/v1/projection/status"), 401);
  });
});

describe("what a reconciliation costs", () => {
  it("a regular run asks only the containers that moved since the run before; a full sweep asks every one", async () => {
    // Later than anything else in this file (and last in it), so that earlier containers count as long quiet.
    const start = Date.now() + 2 * 3600_000;
    const at = (minutes: number) => vi.useFakeTimers({ now: start + minutes * 60_000, toFake: ["Date"] });
    try {
      at(0);
      const quiet = uniqueContainer("quiet");
      await json(await postReadings(key, { containerId: quiet, fillPercent: 70 }), 200);
      await converged(quiet);
      at(30);
      const first = await reconcile();
      expect(first.sweep).toBe("changed");
      expect(first.containersWoken).toBeGreaterThanOrEqual(1);
      at(31);
      const moved = uniqueContainer("moved");
      await json(await postReadings(key, { containerId: moved, fillPercent: 71 }), 200);
      await converged(moved);
      at(45);
      // Only the container that committed since the last run (less 10 minutes) is woken.
      const second = await reconcile();
      expect(second).toMatchObject({ sweep: "changed", containersWoken: 1, containersBehind: 0, failures: 0 });
      expect(second.postgresMs).toBeGreaterThan(0);
      expect(second.wallMs).toBeGreaterThanOrEqual(second.postgresMs);
      // A full sweep asks every container the index knows.
      const known = (await env.CONTAINER_INDEX.getByName("containers").list("", 100_000)).length;
      const full = await reconcile("full");
      expect(full.sweep).toBe("full");
      expect(full.containersWoken).toBeGreaterThanOrEqual(known);
      // Then nothing has moved: the next regular run wakes none.
      at(50);
      expect((await reconcile()).containersWoken).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
