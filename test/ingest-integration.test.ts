import { beforeAll, describe, expect, it } from "vitest";
import { MAX_READINGS_BODY } from "../workers/routes/readings";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  postReadings,
  reading,
  uniqueContainer,
  type ReadingsAnswer,
  type ContainerEvent,
  type StoredReading,
  type Page,
  type ErrorBody,
} from "./helpers";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

describe("POST /v1/readings", () => {
  it("applies a reading, opens an order below the threshold and answers only after commit", async () => {
    const id = uniqueContainer();
    const r = reading(id, 30);
    const body = await json<ReadingsAnswer>(await postReadings(key, r), 200);
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({ readingId: r.readingId, containerId: id, status: "applied" });
    expect(body.results[0]!.orderOpened).toMatchObject({
      containerId: id,
      status: "active",
      source: "auto",
      fillAtOpen: 30,
    });
    const state = await containerState(id);
    expect(state).toMatchObject({ fillPercent: 30, contents: "diesel", battery: 90, measuredAt: r.measuredAt });
    expect(state!.activeOrder!.id).toBe(body.results[0]!.orderOpened!.id);
  });

  it("takes a batch across containers, answers per reading in request order", async () => {
    const a = uniqueContainer();
    const b = uniqueContainer();
    const batch = [reading(a, 30), reading(b, 70), reading(a, 80), reading(b, 10)];
    const body = await json<ReadingsAnswer>(await postReadings(key, { readings: batch }), 200);
    expect(body.results.map((r: { readingId: string }) => r.readingId)).toEqual(batch.map((r) => r.readingId));
    expect(body.results[0]!.orderOpened).toBeDefined();
    expect(body.results[2]!.orderClosed).toMatchObject({
      status: "closed",
      closeReason: "fill_above_threshold",
      fillAtClose: 80,
    });
    expect(body.results[3]!.orderOpened).toMatchObject({ fillAtOpen: 10 });
    expect((await containerState(a))!.activeOrder).toBeNull();
    expect((await containerState(b))!.activeOrder).not.toBeNull();
  });

  it("applies a batch in measuredAt order whatever order it was sent in", async () => {
    const id = uniqueContainer();
    const older = reading(id, 30);
    const newer = reading(id, 90);
    const body = await json<ReadingsAnswer>(await postReadings(key, { readings: [newer, older] }), 200);
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(["applied", "applied"]);
    expect(body.results[1]!.orderOpened).toBeDefined();
    expect(body.results[0]!.orderClosed).toBeDefined();
    expect((await containerState(id))!.fillPercent).toBe(90);
  });

  it("keeps a late reading in history as stale without moving state or orders", async () => {
    const id = uniqueContainer();
    const late = reading(id, 10);
    await json(await postReadings(key, reading(id, 80)), 200);
    const body = await json<ReadingsAnswer>(await postReadings(key, late), 200);
    expect(body.results[0]).toMatchObject({ status: "stale" });
    expect(body.results[0]!.orderOpened).toBeUndefined();
    expect(await containerState(id)).toMatchObject({ fillPercent: 80, activeOrder: null });
    const history = await json<Page<"readings", StoredReading>>(
      await api(`/v1/containers/${id}/readings`, { token: admin }),
      200,
    );
    expect(history.readings.map((r: { readingId: string; status: string }) => [r.readingId, r.status])).toContainEqual([
      late.readingId,
      "stale",
    ]);
  });

  it("defaults measuredAt to the time received", async () => {
    const id = uniqueContainer();
    const { measuredAt: _, ...noTime } = reading(id, 60);
    const before = Date.now();
    await json(await postReadings(key, noTime), 200);
    const at = Date.parse((await containerState(id))!.measuredAt!);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it("the same request retried gives the same answer and changes nothing", async () => {
    const id = uniqueContainer();
    const other = uniqueContainer();
    const request = { readings: [reading(id, 20), reading(other, 60), reading(id, 75)] };
    const first = await json<ReadingsAnswer>(await postReadings(key, request), 200);
    const stateAfterFirst = await containerState(id);
    const eventsAfterFirst = await json<{ events: ContainerEvent[] }>(
      await api(`/v1/containers/${id}/events`, { token: admin }),
      200,
    );

    const second = await json<ReadingsAnswer>(await postReadings(key, request), 200);
    expect(second.results.map((r) => r.status)).toEqual(["duplicate", "duplicate", "duplicate"]);
    expect(second.results.map((r) => r.original)).toEqual(first.results);
    expect(await containerState(id)).toEqual(stateAfterFirst);
    const eventsAfterSecond = await json<{ events: ContainerEvent[] }>(
      await api(`/v1/containers/${id}/events`, { token: admin }),
      200,
    );
    expect(eventsAfterSecond.events).toEqual(eventsAfterFirst.events);
  });

  it("a readingId repeated with other values is still a duplicate and changes nothing", async () => {
    const id = uniqueContainer();
    const r = reading(id, 80);
    await json(await postReadings(key, r), 200);
    const body = await json<ReadingsAnswer>(
      await postReadings(key, {
        ...r,
        fillPercent: 5,
        measuredAt: new Date(Date.parse(r.measuredAt) + 1000).toISOString(),
      }),
      200,
    );
    expect(body.results[0]!.status).toBe("duplicate");
    expect(await containerState(id)).toMatchObject({ fillPercent: 80, activeOrder: null });
  });

  it("a batch mixing readings seen before with new ones: the old are duplicates, the new applied once, in order", async () => {
    const id = uniqueContainer();
    const old = [reading(id, 70), reading(id, 71)];
    await json(await postReadings(key, { readings: old }), 200);
    const fresh = [reading(id, 72), reading(id, 15)];
    const body = await json<ReadingsAnswer>(
      await postReadings(key, { readings: [fresh[0], old[1], fresh[1], old[0]] }),
      200,
    );
    expect(body.results.map((r) => r.status)).toEqual(["applied", "duplicate", "applied", "duplicate"]);
    expect(body.results[2]!.orderOpened).toBeDefined();
    // And after it, new readings as usual.
    const next = await json<ReadingsAnswer>(
      await postReadings(key, { readings: [reading(id, 90), reading(id, 91)] }),
      200,
    );
    expect(next.results.map((r) => r.status)).toEqual(["applied", "applied"]);
    const events = await json<{ events: ContainerEvent[] }>(
      await api(`/v1/containers/${id}/events?limit=100`, { token: admin }),
      200,
    );
    expect(events.events.map((e) => e.type)).toEqual([
      "reading.recorded",
      "reading.recorded",
      "reading.recorded",
      "reading.recorded",
      "order.opened",
      "reading.recorded",
      "order.closed",
      "reading.recorded",
    ]);
    expect(events.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const history = await json<{ readings: { readingId: string }[] }>(
      await api(`/v1/containers/${id}/readings?limit=100`, { token: admin }),
      200,
    );
    expect(history.readings.map((r) => r.readingId).sort()).toEqual(
      [...old, ...fresh, ...next.results].map((r) => r.readingId).sort(),
    );
  });

  it("pages through history newest first with no reading twice and none missing", async () => {
    const id = uniqueContainer();
    const sent = Array.from({ length: 23 }, (_, i) => reading(id, 60 + (i % 5)));
    await json(await postReadings(key, { readings: sent }), 200);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { readings: { readingId: string }[]; nextCursor: string | null } = await json(
        await api(`/v1/containers/${id}/readings?limit=5${cursor ? `&cursor=${cursor}` : ""}`, { token: admin }),
        200,
      );
      expect(page.readings.length).toBeLessThanOrEqual(5);
      seen.push(...page.readings.map((r) => r.readingId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(sent.map((r) => r.readingId).reverse());
  });
});

describe("bad input: a 4xx naming the field, and nothing stored", () => {
  const id = uniqueContainer("bad");
  const valid = () => reading(id, 30);
  const without = (field: string) => {
    const r: Record<string, unknown> = valid();
    delete r[field];
    return r;
  };

  const cases: Array<{ name: string; body: () => unknown; path: string; message?: RegExp }> = [
    {
      name: "fillPercent as a string",
      body: () => ({ ...valid(), fillPercent: "30" }),
      path: "fillPercent",
      message: /^must be a number, not a string$/,
    },
    {
      name: "fillPercent above 100",
      body: () => ({ ...valid(), fillPercent: 100.5 }),
      path: "fillPercent",
      message: /^must be at most 100$/,
    },
    {
      name: "fillPercent below 0",
      body: () => ({ ...valid(), fillPercent: -1 }),
      path: "fillPercent",
      message: /^must be at least 0$/,
    },
    { name: "fillPercent missing", body: () => without("fillPercent"), path: "fillPercent", message: /^is required$/ },
    { name: "fillPercent null", body: () => ({ ...valid(), fillPercent: null }), path: "fillPercent" },
    { name: "containerId missing", body: () => without("containerId"), path: "containerId", message: /required/ },
    {
      name: "containerId in an unknown format",
      body: () => ({ ...valid(), containerId: "tank 1/../x" }),
      path: "containerId",
      message: /letters, digits/,
    },
    { name: "containerId too long", body: () => ({ ...valid(), containerId: "t".repeat(65) }), path: "containerId" },
    {
      name: "containerId a number",
      body: () => ({ ...valid(), containerId: 12 }),
      path: "containerId",
      message: /^must be a string, not a number$/,
    },
    { name: "readingId empty", body: () => ({ ...valid(), readingId: "" }), path: "readingId" },
    {
      name: "latitude out of range",
      body: () => ({ ...valid(), location: { lat: 91, lon: 0 } }),
      path: "location.lat",
    },
    {
      name: "longitude wrong type",
      body: () => ({ ...valid(), location: { lat: 0, lon: "east" } }),
      path: "location.lon",
    },
    {
      name: "battery above 100",
      body: () => ({ ...valid(), battery: 101 }),
      path: "battery",
      message: /^must be at most 100$/,
    },
    {
      name: "location null",
      body: () => ({ ...valid(), location: null }),
      path: "location",
      message: /^must be an object, not null$/,
    },
    { name: "contents not a string", body: () => ({ ...valid(), contents: 7 }), path: "contents" },
    { name: "contents empty", body: () => ({ ...valid(), contents: "  " }), path: "contents" },
    {
      name: "measuredAt not a timestamp",
      body: () => ({ ...valid(), measuredAt: "yesterday" }),
      path: "measuredAt",
      message: /RFC 3339/,
    },
    {
      name: "measuredAt without a zone",
      body: () => ({ ...valid(), measuredAt: "2026-01-01T10:00:00" }),
      path: "measuredAt",
    },
    {
      name: "measuredAt in the future",
      body: () => ({ ...valid(), measuredAt: new Date(Date.now() + 6 * 60_000).toISOString() }),
      path: "measuredAt",
      message: /future/,
    },
    { name: "an unknown field", body: () => ({ ...valid(), fill: 30 }), path: "fill", message: /not a known field/ },
    { name: "a JSON array", body: () => [valid()], path: "(body)" },
    { name: "a JSON string", body: () => "hello", path: "(body)" },
    {
      name: "an empty batch",
      body: () => ({ readings: [] }),
      path: "readings",
      message: /^must have at least 1 item$/,
    },
    {
      name: "a batch over 500",
      body: () => ({ readings: Array.from({ length: 501 }, valid) }),
      path: "readings",
      message: /^must have at most 500 items$/,
    },
    { name: "readings not an array", body: () => ({ readings: valid() }), path: "readings" },
    {
      name: "a batch with one bad reading",
      body: () => ({ readings: [valid(), valid(), { ...valid(), fillPercent: 140 }, valid()] }),
      path: "readings[2].fillPercent",
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const key2 = key;
      const res = await postReadings(key2, c.body());
      const body = await json<ErrorBody>(res, 400);
      expect(body.error.code).toBe("validation_failed");
      const paths = body.error.issues!.map((i) => i.path);
      expect(paths).toContain(c.path);
      expect(body.error.message).toContain(c.path);
      if (c.message) {
        const issue = body.error.issues!.find((i) => i.path === c.path);
        expect(issue!.message).toMatch(c.message);
      }
      expect(await containerState(id)).toBeNull();
    });
  }

  it("names every bad field of every bad reading at once", async () => {
    const body = await json<ErrorBody>(
      await postReadings(key, {
        readings: [{ ...valid(), battery: -3 }, valid(), { ...valid(), fillPercent: "x", location: null }],
      }),
      400,
    );
    expect(body.error.issues!.map((i) => i.path).sort()).toEqual(
      ["readings[0].battery", "readings[2].fillPercent", "readings[2].location"].sort(),
    );
    expect(body.error.message).toMatch(/and 2 more/);
    expect(await containerState(id)).toBeNull();
  });

  it("a number too large for a double (1e400, which JSON reads as Infinity) is named as such", async () => {
    const res = await api("/v1/readings", {
      method: "POST",
      token: key,
      body: `{"containerId": "${id}", "fillPercent": 1e400}`,
      headers: { "Content-Type": "application/json" },
    });
    const body = await json<ErrorBody>(res, 400);
    expect(body.error.issues).toEqual([{ path: "fillPercent", message: "must be a finite number" }]);
    expect(await containerState(id)).toBeNull();
  });

  it("malformed JSON", async () => {
    const res = await api("/v1/readings", {
      method: "POST",
      token: key,
      body: '{"containerId": "t1", fillPercent: 3',
      headers: { "Content-Type": "application/json" },
    });
    const body = await json<ErrorBody>(res, 400);
    expect(body.error.code).toBe("invalid_json");
    expect(body.error.message).toMatch(/not valid JSON/);
  });

  it("an empty body", async () => {
    const body = await json<ErrorBody>(
      await api("/v1/readings", {
        method: "POST",
        token: key,
        body: "",
        headers: { "Content-Type": "application/json" },
      }),
      400,
    );
    expect(body.error.code).toBe("invalid_json");
  });

  it("a body that is not JSON by its Content-Type is 415", async () => {
    const body = await json<ErrorBody>(
      await api("/v1/readings", {
        method: "POST",
        token: key,
        body: JSON.stringify(valid()),
        headers: { "Content-Type": "text/plain" },
      }),
      415,
    );
    expect(body.error.message).toMatch(/application\/json/);
    expect(await containerState(id)).toBeNull();
  });

  it("a body over the size limit", async () => {
    const big = { readings: [{ ...valid(), contents: "x".repeat(MAX_READINGS_BODY) }] };
    const body = await json<ErrorBody>(await postReadings(key, big), 413);
    expect(body.error.code).toBe("body_too_large");
    expect(body.error.message).toContain(String(MAX_READINGS_BODY));
    expect(await containerState(id)).toBeNull();
  });

  it("a bad settings change", async () => {
    const res = await api(`/v1/containers/${id}`, {
      method: "PUT",
      token: admin,
      json: { threshold: 120, capacity: -5 },
    });
    const body = await json<ErrorBody>(res, 400);
    expect(body.error.issues!.map((i: { path: string }) => i.path).sort()).toEqual(["capacity", "threshold"]);
    const empty = await json<ErrorBody>(
      await api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: {} }),
      400,
    );
    expect(empty.error.message).toMatch(/at least one of threshold/);
    const badPlace = await json<ErrorBody>(
      await api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { location: { lat: 95, lon: 0 }, reportIntervalSeconds: 5 },
      }),
      400,
    );
    expect(badPlace.error.issues).toEqual([
      { path: "location.lat", message: "must be at most 90" },
      { path: "reportIntervalSeconds", message: "must be at least 60" },
    ]);
    expect(await containerState(id)).toBeNull();
  });

  it("a container id in a path in an unknown format", async () => {
    const body = await json<ErrorBody>(await api(`/v1/containers/bad%20id!`, { token: admin }), 400);
    expect(body.error.issues![0]!.path).toBe("containerId");
  });

  it("a cursor that was not issued by the API", async () => {
    const body = await json<ErrorBody>(
      await api(`/v1/containers/${id}/readings?cursor=nonsense`, { token: admin }),
      400,
    );
    expect(body.error.issues![0]).toMatchObject({ path: "cursor", message: /not a cursor/ });
  });
});
