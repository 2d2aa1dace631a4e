import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { and, desc, eq, lt } from "drizzle-orm";
import { randomToken } from "../../domain/ids";
import { newPartnerSchema, partnerIdSchema, partnerPatchSchema, pricesSchema } from "../../domain/partner-input";
import { privateWebhookAddress, SECRET_GRACE_SECONDS, type PartnerWithSecrets } from "../../domain/partners";
import { partnerDeliverySchema, partnerSchema, priceSchema } from "../../domain/schemas";
import { instantParam } from "../../domain/validation";
import { reportError } from "../../platform/error-report";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { partnerDeliveries, prices } from "../db/schema";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError, notFound, validationError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { forgetPartner } from "../http/partner-auth";
import { syncPartnerLeadTimes } from "../lead-times";
import { limits, rateLimit } from "../http/rate-limit";
import { directory } from "../stubs";

const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api)];
const byPartner = z.object({ id: partnerIdSchema });
/** A partner's signing secret: shown once, when made. */
const newSecret = () => `fgp_${randomToken(32)}`;

/** Partners' default lead times to the containers they serve, after the answer; a failure is an error record. */
async function carryLeadTimes(env: Env, where: string): Promise<void> {
  try {
    await syncPartnerLeadTimes(env);
  } catch (error) {
    await reportError(env, error, "worker", `${where}: partner lead times`);
  }
}

/**
 * Refuses a webhook URL on a private, loopback or link-local address or a local name unless this
 * deployment allows them (WEBHOOK_PRIVATE_ADDRESSES=allow: local development and its stand-ins).
 */
function requirePublicWebhook(env: Env, webhookUrl: string | undefined): void {
  if (webhookUrl === undefined || env.WEBHOOK_PRIVATE_ADDRESSES === "allow") return;
  const why = privateWebhookAddress(webhookUrl);
  if (why) throw validationError([{ path: "webhookUrl", message: `must be on a public address: ${why}` }]);
}

