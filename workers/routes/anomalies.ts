// Anomalies: what the level shows that consumption does not explain (domain/anomalies.ts). Listed
// across the fleet from Postgres; dismissed through the container that raised them.
import type { MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { ANOMALY_KINDS, anomalySchema } from "../../domain/anomalies";
import { anomalyIdSchema, containerIdSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { listAnomalies } from "../db/queries";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { notFound } from "../http/errors";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { container } from "../stubs";

const as = (role: "viewer" | "operator"): MiddlewareHandler<AppEnv>[] => [requireRole(role), rateLimit(limits.api)];
const listedAnomaly = anomalySchema.extend({ containerId: z.string() }).meta({ id: "ListedAnomaly" });

export const anomalies = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/anomalies",
      tags: ["Anomalies"],
      summary: "Anomalies across the fleet from Postgres, newest first",
      description:
        "sudden_drop (a fall consumption does not explain: theft, a leak), stuck_sensor, unexpected_refill (no order dispatched or delivered), delivery_mismatch (the delivered quantity against the rise × capacity, more than 10 % apart), noisy_sensor. At most one of each kind is open per container.",
      security: security.person,
      middleware: as("viewer"),
      request: {
        query: z.strictObject({
          status: z.enum(["open", "dismissed", "resolved"]).optional(),
          kind: z.enum(ANOMALY_KINDS).optional(),
          containerId: containerIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          cursor: anomalyIdSchema.optional().meta({ description: "nextCursor of the page before" }),
        }),
      },
      responses: {
        200: jsonContent(z.object({ anomalies: z.array(listedAnomaly), nextCursor: z.string().nullable() }), "A page"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await withDatabase(c.env, (db) => listAnomalies(db, { ...q, before: q.cursor }));
      return c.json({ anomalies: page.items, nextCursor: page.next }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/containers/{containerId}/anomalies/{anomalyId}/dismiss",
      tags: ["Anomalies"],
      summary: "Dismiss an open anomaly (operator)",
      description: "Once dismissed, the next occurrence of the same kind raises a new anomaly.",
      security: security.person,
      middleware: as("operator"),
      request: { params: z.object({ containerId: containerIdSchema, anomalyId: anomalyIdSchema }) },
      responses: {
        200: jsonContent(z.object({ anomaly: anomalySchema }), "Dismissed"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { containerId, anomalyId } = c.req.valid("param");
      const result = await container(c.env, containerId).dismissAnomaly(anomalyId, c.get("person").email);
      if (!result.ok) throw notFound(`open anomaly ${anomalyId} of container ${containerId}`);
      return c.json({ anomaly: result.anomaly }, 200);
    },
  );
