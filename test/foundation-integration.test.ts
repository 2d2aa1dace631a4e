import {
  createExecutionContext,
  createMessageBatch,
  env,
  evictDurableObject,
  getQueueResult,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import type { ErrorRecord } from "../domain/errors";
import type { DeviceKeyDO } from "../durable-objects/device-key";
import { withDatabase } from "../workers/db/client";
import { deadLetters } from "../workers/db/schema";
import worker from "../workers/index";
import { relayRanges } from "../workers/projection/relay";
import {
  DEAD_LETTER_QUEUE,
  deadLetterRetryDelay,
  PARKED_DEAD_LETTER_QUEUE,
  PROJECTION_QUEUE,
  projectChanges,
  Settlement,
} from "../workers/queues";
import { usageNow } from "../platform/usage";
import { adminToken, api, deviceKey, eventually, json, withDatabaseDown } from "./helpers";

const recordNamed = (name: string) =>
  eventually(
    async () =>
      (await env.ERROR_HUB.getByName("errors").list({ limit: 500 })).items.find((r: ErrorRecord) => r.name === name),
    20_000,
    name,
  );

describe("configuration", () => {
  it("a missing JWT_SECRET is a 500 and an error record, not a 401", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://fillgrid.test/v1/users", { headers: { Authorization: "Bearer some.token.here" } }),
      { ...env, JWT_SECRET: "" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const body = await json<{ error: { code: string; requestId: string } }>(res, 500);
    expect(body.error.code).toBe("internal");
    const record = await recordNamed("ConfigurationError");
    expect(record.message).toMatch(/JWT_SECRET is not set/);
  });
});

describe("request logs", () => {
  const requestLines = (spy: { mock: { calls: unknown[][] } }) =>
    spy.mock.calls.map((c) => JSON.parse(String(c[0]))).filter((l) => l.msg === "request");
  const call = async (path: string, rate: string) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`http://fillgrid.test${path}`),
      { ...env, REQUEST_LOG_SAMPLE_RATE: rate },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res.status;
  };

  it("successful requests are logged at REQUEST_LOG_SAMPLE_RATE; answers of 400 and above always", async () => {
    const info = vi.spyOn(console, "log");
    const warn = vi.spyOn(console, "warn");
    try {
      for (let i = 0; i < 20; i++) expect(await call("/healthz", "0")).toBe(200);
      expect(requestLines(info)).toHaveLength(0);
      expect(await call("/v1/no-such-route", "0")).toBe(404);
      expect(requestLines(warn)).toMatchObject([{ level: "warn", path: "/v1/no-such-route", status: 404 }]);
      for (let i = 0; i < 5; i++) await call("/healthz", "1");
      expect(requestLines(info)).toHaveLength(5);
      // Not a rate: every request is logged rather than none.
      await call("/healthz", "lots");
      expect(requestLines(info)).toHaveLength(6);
    } finally {
      info.mockRestore();
      warn.mockRestore();
    }
  });
});

