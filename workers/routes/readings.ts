import { Hono } from "hono";
import type { Reading } from "../../domain/container";
import { parseReadings } from "../../domain/reading";
import type { ReadingResult } from "../../durable-objects/container";
import type { AppEnv } from "../http/context";
import { requireDeviceKey } from "../http/device-auth";
import { ApiError, readJson, validationError } from "../http/errors";
import { limitBody } from "../http/limits";

/** 500 readings of a few hundred bytes each fit with room to spare. */
export const MAX_READINGS_BODY = 1024 * 1024;

export const readings = new Hono<AppEnv>();

readings.post("/", limitBody(MAX_READINGS_BODY), requireDeviceKey(), async (c) => {
  const receivedAt = Date.now();
  const parsed = parseReadings(await readJson(c), receivedAt);
  if (!parsed.ok) throw validationError(parsed.issues);
  const all = parsed.value.readings;

  const device = c.get("device");
  if (device.containerId !== null) {
    const foreign = all.flatMap((r, i) =>
      r.containerId === device.containerId
        ? []
        : [{ path: parsed.value.batch ? `readings[${i}].containerId` : "containerId", message: `this key may only report for container ${device.containerId}` }],
    );
    if (foreign.length > 0) {
      throw new ApiError(403, "forbidden", `${foreign[0]!.path} ${foreign[0]!.message}`, foreign);
    }
  }

  const groups = new Map<string, { readings: Reading[]; positions: number[] }>();
  all.forEach((reading, position) => {
    let group = groups.get(reading.containerId);
    if (!group) groups.set(reading.containerId, (group = { readings: [], positions: [] }));
    group.readings.push(reading);
    group.positions.push(position);
  });

  const actor = { kind: "device" as const, id: device.keyId };
  const results = new Array<ReadingResult>(all.length);
  await Promise.all(
    [...groups].map(async ([containerId, group]) => {
      const answered = await c.env.CONTAINERS.getByName(containerId).ingest(containerId, group.readings, actor, receivedAt);
      answered.forEach((result, i) => (results[group.positions[i]!] = result));
    }),
  );
  return c.json({ results });
});
