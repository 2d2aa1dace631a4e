import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AlertRules } from "../../domain/monitor";
import { alertSchema } from "../../domain/schemas";
import { instantSchema } from "../../domain/validation";
import { MAX_PAGE } from "../../platform/paging";
import type { AlertActionResult } from "../../durable-objects/alerts";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError, notFound } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { csvResponse, jsonOrCsv, wantsCsv } from "../http/csv";
import { formatParam } from "../../domain/analytics";
import { ALERT_CSV_COLUMNS } from "../../domain/alerts";
import { openStream, streamQuerySchema, streamResponses } from "../http/streams";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { runMonitor } from "../monitor";
import { alertsObject } from "../stubs";

const as = (role: "viewer" | "operator" | "admin"): MiddlewareHandler<AppEnv>[] => [
  requireRole(role),
  rateLimit(limits.api),
];
const byId = z.object({ id: z.string().regex(/^alr_[0-9A-Z]{26}$/, { error: "is not an alert id (alr_…)" }) });
const severity = z.enum(["critical", "warning", "info"]);
const toggle = { enabled: z.boolean(), severity };
const rulesSchema = z
  .strictObject({
    silent: z.strictObject(toggle),
    battery: z.strictObject({ ...toggle, belowPercent: z.number().min(0).max(100) }),
    fillDrop: z.strictObject({ ...toggle, points: z.number().min(1).max(100) }),
    notAccepted: z.strictObject({ ...toggle, minutes: z.number().int().min(1).max(10_080) }),
    assemblingTooLong: z.strictObject({ ...toggle, hours: z.number().min(0.1).max(720) }),
    overdue: z.strictObject({ ...toggle, hoursAfterEta: z.number().min(0).max(720) }),
    noPartner: z.strictObject(toggle),
    deadLetters: z.strictObject(toggle),
    errorsGrowing: z.strictObject({ ...toggle, perHour: z.number().int().min(1).max(1_000_000) }),
    projectionLag: z.strictObject({ ...toggle, seconds: z.number().int().min(1).max(86_400) }),
    deliveriesFailing: z.strictObject(toggle),
    rateLimited: z.strictObject({ ...toggle, minutes: z.number().int().min(1).max(10) }),
    anomaly: z.strictObject(toggle),
    backupStale: z.strictObject({ ...toggle, hours: z.number().min(1).max(720) }),
  })
  .meta({ id: "AlertRules" });

const alertIds = z
  .array(z.string().min(1).max(64))
  .min(1, "must name at least one alert")
  .max(500, "may name at most 500 alerts")
  .meta({ description: "Alert ids, 1-500" });

const bulkAnswer = z.object({
  alerts: z.array(alertSchema).meta({ description: "The alerts acted on, as they are now" }),
  refused: z.array(z.object({ id: z.string(), reason: z.enum(["not_found", "resolved"]) })),
});

function bulk(ids: readonly string[], results: readonly AlertActionResult[]): z.infer<typeof bulkAnswer> {
  const answer: z.infer<typeof bulkAnswer> = { alerts: [], refused: [] };
  results.forEach((r, i) =>
    r.ok ? answer.alerts.push(r.alert) : answer.refused.push({ id: ids[i]!, reason: r.reason }),
  );
  return answer;
}

function settled(result: AlertActionResult, id: string) {
  if (result.ok) return result.alert;
  if (result.reason === "not_found") throw notFound(`alert ${id}`);
  throw new ApiError(409, "resolved", `alert ${id} is resolved`);
}

