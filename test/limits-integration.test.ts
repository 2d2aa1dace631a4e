import { describe, expect, it } from "vitest";
import type { StoredReading } from "../durable-objects/container";
import {adminToken, api, containerState, deviceKey, json, postReadings } from "./helpers";

type Refusal = { error: { code: string; message: string } };

/**
 * Send requests until one is refused for the rate. The limiter counts in fixed windows, so within
 * twice the limit plus one, sent faster than a window lasts, a refusal must come.
 */
async function untilLimited(limit: number, send: (i: number) => Promise<Response>): Promise<{ accepted: number; refused: Response; sent: number }> {
  for (let i = 0; i < 2 * limit + 1; i++) {
    const res = await send(i);
    if (res.status === 429) return { accepted: i, refused: res, sent: i + 1 };
    expect([200, 201, 401], await res.clone().text()).toContain(res.status);
  }
  throw new Error(`no 429 within ${2 * limit + 1} requests`);
}

async function expectRefusal(res: Response, seconds: string, what: RegExp) {
  expect(res.headers.get("Retry-After")).toBe(seconds);
  const body = await json<Refusal>(res, 429);
  expect(body.error.code).toBe("rate_limited");
  expect(body.error.message).toMatch(what);
}

describe("rate limits", () => {
  it("ingest, per device key: 429 with Retry-After, and the refused reading is not stored", async () => {
    const { key } = await deviceKey();
    const containerId = `limited-${crypto.randomUUID().slice(0, 8)}`;
    const { refused, sent } = await untilLimited(100, (i) => postReadings(key, { containerId, readingId: `r-${i}`, fillPercent: 60 }));
    await expectRefusal(refused, "10", /device key/);
    const { readings } = await json<{ readings: StoredReading[] }>(
      await api(`/v1/containers/${containerId}/readings?limit=500`, { token: await adminToken() }),
      200,
    );
    expect(readings.map((r) => r.readingId)).not.toContain(`r-${sent - 1}`);
    expect(readings).toHaveLength(sent - 1);
    // Another key is not held back by this one's flood.
    const other = await deviceKey();
    await json(await postReadings(other.key, { containerId, readingId: "other-1", fillPercent: 61 }), 200);
    expect((await containerState(containerId))!.lastReadingId).toBe("other-1");
  });

  it("the rest of the API, per token: 429 with Retry-After, and nothing done", async () => {
    const admin = await adminToken();
    const email = `limited-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    await json(await api("/v1/users", { method: "POST", token: admin, json: { email, password: "a long enough password", role: "admin" } }), 201);
    const token = (await json<{ token: string }>(await api("/v1/auth/login", { method: "POST", json: { email, password: "a long enough password" } }), 200)).token;
    const { refused } = await untilLimited(200, () => api("/v1/errors?limit=1", { token }));
    await expectRefusal(refused, "10", /token/);
    const before = (await json<{ deviceKeys: unknown[] }>(await api("/v1/device-keys", { token: admin }), 200)).deviceKeys.length;
    const issued = await api("/v1/device-keys", { method: "POST", token, json: { label: "over the limit" } });
    await expectRefusal(issued, "10", /token/);
    const after = (await json<{ deviceKeys: unknown[] }>(await api("/v1/device-keys", { token: admin }), 200)).deviceKeys.length;
    expect(after).toBe(before);
  });

  it("login, per email: 429 with Retry-After, even for the right password", async () => {
    const admin = await adminToken();
    const email = `guessed-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    const password = "the right password";
    await json(await api("/v1/users", { method: "POST", token: admin, json: { email, password, role: "viewer" } }), 201);
    const ip = () => `2001:db8:1::${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;
    const { refused } = await untilLimited(10, () =>
      api("/v1/auth/login", { method: "POST", json: { email, password: "a wrong guess" }, headers: { "CF-Connecting-IP": ip() } }),
    );
    await expectRefusal(refused, "60", /email/);
    const right = await api("/v1/auth/login", { method: "POST", json: { email, password }, headers: { "CF-Connecting-IP": ip() } });
    await expectRefusal(right, "60", /email/);
  });

  it("login, per client address: 429 with Retry-After, whatever the email", async () => {
    const ip = `2001:db8:2::${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;
    const { refused } = await untilLimited(50, (i) =>
      api("/v1/auth/login", { method: "POST", json: { email: `nobody-${i}@fillgrid.test`, password: "wrong" }, headers: { "CF-Connecting-IP": ip } }),
    );
    await expectRefusal(refused, "60", /client address/);
    const elsewhere = await api("/v1/auth/login", { method: "POST", json: { email: "nobody@fillgrid.test", password: "wrong" } });
    expect(elsewhere.status).toBe(401);
  });
});
