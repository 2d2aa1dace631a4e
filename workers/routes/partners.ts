import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { and, eq, sql } from "drizzle-orm";
import { randomToken } from "../../domain/ids";
import {
  newPartnerSchema,
  partnerIdSchema,
  partnerPatchSchema,
  pricesPatchSchema,
  pricesSchema,
} from "../../domain/partner-input";
import {
  PARTNER_KEY_PREFIX,
  privateWebhookAddress,
  SECRET_GRACE_SECONDS,
  type PartnerWithSecrets,
} from "../../domain/partners";
import { sha256Hex } from "../../platform/crypto";
import { partnerDeliverySchema, partnerSchema, priceSchema } from "../../domain/schemas";
import { instantParam } from "../../domain/validation";
import { reportError } from "../../platform/error-report";
import { MAX_PAGE } from "../../platform/paging";
import { withDatabase } from "../db/client";
import { prices } from "../db/schema";
import { requireRole } from "../http/auth";
import type { AppEnv } from "../http/context";
import { ApiError, notFound, validationError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { forgetPartner } from "../http/partner-auth";
import { syncPartnerLeadTimes } from "../lead-times";
import { deliveryLog, sendTestEvent } from "../partners/outbound";
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

/** What a test event came to. */
const testEventSchema = z.object({
  eventId: z.string(),
  received: z.boolean().meta({ description: "The webhook answered 2xx in time" }),
  status: z.number().int().nullable().meta({ description: "Its HTTP status; null when it did not answer" }),
  error: z.string().nullable(),
  ms: z.number().meta({ description: "How long the webhook took" }),
});

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
        "A second rotation before that is 409 (`rotation_under_way`): it would retire the secret the partner still runs. Inbound webhooks signed with either are accepted until `partner.previousSecretValidUntil`; until then outbound events carry both signatures (`X-Fillgrid-Signature: v1=<new>,v1=<old>`): a receiver accepts the request when any one matches a secret it knows, so it can deploy the new secret at any time within the grace period.",
      security: security.person,
      middleware: admin,
      request: { params: byPartner },
      responses: {
        200: jsonContent(z.object({ partner: partnerSchema, secret: z.string() }), "The new secret, shown once"),
        ...problems(...personProblems, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const current = await directory(c.env).partnerWithSecrets(id);
      if (!current) throw notFound(`partner ${id}`);
      // A second rotation within the grace period would retire the secret the partner still runs
      // before it has switched: both directions would fail.
      const until = current.previousSecretValidUntil;
      if (until && Date.parse(until) > Date.now())
        throw new ApiError(
          409,
          "rotation_under_way",
          `partner ${id}'s last rotation keeps the secret before it working until ${until}; rotate again after that`,
        );
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
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const q = c.req.valid("query");
      await requirePartner(c.env, id);
      return c.json({ deliveries: await deliveryLog(c.env, id, q) }, 200);
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
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requirePartner(c.env, id);
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
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/partners/{id}/prices",
      tags: ["Partners"],
      summary: "Change some prices: add or change products (`set`) and take some off (`remove`), the rest as it is",
      description:
        "In the list's currency (`currency`, when given, must be it; PUT the whole list to change currency). A product in both `set` and `remove`, or twice in one, is refused. Documents already issued keep their prices.",
      security: security.person,
      middleware: [...admin, ...jsonBody(256 * 1024)],
      request: {
        params: byPartner,
        body: { content: { "application/json": { schema: pricesPatchSchema } }, required: true },
      },
      responses: {
        200: jsonContent(z.object({ prices: z.array(priceSchema) }), "The whole list now"),
        ...problems(...personProblems, 404, 413, 415),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const input = c.req.valid("json");
      const by = c.get("person").email;
      await requirePartner(c.env, id);
      const named = [
        ...input.set.map((p, i) => ({ key: `${p.product}\u0000${p.unit}`, path: `set[${i}]`, p })),
        ...input.remove.map((p, i) => ({ key: `${p.product}\u0000${p.unit}`, path: `remove[${i}]`, p })),
      ];
      const seen = new Set<string>();
      for (const { key, path, p } of named) {
        if (seen.has(key)) throw validationError([{ path, message: `names ${p.product} per ${p.unit} again` }]);
        seen.add(key);
      }
      const rows = await withDatabase(c.env, (db) =>
        db.transaction(async (tx) => {
          const held = await tx
            .select({ currency: prices.currency })
            .from(prices)
            .where(eq(prices.partnerId, id))
            .limit(1);
          const currency = held[0]?.currency ?? input.currency;
          if (currency === undefined)
            throw validationError([{ path: "currency", message: "is required: the partner has no prices yet" }]);
          if (input.currency !== undefined && input.currency !== currency)
            throw validationError([
              {
                path: "currency",
                message: `must be ${currency}, the list's currency (PUT the whole list to change it)`,
              },
            ]);
          for (const p of input.remove)
            await tx
              .delete(prices)
              .where(and(eq(prices.partnerId, id), eq(prices.product, p.product), eq(prices.unit, p.unit)));
          if (input.set.length > 0)
            await tx
              .insert(prices)
              .values(
                input.set.map((p) => ({
                  partnerId: id,
                  product: p.product,
                  unit: p.unit,
                  currency,
                  unitPrice: String(p.unitPrice),
                  vatRate: String(p.vatRate),
                  updatedBy: by,
                })),
              )
              .onConflictDoUpdate({
                target: [prices.partnerId, prices.product, prices.unit],
                set: {
                  unitPrice: sql`excluded.unit_price`,
                  vatRate: sql`excluded.vat_rate`,
                  updatedBy: by,
                  updatedAt: sql`now()`,
                },
              });
          return tx.select().from(prices).where(eq(prices.partnerId, id)).orderBy(prices.product, prices.unit);
        }),
      );
      await directory(c.env).recordAudit({
        actor: by,
        action: "partner.prices_changed",
        target: id,
        details: { set: input.set.length, removed: input.remove.length, prices: rows.length },
      });
      return c.json({ prices: rows.map(priceOf) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partners/{id}/api-key",
      tags: ["Partners"],
      summary: "Issue the partner an API key for its own orders, deliveries and documents; shown once",
      description:
        "`Authorization: Bearer fgpk_…` on `/v1/partner/…` reads only this partner's own; everything else answers 403. A new key replaces the one before, which stops working within DEVICE_KEY_CACHE_SECONDS. Only its hash is stored.",
      security: security.person,
      middleware: admin,
      request: { params: byPartner },
      responses: {
        201: jsonContent(
          z.object({ key: z.string().meta({ description: "fgpk_…, shown this once" }), createdAt: z.string() }),
          "The key",
        ),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const key = `${PARTNER_KEY_PREFIX}${randomToken(32)}`;
      const issued = await directory(c.env).issuePartnerKey(id, await sha256Hex(key), c.get("person").email);
      if (!issued) throw notFound(`partner ${id}`);
      return c.json({ key, createdAt: issued.createdAt }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/partners/{id}/test-event",
      tags: ["Partners"],
      summary: "Send the partner a signed test event (ping) now and answer what its webhook said",
      description:
        "The `ping` is signed like every event (both signatures during a rotation's grace period) and written to the delivery log; it is not retried. `received`: the webhook answered 2xx within PARTNER_TIMEOUT_MS.",
      security: security.person,
      middleware: admin,
      request: { params: byPartner },
      responses: {
        200: jsonContent(testEventSchema, "What the partner's webhook answered"),
        ...problems(...personProblems, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await requirePartner(c.env, id);
      return c.json(await sendTestEvent(c.env, id), 200);
    },
  );

/** A 404 for a partner id nobody added. */
async function requirePartner(env: Env, id: string): Promise<void> {
  if (!(await directory(env).partnerWithSecrets(id))) throw notFound(`partner ${id}`);
}

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
