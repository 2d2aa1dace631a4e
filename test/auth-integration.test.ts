import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  json,
  login,
  newPartner,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  type ReadingsAnswer,
  type TokenAnswer,
  type DeviceKeyRecord,
  type ErrorBody,
} from "./helpers";

let admin: string;
let operator: string;
let viewer: string;
let partnerKey: string;

beforeAll(async () => {
  admin = await adminToken();
  operator = await personWith("operator");
  viewer = await personWith("viewer");
  // A partner's own API key: good for /v1/partner/… only.
  const partner = await newPartner({ serves: { containerIds: [uniqueContainer("none")], contents: [] } });
  partnerKey = (
    await json<{ key: string }>(await api(`/v1/partners/${partner.id}/api-key`, { method: "POST", token: admin }), 201)
  ).key;
});

describe("login", () => {
  it("the first admin logs in with ADMIN_EMAIL / ADMIN_PASSWORD and gets a token that expires", async () => {
    const body = await json<TokenAnswer>(
      await api("/v1/auth/login", {
        method: "POST",
        json: { email: env.ADMIN_EMAIL.toUpperCase(), password: env.ADMIN_PASSWORD },
      }),
      200,
    );
    expect(body.role).toBe("admin");
    expect(body.token.split(".")).toHaveLength(3);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
  });

  it("a wrong password or unknown email is 401 and says nothing about which", async () => {
    const wrong = await json<ErrorBody>(
      await api("/v1/auth/login", { method: "POST", json: { email: env.ADMIN_EMAIL, password: "nope" } }),
      401,
    );
    const unknown = await json<ErrorBody>(
      await api("/v1/auth/login", { method: "POST", json: { email: "who@x.test", password: "nope" } }),
      401,
    );
    expect(wrong.error).toEqual(unknown.error);
  });

  it("bad login input names the field", async () => {
    const body = await json<ErrorBody>(
      await api("/v1/auth/login", { method: "POST", json: { email: "not-an-email", password: "" } }),
      400,
    );
    expect(body.error.issues!.map((i: { path: string }) => i.path).sort()).toEqual(["email", "password"]);
  });

  it("a user added by an admin logs in with the role given", async () => {
    const email = `op-${crypto.randomUUID().slice(0, 6)}@fillgrid.test`;
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email, password: "long enough pw", role: "operator" },
      }),
      201,
    );
    const body = await json<TokenAnswer>(
      await api("/v1/auth/login", { method: "POST", json: { email, password: "long enough pw" } }),
      200,
    );
    expect(body.role).toBe("operator");
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email, password: "long enough pw", role: "viewer" },
      }),
      409,
    );
    await json(await api("/v1/auth/login", { method: "POST", json: { email, password: "wrong password" } }), 401);
  });
});

