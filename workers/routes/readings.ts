import { createRoute, z } from "@hono/zod-openapi";
import type { Reading } from "../../domain/container";
import { ingestBodySchema, toReadings } from "../../domain/reading";
import { errorBodySchema, readingResultSchema } from "../../domain/schemas";
import { monotonicIds } from "../../domain/ids";
import type { ReadingResult } from "../../domain/schemas";
import { relay, type Handed } from "../projection/relay";
import { requireDeviceKey } from "../http/device-auth";
import { ApiError, validationError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, problems, router, security } from "../http/openapi";
import { deviceRateLimit } from "../http/rate-limit";
import { container } from "../stubs";

/** 500 readings of a few hundred bytes each fit with room to spare. */
export const MAX_READINGS_BODY = 1024 * 1024;

const newReadingId = monotonicIds();

export const readings = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/readings",
    tags: ["Readings"],
    summary: "Report one reading, or a batch of up to 500",
    description:
      "Answered only after each container has committed its readings. A batch is validated whole first: one bad reading refuses the request and nothing is stored. " +
      "A repeated readingId (or, without one, the same measuredAt) is answered `duplicate` with the first answer, and `conflict: true` when its payload differs. " +
      "A reading with neither readingId nor measuredAt cannot be deduplicated.\n\n" +
      "Rate limits, per device key, counted in windows of 10 s: a key for one container (a sensor) may make 100 requests per 10 s; " +
      "a fleet key (a gateway, or a network server posting one request per uplink) 3,000. Over its limit a request is answered 429 `rate_limited` " +
      "with `Retry-After: 10` and stores nothing: send it again after that many seconds (a gateway with many readings to send should batch them, up to 500 a request). " +
      "A key refused again and again is taken for a noisy or broken device: the monitor raises a `rateLimited` alert for it.",
    security: security.device,
    middleware: [requireDeviceKey(), deviceRateLimit(), ...jsonBody(MAX_READINGS_BODY)],
    request: { body: { content: { "application/json": { schema: ingestBodySchema } }, required: true } },
    responses: {
      200: jsonContent(z.object({ results: z.array(readingResultSchema) }), "One result per reading, in request order"),
      ...problems(400, 401, 403, 413, 415, 500),
      429: {
        ...jsonContent(
          errorBodySchema,
          "Over the device key's limit (sensor key 100, fleet key 3,000 requests per 10 s); nothing was stored",
        ),
        headers: z.object({
          "Retry-After": z
            .string()
            .meta({ description: "Seconds to wait before sending the request again (10)", example: "10" }),
        }),
      },
    },
  }),
  async (c) => {
    const receivedAt = Date.now();
    const parsed = toReadings(c.req.valid("json"), receivedAt, () => newReadingId("rcv:", receivedAt));
    if (!parsed.ok) throw validationError(parsed.issues);
    const all = parsed.value.readings;

    const device = c.get("device");
    if (device.containerId !== null) {
      const foreign = all.flatMap((r, i) =>
        r.containerId === device.containerId
          ? []
          : [
              {
                path: parsed.value.batch ? `readings[${i}].containerId` : "containerId",
                message: `this key may only report for container ${device.containerId}`,
              },
            ],
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
    // Each container commits its readings and hands back its new events; they go to the projection
    // queue together with other requests', as few messages as fit (workers/projection/relay.ts).
    // Every container's commit is awaited, failed or not: what the others committed (and count as
    // sent) is relayed even when one fails, rather than left to the gap check; then the failure
    // is the answer (500, an error record), and the sensor sends the batch again.
    const relayed: Handed[] = [];
    const outcomes = await Promise.allSettled(
      [...groups].map(async ([containerId, group]) => {
        const answer = await container(c.env, containerId).ingestRelayed(group.readings, actor, receivedAt);
        answer.results.forEach((result, i) => (results[group.positions[i]!] = result));
        if (answer.relayed) relayed.push({ containerId, relayed: answer.relayed });
      }),
    );
    relay(c.env, c.executionCtx, relayed);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
    return c.json({ results }, 200);
  },
);
