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
  subject: string;
  containerId: string | null;
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

  it("alerts of one container are found by it, by rule and by text, as JSON or CSV; many are acknowledged and silenced at once", async () => {
    const ids = [uniqueContainer("bulk"), uniqueContainer("bulk")];
    for (const id of ids) await json(await postReadings(key, reading(id, 80, { battery: 4 })), 200);
    const alerts = await eventually(
      async () => {
        await run();
        const found = (
          await Promise.all(
            ids.map(
              async (id) =>
                (
                  await json<{ alerts: Alert[] }>(
                    await api(`/v1/alerts?containerId=${id}&rule=battery`, { token: viewer }),
                    200,
                  )
                ).alerts,
            ),
          )
        ).flat();
        return found.length === 2 ? found : undefined;
      },
      20_000,
      "both alerts",
    );
    expect(alerts.map((a) => a.containerId).sort()).toEqual([...ids].sort());
    const byText = await json<{ alerts: Alert[] }>(
      await api(`/v1/alerts?q=${encodeURIComponent(ids[0]!.toUpperCase())}`, { token: viewer }),
      200,
    );
    expect(byText.alerts.map((a) => a.subject)).toEqual([ids[0]]);
    const csv = await api(`/v1/alerts?containerId=${ids[1]}`, { token: viewer, headers: { accept: "text/csv" } });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split("\n");
    expect(lines[0]).toBe(
      "id,rule,severity,state,containerId,subject,message,firedAt,repeats,acknowledgedAt,acknowledgedBy,silencedUntil,resolvedAt",
    );
    expect(lines[1]).toContain(`,battery,warning,firing,${ids[1]},${ids[1]},${ids[1]} battery at 4 %,`);

    // Both at once, and one that is not there: the two are taken, the third is named.
    const all = [...alerts.map((a) => a.id), "alr_gone"];
    await json(await api("/v1/alerts/ack", { method: "POST", token: viewer, json: { ids: all } }), 403);
    const acked = await json<{ alerts: Alert[]; refused: { id: string; reason: string }[] }>(
      await api("/v1/alerts/ack", { method: "POST", token: operator, json: { ids: all } }),
      200,
    );
    expect(acked.alerts.map((a) => a.state)).toEqual(["acknowledged", "acknowledged"]);
    expect(acked.refused).toEqual([{ id: "alr_gone", reason: "not_found" }]);
    const until = new Date(Date.now() + 3600_000).toISOString();
    const silenced = await json<{ alerts: Alert[] }>(
      await api("/v1/alerts/silence", { method: "POST", token: operator, json: { ids: all.slice(0, 2), until } }),
      200,
    );
    expect(silenced.alerts.every((a) => a.silencedUntil === until)).toBe(true);
    const empty = await json<{ error: { issues: { path: string; message: string }[] } }>(
      await api("/v1/alerts/ack", { method: "POST", token: operator, json: { ids: [] } }),
      400,
    );
    expect(empty.error.issues[0]).toEqual({ path: "ids", message: "must name at least one alert" });
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
      containerId: "tank-overlap",
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
