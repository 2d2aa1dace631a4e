import { createRoute, z } from "@hono/zod-openapi";
import { sameText } from "../../platform/crypto";
import { ApiError } from "../http/errors";
import { bearerToken } from "../http/credentials";
import { problems, router } from "../http/openapi";
import { metricsText } from "../metrics";

export const metrics = router().openapi(
  createRoute({
    method: "get",
    path: "/metrics",
    tags: ["Meta"],
    summary: "Prometheus metrics (text format 0.0.4), the same from every isolate",
    description:
      "`Authorization: Bearer <METRICS_TOKEN>` (a secret). Counters: readings by outcome, orders opened by source and closed by reason, sales documents. Gauges: active orders, containers below threshold and silent, projection lag, open error records, dead letters waiting, partner deliveries by state. Histograms: consumer batch durations and queue waits by queue.",
    security: [{ metricsToken: [] }],
    responses: {
      200: { description: "The metrics", content: { "text/plain": { schema: z.string() } } },
      ...problems(401, 503),
    },
  }),
  async (c) => {
    const expected = c.env.METRICS_TOKEN;
    if (!expected) throw new ApiError(503, "metrics_off", "metrics are off: set the METRICS_TOKEN secret");
    const given = bearerToken(c.req.header("Authorization"));
    if (!given || !sameText(given, expected))
      throw new ApiError(401, "unauthenticated", "missing or wrong Authorization: Bearer <METRICS_TOKEN>");
    const text = await metricsText(c.env);
    return c.text(text, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  },
);
