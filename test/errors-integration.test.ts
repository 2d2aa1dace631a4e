import { createScheduledController, env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { ErrorChange, ErrorRecord } from "../domain/errors";
import { like } from "drizzle-orm";
import type { ContainerDO } from "../durable-objects/container";
import { withDatabase } from "../workers/db/client";
import { deadLetters } from "../workers/db/schema";
import worker from "../workers/index";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  openErrorStream,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  watchProjectionQueue,
  withDatabaseDown,
  type Page,
  type ErrorBody,
  type DeadLetter,
  type StreamMessage,
} from "./helpers";

let admin: string;
let viewer: string;
let operator: string;

beforeAll(async () => {
  admin = await adminToken();
  viewer = await personWith("viewer");
  operator = await personWith("operator");
});

const fail = () => api("/v1/diagnostics/fail", { method: "POST", token: admin });
const changesFor = (messages: StreamMessage[], id: string): ErrorChange[] =>
  messages.filter((m): m is ErrorChange => m.record?.id === id);

async function recordsWhere(predicate: (r: ErrorRecord) => boolean, what: string): Promise<ErrorRecord> {
  return eventually(
    async () => {
      const body = await json<Page<"errors", ErrorRecord>>(await api("/v1/errors?limit=500", { token: viewer }), 200);
      return (body.errors as ErrorRecord[]).find(predicate);
    },
    20_000,
    what,
  );
}

