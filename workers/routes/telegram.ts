import { createRoute, z } from "@hono/zod-openapi";
import { roleAllows } from "../../domain/access";
import { alertOfAckData } from "../../domain/notifications";
import { sameText } from "../../platform/crypto";
import { ApiError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, problems, router, security } from "../http/openapi";
import { alertsObject, directory } from "../stubs";

/** The header Telegram sends back on every webhook call: setWebhook's `secret_token`. */
export const TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token";

// Only what Fillgrid acts on; an Update carries much more, which is let through unread.
const updateSchema = z.object({
  update_id: z.number().int(),
  callback_query: z
    .object({
      id: z.string().min(1),
      from: z.object({ id: z.number().int(), username: z.string().optional() }),
      data: z.string().optional(),
    })
    .optional(),
});

const reply = (callbackQueryId: string, text: string, showAlert = false) => ({
  method: "answerCallbackQuery" as const,
  callback_query_id: callbackQueryId,
  text,
  show_alert: showAlert,
});

export const telegram = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/webhooks/telegram",
    tags: ["Alerts"],
    summary: "Telegram's webhook: the Acknowledge button under an alert",
    description:
      `Set with the Bot API's setWebhook (url: this, secret_token: the TELEGRAM_WEBHOOK_SECRET secret); Telegram sends it back in \`${TELEGRAM_SECRET_HEADER}\`, else 401. ` +
      "A press of Acknowledge acknowledges the alert for the person linked to that Telegram user (PATCH /v1/users/{email} telegramUserId; operator or admin). " +
      "The answer is Telegram's answerCallbackQuery, given as the webhook's reply, telling the person what happened. Other updates are taken and ignored.",
    security: security.none,
    middleware: jsonBody(),
    request: { body: { content: { "application/json": { schema: updateSchema } }, required: true } },
    responses: {
      200: jsonContent(
        z
          .object({
            method: z.literal("answerCallbackQuery"),
            callback_query_id: z.string(),
            text: z.string(),
            show_alert: z.boolean(),
          })
          .or(z.object({})),
        "Taken: answerCallbackQuery for a button, {} for anything else",
      ),
      ...problems(400, 401, 413, 415),
    },
  }),
  async (c) => {
    const secret = c.env.TELEGRAM_WEBHOOK_SECRET;
    if (!secret || !sameText(c.req.header(TELEGRAM_SECRET_HEADER) ?? "", secret)) {
      throw new ApiError(401, "unauthenticated", `${TELEGRAM_SECRET_HEADER} does not match the webhook's secret`);
    }
    const query = c.req.valid("json").callback_query;
    if (!query) return c.json({}, 200);
    const alertId = alertOfAckData(query.data);
    if (!alertId) return c.json(reply(query.id, "This button is not one Fillgrid knows.", true), 200);
    const person = await directory(c.env).personByTelegram(query.from.id);
    if (!person || person.disabled || !roleAllows(person.role, "operator")) {
      return c.json(
        reply(
          query.id,
          "Your Telegram account is not linked to a Fillgrid operator; an admin can link it (telegramUserId).",
          true,
        ),
        200,
      );
    }
    const result = await alertsObject(c.env).acknowledge(alertId, person.email);
    if (!result.ok)
      return c.json(
        reply(query.id, result.reason === "resolved" ? "Already resolved." : "No such alert any more.", true),
        200,
      );
    return c.json(
      reply(
        query.id,
        result.alert.acknowledgedBy === person.email
          ? "Acknowledged. Repeats stop."
          : `Already taken by ${result.alert.acknowledgedBy}.`,
      ),
      200,
    );
  },
);
