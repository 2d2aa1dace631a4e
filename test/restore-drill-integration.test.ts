// The restore drill inside the runtime: a workload (readings, manual orders, a partner's steps to a
// delivered order with its sales document, people and keys), backed up, then everything this
// system holds wiped — the containers, the directory, device keys, alert rules, document numbers,
// and their rows in Postgres — and restored from the backup bucket alone. Everything compares equal,
// and a key and a login from before still work. A second drill restores to a moment in the middle.
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { Order } from "../domain/container";
import { takeHourlyBackup } from "../workers/backups";
import { withDatabase } from "../workers/db/client";
import { issueDocuments } from "../workers/documents/issue";
import { BACKUP_QUEUE } from "../workers/queues";
import { containerIndex, directory } from "../workers/stubs";
import {
  adminToken,
  api,
  containerHoldings,
  deliverBatch,
  deviceKey,
  eventually,
  json,
  login,
  newPartner,
  partnerEvent,
  postReadings,
  reading,
  uniqueContainer,
  wipeObject,
} from "./helpers";

const HOUR = 3_600_000;
let admin: string;
beforeAll(async () => {
  admin = await adminToken();
});

const wipe = wipeObject;
const holdings = containerHoldings;

/** The Postgres rows of these containers and this partner, as a restore must rebuild them. */
function rows(ids: string[], partnerId: string) {
  const list = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );
  return withDatabase(env, async (db) => {
    const q = async (query: ReturnType<typeof sql>) => (await db.execute<Record<string, unknown>>(query)).rows;
    return {
      containers: await q(
        sql`select id, name, threshold, capacity, fill_percent, contents, measured_at, last_seen_at, active_order_id, forecast, anomalies, version from containers where id in (${list}) order by id`,
      ),
      events: await q(sql`select * from container_events where container_id in (${list}) order by container_id, seq`),
      readings: await q(sql`select * from readings where container_id in (${list}) order by container_id, reading_id`),
      orders: await q(sql`select * from orders where container_id in (${list}) order by id`),
      days: await q(sql`select * from container_days where container_id in (${list}) order by container_id, day`),
      documents: await q(sql`select * from sales_documents where partner_id = ${partnerId} order by id`),
      prices: await q(sql`select * from prices where partner_id = ${partnerId} order by product`),
    };
  });
}

async function dropRows(ids: string[], partnerId: string) {
  const list = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  );
  await withDatabase(env, async (db) => {
    for (const table of ["readings", "container_events", "orders", "anomalies", "container_days"])
      await db.execute(sql`delete from ${sql.raw(table)} where container_id in (${list})`);
    await db.execute(sql`delete from containers where id in (${list})`);
    await db.execute(sql`delete from sales_documents where partner_id = ${partnerId}`);
    await db.execute(sql`delete from prices where partner_id = ${partnerId}`);
  });
}

/** Each container's whole log handed to the backup queue's consumer, as the projection passes it on. */
async function backUp(ids: string[]) {
  for (const id of ids) {
    const s = env.CONTAINERS.getByName(id);
    await deliverBatch(BACKUP_QUEUE, [
      {
        range: true,
        containerId: id,
        events: await s.listEvents(0, 10_000),
        state: await s.getState(),
        orders: [],
      },
    ]);
  }
}

/** Everything of this system's objects wiped: containers, directory, device keys, alerts, counters, and the rows in Postgres. */
async function wipeAll(ids: string[], partnerId: string) {
  const keys = await directory(env).listDeviceKeys();
  for (const id of ids) await wipe(env.CONTAINERS.getByName(id));
  for (const k of keys) await wipe(env.DEVICE_KEYS.getByName(k.id));
  await wipe(env.DIRECTORY.getByName("directory"));
  await wipe(env.CONTAINER_INDEX.getByName("containers"));
  await wipe(env.ALERTS.getByName("alerts"));
  await wipe(env.DOCUMENT_COUNTERS.getByName(`${partnerId}:${new Date().getUTCFullYear()}`));
  await dropRows(ids, partnerId);
}

