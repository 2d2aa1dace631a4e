import { createRoute, z } from "@hono/zod-openapi";
import { eventTimeIssues, inboundEventSchema, partnerIdSchema } from "../../domain/partner-input";
import { FULFILMENT_OF, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../../domain/partners";
import { errorBodySchema, orderSchema } from "../../domain/schemas";
import type { KeyedCommandResult, OrderCommandResult } from "../../durable-objects/container";
import { sha256Hex } from "../../platform/crypto";
import { ApiError, notFound, validationError } from "../http/errors";
import { jsonContent, problems, router, security } from "../http/openapi";
import { partnerById, requirePartnerSignature } from "../http/partner-auth";
import { container, directory } from "../stubs";

/** The first answer under an eventId, as it was given: its status and body. */
function firstAnswer(result: OrderCommandResult, what: string): { status: number; body: unknown } {
  try {
    return answer(result, what);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: error.body() };
    throw error;
  }
}

/** What a container's answer to a partner's event means over HTTP; the same answer for a repeat. */
function answer(result: KeyedCommandResult, what: string, eventId = "") {
  if (result.ok) return { status: result.created ? (201 as const) : (200 as const), body: { order: result.order } };
  switch (result.reason) {
    case "key_reused":
      throw new ApiError(
        409,
        "event_id_reused",
        `eventId ${eventId} was used before for a different event; an eventId names one event (error.first is the answer it got)`,
        undefined,
        { first: firstAnswer(result.first, what) },
      );
    case "differs":
      throw new ApiError(
        409,
        "step_differs",
        `${result.what}; a step already taken cannot be sent again with other details`,
        undefined,
        { order: result.order },
      );
    case "unknown_container":
    case "not_found":
      throw notFound(what);
    case "conflict":
      throw new ApiError(
        409,
        "order_active",
        `container ${result.order.containerId} already has active order ${result.order.id}`,
        undefined,
        { order: result.order },
      );
    case "illegal":
      throw new ApiError(
        409,
        "illegal_transition",
        `order ${result.order.id} is ${result.order.fulfilment}; that step cannot follow`,
        undefined,
        { order: result.order },
      );
    case "other_partner":
      throw new ApiError(403, "forbidden", `order ${result.order.id} is delivered by another partner`);
    case "not_served":
      throw new ApiError(
        403,
        "forbidden",
        `this partner does not serve the container (see its serves: containerIds, contents)`,
      );
  }
}

