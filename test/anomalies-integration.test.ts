// Anomalies through the whole system: raised in a container's log as readings apply, projected to
// Postgres and listed, dismissed by an operator (not by a viewer), and raised again after that.
import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { noisyAbove, type Anomaly } from "../domain/anomalies";
import { withDatabase } from "../workers/db/client";
import { syncFleetNoise } from "../workers/fleet-noise";
import {
  adminToken,
  api,
  containerState,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  uniqueContainer,
  type ErrorBody,
} from "./helpers";
import { HOUR } from "./support/series";

let key: string;
let admin: string;
let operator: string;
let viewer: string;

beforeAll(async () => {
  key = (await deviceKey()).key;
  admin = await adminToken();
  operator = await personWith("operator");
  viewer = await personWith("viewer");
});

type Listed = Anomaly & { containerId: string };

/** Hourly readings ending now, falling 3 points a day from 90, with `drop` points gone 3 hours ago. */
function readings(id: string, hours: number, drop = 0) {
  const now = Date.now();
  return Array.from({ length: hours }, (_, i) => {
    const ago = hours - 1 - i;
    const level = 90 - (3 * i) / 24 - (ago < 3 ? drop : 0);
    return {
      containerId: id,
      readingId: `a-${i}`,
      fillPercent: Math.round((level + ((i * 7) % 5) * 0.1) * 10) / 10,
      measuredAt: new Date(now - ago * HOUR).toISOString(),
    };
  });
}