describe("queue consumers", () => {
  it("a message once acked is never retried as well, whatever fails after the ack", async () => {
    const batch = createMessageBatch<unknown>(PROJECTION_QUEUE, [
      { id: "written", timestamp: new Date(), attempts: 1, body: {} },
      { id: "failed", timestamp: new Date(), attempts: 1, body: {} },
    ]);
    const ctx = createExecutionContext();
    const settle = new Settlement();
    const [written, failed] = batch.messages;
    const retriedBefore = usageNow().queueMessagesRetried;
    settle.ack(written!);
    // What a consumer does when closing the database fails after its writes: send back what is not done.
    for (const msg of batch.messages) settle.retry(msg);
    settle.retry(failed!);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["written"]);
    expect(result.retryMessages).toEqual([{ msgId: failed!.id }]);
    // Counted (for the cost figures) as what happened: one retry, not three calls.
    expect(usageNow().queueMessagesRetried - retriedBefore).toBe(1);
  });

  it("with no database, every message goes back once and none is acked", async () => {
    // The database is unreachable: nothing can be written, so every message goes back exactly once.
    const batch = createMessageBatch<unknown>(PROJECTION_QUEUE, [
      { id: "not-a-change", timestamp: new Date(), attempts: 1, body: { hello: "world" } },
    ]);
    const ctx = createExecutionContext();
    await projectChanges(batch, withDatabaseDown());
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["not-a-change"]);
    expect(result.explicitAcks).toEqual([]);
  });

  it("dead letters wait out a Postgres outage: retried with growing delays, then parked, then moved to Postgres", async () => {
    const marker = crypto.randomUUID();
    const down = withDatabaseDown();
    const letter = { id: `dl-${marker}`, timestamp: new Date(), attempts: 4, body: { poison: marker } };
    const first = createMessageBatch<unknown>(DEAD_LETTER_QUEUE, [letter]);
    // The test batch does not keep retry delays, so the call itself is watched.
    const retry = vi.spyOn(first.messages[0]!, "retry");
    const ctx = createExecutionContext();
    await worker.queue(first, down);
    const retried = await getQueueResult(first, ctx);
    expect(retried.explicitAcks).toEqual([]);
    expect(retried.retryMessages).toEqual([{ msgId: letter.id }]);
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 240 });
    expect([1, 2, 3, 10].map(deadLetterRetryDelay)).toEqual([30, 60, 120, 3600]);

    // Its tries used up, the queue moves it to the parked queue, whose consumer needs no database.
    const parked = createMessageBatch<unknown>(PARKED_DEAD_LETTER_QUEUE, [letter]);
    await worker.queue(parked, down);
    expect((await getQueueResult(parked, ctx)).explicitAcks).toEqual([letter.id]);
    const vault = env.DEAD_LETTER_VAULT.getByName("dead-letters");
    expect((await vault.waiting(500)).map((l) => l.messageId)).toContain(letter.id);

    // Postgres is back: the cron job moves it over and the vault lets go.
    const { createScheduledController } = await import("cloudflare:test");
    await worker.scheduled(createScheduledController({ cron: "*/10 * * * *", scheduledTime: Date.now() }), env);
    const rows = await withDatabase(env, (db) =>
      db.select().from(deadLetters).where(eq(deadLetters.messageId, letter.id)),
    );
    expect(rows).toEqual([expect.objectContaining({ queue: "unknown", body: { poison: marker } })]);
    expect((await vault.waiting(500)).map((l) => l.messageId)).not.toContain(letter.id);
    const listed = await json<{ deadLetters: Array<{ messageId: string }> }>(
      await api("/v1/dead-letters?limit=500", { token: await adminToken() }),
      200,
    );
    expect(listed.deadLetters.map((d) => d.messageId)).toContain(letter.id);
  });
});

describe("Durable Object start-up", () => {
  it("a failed start-up is the caller's error, and the next call starts the object afresh", async () => {
    const { id } = await deviceKey();
    const stub = env.DEVICE_KEYS.getByName(id);
    expect(await stub.lookup()).not.toBeNull();
    // Break the stored schema version so the next start-up fails, and start the object anew.
    await runInDurableObject(stub, (_instance: DeviceKeyDO, state) => {
      state.storage.sql.exec("UPDATE _schema SET version = 0");
    });
    await evictDurableObject(stub);
    await runInDurableObject(stub, (instance: DeviceKeyDO, state) => {
      // The start-up failed inside blockConcurrencyWhile without resetting the object; the caller gets it.
      expect(() => instance.lookup()).toThrow(/already exists/);
      expect(() => instance.lookup()).toThrow(/already exists/);
      state.storage.sql.exec("UPDATE _schema SET version = 1");
    });
    expect((await stub.lookup())!.record.id).toBe(id);
  });

  it("an object knows its own name: a container reached by name answers for it", async () => {
    const { key } = await deviceKey();
    const containerId = `named-${crypto.randomUUID().slice(0, 8)}`;
    const { results, relayed } = await env.CONTAINERS.getByName(containerId).ingestRelayed(
      [{ readingId: "n-1", containerId, fillPercent: 70, measuredAt: Date.now(), clockSkewMs: 0, fingerprint: "x" }],
      { kind: "device", id: key.slice(4, 20) },
      Date.now(),
    );
    if (relayed) await relayRanges(env, [{ containerId, relayed }]);
    expect(results[0]).toMatchObject({ containerId, status: "applied" });
    expect((await env.CONTAINERS.getByName(containerId).getState())!.containerId).toBe(containerId);
  });
});