export const alerts = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/alerts",
      tags: ["Alerts"],
      summary: "Alerts, latest fired first",
      security: security.person,
      middleware: as("viewer"),
      request: {
        query: z.strictObject({
          state: z.enum(["firing", "acknowledged", "resolved"]).optional(),
          severity: severity.optional(),
          rule: z
            .string()
            .max(64)
            .optional()
            .meta({ description: "One rule's alerts (GET /v1/alert-rules names them)" }),
          containerId: z
            .string()
            .max(128)
            .optional()
            .meta({ description: "The alerts about one container or its orders" }),
          q: z
            .string()
            .max(200)
            .optional()
            .meta({ description: "Words the message, subject or container all hold (any case)" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
          format: formatParam,
        }),
      },
      description:
        "`seq` is the alert stream's position before the list was read: follow `/v1/alerts/stream?since=<seq>` and nothing after it is missed. As CSV (`?format=csv` or `Accept: text/csv`): the alerts, one row each.",
      responses: {
        200: jsonOrCsv(z.object({ seq: z.number().int(), alerts: z.array(alertSchema) }), "Latest first"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const hub = alertsObject(c.env);
      const { format, ...filter } = c.req.valid("query");
      const seq = await hub.latestSeq();
      const list = await hub.list(filter);
      if (wantsCsv(c, format)) return csvResponse("alerts.csv", ALERT_CSV_COLUMNS, list);
      return c.json({ seq, alerts: list }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/alerts/ack",
      tags: ["Alerts"],
      summary: "Acknowledge many at once (one rule's, a search's)",
      description:
        "Each as `POST /v1/alerts/{id}/ack`; a chat hears of many of one rule in one line. Alerts that are gone or resolved are listed in `refused`, the rest are acknowledged.",
      security: security.person,
      middleware: [...as("operator"), ...jsonBody()],
      request: {
        body: { content: { "application/json": { schema: z.strictObject({ ids: alertIds }) } }, required: true },
      },
      responses: {
        200: jsonContent(bulkAnswer, "Acknowledged (or already)"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const { ids } = c.req.valid("json");
      const results = await alertsObject(c.env).acknowledgeAll(ids, c.get("person").email);
      return c.json(bulk(ids, results), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/alerts/silence",
      tags: ["Alerts"],
      summary: "Silence many at once until a time",
      description: "Each as `POST /v1/alerts/{id}/silence`; those gone or resolved are listed in `refused`.",
      security: security.person,
      middleware: [...as("operator"), ...jsonBody()],
      request: {
        body: {
          content: { "application/json": { schema: z.strictObject({ ids: alertIds, until: instantSchema }) } },
          required: true,
        },
      },
      responses: {
        200: jsonContent(bulkAnswer, "Silenced"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const { ids, until } = c.req.valid("json");
      const results = await alertsObject(c.env).silenceAll(ids, new Date(until).toISOString());
      return c.json(bulk(ids, results), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/alerts/stream",
      tags: ["Alerts"],
      summary: "WebSocket of alert changes: each alert fired, repeated, escalated, acknowledged, silenced or resolved",
      description:
        "Authenticate as on the error stream (`?ticket=`, or the subprotocols `fillgrid` and `bearer.<token>`). " +
        'Each change is `{"seq", "type":"alerts.changed", "alerts": [Alert…]}` with each alert as it is now. `?since=<seq>` replays what was missed, then `ready`.',
      security: security.person,
      request: { query: streamQuerySchema },
      responses: streamResponses,
    }),
    async (c) => openStream(c, c.req.valid("query"), alertsObject(c.env)),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/alerts/{id}/ack",
      tags: ["Alerts"],
      summary: "Acknowledge: repeats stop; the alert still resolves when its condition clears",
      security: security.person,
      middleware: as("operator"),
      request: { params: byId },
      responses: {
        200: jsonContent(z.object({ alert: alertSchema }), "Acknowledged (or already)"),
        ...problems(...personProblems, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json({ alert: settled(await alertsObject(c.env).acknowledge(id, c.get("person").email), id) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/alerts/{id}/silence",
      tags: ["Alerts"],
      summary: "No repeats until a time",
      security: security.person,
      middleware: [...as("operator"), ...jsonBody()],
      request: {
        params: byId,
        body: { content: { "application/json": { schema: z.strictObject({ until: instantSchema }) } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ alert: alertSchema }), "Silenced"),
        ...problems(...personProblems, 404, 409, 413, 415),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { until } = c.req.valid("json");
      return c.json({ alert: settled(await alertsObject(c.env).silence(id, new Date(until).toISOString()), id) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/alert-rules",
      tags: ["Alerts"],
      summary: "What the minute monitor looks for, with its thresholds and severities",
      security: security.person,
      middleware: as("viewer"),
      responses: { 200: jsonContent(z.object({ rules: rulesSchema }), "The rules"), ...problems(...personProblems) },
    }),
    async (c) => c.json({ rules: await alertsObject(c.env).rules() }, 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/alert-rules",
      tags: ["Alerts"],
      summary: "Change the monitor's rules (all of them, as GET answers them)",
      security: security.person,
      middleware: [...as("admin"), ...jsonBody()],
      request: {
        body: { content: { "application/json": { schema: z.strictObject({ rules: rulesSchema }) } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ rules: rulesSchema }), "The rules now"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => c.json({ rules: await alertsObject(c.env).setRules(c.req.valid("json").rules as AlertRules) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/monitor/run",
      tags: ["Alerts"],
      summary: "Run the minute monitor now (it runs every minute by itself)",
      security: security.person,
      middleware: as("admin"),
      responses: {
        200: jsonContent(
          z.object({
            opened: z.number().int(),
            resolved: z.number().int(),
            messages: z.number().int(),
            superseded: z
              .literal(true)
              .optional()
              .describe("A run that began after this one was applied first; this one changed nothing"),
          }),
          "What the run did",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json(await runMonitor(c.env), 200),
  );
