// The minute monitor through the API: one alert per condition and subject, however many runs (also
// at once); resolved when the condition clears; acknowledged and silenced by operators.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
  type ErrorBody,
} from "./helpers";

type Alert = {
  id: string;
  key: string;
  state: string;
  severity: string;
  message: string;
  acknowledgedBy: string | null;
  silencedUntil: string | null;
};
type Run = { opened: number; resolved: number; messages: number };

let admin: string;
let operator: string;
let viewer: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  operator = await personWith("operator");
  viewer = await personWith("viewer");
  key = (await deviceKey()).key;
});

const run = async () => json<Run>(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
const alertsFor = async (k: string) =>
  (await json<{ alerts: Alert[] }>(await api("/v1/alerts?limit=500", { token: viewer }), 200)).alerts.filter(
    (a) => a.key === k,
  );

describe("the minute monitor", () => {
  it("a low battery fires one alert, however many runs and even two at once; a reading with a good battery resolves it", async () => {
    const containerId = uniqueContainer("battery");
    await json(await postReadings(key, reading(containerId, 80, { battery: 9 })), 200);
    const k = `battery:${containerId}`;
    await eventually(
      async () => {
        await run();
        return (await alertsFor(k)).length > 0 ? true : undefined;
      },
      20_000,
      "the alert",
    );
    await Promise.all([run(), run()]);
    await run();
    const alerts = await alertsFor(k);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ state: "firing", severity: "warning", message: `${containerId} battery at 9 %` });
    const open = (
      await json<{ alerts: Alert[] }>(await api("/v1/alerts?state=firing&limit=500", { token: viewer }), 200)
    ).alerts;
    expect(new Set(open.map((a) => a.key)).size).toBe(open.length);

    await json(await postReadings(key, reading(containerId, 79, { battery: 60 })), 200);
    await eventually(
      async () => {
        await run();
        const [alert] = await alertsFor(k);
        return alert?.state === "resolved" ? alert : undefined;
      },
      20_000,
      "the resolve",
    );
  });

  it("operators acknowledge and silence; a viewer may not; a resolved alert cannot be acknowledged", async () => {
    const containerId = uniqueContainer("ack");
    await json(await postReadings(key, reading(containerId, 80, { battery: 5 })), 200);
    const k = `battery:${containerId}`;
    const alert = await eventually(
      async () => {
        await run();
        return (await alertsFor(k))[0];
      },
      20_000,
      "the alert",
    );
    await json(await api(`/v1/alerts/${alert.id}/ack`, { method: "POST", token: viewer }), 403);
    const acked = await json<{ alert: Alert }>(
      await api(`/v1/alerts/${alert.id}/ack`, { method: "POST", token: operator }),
      200,
    );
    expect(acked.alert).toMatchObject({ state: "acknowledged" });
    const until = new Date(Date.now() + 3600_000).toISOString();
    expect(
      (
        await json<{ alert: Alert }>(
          await api(`/v1/alerts/${alert.id}/silence`, { method: "POST", token: operator, json: { until } }),
          200,
        )
      ).alert.silencedUntil,
    ).toBe(until);
    const bad = await json<ErrorBody>(
      await api(`/v1/alerts/${alert.id}/silence`, { method: "POST", token: operator, json: { until: "soon" } }),
      400,
    );
    expect(bad.error.issues![0]!.path).toBe("until");

    await json(await postReadings(key, reading(containerId, 79, { battery: 70 })), 200);
    await eventually(
      async () => {
        await run();
        return (await alertsFor(k))[0]?.state === "resolved" ? true : undefined;
      },
      20_000,
      "the resolve",
    );
    await json(await api(`/v1/alerts/${alert.id}/ack`, { method: "POST", token: operator }), 409);
  });

  it("the rules are the admin's: a threshold changed applies to the next run", async () => {
    const { rules } = await json<{ rules: Record<string, Record<string, unknown>> }>(
      await api("/v1/alert-rules", { token: viewer }),
      200,
    );
    expect(rules.battery).toEqual({ enabled: true, severity: "warning", belowPercent: 15 });
    const containerId = uniqueContainer("rules");
    await json(await postReadings(key, reading(containerId, 80, { battery: 20 })), 200);
    await json(await api("/v1/alert-rules", { method: "PUT", token: viewer, json: { rules } }), 403);
    await json(
      await api("/v1/alert-rules", {
        method: "PUT",
        token: admin,
        json: { rules: { ...rules, battery: { ...rules.battery, belowPercent: 25 } } },
      }),
      200,
    );
    try {
      await eventually(
        async () => {
          await run();
          return (await alertsFor(`battery:${containerId}`))[0];
        },
        20_000,
        "the alert under the new threshold",
      );
    } finally {
      await json(await api("/v1/alert-rules", { method: "PUT", token: admin, json: { rules } }), 200);
    }
  });

  it("runs that overlap and finish out of order: the older view changes nothing the newer one found", async () => {
    // An AlertsDO of the test's own, so that no other run comes between.
    const alerts = env.ALERTS.getByName(`overlap-test-${crypto.randomUUID()}`);
    const condition = {
      key: "silent:tank-overlap",
      rule: "silent",
      subject: "tank-overlap",
      severity: "warning" as const,
      message: "tank-overlap silent for 2 min",
    };
    const t = Date.now();
    // The newer run found the container silent; the older one, which took its snapshot first, did not.
    expect(await alerts.run([condition], t)).toMatchObject({ opened: 1 });
    expect(await alerts.run([], t - 1_000)).toMatchObject({ opened: 0, resolved: 0, messages: 0, superseded: true });
    expect(await alerts.list({ limit: 10 })).toMatchObject([{ key: condition.key, state: "firing" }]);
    // A run after both judges as usual.
    expect(await alerts.run([], t + 1_000)).toMatchObject({ resolved: 1 });
    expect(await alerts.list({ limit: 10 })).toMatchObject([{ key: condition.key, state: "resolved" }]);
  });
});
