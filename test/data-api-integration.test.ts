import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, inject, it } from "vitest";
import { buildReport } from "../platform/error-report";
import { DataApiClient, DataApiError } from "../workers/errors/data-api";
import { withDatabase } from "../workers/db/client";
import { deadLetters } from "../workers/db/schema";
import worker from "../workers/index";
import { ERRORS_DEAD_LETTER_QUEUE, ERRORS_QUEUE } from "../workers/queues";
import { eventually } from "./helpers";

const standIn = inject("dataApi");

async function control(settings: Record<string, unknown>) {
  await fetch(`${standIn.controlUrl}/__control`, { method: "POST", body: JSON.stringify(settings) });
}
async function sentRequests(): Promise<
  Array<{ method: string; path: string; headers: Record<string, string>; body: string }>
> {
  return (await fetch(`${standIn.controlUrl}/__requests`)).json();
}

const collection = () => `errors_${crypto.randomUUID().slice(0, 8)}`;
function client(extra: Partial<ConstructorParameters<typeof DataApiClient>[0]> = {}) {
  return new DataApiClient({
    url: standIn.url,
    apiKey: standIn.apiKey,
    dataSource: "mongodb-atlas",
    database: "fillgrid",
    collection: collection(),
    ...extra,
  });
}

afterEach(() => control({ failNext: 0, delayMs: 0 }));

describe("the Data API client", () => {
  it("speaks the wire contract: action paths, apiKey header, EJSON body naming the collection", async () => {
    const api = client();
    const seenAt = new Date("2026-05-01T10:00:00.000Z");
    await api.insertOne({ _id: "err_1", fingerprint: "abc", count: 1, lastSeen: seenAt });
    const requests = await sentRequests();
    const insert = requests.at(-1)!;
    expect(insert.method).toBe("POST");
    expect(insert.path).toMatch(/\/endpoint\/data\/v1\/action\/insertOne$/);
    expect(insert.headers.apikey).toBe(standIn.apiKey);
    expect(insert.headers["content-type"]).toBe("application/ejson");
    const body = JSON.parse(insert.body);
    expect(body).toMatchObject({
      dataSource: "mongodb-atlas",
      database: "fillgrid",
      document: { _id: "err_1", lastSeen: { $date: expect.any(String) } },
    });
    expect(Date.parse(body.document.lastSeen.$date)).toBe(seenAt.getTime());
    expect(typeof body.collection).toBe("string");

    const found = await api.findOne({ fingerprint: "abc" });
    expect(found).toMatchObject({ _id: "err_1", count: 1 });
    expect(found!.lastSeen).toBeInstanceOf(Date);
    expect((found!.lastSeen as Date).toISOString()).toBe(seenAt.toISOString());
  });

  it("updates with operators, finds with date ranges, sorts and limits, aggregates", async () => {
    const api = client();
    for (let i = 0; i < 5; i++) {
      await api.insertOne({ _id: `e${i}`, count: i, lastSeen: new Date(Date.UTC(2026, 0, 1 + i)) });
    }
    const updated = await api.updateOne(
      { _id: "e1" },
      { $inc: { count: 10 }, $max: { lastSeen: new Date(Date.UTC(2026, 1, 1)) } },
    );
    expect(updated).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    const recent = await api.find(
      { lastSeen: { $gte: new Date(Date.UTC(2026, 0, 3)) } },
      { sort: { lastSeen: -1 }, limit: 2 },
    );
    expect(recent.map((d) => d._id)).toEqual(["e1", "e4"]);
    expect(recent[0]!.count).toBe(11);
    const upserted = await api.updateOne({ _id: "new" }, { $set: { count: 1 } }, true);
    expect(upserted.upsertedId).toBe("new");
    const counted = await api.aggregate([{ $match: { count: { $gte: 1 } } }, { $count: "n" }]);
    expect(counted).toEqual([{ n: 5 }]);
  });

  it("refuses what the service refuses", async () => {
    const api = client();
    await expect(api.updateOne({ _id: "x" }, { count: 2 })).rejects.toThrow(/atomic operators/);
    const wrongKey = client({ apiKey: "wrong" });
    const error = await wrongKey.findOne({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiError);
    expect(error).toMatchObject({ status: 401, action: "findOne" });
    expect((error as Error).message).toMatch(/invalid session/);
    await api.insertOne({ _id: "dup" });
    await expect(api.insertOne({ _id: "dup" })).rejects.toThrow(/Duplicate key/);
  });

  it("gives up on a stalled endpoint after its timeout", async () => {
    await control({ delayMs: 1500 });
    const error = await client({ timeoutMs: 200 })
      .findOne({})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiError);
    expect((error as Error).message).toMatch(/no answer within 200 ms/);
  });

  it("reports a failing endpoint with its status", async () => {
    await control({ failNext: 1, failStatus: 503 });
    await expect(client().findOne({})).rejects.toMatchObject({ status: 503 });
  });
});