describe("anomalies", () => {
  it("a sudden drop is raised in the container, listed from Postgres, and dismissed by an operator", async () => {
    const id = uniqueContainer("anm");
    await json(await postReadings(key, { readings: readings(id, 72, 20) }), 200);
    const state = (await containerState(id))!;
    expect(state.anomalies.map((a) => a.kind)).toEqual(["sudden_drop"]);
    const anomaly = state.anomalies[0]!;
    expect(anomaly).toMatchObject({ status: "open", closedAt: null });

    const listed = await eventually(async () => {
      const res = await api(`/v1/anomalies?containerId=${id}&status=open`, { token: viewer });
      const page = await json<{ anomalies: Listed[] }>(res, 200);
      return page.anomalies.length > 0 ? page.anomalies : undefined;
    });
    expect(listed).toEqual([{ ...anomaly, containerId: id }]);

    // A viewer may list but not dismiss; an unknown id is a 404; a malformed one names the field.
    await json<ErrorBody>(
      await api(`/v1/containers/${id}/anomalies/${anomaly.id}/dismiss`, { method: "POST", token: viewer }),
      403,
    );
    await json<ErrorBody>(
      await api(`/v1/containers/${id}/anomalies/anm_00000000000000000000000000/dismiss`, {
        method: "POST",
        token: operator,
      }),
      404,
    );
    const bad = await json<ErrorBody>(
      await api(`/v1/containers/${id}/anomalies/not-an-id/dismiss`, { method: "POST", token: operator }),
      400,
    );
    expect(bad.error.issues?.[0]).toMatchObject({ path: "anomalyId" });

    // The minute monitor alerts on it, naming the container.
    const alert = await eventually(async () => {
      await json(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
      const alerts = await json<{ alerts: { key: string; state: string; message: string }[] }>(
        await api("/v1/alerts?limit=500", { token: viewer }),
        200,
      );
      return alerts.alerts.find((a) => a.key === `anomaly:${anomaly.id}`);
    });
    expect(alert.message).toMatch(new RegExp(`^${id}: The level fell`));

    const dismissed = await json<{ anomaly: Anomaly }>(
      await api(`/v1/containers/${id}/anomalies/${anomaly.id}/dismiss`, { method: "POST", token: operator }),
      200,
    );
    expect(dismissed.anomaly).toMatchObject({
      id: anomaly.id,
      status: "dismissed",
      closedBy: expect.stringMatching(/^operator/),
    });
    expect((await containerState(id))!.anomalies).toEqual([]);
    // Dismissed: the next monitor run resolves its alert.
    await eventually(async () => {
      await json(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
      const alerts = await json<{ alerts: { key: string; state: string }[] }>(
        await api("/v1/alerts?limit=500", { token: viewer }),
        200,
      );
      return alerts.alerts.find((a) => a.key === `anomaly:${anomaly.id}`)?.state === "resolved" ? true : undefined;
    });
    await eventually(async () => {
      const res = await api(`/v1/anomalies?containerId=${id}`, { token: admin });
      const page = await json<{ anomalies: Listed[] }>(res, 200);
      return page.anomalies[0]?.status === "dismissed" ? true : undefined;
    });
    // Dismissed once: a second dismissal finds nothing open.
    await json<ErrorBody>(
      await api(`/v1/containers/${id}/anomalies/${anomaly.id}/dismiss`, { method: "POST", token: operator }),
      404,
    );
    const events = await json<{ events: { type: string }[] }>(
      await api(`/v1/containers/${id}/events?after=0&limit=500`, { token: admin }),
      200,
    );
    expect(events.events.filter((e) => e.type.startsWith("anomaly.")).map((e) => e.type)).toEqual([
      "anomaly.raised",
      "anomaly.closed",
    ]);
  });

  it("lists by kind and status, newest first, a page at a time; a bad filter names the field", async () => {
    const ids = [uniqueContainer("anm"), uniqueContainer("anm")];
    for (const id of ids) await json(await postReadings(key, { readings: readings(id, 72, 25) }), 200);
    const page = await eventually(async () => {
      const res = await api(`/v1/anomalies?kind=sudden_drop&status=open&limit=1`, { token: admin });
      const body = await json<{ anomalies: Listed[]; nextCursor: string | null }>(res, 200);
      return body.nextCursor ? body : undefined;
    });
    expect(page.anomalies).toHaveLength(1);
    const next = await json<{ anomalies: Listed[] }>(
      await api(`/v1/anomalies?kind=sudden_drop&status=open&limit=1&cursor=${page.nextCursor}`, { token: admin }),
      200,
    );
    expect(next.anomalies[0]!.id < page.anomalies[0]!.id).toBe(true);
    const bad = await json<ErrorBody>(await api(`/v1/anomalies?kind=theft`, { token: admin }), 400);
    expect(bad.error.issues?.[0]).toMatchObject({ path: "kind" });
  });

  it("a sensor is noisy against the fleet's usual noise, which the 10-minute job carries to every container", async () => {
    // Hourly readings falling 3 a day, `swing` points above and below the trend in turn: a reading's
    // noise of about 2.1 × swing.
    const scattered = (id: string, from: number, to: number, swing: number, hours = to) =>
      Array.from({ length: to - from }, (_, k) => {
        const i = from + k;
        const level = 80 - (3 * i) / 24 + (i % 2 === 0 ? swing : -swing);
        return {
          containerId: id,
          readingId: `s-${i}`,
          fillPercent: Math.round(level * 100) / 100,
          measuredAt: new Date(Date.now() - (hours - 1 - i) * HOUR).toISOString(),
        };
      });
    const stub = (id: string) => env.CONTAINERS.getByName(id);

    // Ten ordinary sensors (noise about 1 point) make sure the fleet's noise is known.
    const ordinary = Array.from({ length: 10 }, () => uniqueContainer("nz"));
    for (const id of ordinary) await json(await postReadings(key, { readings: scattered(id, 0, 72, 0.5) }), 200);
    const noise = (await containerState(ordinary[0]!))!.forecast!.noise!;
    expect(noise).toBeGreaterThan(0.8);
    expect(noise).toBeLessThan(1.3);
    expect((await containerState(ordinary[0]!))!.fleetNoise).toBeNull();

    // A sensor scattering about 5 points: within three times a fleet's usual 2, not within 4 (the
    // rule while the fleet's noise is unknown), nor three times a fleet's usual 1.
    const calm = uniqueContainer("nz-calm");
    const loud = uniqueContainer("nz-loud");
    for (const id of [calm, loud]) {
      await json(await postReadings(key, { readings: scattered(id, 0, 2, 2.4, 74) }), 200);
      await stub(id).setFleetNoise(2);
      await json(await postReadings(key, { readings: scattered(id, 2, 74, 2.4, 74) }), 200);
    }
    const held = (await containerState(calm))!;
    expect(held.fleetNoise).toBe(2);
    expect(held.forecast!.noise!).toBeGreaterThan(4);
    expect(held.forecast!.noise!).toBeLessThan(noisyAbove(2));
    expect(held.anomalies).toEqual([]);
    await stub(loud).setFleetNoise(1);
    await json(
      await postReadings(key, {
        readings: [{ containerId: loud, readingId: "s-next", fillPercent: 70, measuredAt: new Date().toISOString() }],
      }),
      200,
    );
    const raised = (await containerState(loud))!.anomalies;
    expect(raised.map((a) => a.kind)).toEqual(["noisy_sensor"]);
    expect(raised[0]!.message).toMatch(
      /scatter \d+(\.\d)? points around the trend, \d+(\.\d)? times the fleet's usual 1$/,
    );
    expect(raised[0]!.details).toMatchObject({ fleetNoise: 1, above: 3 });

    // The job: once the forecasts are in Postgres, the fleet's median reaches every container.
    const projected = (column: "forecast" | "fleet_noise") =>
      withDatabase(env, async (db) =>
        (
          await db.execute<{ id: string; value: unknown }>(
            sql`select id, ${sql.raw(column)} as value from containers where id in ${ordinary}`,
          )
        ).rows.map((r) => r.value),
      );
    await eventually(async () => ((await projected("forecast")).filter((f) => f).length === 10 ? true : undefined));
    const synced = await syncFleetNoise(env);
    expect(synced.fleetNoise).not.toBeNull();
    for (const id of ordinary) expect((await containerState(id))!.fleetNoise).toBe(synced.fleetNoise);
    const events = await json<{ events: { type: string; actor: { kind: string; id: string }; seq: number }[] }>(
      await api(`/v1/containers/${ordinary[0]}/events?after=0&limit=500`, { token: admin }),
      200,
    );
    const told = events.events.filter((e) => e.type === "settings.changed");
    expect(told).toHaveLength(1);
    expect(told[0]!.actor).toEqual({ kind: "system", id: "fleet-noise" });
    // Told once: a second run with the fleet as it was tells these containers nothing again.
    const version = (await containerState(ordinary[0]!))!.version;
    await eventually(async () =>
      (await projected("fleet_noise")).every((v) => v === synced.fleetNoise) ? true : undefined,
    );
    await syncFleetNoise(env);
    expect((await containerState(ordinary[0]!))!.version).toBe(version);
  });
});
