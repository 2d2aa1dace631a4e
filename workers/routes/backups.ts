// The backups as an admin checks them: each hour's manifest (what it holds, whether it is
// complete), how old the newest complete one is, and what is written but not yet in a manifest.
import type { MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { backupAgeSeconds, backupSummarySchema, restoreSummarySchema } from "../../domain/backups";
import { instantSchema } from "../../domain/validation";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { personProblems, problems, router, security } from "../http/openapi";
import { jsonContent } from "../http/openapi";
import { jsonBody } from "../http/json-body";
import { limits, rateLimit } from "../http/rate-limit";
import { restoreFromBucket } from "../restore";
import { backupLedger } from "../stubs";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];

export const backups = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/backups",
      tags: ["Operations"],
      summary: "The hourly backups: what each holds and whether it is complete",
      description:
        "Every container event is written to the backup bucket within a minute or so of its commit; every hour a snapshot of what no container holds (people, device keys, partners with their secrets sealed, alert and notification rules, prices, sales documents and their numbers) and a manifest of the objects written since the hour before (each with its SHA-256) are added. A backup is complete when every event Postgres knew of when the hour closed is in the bucket with no hole, and its snapshot was written.",
      security: security.person,
      middleware: admin,
      request: {
        query: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(48).meta({ description: "1-500, default 48" }),
          before: z
            .string()
            .datetime()
            .optional()
            .meta({ description: "Manifests of hours before this one (RFC 3339), for the next page" }),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({
            newestComplete: z.string().nullable().meta({ description: "When the newest complete backup was taken" }),
            ageSeconds: z.number().nullable().meta({ description: "How long ago that was; null: none yet" }),
            unlisted: z
              .object({
                objects: z.number().int(),
                events: z.number().int(),
              })
              .meta({ description: "Event objects written since the last manifest" }),
            backups: z.array(backupSummarySchema),
          }),
          "Newest first",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const ledger = backupLedger(c.env);
      const [newest, manifests, unlisted] = await Promise.all([
        ledger.newest(),
        ledger.manifests(q.limit, q.before),
        ledger.unlistedTotals(),
      ]);
      return c.json(
        {
          newestComplete: newest.complete,
          ageSeconds: backupAgeSeconds(newest.complete, Date.now()),
          unlisted,
          backups: manifests,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/backups/restore",
      tags: ["Operations"],
      summary: "Rebuild the system from the backup bucket, to the latest or to a moment",
      description:
        "Every container from its events committed up to `at` (default: all), into empty containers only (one that holds a log already is listed as refused); the people, device keys, partners, alert and notification rules, document numbers, prices and sales documents of the newest snapshot taken by then; Postgres from the containers, whose restored events the projection writes as any others. Run it on a wiped system, before traffic resumes. For a fleet too large for one request, `npm run restore` does the same from outside, container by container.",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                at: instantSchema
                  .optional()
                  .meta({ description: "Restore the system as it was at this moment (RFC 3339)" }),
              }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: jsonContent(restoreSummarySchema, "What was restored, and what was refused"),
        ...problems(400, ...personProblems),
      },
    }),
    async (c) => {
      const { at } = c.req.valid("json");
      return c.json(await restoreFromBucket(c.env, at === undefined ? null : Date.parse(at)), 200);
    },
  );