describe("the error store on a Data API endpoint", () => {
  const storeEnv = () => ({
    ...env,
    ERROR_STORE_URL: standIn.url,
    ERROR_STORE_API_KEY: standIn.apiKey,
    ERROR_STORE_COLLECTION: collection(),
  });

  async function reports(n: number, message = "disk full on /var/data") {
    return Promise.all(
      Array.from({ length: n }, () => buildReport(new Error(message), "consumer", "test", { queue: "q" })),
    );
  }

  async function deliver(e: Env, queue: string, bodies: unknown[]) {
    const batch = createMessageBatch<unknown>(
      queue,
      bodies.map((body, i) => ({ id: `m-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, e);
    return getQueueResult(batch, ctx);
  }

  it("groups reports into one record with a count, and pushes each change to the hub", async () => {
    const e = storeEnv();
    const hub = env.ERROR_HUB.getByName("errors");
    const before = await hub.latestSeq();
    const first = await deliver(e, ERRORS_QUEUE, await reports(2));
    expect(first.explicitAcks).toHaveLength(2);
    const second = await deliver(e, ERRORS_QUEUE, await reports(1));
    expect(second.explicitAcks).toHaveLength(1);

    const api = new DataApiClient({
      url: standIn.url,
      apiKey: standIn.apiKey,
      dataSource: "mongodb-atlas",
      database: "fillgrid",
      collection: e.ERROR_STORE_COLLECTION,
    });
    const docs = await api.find({});
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ count: 3, status: "open", source: "consumer", message: "disk full on /var/data" });
    expect(docs[0]!.lastSeen).toBeInstanceOf(Date);

    const changes = await hub.changesSince(before);
    const mine = changes.filter((c) => c.record.id === docs[0]!._id);
    expect(mine.map((c) => c.type)).toEqual(["error.created", "error.updated"]);
    expect(mine.map((c) => c.record.count)).toEqual([2, 3]);
  });

  it("lists and resolves through the endpoint", async () => {
    const e = storeEnv();
    await deliver(e, ERRORS_QUEUE, [
      ...(await reports(1, "first failure")),
      ...(await reports(1, "second failure kind")),
    ]);
    const { errorStore } = await import("../workers/errors/store");
    const store = errorStore(e);
    const page1 = await store.list({ limit: 1 });
    const page2 = await store.list({ limit: 1, before: page1.next! });
    expect([...page1.items, ...page2.items].map((r) => r.message).sort()).toEqual([
      "first failure",
      "second failure kind",
    ]);
    expect(page2.next).toBeNull();
    const resolved = await store.resolve(page1.items[0]!.id, "op@fillgrid.test");
    expect(resolved).toMatchObject({ ok: true, record: { status: "resolved", resolvedBy: "op@fillgrid.test" } });
    expect(await store.resolve(page1.items[0]!.id, "op@fillgrid.test")).toMatchObject({
      ok: false,
      reason: "not_open",
    });
    expect((await store.list({ limit: 10, status: "open" })).items).toHaveLength(1);
  });

  it("an outage loses nothing: every report is retried, and lands once the endpoint is back", async () => {
    const e = storeEnv();
    const bodies = await reports(3, "queue lag above limit");
    await control({ failNext: 100, failStatus: 503 });
    const failed = await deliver(e, ERRORS_QUEUE, bodies);
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages).toHaveLength(3);

    await control({ failNext: 0 });
    const retried = await deliver(e, ERRORS_QUEUE, bodies);
    expect(retried.explicitAcks).toHaveLength(3);
    const api = new DataApiClient({
      url: standIn.url,
      apiKey: standIn.apiKey,
      dataSource: "mongodb-atlas",
      database: "fillgrid",
      collection: e.ERROR_STORE_COLLECTION,
    });
    expect(await api.find({})).toMatchObject([{ count: 3 }]);
  });

  it("a stalled endpoint is retried like a failing one", async () => {
    const e = { ...storeEnv(), ERROR_STORE_TIMEOUT_MS: "200" };
    await control({ delayMs: 1000 });
    const result = await deliver(e as Env, ERRORS_QUEUE, await reports(1));
    expect(result.retryMessages).toHaveLength(1);
  });

  it("dead error reports: each is acked once, even when recording one in the ErrorHub fails; that failure is an error record of its own", async () => {
    const e = storeEnv();
    const marker = crypto.randomUUID();
    const dead = await reports(3, `error store gone ${marker}`);
    // The ErrorHub refuses the first report handed to it, as an object with broken storage would.
    let calls = 0;
    const hub = env.ERROR_HUB.getByName("errors");
    const failingHub = {
      getByName: () => ({
        record: async (reports: Parameters<typeof hub.record>[0]) => {
          if (++calls === 1) throw new Error(`error hub unavailable ${marker}`);
          return hub.record(reports);
        },
      }),
    } as unknown as Env["ERROR_HUB"];
    const result = await deliver({ ...e, ERROR_HUB: failingHub }, ERRORS_DEAD_LETTER_QUEUE, dead);
    expect(result.explicitAcks).toHaveLength(3);
    expect(result.retryMessages).toEqual([]);
    expect(calls).toBe(3);
    const rows = await withDatabase(env, (db) =>
      db.select().from(deadLetters).where(inArray(deadLetters.messageId, result.explicitAcks)),
    );
    expect(rows).toHaveLength(3);
    // The hub's failure went through the errors queue like any other.
    await eventually(
      async () =>
        (await hub.list({ limit: 500 })).items.find(
          (r) => r.message === `error hub unavailable ${marker}` && r.source === "dead-letter",
        ),
      15_000,
      "the hub's failure recorded",
    );
  });

  it("reports that exhausted their retries are kept as dead letters and still reach the dashboards", async () => {
    const e = storeEnv();
    const [report] = await reports(1, `store down for ${crypto.randomUUID()}`);
    const hub = env.ERROR_HUB.getByName("errors");
    const result = await deliver(e, ERRORS_DEAD_LETTER_QUEUE, [report]);
    expect(result.explicitAcks).toHaveLength(1);
    const rows = await withDatabase(env, (db) =>
      db.select().from(deadLetters).where(eq(deadLetters.messageId, result.explicitAcks[0]!)),
    );
    expect(rows).toMatchObject([{ queue: "fillgrid-errors", body: { reportId: report!.reportId } }]);
    const { items } = await hub.list({ limit: 500 });
    expect(items.find((r) => r.message === report!.message)).toMatchObject({ count: 1, source: "consumer" });
  });
});