export const webhooks = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/webhooks/partners/{partnerId}",
    tags: ["Partners"],
    summary:
      "A partner's event: order.created, accepted, rejected, dispatched, delivered, cancelled, delivery_corrected",
    description:
      `Signed: \`${TIMESTAMP_HEADER}: <unix seconds>\` (within 300 s of now) and \`${SIGNATURE_HEADER}: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>\`; ` +
      "from the partner's IP ranges when it has any (else 403). A missing header is named in the 401. " +
      "`eventId` is yours, scoped to your partner id and the event's container, and kept for as long as the container exists: the same `eventId` with the same event (every field, `occurredAt` included) gets the first answer again and changes nothing — " +
      "refusals that reached the container (404, 403 not served or another partner's order, 409) are remembered and answered again; refusals before it (401, 403 address, 400, 413, 415, 429) are not, so a corrected retry goes through. " +
      "The same `eventId` with a different event is 409 `event_id_reused` with `error.first` (the status and body the first one got). " +
      "`occurredAt` is when the step happened at your side: at most 300 s ahead of our clock and at most 30 days back (else 400); a dispatch's `eta` may not be before its `occurredAt` (minus 300 s). " +
      "A step the order has already taken, sent again under a new `eventId`, is done already (200) when its details match, and 409 `step_differs` saying what the order holds when they do not (another vehicle, another delivered quantity). " +
      "To change a delivery already reported, send `order.delivery_corrected` with all the lines delivered, the delivery note and a `reason`: only for a delivered order of yours (else 409, 403); it is audited, the order's `deliveryRevision` counts up, and its sales document is reissued under the next number while the one before is marked void (`voidAt`, `replacedBy`); the same lines and note again change nothing. " +
      "Each event goes through the container's own object, serialised with its readings and manual commands. " +
      "A partner may create orders only for containers it serves, and take only an order that is its own or not yet any partner's (else 403). " +
      "Fulfilment moves only forward (pending → accepted → assembling → dispatched → delivered; rejected or cancelled before delivered); " +
      "an illegal step is 409 with the order as it is. `order.created` with an order active is 409 with that order. " +
      "When Fillgrid closes an order while it is `dispatched` (an operator, or the level rose), you are sent `order.closed` with the order as it is: " +
      "complete the delivery and send `order.delivered` (accepted for a closed order), or bring the goods back and send `order.cancelled`. " +
      "A delivered order gets its sales document from your price list: each line's net is quantity × unit price rounded to the cent, its VAT is that net × rate rounded to the cent, and the totals are the sums of the rounded lines.\n\n" +
      "Signing and verifying in Node (the same HMAC both ways; the hex is lowercase):\n\n" +
      "```js\n" +
      'import { createHmac, timingSafeEqual } from "node:crypto";\n' +
      'const sign = (secret, ts, body) => "v1=" + createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");\n' +
      "// Sending: body is the exact string you POST.\n" +
      "const ts = String(Math.floor(Date.now() / 1000));\n" +
      'const headers = { "Content-Type": "application/json", "X-Fillgrid-Timestamp": ts, "X-Fillgrid-Signature": sign(secret, ts, body) };\n' +
      "// Receiving: rawBody as received, before parsing; any one of the comma-separated signatures may match.\n" +
      'const fresh = Math.abs(Date.now() / 1000 - Number(req.headers["x-fillgrid-timestamp"])) <= 300;\n' +
      'const expected = Buffer.from(sign(secret, req.headers["x-fillgrid-timestamp"], rawBody));\n' +
      'const ok = fresh && req.headers["x-fillgrid-signature"].split(",").some((s) => {\n' +
      "  const given = Buffer.from(s.trim());\n" +
      "  return given.length === expected.length && timingSafeEqual(given, expected);\n" +
      "});\n" +
      "```",
    security: security.partner,
    middleware: requirePartnerSignature(),
    request: {
      params: z.object({ partnerId: partnerIdSchema }),
      body: { content: { "application/json": { schema: inboundEventSchema } }, required: true },
    },
    responses: {
      200: jsonContent(z.object({ order: orderSchema }), "Done (or done before: the same answer)"),
      201: jsonContent(z.object({ order: orderSchema }), "order.created: the order opened"),
      409: jsonContent(
        errorBodySchema,
        "`order_active`: an order is active (`error.order`); `illegal_transition`: the step cannot follow the order's (`error.order`); `step_differs`: the step was taken with other details (`error.order`); `event_id_reused`: the eventId named a different event (`error.first`: `{status, body}` of its first answer)",
      ),
      ...problems(400, 401, 403, 404, 413, 415, 429, 500),
    },
  }),
  async (c) => {
    const partnerId = c.get("partner").id;
    const partner = (await partnerById(c.env, partnerId))!;
    const profile = { id: partner.id, serves: partner.serves, disabled: partner.disabled };
    const event = c.req.valid("json");
    // An eventId is the partner's; what it asked is compared on a repeat (the parsed event, so
    // spacing and key order do not count).
    const key = { id: `partner:${partnerId}:${event.eventId}`, fingerprint: await sha256Hex(JSON.stringify(event)) };
    const stub = container(c.env, event.containerId);
    const what =
      event.type === "order.created"
        ? `container ${event.containerId}`
        : `order ${event.orderId} of container ${event.containerId}`;
    // A repeat gets its first answer, however long after: the times below are judged once, when
    // the event is new.
    const earlier = await stub.recalledCommand(key);
    if (earlier) {
      const { status, body } = answer(earlier, what, event.eventId);
      return c.json(body, status);
    }
    const timeIssues = eventTimeIssues(event, Date.now());
    if (timeIssues.length > 0) throw validationError(timeIssues);
    if (event.type === "order.created") {
      const { status, body } = answer(
        await stub.partnerOpenOrder(key, profile, event.data.lines ?? null),
        `container ${event.containerId}`,
        event.eventId,
      );
      return c.json(body, status);
    }
    if (event.type === "order.delivery_corrected") {
      const result = await stub.correctDelivery(key, event.orderId, {
        partnerId,
        lines: event.data.lines,
        deliveryNote: event.data.deliveryNote,
        reason: event.data.reason,
      });
      const { status, body } = answer(
        result,
        `order ${event.orderId} of container ${event.containerId}`,
        event.eventId,
      );
      // Every correction that changed the delivery is in the audit list beside admins' actions,
      // once per event: a retry after a failure here writes what the first attempt could not.
      if (result.ok && result.changed)
        await directory(c.env).recordAuditOnce({
          actor: `partner:${partnerId}`,
          action: "order.delivery_corrected",
          target: event.orderId,
          details: {
            revision: result.order.deliveryRevision ?? 0,
            reason: event.data.reason,
            lines: event.data.lines,
            eventId: event.eventId,
          },
        });
      return c.json(body, status);
    }
    const data = event.data;
    const result = await stub.moveFulfilment(
      key,
      event.orderId,
      {
        to: FULFILMENT_OF[event.type],
        partnerId,
        by: `partner:${partnerId}`,
        ...("reason" in data ? { reason: data.reason } : {}),
        ...("eta" in data ? { eta: new Date(data.eta).toISOString(), vehicle: data.vehicle } : {}),
        ...("deliveryNote" in data ? { deliveryNote: data.deliveryNote, delivered: data.lines } : {}),
      },
      { kind: "partner", id: partnerId },
      profile,
    );
    const { status, body } = answer(result, `order ${event.orderId} of container ${event.containerId}`, event.eventId);
    return c.json(body, status);
  },
);
