import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { isChatId, type NotificationSettings } from "../../domain/notifications";
import { MAX_PAGE } from "../../platform/paging";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { alertsObject, notifier } from "../stubs";

const as = (role: "viewer" | "operator" | "admin"): MiddlewareHandler<AppEnv>[] => [
  requireRole(role),
  rateLimit(limits.api),
];

const chatId = z
  .string()
  .trim()
  .refine(isChatId, { error: "is not a Telegram chat id (an integer, or @channelname)" })
  .nullable();
const route = z.strictObject({ primary: chatId, escalation: chatId });
const emails = z.array(z.email({ error: "is not an email address" })).max(50);
const settingsSchema = z
  .strictObject({
    telegram: z.strictObject({ critical: route, warning: route, info: route }),
    email: z.strictObject({
      alerts: z.strictObject({ critical: emails, warning: emails, info: emails }),
      newErrors: emails,
    }),
  })
  .meta({ id: "NotificationSettings" });

const notificationSchema = z
  .object({
    id: z.string(),
    channel: z.enum(["telegram", "email"]),
    target: z.string().meta({ description: "The chat id, or the email address" }),
    alertId: z.string().nullable(),
    kind: z.enum(["fired", "repeat", "escalated", "acknowledged", "resolved", "error"]),
    text: z.string().meta({ description: "Telegram: the HTML sent; email: this item's text in the digest" }),
    subject: z.string().nullable(),
    queuedAt: z.string(),
    finishedAt: z.string(),
    status: z.enum(["sent", "failed"]),
    attempts: z.number().int(),
    detail: z.string().nullable().meta({ description: "Why it failed, or which digest carried it" }),
    remoteId: z.string().nullable().meta({ description: "Telegram's message_id, or the email's Message-ID" }),
  })
  .meta({ id: "Notification" });

const cursorSchema = z
  .string()
  .regex(/^\d{13}~[^~]{1,400}$/, { error: "is not a cursor from a previous page's next" })
  .transform((v) => ({ finishedAt: Number(v.slice(0, 13)), id: v.slice(14) }));

export const notifications = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/notifications",
      tags: ["Alerts"],
      summary: "Every message sent or given up, latest first (the archive)",
      description: "Waiting messages are counted in `waiting`; each message sent or failed appears here exactly once.",
      security: security.person,
      middleware: as("viewer"),
      request: {
        query: z.strictObject({
          channel: z.enum(["telegram", "email"]).optional(),
          status: z.enum(["sent", "failed"]).optional(),
          alertId: z.string().max(40).optional(),
          target: z.string().max(320).optional(),
          before: cursorSchema.optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
        }),
      },
      responses: {
        200: jsonContent(
          z.object({
            notifications: z.array(notificationSchema),
            next: z.string().nullable(),
            waiting: z.object({ telegram: z.number().int(), email: z.number().int() }),
          }),
          "Latest first; `next` continues as ?before=",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const n = notifier(c.env);
      const [items, counts] = await Promise.all([n.archive(q), n.counts()]);
      const last = items.at(-1);
      const next = items.length === q.limit && last ? `${Date.parse(last.finishedAt)}~${last.id}` : null;
      return c.json({ notifications: items, next, waiting: counts.waiting }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/notification-settings",
      tags: ["Alerts"],
      summary: "Who is told: Telegram chats per severity (and the escalation chat), email recipients",
      security: security.person,
      middleware: as("viewer"),
      responses: {
        200: jsonContent(z.object({ settings: settingsSchema }), "The settings"),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json({ settings: await alertsObject(c.env).settings() }, 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/notification-settings",
      tags: ["Alerts"],
      summary: "Change who is told (all of it, as GET answers it); applies to the next message",
      security: security.person,
      middleware: [...as("admin"), ...jsonBody()],
      request: {
        body: {
          content: { "application/json": { schema: z.strictObject({ settings: settingsSchema }) } },
          required: true,
        },
      },
      responses: {
        200: jsonContent(z.object({ settings: settingsSchema }), "The settings now"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const { settings } = c.req.valid("json");
      if (!c.env.TELEGRAM_BOT_TOKEN && Object.values(settings.telegram).some((r) => r.primary || r.escalation)) {
        throw new ApiError(
          409,
          "telegram_not_configured",
          "chats are set but the TELEGRAM_BOT_TOKEN secret is not; set it first (wrangler secret put TELEGRAM_BOT_TOKEN)",
        );
      }
      return c.json({ settings: await alertsObject(c.env).setSettings(settings as NotificationSettings) }, 200);
    },
  );
