import type { MiddlewareHandler } from "hono";
import {
  addressAllowed,
  PARTNER_KEY_PREFIX,
  secretsInForce,
  SIGNATURE_HEADER,
  signedText,
  timestampFresh,
  TIMESTAMP_HEADER,
  type PartnerWithSecrets,
} from "../../domain/partners";
import { partnerIdSchema } from "../../domain/partner-input";
import { hmacSha256Hex, sameText, sha256Hex } from "../../platform/crypto";
import { directory } from "../stubs";
import type { AppEnv } from "./context";
import { bearerToken, cacheSeconds } from "./credentials";
import { ApiError } from "./errors";
import { bodyAtMost, jsonContentType, parseableJson } from "./json-body";
import { clientIp, enforce, type Limit } from "./rate-limit";

// Partners this isolate has read, trusted for DEVICE_KEY_CACHE_SECONDS like device keys: that is how
// long a disabled partner, a new IP range or a rotated secret can take to reach every isolate.
const cached = new Map<string, { partner: PartnerWithSecrets | null; until: number }>();

export function forgetPartner(id: string): void {
  cached.delete(id);
}

export async function partnerById(env: Env, id: string): Promise<PartnerWithSecrets | null> {
  const now = Date.now();
  const hit = cached.get(id);
  if (hit && hit.until > now) return hit.partner;
  const partner = await directory(env).partnerWithSecrets(id);
  if (cached.size >= 1000) cached.delete(cached.keys().next().value!);
  cached.set(id, { partner, until: now + cacheSeconds(env) * 1000 });
  return partner;
}

/** `X-Fillgrid-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` */
export async function signatureOf(secret: string, timestamp: string, body: string): Promise<string> {
  return `v1=${await hmacSha256Hex(secret, signedText(timestamp, body))}`;
}

/** The signature header of an outbound request: one `v1=` per secret in force, newest first. */
export async function signaturesOf(secrets: readonly string[], timestamp: string, body: string): Promise<string> {
  return (await Promise.all(secrets.map((secret) => signatureOf(secret, timestamp, body)))).join(",");
}

/** A partner's reads of its own API count apart from its webhooks: polling never holds up an event. */
const partnerKeyLimit: Limit = {
  binding: (env) => env.API_RATE_LIMIT,
  periodSeconds: 10,
  what: "partner API key",
  key: (c) => `partner-key:${c.get("partner").id}`,
};

const partnerLimit: Limit = {
  binding: (env) => env.API_RATE_LIMIT,
  periodSeconds: 10,
  what: "partner",
  key: (c) => `partner:${c.get("partner").id}`,
};

/**
 * A partner's webhook, checked as the API reference states before anything else is read: the partner exists
 * and is enabled (401), the request comes from its IP ranges (403, by CF-Connecting-IP), the
 * timestamp is within 300 s (401), and the signature over the raw body matches its secret, or the
 * previous one during its grace period (401). Then its rate limit, then the body as JSON.
 */
export function requirePartnerSignature(maxBytes = 256 * 1024): MiddlewareHandler<AppEnv>[] {
  return [
    async (c, next) => {
      const id = c.req.param("partnerId") ?? "";
      const found = partnerIdSchema.safeParse(id).success ? await partnerById(c.env, id) : null;
      if (!found || found.disabled) throw new ApiError(401, "unauthenticated", `partner ${id} is unknown or disabled`);
      if (!addressAllowed(c.req.header("CF-Connecting-IP") ?? null, found.ipRanges)) {
        throw new ApiError(403, "forbidden", `requests from ${clientIp(c)} are not accepted for partner ${id}`);
      }
      if (c.req.header(TIMESTAMP_HEADER) === undefined)
        throw new ApiError(401, "unauthenticated", `${TIMESTAMP_HEADER} is missing: send the unix seconds you signed`);
      if (!timestampFresh(c.req.header(TIMESTAMP_HEADER) ?? null, Date.now())) {
        throw new ApiError(401, "unauthenticated", `${TIMESTAMP_HEADER} must be unix seconds within 300 s of now`);
      }
      c.set("partner", { id: found.id });
      await next();
    },
    jsonContentType,
    bodyAtMost(maxBytes),
    async (c, next) => {
      const timestamp = c.req.header(TIMESTAMP_HEADER)!;
      const given = c.req.header(SIGNATURE_HEADER);
      if (given === undefined)
        throw new ApiError(
          401,
          "unauthenticated",
          `${SIGNATURE_HEADER} is missing: send v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`,
        );
      const body = await c.req.text();
      // The same isolate cache the first step read, so the same partner (unless it just expired).
      const partner = await partnerById(c.env, c.get("partner").id);
      if (!partner || partner.disabled)
        throw new ApiError(401, "unauthenticated", `partner ${c.get("partner").id} is unknown or disabled`);
      const secrets = secretsInForce(partner, Date.now());
      // Several signatures may come, comma-separated (a partner signing with both sides of its own
      // rotation): one that matches a secret of ours is enough.
      const offered = given.split(",").map((v) => v.trim());
      let valid = false;
      for (const secret of secrets) {
        const expected = await signatureOf(secret, timestamp, body);
        for (const one of offered) if (sameText(expected, one)) valid = true;
      }
      if (!valid)
        throw new ApiError(401, "unauthenticated", `${SIGNATURE_HEADER} does not match the body and timestamp`);
      c.set("credential", `partner:${partner.id}`);
      await enforce(c, partnerLimit);
      await next();
    },
    parseableJson,
  ];
}

// Partner API keys this isolate has checked, by hash, trusted like device keys for
// DEVICE_KEY_CACHE_SECONDS: how long a replaced key or a disabled partner can take to be refused.
const keyCache = new Map<string, { partnerId: string | null; until: number }>();

/**
 * A partner's own API (`Authorization: Bearer fgpk_…`): the key names the partner, which must be
 * enabled (401 otherwise); a person's token here is 403. Then the per-credential rate limit.
 */
export function requirePartnerKey(): MiddlewareHandler<AppEnv>[] {
  return [
    async (c, next) => {
      const token = bearerToken(c.req.header("Authorization"));
      if (!token)
        throw new ApiError(401, "unauthenticated", "missing Authorization: Bearer <partner API key (fgpk_…)>");
      if (!token.startsWith(PARTNER_KEY_PREFIX))
        throw new ApiError(403, "forbidden", "this needs a partner API key (fgpk_…), issued by an admin");
      const hash = await sha256Hex(token);
      const now = Date.now();
      let hit = keyCache.get(hash);
      if (!hit || hit.until <= now) {
        const partner = await directory(c.env).partnerForKey(hash);
        hit = { partnerId: partner?.id ?? null, until: now + cacheSeconds(c.env) * 1000 };
        if (keyCache.size >= 1000) keyCache.delete(keyCache.keys().next().value!);
        keyCache.set(hash, hit);
      }
      if (hit.partnerId === null)
        throw new ApiError(401, "unauthenticated", "the partner API key is unknown, replaced, or its partner disabled");
      c.set("partner", { id: hit.partnerId });
      c.set("credential", `partner-key:${hit.partnerId}`);
      await enforce(c, partnerKeyLimit);
      await next();
    },
  ];
}
