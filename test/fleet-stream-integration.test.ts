// The live fleet: each batch the projection commits reaches every connected dashboard, with the
// newest state of each container in it; a dashboard that reconnects gets what it missed.
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { FleetContainer } from "../domain/fleet";
import { withDatabase } from "../workers/db/client";
import { containers } from "../workers/db/schema";
import { api, deviceKey, eventually, json, personWith, postReadings, streamTicket, uniqueContainer } from "./helpers";

let viewer: string;
let key: string;

beforeAll(async () => {
  viewer = await personWith("viewer");
  key = (await deviceKey()).key;
});

type FleetMessage = { type: string; seq: number; containers?: FleetContainer[] };

async function openFleet(since?: number) {
  const query = new URLSearchParams({ ticket: await streamTicket(viewer) });
  if (since !== undefined) query.set("since", String(since));
  const res = await exports.default.fetch(`http://fillgrid.test/v1/fleet/stream?${query}`, {
    headers: { Upgrade: "websocket" },
  });
  expect(res.status).toBe(101);
  const socket = res.webSocket!;
  const messages: FleetMessage[] = [];
  socket.addEventListener("message", (event) => {
    if (event.data !== "pong") messages.push(JSON.parse(String(event.data)) as FleetMessage);
  });
  socket.accept();
  await eventually(async () => messages.find((m) => m.type === "ready"));
  return { socket, messages };
}

const pushed = (messages: FleetMessage[], id: string) =>
  messages.flatMap((m) => m.containers ?? []).filter((c) => c.containerId === id);

type FleetAnswer = { seq: number; containers: FleetContainer[] };

describe("GET /v1/fleet", () => {
  it("answers every container by id with the stream position; following from it misses nothing committed later", async () => {
    const before = uniqueContainer("snap-a");
    await json(await postReadings(key, { containerId: before, fillPercent: 60 }), 200);
    await eventually(
      async () =>
        (await json<FleetAnswer>(await api("/v1/fleet", { token: viewer }), 200)).containers.find(
          (c) => c.containerId === before,
        ),
      20_000,
      "the projection",
    );
    const snapshot = await json<FleetAnswer>(await api("/v1/fleet", { token: viewer }), 200);
    const ids = snapshot.containers.map((c) => c.containerId);
    expect(ids).toEqual([...ids].sort());
    expect(snapshot.containers.find((c) => c.containerId === before)).toMatchObject({ fillPercent: 60 });

    const after = uniqueContainer("snap-b");
    await json(await postReadings(key, { containerId: after, fillPercent: 15 }), 200);
    const fleet = await openFleet(snapshot.seq);
    const seen = await eventually(async () => pushed(fleet.messages, after)[0], 20_000, "the later container");
    expect(seen).toMatchObject({ fillPercent: 15 });
    fleet.socket.close();
  });

  it("is for signed-in people only", async () => {
    await json(await api("/v1/fleet"), 401);
  });
});

describe("GET /v1/fleet/stream", () => {
  it("a reading to a new container reaches an open dashboard once Postgres has it", async () => {
    const fleet = await openFleet();
    const id = uniqueContainer("live");
    await json(await postReadings(key, { containerId: id, fillPercent: 35, location: { lat: 47.4, lon: 8.5 } }), 200);
    const seen = await eventually(
      async () => pushed(fleet.messages, id).find((c) => c.activeOrder !== null),
      20_000,
      "the push",
    );
    expect(seen).toMatchObject({
      containerId: id,
      fillPercent: 35,
      location: { lat: 47.4, lon: 8.5 },
      activeOrder: { fillAtOpen: 35 },
    });
    // Pushed after the batch committed: the row is already in Postgres.
    const [row] = await withDatabase(env, (db) => db.select().from(containers).where(eq(containers.id, id)));
    expect(row).toMatchObject({ fillPercent: 35, version: seen.version });
    fleet.socket.close();
  });

  it("one push per committed batch, with the newest state of each container in it", async () => {
    const fleet = await openFleet();
    const id = uniqueContainer("batch");
    await json(
      await postReadings(key, {
        readings: [
          { containerId: id, fillPercent: 20 },
          { containerId: id, fillPercent: 90 },
        ],
      }),
      200,
    );
    await eventually(async () => pushed(fleet.messages, id).find((c) => c.version === 4), 20_000, "the newest state");
    for (const m of fleet.messages.filter((m) => m.type === "fleet.changed")) {
      const ids = m.containers!.map((c) => c.containerId);
      expect(new Set(ids).size).toBe(ids.length);
    }
    fleet.socket.close();
  });

  it("a dashboard that reconnects with the last seq it saw gets what it missed, nothing twice", async () => {
    const first = await openFleet();
    const lastSeen = first.messages.find((m) => m.type === "ready")!.seq;
    first.socket.close();
    const id = uniqueContainer("missed");
    await json(await postReadings(key, { containerId: id, fillPercent: 75 }), 200);
    // Wait until the hub has published it, then come back.
    const probe = await openFleet(lastSeen);
    await eventually(
      async () => (pushed(probe.messages, id).length > 0 ? true : undefined),
      20_000,
      "the push while away",
    );
    probe.socket.close();
    const again = await openFleet(lastSeen);
    const ready = again.messages.find((m) => m.type === "ready")!;
    const replayed = again.messages.filter((m) => m.type === "fleet.changed");
    expect(replayed.map((m) => m.seq)).toEqual(
      Array.from({ length: ready.seq - lastSeen }, (_, i) => lastSeen + 1 + i),
    );
    expect(again.messages.indexOf(ready)).toBe(replayed.length);
    expect(pushed(again.messages, id)[0]).toMatchObject({ fillPercent: 75 });
    again.socket.close();
  });

  it("is refused without a ticket or token, with a token in the URL, and without an upgrade", async () => {
    expect(
      (await exports.default.fetch("http://fillgrid.test/v1/fleet/stream", { headers: { Upgrade: "websocket" } }))
        .status,
    ).toBe(401);
    expect(
      (
        await exports.default.fetch(`http://fillgrid.test/v1/fleet/stream?token=${viewer}`, {
          headers: { Upgrade: "websocket" },
        })
      ).status,
    ).toBe(401);
    expect(
      (await exports.default.fetch(`http://fillgrid.test/v1/fleet/stream?ticket=${await streamTicket(viewer)}`)).status,
    ).toBe(426);
  });
});
