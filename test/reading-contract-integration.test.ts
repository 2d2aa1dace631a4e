import { beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  postReadings,
  uniqueContainer,
  type StoredReading,
  type ReadingResult,
} from "./helpers";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

type Answer = { results: ReadingResult[] };
const post = async (body: unknown) => (await json<Answer>(await postReadings(key, body), 200)).results;
const history = async (id: string) =>
  (await json<{ readings: StoredReading[] }>(await api(`/v1/containers/${id}/readings`, { token: admin }), 200))
    .readings;

describe("the reading contract", () => {
  it("a reading with only containerId and fillPercent is applied, at the time received", async () => {
    const id = uniqueContainer("bare");
    const before = Date.now();
    const [result] = await post({ containerId: id, fillPercent: 35 });
    expect(result).toMatchObject({
      containerId: id,
      status: "applied",
      orderOpened: { fillAtOpen: 35, thresholdAtOpen: 50 },
    });
    const state = await containerState(id);
    expect(state).toMatchObject({ fillPercent: 35, location: null });
    expect(Date.parse(state!.measuredAt!)).toBeGreaterThanOrEqual(before);
    // Without readingId or measuredAt there is nothing to deduplicate by: the same body twice is two readings.
    const [again] = await post({ containerId: id, fillPercent: 35 });
    expect(again!.status).toBe("applied");
    expect(again!.readingId).not.toBe(result!.readingId);
    expect(await history(id)).toHaveLength(2);
  });

  it("without readingId, the same measuredAt is the same reading: a retry is a duplicate", async () => {
    const id = uniqueContainer("derived");
    const sent = { containerId: id, fillPercent: 62, measuredAt: "2026-03-01T10:00:00+01:00" };
    const [first] = await post(sent);
    expect(first).toMatchObject({ status: "applied", readingId: "at:2026-03-01T09:00:00.000Z" });
    // The same instant written in another zone is the same key.
    const [retry] = await post({ ...sent, measuredAt: "2026-03-01T09:00:00Z" });
    expect(retry).toMatchObject({ status: "duplicate", original: first });
    expect(retry!.conflict).toBeUndefined();
    expect(await history(id)).toHaveLength(1);
  });

  it("a duplicate whose payload differs says conflict: true, and the original stands", async () => {
    const id = uniqueContainer("conflict");
    const sent = {
      containerId: id,
      readingId: "s-1",
      fillPercent: 80,
      battery: 70,
      measuredAt: "2026-03-01T10:00:00Z",
    };
    await post(sent);
    const [same] = await post(sent);
    expect(same!.status).toBe("duplicate");
    expect(same!.conflict).toBeUndefined();
    const [changed] = await post({ ...sent, fillPercent: 10 });
    expect(changed).toMatchObject({ status: "duplicate", conflict: true, original: { status: "applied" } });
    const [derived] = await post({ containerId: id, fillPercent: 50, measuredAt: "2026-03-01T11:00:00Z" });
    const [derivedChanged] = await post({ containerId: id, fillPercent: 51, measuredAt: "2026-03-01T11:00:00Z" });
    expect(derivedChanged).toMatchObject({ status: "duplicate", conflict: true, readingId: derived!.readingId });
    expect(await containerState(id)).toMatchObject({ fillPercent: 50, activeOrder: null });
  });

  it("a sensor clock 4 minutes fast does not make the next real reading stale", async () => {
    const id = uniqueContainer("fast");
    const fast = new Date(Date.now() + 4 * 60_000).toISOString();
    const [ahead] = await post({ containerId: id, readingId: "fast-1", fillPercent: 70, measuredAt: fast });
    expect(ahead!.status).toBe("applied");
    const [stored] = await history(id);
    expect(stored!.measuredAt).toBe(stored!.receivedAt);
    expect(stored!.clockSkewMs).toBeGreaterThan(3 * 60_000);
    expect(stored!.clockSkewMs).toBeLessThanOrEqual(4 * 60_000);
    // A sensor with a right clock reports a second later: it applies and opens the order.
    const [next] = await post({
      containerId: id,
      readingId: "good-1",
      fillPercent: 20,
      measuredAt: new Date(Date.now() + 1000).toISOString(),
    });
    expect(next).toMatchObject({ status: "applied", orderOpened: { fillAtOpen: 20 } });
    // The fast one retried is still the same reading.
    const [retry] = await post({ containerId: id, readingId: "fast-1", fillPercent: 70, measuredAt: fast });
    expect(retry).toMatchObject({ status: "duplicate" });
    expect(retry!.conflict).toBeUndefined();
  });

  it("a reading without a location stands at the container's registered location", async () => {
    const id = uniqueContainer("placed");
    await json(
      await api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        json: { location: { lat: 47.37, lon: 8.54 }, reportIntervalSeconds: 900 },
      }),
      200,
    );
    expect(await containerState(id)).toMatchObject({
      registeredLocation: { lat: 47.37, lon: 8.54 },
      location: { lat: 47.37, lon: 8.54 },
      reportIntervalSeconds: 900,
    });
    await post({ containerId: id, fillPercent: 60 });
    expect((await history(id))[0]!.location).toEqual({ lat: 47.37, lon: 8.54 });
    await post({ containerId: id, fillPercent: 61, location: { lat: 47.4, lon: 8.6 } });
    expect(await containerState(id)).toMatchObject({
      location: { lat: 47.4, lon: 8.6 },
      registeredLocation: { lat: 47.37, lon: 8.54 },
    });
  });

  it("auto-close uses the threshold in force when the order opened", async () => {
    const lowered = uniqueContainer("lowered");
    const put = (id: string, threshold: number) =>
      api(`/v1/containers/${id}`, { method: "PUT", token: admin, json: { threshold } });
    await json(await put(lowered, 70), 200);
    const [opened] = await post({ containerId: lowered, fillPercent: 65 });
    expect(opened!.orderOpened).toMatchObject({ fillAtOpen: 65, thresholdAtOpen: 70 });
    await json(await put(lowered, 20), 200);
    const [closed] = await post({ containerId: lowered, fillPercent: 80 });
    expect(closed!.orderClosed).toMatchObject({ closeReason: "fill_above_threshold" });

    const raised = uniqueContainer("raised");
    await post({ containerId: raised, fillPercent: 40 });
    await json(await put(raised, 70), 200);
    const [stays] = await post({ containerId: raised, fillPercent: 60 });
    expect(stays!.orderClosed).toBeUndefined();
    const [closes] = await post({ containerId: raised, fillPercent: 75 });
    expect(closes!.orderClosed).toMatchObject({ fillAtClose: 75 });
  });

  it("a manual order opened above the threshold is never auto-closed", async () => {
    const id = uniqueContainer("manual");
    await post({ containerId: id, fillPercent: 70 });
    const operator = await adminToken();
    const { order } = await json<{ order: { id: string; thresholdAtOpen: number } }>(
      await api(`/v1/containers/${id}/orders`, { method: "POST", token: operator }),
      201,
    );
    expect(order.thresholdAtOpen).toBe(50);
    await post({
      readings: [
        { containerId: id, fillPercent: 90 },
        { containerId: id, fillPercent: 100 },
      ],
    });
    expect((await containerState(id))!.activeOrder!.id).toBe(order.id);
  });
});
