// Fleet analytics from Postgres: consumption per day, the demand the forecasts add up to, and
// partners' fulfilment times (domain/analytics.ts says what each answers), each as JSON or CSV.
import type { MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import {
  consumptionQuery,
  consumptionRowSchema,
  CONSUMPTION_GROUPS,
  dayRange,
  demandQuery,
  demandRowSchema,
  fulfilmentQuery,
  fulfilmentRowSchema,
} from "../../domain/analytics";
import { withDatabase } from "../db/client";
import { consumptionByDay, demandByDay, fulfilmentTimes } from "../db/analytics";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { csvOrJsonAnswer as answer, jsonOrCsv } from "../http/csv";
import { placements } from "../partners/placements";
import { validationError } from "../http/errors";
import { personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

const viewer: MiddlewareHandler<AppEnv>[] = [requireRole("viewer"), rateLimit(limits.api)];

function range(q: { from?: string | undefined; to?: string | undefined }, days: number) {
  const r = dayRange(q, Date.now(), days);
  if (!r.ok) throw validationError([{ path: r.field, message: r.message }]);
  return r;
}

export const analytics = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/consumption",
      tags: ["Analytics"],
      summary: "Consumption per day, by contents, partner or container",
      description:
        "From the daily rollups the projection keeps (one row per container and UTC day). A day's consumption is the level it began at (the end of the newest earlier day with readings, up to 3 days back) minus where it ended, plus what refills added; in the container's unit where it has a capacity.",
      security: security.person,
      middleware: viewer,
      request: { query: consumptionQuery },
      responses: {
        200: jsonOrCsv(
          z.object({
            from: z.string(),
            to: z.string(),
            by: z.enum(CONSUMPTION_GROUPS),
            rows: z.array(consumptionRowSchema),
          }),
          "One row per day, group and unit",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { from, to } = range(q, 30);
      const partners = await placements(c.env, q.partnerId);
      const rows = await withDatabase(c.env, (db) =>
        consumptionByDay(
          db,
          {
            from,
            to,
            by: q.by,
            ...(q.contents !== undefined ? { contents: q.contents } : {}),
            ...(q.partnerId !== undefined ? { partnerId: q.partnerId } : {}),
            ...(q.box !== undefined ? { box: q.box } : {}),
          },
          partners,
        ),
      );
      return answer(c, q.format, "consumption", `consumption-${from}-${to}.csv`, { from, to, by: q.by, rows });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/demand",
      tags: ["Analytics"],
      summary: "What partners must deliver on each of the next days, from orders and forecasts",
      description:
        "Per UTC day, partner, contents and unit: orders not delivered yet that are active or a partner has accepted (source order, due at their ETA, else their forecast's thresholdAt, else today) and containers with no order active or on its way whose forecast reaches the threshold that day (source forecast, ordering what fills them back from the threshold). A container's partner is the one that would get its order now.",
      security: security.person,
      middleware: viewer,
      request: { query: demandQuery },
      responses: {
        200: jsonOrCsv(
          z.object({ from: z.string(), to: z.string(), rows: z.array(demandRowSchema) }),
          "One row per day, partner, contents, unit and source",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const partners = await placements(c.env, q.partnerId);
      const body = await withDatabase(c.env, (db) =>
        demandByDay(
          db,
          {
            days: q.days,
            now: Date.now(),
            ...(q.contents !== undefined ? { contents: q.contents } : {}),
            ...(q.partnerId !== undefined ? { partnerId: q.partnerId } : {}),
          },
          partners,
        ),
      );
      return answer(c, q.format, "demand", `demand-${body.from}-${body.to}.csv`, body);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/fulfilment",
      tags: ["Analytics"],
      summary: "How fast orders went from opened to accepted, dispatched and delivered, per partner",
      description:
        "Of the orders opened in the range: counts by outcome, p50 and p90 of each step's time in hours, and the share delivered on time (by the forecast's thresholdAt on a forecast order, else by the ETA the partner last gave).",
      security: security.person,
      middleware: viewer,
      request: { query: fulfilmentQuery },
      responses: {
        200: jsonOrCsv(
          z.object({ from: z.string(), to: z.string(), rows: z.array(fulfilmentRowSchema) }),
          "One row per partner, one for orders no partner took, and one for all",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { from, to } = range(q, 90);
      await placements(c.env, q.partnerId);
      const rows = await withDatabase(c.env, (db) =>
        fulfilmentTimes(db, { from, to, ...(q.partnerId !== undefined ? { partnerId: q.partnerId } : {}) }),
      );
      return answer(c, q.format, "fulfilment", `fulfilment-${from}-${to}.csv`, { from, to, rows });
    },
  );
