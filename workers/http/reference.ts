// What the API reference says beyond the routes' own schemas: the role each operation needs (read
// from the middleware that enforces it, so the two cannot differ), and Fillgrid's outbound events
// as OpenAPI 3.1 `webhooks`, generated from the schemas the events are typed by.
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ROLES, type Role } from "../../domain/access";
import { OUTBOUND_EVENT_SCHEMAS, OUTBOUND_TYPES } from "../../domain/partner-events";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../../domain/partners";
import type { AppEnv } from "./context";

/** A middleware that admits people of a role and above says which, for the reference. */
export type RoleGate = { requiredRole: Role };

const hasRole = (m: unknown): m is RoleGate =>
  typeof m === "function" && typeof (m as Partial<RoleGate>).requiredRole === "string";

/**
 * A route's config with `x-required-role` when its middleware admits people of a role (the
 * operation carries it into the reference); called as each route is declared, before the
 * framework sets the middleware aside.
 */
export function withRequiredRole<R extends { middleware?: unknown }>(route: R): R {
  const gate = [route.middleware ?? []].flat().find(hasRole);
  return gate ? { ...route, "x-required-role": gate.requiredRole } : route;
}

const roleWords = (role: Role) => {
  const above = ROLES.slice(ROLES.indexOf(role) + 1);
  return above.length === 0 ? role : `${role} or above (${above.join(", ")})`;
};

type Operation = { description?: string; security?: Record<string, string[]>[]; "x-required-role"?: string };
type Document = { paths?: Record<string, Record<string, Operation>> };

/**
 * Each operation's description starts with who may call it, and `x-required-role` says it: the
 * role its middleware admits (people), or its credential (device, partner, metrics, public).
 */
export function documentRoles(doc: Document): void {
  for (const item of Object.values(doc.paths ?? {}))
    for (const operation of Object.values(item)) {
      const role = operation["x-required-role"];
      const scheme = Object.keys(operation.security?.[0] ?? {})[0];
      const who = role
        ? { role, words: `a person with the role ${roleWords(role as Role)}` }
        : scheme === "partnerKey"
          ? { role: "partner", words: "a partner, with its API key; it reads only its own" }
          : scheme === "partnerSignature"
            ? { role: "partner", words: "a partner, signing with its secret" }
            : scheme === "deviceKey"
              ? { role: "device", words: "a sensor or gateway with a device key" }
              : scheme === "metricsToken"
                ? { role: "metrics", words: "Prometheus, with METRICS_TOKEN" }
                : scheme === "bearer"
                  ? { role: "person", words: "any signed-in person" }
                  : { role: "public", words: "anyone (no credential)" };
      operation["x-required-role"] = who.role;
      operation.description = `**Who:** ${who.words}.${operation.description ? `\n\n${operation.description}` : ""}`;
    }
}

const DELIVERY =
  "Sent to the partner's `webhookUrl` as `POST`, `Content-Type: application/json`, once Postgres holds the change. " +
  `Signed: \`${TIMESTAMP_HEADER}: <unix seconds>\` and \`${SIGNATURE_HEADER}: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>\` ` +
  "(lowercase hex; during the 24 hours after a secret rotation two, comma-separated, newest first: accept the request when any one matches a secret you know). " +
  "Reject a timestamp more than 300 s from your clock. " +
  "Received means any 2xx answer within `PARTNER_TIMEOUT_MS` (5 s). Anything else is tried again after 5 s, doubling, at most 5 minutes apart, 6 attempts in all; " +
  "then the event is a dead letter (an error record for Fillgrid's operators), replayed once you are back — an event you answered 2xx is not sent again on its own (only when you ask: `POST /v1/partner/deliveries/{eventId}/send-again`). " +
  "`eventId` is the same on every attempt and replay: events arrive at least once, and out of order across orders, so dedupe on `eventId` and order by `occurredAt`. " +
  "A retried event can arrive after a later one of the same order: order them by `occurredAt`, and take an order's state from `data.order` where the event carries it.";

const signedHeaders = z.object({
  [TIMESTAMP_HEADER]: z
    .string()
    .regex(/^\d+$/)
    .meta({ description: "Unix seconds when it was signed", example: "1764950400" }),
  [SIGNATURE_HEADER]: z.string().meta({
    description: "One `v1=<64 lowercase hex>` per secret in force, comma-separated",
    example: "v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
  }),
});

/** Every outbound event type, as an OpenAPI 3.1 webhook. */
export function registerOutboundWebhooks(app: OpenAPIHono<AppEnv>): void {
  for (const type of OUTBOUND_TYPES) {
    const schema = OUTBOUND_EVENT_SCHEMAS[type];
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: type,
      tags: ["Partners"],
      summary: `${type}: ${schema.description?.split(/[.:(]/)[0] ?? type}`,
      description: `${schema.description ?? ""}\n\n${DELIVERY}`,
      request: {
        headers: signedHeaders,
        body: { content: { "application/json": { schema } }, required: true },
      },
      responses: {
        200: { description: "Received (any 2xx within 5 s)" },
        default: { description: "Not received: tried again, then a dead letter" },
      },
    });
  }
}
