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
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
        }),
      },
      description:
        "`seq` is the alert stream's position before the list was read: follow `/v1/alerts/stream?since=<seq>` and nothing after it is missed.",
      responses: {
        200: jsonContent(z.object({ seq: z.number().int(), alerts: z.array(alertSchema) }), "Latest first"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const hub = alertsObject(c.env);
      const seq = await hub.latestSeq();
      return c.json({ seq, alerts: await hub.list(c.req.valid("query")) }, 200);
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