const restoreAt = async (at?: string) => {
  // Signing in again makes the first admin from configuration, the only one a wiped directory has.
  const token = await login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  return json<{
    snapshot: { people: number } | null;
    containers: number;
    documents: number;
    refused: { containerId: string; reason: string }[];
  }>(await api("/v1/backups/restore", { method: "POST", token, json: at ? { at } : {} }), 200);
};

describe("the restore drill", () => {
  it("wipes a working system and brings all of it back from the backup", async () => {
    const { key, id: keyId } = await deviceKey();
    const partner = await newPartner();
    await json(
      await api(`/v1/partners/${partner.id}/prices`, {
        method: "PUT",
        token: admin,
        json: { currency: "EUR", prices: [{ product: "diesel", unit: "l", unitPrice: 1.5, vatRate: 0.2 }] },
      }),
      200,
    );
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email: "drill@fillgrid.test", password: "a long drill password", role: "operator" },
      }),
      201,
    );
    const ids = [uniqueContainer("drill"), uniqueContainer("drill")];
    const [a, b] = ids as [string, string];
    await json(
      await api(`/v1/containers/${a}`, { method: "PUT", token: admin, json: { capacity: 8000, unit: "l" } }),
      200,
    );
    const opened = (await json<{ results: { orderOpened?: Order }[] }>(await postReadings(key, reading(a, 25)), 200))
      .results[0]!.orderOpened!;
    for (const [type, data] of [
      ["order.accepted", {}],
      ["order.dispatched", { eta: new Date(Date.now() + HOUR).toISOString(), vehicle: "ZH 1" }],
      ["order.delivered", { lines: [{ product: "diesel", quantity: 6000, unit: "l" }], deliveryNote: "DN-1" }],
    ] as const)
      await json(await partnerEvent(partner, { type, containerId: a, orderId: opened.id, data }), 200);
    await json(await postReadings(key, { readings: [90, 80, 70].map((f) => reading(b, f)) }), 200);
    const manual = await json<{ order: Order }>(
      await api(`/v1/containers/${b}/orders`, { method: "POST", token: admin }),
      201,
    );
    await json(await api(`/v1/containers/${b}/orders/${manual.order.id}/close`, { method: "POST", token: admin }), 200);
    // The delivered order's document, once Postgres has the delivery.
    await eventually(
      async () => ((await issueDocuments(env, { partnerIds: [partner.id] })).issued > 0 ? true : undefined),
      20_000,
      "a document",
    );

    const before = { a: await holdings(a), b: await holdings(b) };
    const people = await json<{ users: unknown[] }>(await api("/v1/users?limit=500", { token: admin }), 200);
    const keys = await directory(env).listDeviceKeys();
    const partners = await directory(env).listPartners();
    const versions = new Map([
      [a, before.a.state!.version],
      [b, before.b.state!.version],
    ]);
    const beforeRows = await eventually(async () => {
      const r = await rows(ids, partner.id);
      const current = r.containers.every((c) => Number(c.version) === versions.get(String(c.id)));
      return r.documents.length === 1 && r.containers.length === 2 && current ? r : undefined;
    });

    const docs = await json<{ documents: { id: string; links: { csv: string; html: string } }[] }>(
      await api(`/v1/documents?partnerId=${partner.id}&limit=10`, { token: admin }),
      200,
    );
    const csvLink = docs.documents[0]!.links.csv;
    const csvBefore = await (await api(csvLink, { token: admin })).text();
    expect(csvBefore).toContain(docs.documents[0]!.id);

    await backUp(ids);
    const backup = await takeHourlyBackup(env, Date.now() + HOUR);
    const manifest = JSON.parse(await (await env.BACKUPS.get(backup.key))!.text()) as {
      containers: Record<string, number>;
    };
    expect([manifest.containers[a], manifest.containers[b]]).toEqual([
      before.a.state!.version,
      before.b.state!.version,
    ]);
    await wipeAll(ids, partner.id);
    const files = await env.DOCUMENTS.list({ prefix: `documents/${partner.id}/` });
    await env.DOCUMENTS.delete(files.objects.map((o) => o.key));
    expect(await env.CONTAINERS.getByName(a).getState()).toBeNull();

    const summary = await restoreAt();
    expect(summary.snapshot).not.toBeNull();
    expect(summary.documents).toBeGreaterThanOrEqual(2);
    expect(summary.refused.filter((r) => ids.includes(r.containerId))).toEqual([]);
    expect(await holdings(a)).toEqual(before.a);
    expect(await holdings(b)).toEqual(before.b);
    const token = await login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
    expect(await json(await api("/v1/users?limit=500", { token }), 200)).toEqual(people);
    expect(await directory(env).listDeviceKeys()).toEqual(keys);
    expect(await directory(env).listPartners()).toEqual(partners);
    // Postgres, rebuilt by the projection from the restored containers, equals what it was.
    await eventually(
      async () => {
        const now = await rows(ids, partner.id);
        try {
          expect(now).toEqual(beforeRows);
          return true;
        } catch {
          return undefined;
        }
      },
      20_000,
      "Postgres rebuilt",
    );
    // The sales document's file is served as it was.
    expect(await (await api(csvLink, { token })).text()).toBe(csvBefore);
    // A login and a device key from before still work; the containers go on from where they were.
    expect(await login("drill@fillgrid.test", "a long drill password")).toBeTruthy();
    const next = await json<{ results: { status: string }[] }>(await postReadings(key, reading(b, 65)), 200);
    expect(next.results[0]!.status).toBe("applied");
    expect((await env.CONTAINERS.getByName(b).getState())!.version).toBe(before.b.state!.version + 1);
    expect(keys.some((k) => k.id === keyId)).toBe(true);
    await eventually(async () =>
      (await containerIndex(env).list("", 10_000)).filter((id) => ids.includes(id)).length === 2 ? true : undefined,
    );
  });

  it("to a moment in the middle: each container as it was then, and the people and keys of the snapshot before it", async () => {
    const { key } = await deviceKey();
    const partner = await newPartner();
    const c = uniqueContainer("drill-pit");
    await json(await postReadings(key, { readings: [95, 85].map((f) => reading(c, f)) }), 200);
    await json(await api(`/v1/containers/${c}`, { method: "PUT", token: admin, json: { threshold: 60 } }), 200);
    await backUp([c]);
    await takeHourlyBackup(env, Date.now());
    const moment = Date.now();
    const then = await holdings(c);
    const thenRows = await eventually(async () => {
      const r = await rows([c], partner.id);
      return Number(r.containers[0]?.version) === then.state!.version ? r : undefined;
    });
    const people = await json<{ users: { email: string }[] }>(await api("/v1/users?limit=500", { token: admin }), 200);
    await new Promise((resolve) => setTimeout(resolve, 20));

    // After the moment: more readings, an order, a new person.
    await json(await postReadings(key, { readings: [55, 50].map((f) => reading(c, f)) }), 200);
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email: "later@fillgrid.test", password: "a long later password", role: "viewer" },
      }),
      201,
    );
    await backUp([c]);
    await takeHourlyBackup(env, Date.now() + HOUR);
    expect((await holdings(c)).state!.activeOrder).not.toBeNull();

    await wipeAll([c], partner.id);
    const summary = await restoreAt(new Date(moment).toISOString());
    expect(summary.refused.filter((r) => r.containerId === c)).toEqual([]);
    expect(await holdings(c)).toEqual(then);
    const token = await login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
    const restoredPeople = await json<{ users: { email: string }[] }>(await api("/v1/users?limit=500", { token }), 200);
    expect(restoredPeople).toEqual(people);
    expect(restoredPeople.users.some((u) => u.email === "later@fillgrid.test")).toBe(false);
    await eventually(
      async () => {
        try {
          expect(await rows([c], partner.id)).toEqual(thenRows);
          return true;
        } catch {
          return undefined;
        }
      },
      20_000,
      "Postgres as it was at the moment",
    );
  });
});
