import { describe, expect, it } from "vitest";
import type { StoredReading } from "../domain/schemas";
import { adminToken, api, containerState, deviceKey, eventually, json, postReadings } from "./helpers";

type Refusal = { error: { code: string; message: string } };

/**
 * Send requests until one is refused for the rate. The limiter counts in fixed windows, so within
 * twice the limit plus one, sent faster than a window lasts, a refusal must come.
 */
async function untilLimited(
  limit: number,
  send: (i: number) => Promise<Response>,
): Promise<{ accepted: number; refused: Response; sent: number }> {
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
  it("a sensor key (one container), over 100 requests per 10 s: 429 with Retry-After, and the refused reading is not stored", async () => {
    const containerId = `limited-${crypto.randomUUID().slice(0, 8)}`;
    const { key } = await deviceKey(containerId);
    const { refused, sent } = await untilLimited(100, (i) =>
      postReadings(key, { containerId, readingId: `r-${i}`, fillPercent: 60 }),
    );
    await expectRefusal(refused, "10", /sensor key/);
    const { readings } = await json<{ readings: StoredReading[] }>(
      await api(`/v1/containers/${containerId}/readings?limit=500`, { token: await adminToken() }),
      200,
    );
    expect(readings.map((r) => r.readingId)).not.toContain(`r-${sent - 1}`);
    expect(readings).toHaveLength(sent - 1);
    // Another key is not held back by this one's flood.
    const other = await deviceKey(containerId);
    await json(await postReadings(other.key, { containerId, readingId: "other-1", fillPercent: 61 }), 200);
    expect((await containerState(containerId))!.lastReadingId).toBe("other-1");
  });

  it("a gateway (a fleet key) posting one request per uplink takes 1,000 single readings in a burst, while a sensor key beside it is refused past 100", async () => {
    const gateway = await deviceKey();
    const run = crypto.randomUUID().slice(0, 8);
    const statuses: number[] = [];
    let next = 0;
    // 1,000 sensors' uplinks, 20 at a time, as fast as they are answered.
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = next++; i < 1000; i = next++) {
          const res = await postReadings(gateway.key, {
            containerId: `gw-${run}-${i % 100}`,
            readingId: `uplink-${i}`,
            fillPercent: 40 + (i % 50),
          });
          statuses.push(res.status);
          await res.body?.cancel();
        }
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(1000);
    const containerId = `gw-${run}-sensor`;
    const sensor = await deviceKey(containerId);
    const { refused } = await untilLimited(100, (i) =>
      postReadings(sensor.key, { containerId, readingId: `s-${i}`, fillPercent: 60 }),
    );
    await expectRefusal(refused, "10", /sensor key/);
  });

  it("a key that keeps hitting its limit raises the monitor's rateLimited alert (once) and is counted in GET /metrics", async () => {
    const admin = await adminToken();
    const metric = async (name: string, kind?: string) => {
      const text = await (await api("/metrics", { headers: { Authorization: "Bearer test-metrics-token" } })).text();
      const line = text.split("\n").find((l) => l.startsWith(kind ? `${name}{kind="${kind}"}` : `${name} `));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const before = await metric("fillgrid_ingest_rate_limited_total", "sensor");
    // Refused in one minute is enough here (the default is 3 of the last 10).
    const { rules } = await json<{ rules: Record<string, unknown> & { rateLimited: { minutes: number } } }>(
      await api("/v1/alert-rules", { token: admin }),
      200,
    );
    expect(rules.rateLimited).toEqual({ enabled: true, severity: "warning", minutes: 3 });
    await json(
      await api("/v1/alert-rules", {
        method: "PUT",
        token: admin,
        json: { rules: { ...rules, rateLimited: { ...rules.rateLimited, minutes: 1 } } },
      }),
      200,
    );
    try {
      const containerId = `noisy-${crypto.randomUUID().slice(0, 8)}`;
      const noisy = await deviceKey(containerId);
      await untilLimited(100, (i) => postReadings(noisy.key, { containerId, readingId: `n-${i}`, fillPercent: 60 }));
      for (let i = 0; i < 5; i++)
        expect((await postReadings(noisy.key, { containerId, readingId: `again-${i}`, fillPercent: 60 })).status).toBe(
          429,
        );
      // The refusals reach the counter (each isolate hands them over every 2 s).
      await eventually(
        async () => ((await metric("fillgrid_ingest_rate_limited_total", "sensor")) >= before + 6 ? true : undefined),
        15_000,
        "the refusals counted",
      );
      expect(await metric("fillgrid_device_keys_rate_limited")).toBeGreaterThanOrEqual(1);
      type Alerts = { alerts: { rule: string; subject: string; message: string; state: string }[] };
      const ofKey = async () =>
        (await json<Alerts>(await api("/v1/alerts?limit=500", { token: admin }), 200)).alerts.filter(
          (a) => a.rule === "rateLimited" && a.subject === noisy.id,
        );
      await json(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
      const [alert] = await ofKey();
      expect(alert).toMatchObject({ state: "firing", severity: "warning" });
      expect(alert!.message).toMatch(
        new RegExp(`^sensor key .*${noisy.id}.* refused for its rate \\d+ times in 1 of the last 10 minutes`),
      );
      // The next run finds the same condition: still one alert.
      await json(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
      expect(await ofKey()).toHaveLength(1);
    } finally {
      await json(await api("/v1/alert-rules", { method: "PUT", token: admin, json: { rules } }), 200);
    }
  });

  it("the rest of the API, per token: 429 with Retry-After, and nothing done", async () => {
    const admin = await adminToken();
    const email = `limited-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email, password: "a long enough password", role: "admin" },
      }),
      201,
    );
    const token = (
      await json<{ token: string }>(
        await api("/v1/auth/login", { method: "POST", json: { email, password: "a long enough password" } }),
        200,
      )
    ).token;
    const { refused } = await untilLimited(200, () => api("/v1/errors?limit=1", { token }));
    await expectRefusal(refused, "10", /token/);
    const before = (await json<{ deviceKeys: unknown[] }>(await api("/v1/device-keys", { token: admin }), 200))
      .deviceKeys.length;
    const issued = await api("/v1/device-keys", { method: "POST", token, json: { label: "over the limit" } });
    await expectRefusal(issued, "10", /token/);
    const after = (await json<{ deviceKeys: unknown[] }>(await api("/v1/device-keys", { token: admin }), 200))
      .deviceKeys.length;
    expect(after).toBe(before);
  });

  it("login, per email: 429 with Retry-After, even for the right password", async () => {
    const admin = await adminToken();
    const email = `guessed-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    const password = "the right password";
    await json(
      await api("/v1/users", { method: "POST", token: admin, json: { email, password, role: "viewer" } }),
      201,
    );
    const ip = () => `2001:db8:1::${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;
    const { refused } = await untilLimited(10, () =>
      api("/v1/auth/login", {
        method: "POST",
        json: { email, password: "a wrong guess" },
        headers: { "CF-Connecting-IP": ip() },
      }),
    );
    await expectRefusal(refused, "60", /email/);
    const right = await api("/v1/auth/login", {
      method: "POST",
      json: { email, password },
      headers: { "CF-Connecting-IP": ip() },
    });
    await expectRefusal(right, "60", /email/);
  });

  it("login, per client address: 429 with Retry-After, whatever the email", async () => {
    const ip = `2001:db8:2::${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;
    const { refused } = await untilLimited(50, (i) =>
      api("/v1/auth/login", {
        method: "POST",
        json: { email: `nobody-${i}@fillgrid.test`, password: "wrong" },
        headers: { "CF-Connecting-IP": ip },
      }),
    );
    await expectRefusal(refused, "60", /client address/);
    const elsewhere = await api("/v1/auth/login", {
      method: "POST",
      json: { email: "nobody@fillgrid.test", password: "wrong" },
    });
    expect(elsewhere.status).toBe(401);
  });
});
