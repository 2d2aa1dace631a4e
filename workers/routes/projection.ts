import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { dayText } from "../../domain/analytics";
import { rebuildRollups } from "../db/rollups";
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
    sweep: z.enum(["changed", "full"]).meta({
      description: "changed: the containers that moved since the run before; full: every container and every row",
    }),
    containersWoken: z.number().int().meta({ description: "Containers asked over RPC (each woken to answer)" }),
    postgresMs: z.number().int().meta({ description: "Time spent waiting for Postgres" }),
    wallMs: z.number().int().meta({ description: "Time the run took" }),
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
      description:
        "`?sweep=changed` (the default, and what runs every 10 minutes): Postgres's rows above each container's verified watermark are checked, and only the containers whose log moved since the run before (or whose rows were found missing) are asked. " +
        "`?sweep=full` (daily at 03:00, and after `npm run dev` starts following an unclean stop): every row of every container is checked and every container is asked, at most " +
        "RECONCILE_FULL_SWEEP_PER_SECOND (500) a second; it also finds rows deleted below the watermark. Answers when every container has been asked.",
      security: security.person,
      middleware: as("admin"),
      request: { query: z.strictObject({ sweep: z.enum(["changed", "full"]).default("changed") }) },
      responses: {
        200: jsonContent(reconciliationSchema, "What the pass found and asked for"),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json(await reconcile(c.env, `by ${c.get("person").email}`, c.req.valid("query").sweep), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/projection/rollups/rebuild",
      tags: ["Operations"],
      summary: "Rebuild the daily rollups analytics read from the readings, orders and anomalies",
      description:
        "The projection keeps the rollups as it writes; a rebuild is for after restoring Postgres from elsewhere, or after deploying the version that added them (`from`: the day before the deploy; it also fills in what rows the older version wrote since then lack). One transaction that holds the table: the projection waits meanwhile, readers see the old rows until it commits.",
      security: security.person,
      middleware: as("admin"),
      request: {
        query: z.strictObject({
          from: dayText.optional().meta({ description: "Rebuild the days from this UTC day on (default: every day)" }),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({ days: z.number().int().meta({ description: "Container days written" }), ms: z.number() }),
          "Rebuilt",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { from } = c.req.valid("query");
      return c.json(await withDatabase(c.env, (db) => rebuildRollups(db, from ?? null)), 200);
    },
  );