describe("roles on every route", () => {
  const id = uniqueContainer();
  const orderId = "ord_01JZZZZZZZZZZZZZZZZZZZZZZZ";
  const routes: Array<{ method: string; path: string; need: "viewer" | "operator" | "admin"; json?: unknown }> = [
    { method: "GET", path: `/v1/containers/${id}`, need: "viewer" },
    { method: "GET", path: `/v1/containers/${id}/readings`, need: "viewer" },
    { method: "GET", path: `/v1/containers/${id}/orders`, need: "viewer" },
    { method: "GET", path: `/v1/containers/${id}/events`, need: "viewer" },
    { method: "POST", path: `/v1/containers/${id}/orders`, need: "operator", json: {} },
    { method: "POST", path: `/v1/containers/${id}/orders/${orderId}/close`, need: "operator", json: {} },
    { method: "PUT", path: `/v1/containers/${id}`, need: "admin", json: { threshold: 40 } },
    { method: "GET", path: "/v1/device-keys", need: "admin" },
    { method: "POST", path: "/v1/device-keys", need: "admin", json: {} },
    { method: "DELETE", path: "/v1/device-keys/0123456789abcdef", need: "admin" },
    { method: "GET", path: "/v1/users", need: "admin" },
    {
      method: "POST",
      path: "/v1/users",
      need: "admin",
      json: { email: "x@y.test", password: "long enough pw", role: "viewer" },
    },
  ];
  const rank = { viewer: 0, operator: 1, admin: 2 } as const;

  for (const route of routes) {
    it(`${route.method} ${route.path.replace(id, "{id}")} needs ${route.need}`, async () => {
      const call = (token?: string) => api(route.path, { method: route.method, token, json: route.json });
      const none = await json<ErrorBody>(await call(), 401);
      expect(none.error.message).toMatch(/Authorization/);
      await json(await call("not.a.jwt"), 401);
      const forged = (await adminToken()).slice(0, -4) + "AAAA";
      await json(await call(forged), 401);
      const sensor = (await deviceKey()).key;
      await json(await call(sensor), 401);
      const asPartner = await json<ErrorBody>(await call(partnerKey), 403);
      expect(asPartner.error.message).toMatch(/^a partner API key reads only its partner's own/);
      for (const [role, token] of [
        ["viewer", viewer],
        ["operator", operator],
      ] as const) {
        const res = await call(token);
        if (rank[role] < rank[route.need]) {
          const body = await json<ErrorBody>(res, 403);
          expect(body.error.message).toContain(route.need);
        } else {
          expect([401, 403]).not.toContain(res.status);
        }
      }
    });
  }

  it("a viewer cannot open or close an order, and nothing changes", async () => {
    const key = (await deviceKey()).key;
    const container = uniqueContainer();
    const opened = await json<ReadingsAnswer>(await postReadings(key, reading(container, 30)), 200);
    const order = opened.results[0]!.orderOpened!;
    await json(
      await api(`/v1/containers/${container}/orders/${order.id}/close`, { method: "POST", token: viewer }),
      403,
    );
    await json(await api(`/v1/containers/${container}/orders`, { method: "POST", token: viewer }), 403);
    expect((await containerState(container))!.activeOrder).toEqual(order);
  });

  it("an expired token is refused", async () => {
    const { sign } = await import("hono/jwt");
    const token = await sign(
      { sub: "old@x.test", role: "admin", exp: Math.floor(Date.now() / 1000) - 10 },
      env.JWT_SECRET,
      "HS256",
    );
    await json(await api("/v1/users", { token }), 401);
  });
});

describe("device keys", () => {
  it("no key, a malformed key, a wrong secret: 401 and nothing stored", async () => {
    const container = uniqueContainer();
    const { key } = await deviceKey();
    const wrongSecret = key.slice(0, -6) + "AAAAAA";
    for (const token of [undefined, "garbage", wrongSecret, "fgk_0000000000000000_" + "A".repeat(43), admin]) {
      const body = await json<ErrorBody>(
        await api("/v1/readings", { method: "POST", token, json: reading(container, 10) }),
        401,
      );
      expect(body.error.code).toBe("unauthenticated");
    }
    expect(await containerState(container)).toBeNull();
    // A partner's API key is a credential, but not for readings.
    await json(await api("/v1/readings", { method: "POST", token: partnerKey, json: reading(container, 10) }), 403);
    expect(await containerState(container)).toBeNull();
  });

  it("a key shown once is stored only as a hash", async () => {
    const res = await json<{ key: string; deviceKey: DeviceKeyRecord }>(
      await api("/v1/device-keys", { method: "POST", token: admin, json: { label: "gateway 7" } }),
      201,
    );
    expect(res.key).toMatch(/^fgk_[0-9a-f]{16}_/);
    const listed = await json<{ deviceKeys: DeviceKeyRecord[] }>(await api("/v1/device-keys", { token: admin }), 200);
    const record = listed.deviceKeys.find((k: { id: string }) => k.id === res.deviceKey.id);
    expect(record).toMatchObject({ label: "gateway 7", containerId: null, revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(res.key.slice(22));
    const stored = await env.DEVICE_KEYS.getByName(res.deviceKey.id).lookup();
    expect(stored!.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.secretHash).not.toContain(res.key.slice(22));
  });

  it("a key for one container cannot report for another, in a single reading or in a batch", async () => {
    const mine = uniqueContainer();
    const other = uniqueContainer();
    const { key } = await deviceKey(mine);
    await json(await postReadings(key, reading(mine, 70)), 200);
    const single = await json<ErrorBody>(await postReadings(key, reading(other, 10)), 403);
    expect(single.error.issues![0]).toMatchObject({ path: "containerId" });
    const batch = await json<ErrorBody>(
      await postReadings(key, { readings: [reading(mine, 10), reading(other, 10)] }),
      403,
    );
    expect(batch.error.issues!.map((i: { path: string }) => i.path)).toEqual(["readings[1].containerId"]);
    expect(await containerState(other)).toBeNull();
    expect((await containerState(mine))!.fillPercent).toBe(70);
  });

  it("a key revoked through the API stops working at once in the isolate that revoked it", async () => {
    const container = uniqueContainer();
    const { key, id } = await deviceKey();
    await json(await postReadings(key, reading(container, 70)), 200);
    const revoked = await json<{ deviceKey: DeviceKeyRecord }>(
      await api(`/v1/device-keys/${id}`, { method: "DELETE", token: admin }),
      200,
    );
    expect(revoked.deviceKey).toMatchObject({ id, revokedBy: env.ADMIN_EMAIL });
    const body = await json<ErrorBody>(await postReadings(key, reading(container, 10)), 401);
    expect(body.error.message).toMatch(/revoked/);
    expect((await containerState(container))!.fillPercent).toBe(70);
    const listed = await json<{ deviceKeys: DeviceKeyRecord[] }>(await api("/v1/device-keys", { token: admin }), 200);
    expect(listed.deviceKeys.find((k) => k.id === id)!.revokedAt).not.toBeNull();
  });

  it("a key revoked elsewhere stops working in every isolate within DEVICE_KEY_CACHE_SECONDS", async () => {
    const container = uniqueContainer();
    const { key, id } = await deviceKey();
    await json(await postReadings(key, reading(container, 70)), 200);
    // Revoke at the key's own object, as another isolate's DELETE would: this isolate still has it cached.
    await env.DEVICE_KEYS.getByName(id).revoke("admin@elsewhere");
    const started = Date.now();
    const bound = Number(env.DEVICE_KEY_CACHE_SECONDS) * 1000;
    let refusedAfter = -1;
    while (Date.now() - started < bound + 3000) {
      const res = await postReadings(key, reading(container, 60));
      if (res.status === 401) {
        refusedAfter = Date.now() - started;
        break;
      }
      expect(res.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThanOrEqual(bound + 1000);
  });

  it("revoking an unknown key is 404, a malformed id 400", async () => {
    await json(await api("/v1/device-keys/0000000000000000", { method: "DELETE", token: admin }), 404);
    const bad = await json<ErrorBody>(await api("/v1/device-keys/xyz", { method: "DELETE", token: admin }), 400);
    expect(bad.error.issues![0]!.path).toBe("id");
  });

  it("a key cannot be issued for a container id in an unknown format", async () => {
    const body = await json<ErrorBody>(
      await api("/v1/device-keys", { method: "POST", token: admin, json: { containerId: "no spaces" } }),
      400,
    );
    expect(body.error.issues![0]!.path).toBe("containerId");
  });
});

it("logging in again gives a token accepted everywhere the role allows", async () => {
  const token = await login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  await json(await api("/v1/users", { token }), 200);
});