describe("the error stream", () => {
  it("is refused without a valid viewer token, and without an upgrade", async () => {
    expect((await openErrorStream(null)).res.status).toBe(401);
    expect((await openErrorStream(null, undefined, { protocols: ["fillgrid", "bearer.not-a-token"] })).res.status).toBe(
      401,
    );
    const plain = await api("/v1/errors/stream", { token: viewer });
    expect(plain.status).toBe(426);
  });

  it("a route that throws: 500 with a request id, the record reaches the dashboard and the store; again → updated, count 2", async () => {
    const dashboard = await openErrorStream(viewer);
    await eventually(async () => dashboard.messages.find((m) => m.type === "ready"));

    const res = await fail();
    const body = await json<ErrorBody>(res, 500);
    expect(body.error.code).toBe("internal");
    expect(body.error.requestId).toBe(res.headers.get("X-Request-Id"));

    const stored = await recordsWhere((r) => r.context.requestId === body.error.requestId, "record in the store");
    expect(stored).toMatchObject({
      source: "worker",
      name: "DiagnosticError",
      count: 1,
      status: "open",
      context: { route: "/v1/diagnostics/fail", method: "POST" },
    });
    expect(stored.stack).toMatch(/DiagnosticError/);
    const created = await eventually(async () =>
      changesFor(dashboard.messages, stored.id).find((m) => m.type === "error.created"),
    );
    // Pushed: what a list shows, and nothing more (no stack, context or fingerprint).
    expect(created.record).toEqual({
      id: stored.id,
      name: "DiagnosticError",
      message: stored.message,
      source: "worker",
      count: 1,
      firstSeen: stored.firstSeen,
      lastSeen: stored.lastSeen,
      status: "open",
      resolvedAt: null,
      resolvedBy: null,
    });
    // Opened by a person: the whole record by its id.
    expect(
      (await json<{ record: ErrorRecord }>(await api(`/v1/errors/${stored.id}`, { token: viewer }), 200)).record,
    ).toEqual(stored);

    const again = await json<ErrorBody>(await fail(), 500);
    const updated = await eventually(async () =>
      changesFor(dashboard.messages, stored.id).find((m) => m.type === "error.updated" && m.record.count === 2),
    );
    expect(updated.record).toMatchObject({ id: stored.id, count: 2, firstSeen: stored.firstSeen });
    expect(Object.keys(updated.record)).not.toContain("stack");
    expect(updated.seq).toBeGreaterThan(created.seq);
    const whole = (await json<{ record: ErrorRecord }>(await api(`/v1/errors/${stored.id}`, { token: viewer }), 200))
      .record;
    expect(whole).toMatchObject({
      count: 2,
      context: { requestId: again.error.requestId },
      fingerprint: stored.fingerprint,
    });
    expect(whole.stack).toMatch(/DiagnosticError/);
    dashboard.socket!.close();
  });

  it("one record by id: the whole record for a viewer; unknown → 404, not an id → 400, no token → 401", async () => {
    const record = await recordsWhere((r) => r.name === "DiagnosticError", "a record");
    expect(
      (await json<{ record: ErrorRecord }>(await api(`/v1/errors/${record.id}`, { token: viewer }), 200)).record.id,
    ).toBe(record.id);
    await json(await api("/v1/errors/err_00000000000000000000000000", { token: viewer }), 404);
    await json(await api("/v1/errors/not-an-id", { token: viewer }), 400);
    await json(await api(`/v1/errors/${record.id}`), 401);
  });

  it("the reference describes the stream's message: an ErrorChange carrying an ErrorSummary", async () => {
    const doc = await json<{
      components: { schemas: Record<string, { properties?: Record<string, { $ref?: string }> }> };
    }>(await api("/openapi.json"), 200);
    expect(doc.components.schemas.ErrorChange?.properties?.record?.$ref).toBe("#/components/schemas/ErrorSummary");
    expect(Object.keys(doc.components.schemas.ErrorSummary?.properties ?? {})).not.toContain("stack");
  });

  it("resolve pushes the change; the same failure after resolve reopens the record", async () => {
    await fail();
    const record = await recordsWhere((r) => r.name === "DiagnosticError" && r.status === "open", "open record");
    const dashboard = await openErrorStream(viewer);
    await json(await api(`/v1/errors/${record.id}/resolve`, { method: "POST", token: viewer }), 403);
    const resolved = await json<{ record: ErrorRecord }>(
      await api(`/v1/errors/${record.id}/resolve`, { method: "POST", token: operator }),
      200,
    );
    expect(resolved.record).toMatchObject({ status: "resolved", resolvedBy: expect.stringMatching(/^operator/) });
    await json(await api(`/v1/errors/${record.id}/resolve`, { method: "POST", token: operator }), 409);
    await json(
      await api(`/v1/errors/err_01ARZ3NDEKTSV4RRFFQ69G5FAV/resolve`, { method: "POST", token: operator }),
      404,
    );
    await eventually(async () => changesFor(dashboard.messages, record.id).find((m) => m.record.status === "resolved"));

    await fail();
    const reopened = await eventually(async () =>
      changesFor(dashboard.messages, record.id).find(
        (m) => m.record.status === "open" && m.record.count > record.count,
      ),
    );
    expect(reopened).toMatchObject({ type: "error.updated", record: { resolvedAt: null } });
    const openOnly = await json<Page<"errors", ErrorRecord>>(
      await api(`/v1/errors?status=open&source=worker`, { token: viewer }),
      200,
    );
    expect(openOnly.errors.map((r: ErrorRecord) => r.id)).toContain(record.id);
    dashboard.socket!.close();
  });

  it("a dashboard that reconnects with the last seq it saw gets what it missed, with no gap and no repeat", async () => {
    const first = await openErrorStream(viewer);
    const ready = await eventually(async () => first.messages.find((m) => m.type === "ready"));
    const lastSeen: number = ready.seq;
    first.socket!.close();

    // Failures of one kind that arrive together become one change; wait until all 4 are counted.
    const hub = env.ERROR_HUB.getByName("errors");
    const before =
      (await hub.list({ limit: 500, source: "worker" })).items.find((r) => r.name === "DiagnosticError")?.count ?? 0;
    for (let i = 0; i < 4; i++) await json(await fail(), 500);
    await eventually(async () => {
      const record = (await hub.list({ limit: 500, source: "worker" })).items.find((r) => r.name === "DiagnosticError");
      return record && record.count >= before + 4 ? record : undefined;
    });
    const hubSeq = await hub.latestSeq();
    expect(hubSeq).toBeGreaterThan(lastSeen);
    const second = await openErrorStream(viewer, lastSeen);
    const ready2 = await eventually(async () => second.messages.find((m) => m.type === "ready"));
    const missed = second.messages.filter((m) => typeof m.seq === "number" && m.type !== "ready");
    expect(missed.map((m) => m.seq)).toEqual(Array.from({ length: hubSeq - lastSeen }, (_, i) => lastSeen + 1 + i));
    expect(ready2.seq).toBe(hubSeq);
    expect(second.messages.indexOf(ready2)).toBe(missed.length);

    // Live changes continue from there, none repeated.
    await json(await fail(), 500);
    await eventually(async () => second.messages.find((m) => m.seq === hubSeq + 1));
    const seqs = second.messages.filter((m) => m.type !== "ready").map((m) => m.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    second.socket!.close();
  });

  it("many dashboards each receive every push exactly once", async () => {
    const dashboards = await Promise.all(Array.from({ length: 25 }, () => openErrorStream(viewer)));
    await eventually(async () =>
      dashboards.every((d) => d.messages.some((m) => m.type === "ready")) ? true : undefined,
    );
    const hub = env.ERROR_HUB.getByName("errors");
    const start = await hub.latestSeq();
    for (let i = 0; i < 3; i++) {
      await json(await fail(), 500);
      await eventually(async () => ((await hub.latestSeq()) > start + i ? true : undefined));
    }
    const end = await hub.latestSeq();
    const expected = Array.from({ length: end - start }, (_, i) => start + 1 + i);
    await eventually(async () =>
      dashboards.every((d) => d.messages.filter((m) => m.type !== "ready" && m.seq > start).length >= expected.length)
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    for (const d of dashboards) {
      const seqs = d.messages.filter((m) => m.type !== "ready" && m.seq > start).map((m) => m.seq);
      expect(seqs).toEqual(expected);
      d.socket!.close();
    }
  });

  it("answers ping with pong without waking the hub's code", async () => {
    const dashboard = await openErrorStream(viewer);
    const pong = new Promise<string>((resolve) =>
      dashboard.socket!.addEventListener("message", (e) => e.data === "pong" && resolve("pong")),
    );
    dashboard.messages.length = 0;
    dashboard.socket!.send("ping");
    expect(await pong).toBe("pong");
    dashboard.socket!.close();
  });
});

describe("capture everywhere", () => {
  it("a failure inside a ContainerDO becomes a record with the container", async () => {
    const id = uniqueContainer("dofail");
    const key = (await deviceKey()).key;
    // A new container sends its first events itself, and its queue refuses them.
    await watchProjectionQueue(id, async () => {
      throw new Error(`queue refused batch for ${id}`);
    });
    await json(await postReadings(key, reading(id, 40)), 200);
    const record = await recordsWhere(
      (r) => r.source === "durable-object" && r.context.containerId === id,
      "DO record",
    );
    expect(record).toMatchObject({ message: `queue refused batch for ${id}`, context: { object: "ContainerDO" } });
  });

  it("a failing storage transaction inside a ContainerDO is a 500 for the caller and a record", async () => {
    const id = uniqueContainer("dotx");
    const key = (await deviceKey()).key;
    await json(await postReadings(key, reading(id, 70)), 200);
    await runInDurableObject(env.CONTAINERS.getByName(id), (_instance: ContainerDO, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON log BEGIN SELECT RAISE(ABORT, 'storage refused the write'); END",
      );
    });
    const res = await postReadings(key, reading(id, 20));
    expect(res.status).toBe(500);
    const record = await recordsWhere(
      (r) => r.source === "durable-object" && r.context.containerId === id,
      "DO commit record",
    );
    expect(record.message).toMatch(/storage refused the write/);
    expect(await env.CONTAINERS.getByName(id).getState()).toMatchObject({ fillPercent: 70, activeOrder: null });
  });

  it("a failing consumer message becomes a record", async () => {
    const marker = crypto.randomUUID();
    await env.PROJECTION_QUEUE.send({ event: { id: marker } });
    const record = await recordsWhere(
      (r) => r.source === "consumer" && r.message.includes("not a change message"),
      "consumer record",
    );
    expect(record.context).toMatchObject({ queue: "fillgrid-projection" });
  });

  it("a failing cron run becomes a record", async () => {
    const controller = createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() });
    const broken = withDatabaseDown();
    await expect(worker.scheduled(controller, broken)).rejects.toThrow();
    const record = await recordsWhere((r) => r.source === "cron", "cron record");
    expect(record.context).toMatchObject({ cron: "0 3 * * *", job: "daily housekeeping" });
  });

  it("daily housekeeping removes dead letters replayed over 30 days ago and keeps the rest", async () => {
    const marker = crypto.randomUUID();
    const day = 24 * 3600_000;
    await withDatabase(env, (db) =>
      db.insert(deadLetters).values([
        {
          queue: "fillgrid-projection",
          messageId: `old-${marker}`,
          body: {},
          attempts: 4,
          replayedAt: new Date(Date.now() - 40 * day).toISOString(),
        },
        {
          queue: "fillgrid-projection",
          messageId: `recent-${marker}`,
          body: {},
          attempts: 4,
          replayedAt: new Date(Date.now() - 2 * day).toISOString(),
        },
        { queue: "fillgrid-projection", messageId: `pending-${marker}`, body: {}, attempts: 4 },
      ]),
    );
    const controller = createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() });
    await worker.scheduled(controller, env);
    const left = await withDatabase(env, (db) =>
      db
        .select({ id: deadLetters.messageId })
        .from(deadLetters)
        .where(like(deadLetters.messageId, `%${marker}`)),
    );
    expect(left.map((r) => r.id).sort()).toEqual([`pending-${marker}`, `recent-${marker}`]);
  });

  it("a dead-lettered message becomes a record, and can be replayed", async () => {
    const marker = crypto.randomUUID();
    await env.PROJECTION_QUEUE.send({ poison: marker });
    const record = await recordsWhere((r) => r.source === "dead-letter", "dead-letter record");
    expect(record).toMatchObject({ name: "DeadLetter", context: { queue: "fillgrid-projection" } });
    const letters = await eventually(async () => {
      const body = await json<Page<"deadLetters", DeadLetter>>(
        await api("/v1/dead-letters?pending=true", { token: admin }),
        200,
      );
      return body.deadLetters.find((d) => JSON.stringify(d.body).includes(marker));
    });
    const replayed = await json<{ deadLetter: DeadLetter }>(
      await api(`/v1/dead-letters/${letters.id}/replay`, { method: "POST", token: admin }),
      200,
    );
    expect(replayed.deadLetter.replayedAt).not.toBeNull();
    await json(await api(`/v1/dead-letters/999999999/replay`, { method: "POST", token: admin }), 404);
    await json(await api(`/v1/dead-letters`, { token: viewer }), 403);
  });

  it("client mistakes are not errors", async () => {
    const paths = ["/v1/containers/bad%20id", "/v1/nowhere", "/v1/users"];
    await json(await api(paths[0]!, { token: viewer }), 400);
    await json(await api(paths[1]!, { token: viewer }), 404);
    await json(await api(paths[2]!, { token: viewer }), 403);
    // A real failure sent after them arrives; by then any record of theirs would have too.
    const res = await fail();
    const requestId = (await json<ErrorBody>(res, 500)).error.requestId;
    await recordsWhere((r) => r.context.requestId === requestId, "the failure after the mistakes");
    const { items } = await env.ERROR_HUB.getByName("errors").list({ limit: 500 });
    expect(items.filter((r) => paths.includes(String(r.context.path)))).toEqual([]);
  });
});

describe("GET /v1/errors", () => {
  it("pages by last seen without repeats, and refuses bad parameters", async () => {
    const all: ErrorRecord[] = [];
    let cursor: string | null = null;
    do {
      const body: Page<"errors", ErrorRecord> = await json<Page<"errors", ErrorRecord>>(
        await api(`/v1/errors?limit=1${cursor ? `&cursor=${cursor}` : ""}`, { token: viewer }),
        200,
      );
      all.push(...body.errors);
      cursor = body.nextCursor;
    } while (cursor);
    expect(all.length).toBeGreaterThan(1);
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    const keys = all.map((r) => `${r.lastSeen}|${r.id}`);
    expect([...keys].sort().reverse()).toEqual(keys);
    const bad = await json<ErrorBody>(await api(`/v1/errors?status=bad&source=moon`, { token: viewer }), 400);
    expect(bad.error.issues!.map((i: { path: string }) => i.path).sort()).toEqual(["source", "status"]);
  });
});
