// Input that storage could not hold is refused at the door: a 4xx naming the field, nothing stored,
// and no error record (a caller's mistake is not a failure of the system).
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeCursor } from "../platform/paging";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  postReadings,
  uniqueContainer,
  type ErrorBody,
} from "./helpers";

let key: string;
let admin: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
});

const errorCount = async () =>
  (await env.ERROR_HUB.getByName("errors").list({ limit: 500 })).items.reduce((n, r) => n + r.count, 0);

describe("timestamps", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["year 0", "0000-01-01T00:00:00Z", /between 1970/],
    ["before 1970", "1969-12-31T23:59:59Z", /between 1970/],
    ["an offset of +23:59", "2026-03-01T10:00:00+23:59", /offset beyond ±14:00/],
    ["an offset of -15:00", "2026-03-01T10:00:00-15:00", /offset beyond ±14:00/],
    ["offset minutes past 59", "2026-03-01T10:00:00+05:75", /./],
  ];
  for (const [name, measuredAt, message] of cases) {
    it(`measuredAt with ${name} is a 400 naming it, and nothing is stored`, async () => {
      const id = uniqueContainer("time");
      const before = await errorCount();
      const body = await json<ErrorBody>(
        await postReadings(key, { containerId: id, fillPercent: 40, measuredAt }),
        400,
      );
      expect(body.error.issues).toEqual([{ path: "measuredAt", message: expect.stringMatching(message) }]);
      expect(await containerState(id)).toBeNull();
      expect(await errorCount()).toBe(before);
    });
  }

  it("the widest real offsets are accepted", async () => {
    const id = uniqueContainer("kiritimati");
    const body = await json<{ results: { status: string }[] }>(
      await postReadings(key, {
        readings: [
          { containerId: id, fillPercent: 60, measuredAt: "2026-03-01T10:00:00+14:00" },
          { containerId: id, fillPercent: 61, measuredAt: "2026-03-01T10:00:00-12:00" },
        ],
      }),
      200,
    );
    expect(body.results.map((r) => r.status)).toEqual(["applied", "applied"]);
  });

  it("query times out of range are a 400 naming the parameter", async () => {
    const before = await errorCount();
    for (const [path, param] of [
      ["/v1/orders?openedFrom=0000-01-01T00:00:00Z", "openedFrom"],
      ["/v1/orders?openedTo=2026-01-01T00:00:00%2B23:59", "openedTo"],
      ["/v1/containers?silentSince=1900-01-01T00:00:00Z", "silentSince"],
      ["/v1/errors?lastSeenFrom=0001-01-01T00:00:00Z", "lastSeenFrom"],
    ] as const) {
      const body = await json<ErrorBody>(await api(path, { token: admin }), 400);
      expect(body.error.issues![0]!.path).toBe(param);
    }
    expect(await errorCount()).toBe(before);
  });
});

describe("cursors and numbers", () => {
  it("a well-formed cursor holding the wrong kind of sort value is a 400, not a 500", async () => {
    const before = await errorCount();
    const refused = [
      `/v1/containers?sort=lastSeenAt&cursor=${encodeCursor(["lastSeenAt:asc", "not a time", "tank-1"])}`,
      `/v1/containers?sort=lastSeenAt&cursor=${encodeCursor(["lastSeenAt:asc", 12, "tank-1"])}`,
      `/v1/containers?sort=fillPercent&cursor=${encodeCursor(["fillPercent:asc", "high", "tank-1"])}`,
      `/v1/containers?sort=lastSeenAt&cursor=${encodeCursor(["lastSeenAt:asc", "0000-01-01T00:00:00Z", "tank-1"])}`,
      `/v1/errors?cursor=${encodeCursor(["yesterday", "err_x"])}`,
      `/v1/containers/tank-1/readings?cursor=${encodeCursor([1e300, "r1"])}`,
      `/v1/containers/tank-1/readings?cursor=${encodeCursor(["soon", "r1"])}`,
      "/v1/dead-letters?cursor=1e30",
      "/v1/dead-letters/99999999999999999999/replay",
      "/v1/containers/tank-1/events?after=1e30",
      "/v1/orders?limit=abc",
    ];
    for (const path of refused) {
      const res = await api(path, { token: admin, method: path.endsWith("/replay") ? "POST" : "GET" });
      const body = await json<ErrorBody>(res, 400);
      expect(body.error.issues!.length, path).toBeGreaterThan(0);
    }
    expect(await errorCount()).toBe(before);
  });
});

describe("content types", () => {
  it("POST, PUT and PATCH bodies must be JSON: 415, nothing stored", async () => {
    const id = uniqueContainer("type");
    const asText = { "Content-Type": "text/plain" };
    const reading = JSON.stringify({ containerId: id, fillPercent: 10 });
    await json(await api("/v1/readings", { method: "POST", token: key, body: reading, headers: asText }), 415);
    await json(
      await api(`/v1/containers/${id}`, {
        method: "PUT",
        token: admin,
        body: JSON.stringify({ threshold: 30 }),
        headers: asText,
      }),
      415,
    );
    await json(
      await api("/v1/users/nobody@fillgrid.test", {
        method: "PATCH",
        token: admin,
        body: "{}",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
      415,
    );
    await json(await api("/v1/auth/login", { method: "POST", body: "{}" }), 415);
    expect(await containerState(id)).toBeNull();
  });

  it("every JSON answer carries nosniff, refusals included", async () => {
    for (const res of [
      await api("/v1/readings", { method: "POST", token: key, body: "x" }),
      await api("/v1/orders?limit=abc", { token: admin }),
    ]) {
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    }
  });
});
