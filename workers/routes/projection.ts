import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { withDatabase } from "../db/client";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { projectionStatus, reconcile } from "../projection/repair";

const as = (role: "viewer" | "admin"): MiddlewareHandler<AppEnv>[] => [requireRole(role), rateLimit(limits.api)];

const reconciliationSchema = z
  .object({
    trigger: z.string(),
    startedAt: z.string().meta({ format: "date-time" }),
    finishedAt: z.string().meta({ format: "date-time" }),
    containersChecked: z.number().int(),
    containersBehind: z.number().int().meta({ description: "Containers whose live version was ahead of Postgres" }),
    eventsResent: z.number().int().meta({ description: "Events the containers sent again" }),
    failures: z.number().int().meta({ description: "Containers that could not be checked (each an error record)" }),
  })
  .meta({ id: "Reconciliation" });

export const projection = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/projection/status",
      tags: ["Operations"],
      summary: "How complete Postgres is: containers behind, events missing, the oldest gap, the last reconciliation",
      security: security.person,
      middleware: as("viewer"),
      responses: {
        200: jsonContent(
          z.object({
            containersBehind: z.number().int(),
            eventsMissing: z.number().int(),
            oldestGapSince: z.string().nullable().meta({ format: "date-time" }),
            lastReconciliation: z.union([reconciliationSchema, z.null()]),
          }),
          "The projection's completeness",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json(await withDatabase(c.env, (db) => projectionStatus(db)), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/projection/reconcile",
      tags: ["Operations"],
      summary: "Reconcile now: every container behind Postgres sends what is missing",
      description: "Also runs after `npm run dev` starts and every 10 minutes (cron). Answers when every container has been asked.",
      security: security.person,
      middleware: as("admin"),
      responses: { 200: jsonContent(reconciliationSchema, "What the pass found and asked for"), ...problems(...personProblems) },
    }),
    async (c) => c.json(await reconcile(c.env, `by ${c.get("person").email}`), 200),
  );