export const partners = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partners",
      tags: ["Partners"],
      summary: "Add a partner; its signing secret is in this answer only",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: { body: { content: { "application/json": { schema: newPartnerSchema } }, required: true } },
      responses: {
        201: jsonContent(
          z.object({
            partner: partnerSchema,
            secret: z.string().meta({ description: "Signs both directions (HMAC-SHA256); store it now" }),
          }),
          "Added",
        ),
        ...problems(...personProblems, 409, 413, 415),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      requirePublicWebhook(c.env, input.webhookUrl);
      const now = new Date().toISOString();
      const by = c.get("person").email;
      const secret = newSecret();
      const partner: PartnerWithSecrets = {
        ...input,
        disabled: false,
        createdAt: now,
        createdBy: by,
        updatedAt: now,
        secretRotatedAt: null,
        previousSecretValidUntil: null,
        secret,
        previousSecret: null,
      };
      if (!(await directory(c.env).addPartner(partner, by)))
        throw new ApiError(409, "conflict", `partner ${input.id} already exists`);
      if (partner.leadTimeHours !== null) c.executionCtx.waitUntil(carryLeadTimes(c.env, "POST /v1/partners"));
      const { secret: _s, previousSecret: _p, ...profile } = partner;
      return c.json({ partner: profile, secret }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partners",
      tags: ["Partners"],
      summary: "Every partner (secrets are never listed)",
      security: security.person,
      middleware: admin,
      responses: {
        200: jsonContent(z.object({ partners: z.array(partnerSchema) }), "By id"),
        ...problems(...personProblems),
      },
    }),
    async (c) => c.json({ partners: await directory(c.env).listPartners() }, 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/partners/{id}",
      tags: ["Partners"],
      summary: "Change a partner: name, webhook URL, IP ranges, what it serves; disable or enable it",
      description:
        "A change reaches every isolate within DEVICE_KEY_CACHE_SECONDS; a disabled partner's webhooks are refused (401) and nothing more is sent to it.",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        params: byPartner,
        body: { content: { "application/json": { schema: partnerPatchSchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ partner: partnerSchema }), "Changed"),
        ...problems(...personProblems, 404, 413, 415),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const change = c.req.valid("json");
      requirePublicWebhook(c.env, change.webhookUrl);
      const partner = await directory(c.env).updatePartner(id, change, c.get("person").email);
      if (!partner) throw notFound(`partner ${id}`);
      forgetPartner(id);
      c.executionCtx.waitUntil(carryLeadTimes(c.env, "PATCH /v1/partners/:id"));
      return c.json({ partner }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partners/{id}/secret",
      tags: ["Partners"],
      summary: `Rotate the signing secret; the old one keeps working for ${SECRET_GRACE_SECONDS / 3600} hours`,
      description:
        "Inbound webhooks signed with either are accepted until `partner.previousSecretValidUntil`; until then outbound events carry both signatures (`X-Fillgrid-Signature: v1=<new>,v1=<old>`): a receiver accepts the request when any one matches a secret it knows, so it can deploy the new secret at any time within the grace period.",
      security: security.person,
      middleware: admin,
      request: { params: byPartner },
      responses: {
        200: jsonContent(z.object({ partner: partnerSchema, secret: z.string() }), "The new secret, shown once"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const secret = newSecret();
      const graceUntil = new Date(Date.now() + SECRET_GRACE_SECONDS * 1000).toISOString();
      const partner = await directory(c.env).rotatePartnerSecret(id, secret, graceUntil, c.get("person").email);
      if (!partner) throw notFound(`partner ${id}`);
      forgetPartner(id);
      return c.json({ partner, secret }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partners/{id}/deliveries",
      tags: ["Partners"],
      summary: "Events sent to the partner's webhook, latest first: attempts, last status, next try",
      security: security.person,
      middleware: admin,
      request: {
        params: byPartner,
        query: z.strictObject({
          state: z.enum(["delivered", "retrying", "dead"]).optional(),
          before: instantParam
            .optional()
            .meta({ description: "Only those last updated before this instant (paging: the last updatedAt seen)" }),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
        }),
      },
      responses: {
        200: jsonContent(z.object({ deliveries: z.array(partnerDeliverySchema) }), "Latest first"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      const rows = await withDatabase(c.env, (db) =>
        db
          .select()
          .from(partnerDeliveries)
          .where(
            and(
              eq(partnerDeliveries.partnerId, id),
              q.state ? eq(partnerDeliveries.state, q.state) : undefined,
              q.before ? lt(partnerDeliveries.updatedAt, new Date(q.before).toISOString()) : undefined,
            ),
          )
          .orderBy(desc(partnerDeliveries.updatedAt))
          .limit(q.limit),
      );
      const iso = (v: string | null) => (v === null ? null : new Date(v).toISOString());
      return c.json(
        {
          deliveries: rows.map(({ partnerId: _p, ...r }) => ({
            ...r,
            state: r.state as "delivered" | "retrying" | "dead",
            nextTryAt: iso(r.nextTryAt),
            deliveredAt: iso(r.deliveredAt),
            createdAt: iso(r.createdAt)!,
            updatedAt: iso(r.updatedAt)!,
          })),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/partners/{id}/prices",
      tags: ["Partners"],
      summary: "The partner's price list: unit price and VAT rate per product and unit",
      security: security.person,
      middleware: admin,
      request: { params: byPartner },
      responses: {
        200: jsonContent(z.object({ prices: z.array(priceSchema) }), "By product"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const rows = await withDatabase(c.env, (db) =>
        db.select().from(prices).where(eq(prices.partnerId, id)).orderBy(prices.product, prices.unit),
      );
      return c.json({ prices: rows.map(priceOf) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/v1/partners/{id}/prices",
      tags: ["Partners"],
      summary: "Replace the partner's price list",
      description:
        "Documents already issued keep the prices they were issued with; documents waiting for a price are issued by the next run.",
      security: security.person,
      middleware: [...admin, ...jsonBody(256 * 1024)],
      request: {
        params: byPartner,
        body: { content: { "application/json": { schema: pricesSchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ prices: z.array(priceSchema) }), "The list now"),
        ...problems(...personProblems, 404, 413, 415),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const input = c.req.valid("json");
      const by = c.get("person").email;
      if (!(await directory(c.env).partnerWithSecrets(id))) throw notFound(`partner ${id}`);
      const seen = new Set<string>();
      input.prices.forEach((p, i) => {
        const key = `${p.product}\u0000${p.unit}`;
        if (seen.has(key))
          throw new ApiError(400, "validation_failed", `prices[${i}] repeats ${p.product} per ${p.unit}`, [
            { path: `prices[${i}]`, message: `repeats ${p.product} per ${p.unit}` },
          ]);
        seen.add(key);
      });
      const rows = await withDatabase(c.env, (db) =>
        db.transaction(async (tx) => {
          await tx.delete(prices).where(eq(prices.partnerId, id));
          if (input.prices.length === 0) return [];
          return tx
            .insert(prices)
            .values(
              input.prices.map((p) => ({
                partnerId: id,
                product: p.product,
                unit: p.unit,
                currency: input.currency,
                unitPrice: String(p.unitPrice),
                vatRate: String(p.vatRate),
                updatedBy: by,
              })),
            )
            .returning();
        }),
      );
      await directory(c.env).recordAudit({
        actor: by,
        action: "partner.prices_changed",
        target: id,
        details: { prices: input.prices.length, currency: input.currency },
      });
      return c.json({ prices: rows.map(priceOf) }, 200);
    },
  );

function priceOf(r: typeof prices.$inferSelect) {
  return {
    product: r.product,
    unit: r.unit,
    currency: r.currency,
    unitPrice: Number(r.unitPrice),
    vatRate: Number(r.vatRate),
    updatedAt: new Date(r.updatedAt).toISOString(),
    updatedBy: r.updatedBy,
  };
}
