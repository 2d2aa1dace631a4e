import type { MiddlewareHandler } from "hono";
import { parseDeviceKey } from "../../domain/access";
import { sameText, sha256Hex } from "../../platform/crypto";
import { deviceKeyObject } from "../stubs";
import { bearerToken, cacheSeconds } from "./credentials";
import type { AppEnv, Device } from "./context";
import { ApiError } from "./errors";
import { PARTNER_KEY_PREFIX } from "../../domain/partners";

interface CachedKey {
  secretHash: string;
  /**
   * The secret as last presented and verified, so the next request with it is checked without
   * hashing (a SHA-256 costs about a twentieth of a single reading's CPU). It stays in
   * this isolate's memory, where every request carrying it is anyway.
   */
  secret: string;
  containerId: string | null;
  expiresAt: number;
}

// Keys this isolate has verified, trusted for DEVICE_KEY_CACHE_SECONDS: that is how long a revoked
// key can go on working in an isolate that saw it just before the revocation.
const verified = new Map<string, CachedKey>();
const MAX_CACHED = 10_000;

export function forgetDeviceKey(id: string): void {
  verified.delete(id);
}

async function checkDeviceKey(env: Env, key: string): Promise<Device | null> {
  const parsed = parseDeviceKey(key);
  if (!parsed) return null;
  const now = Date.now();
  const cached = verified.get(parsed.id);
  if (cached && cached.expiresAt > now && sameText(cached.secret, parsed.secret))
    return { keyId: parsed.id, containerId: cached.containerId };
  const secretHash = await sha256Hex(parsed.secret);
  if (cached && cached.expiresAt > now) {
    return sameText(cached.secretHash, secretHash) ? { keyId: parsed.id, containerId: cached.containerId } : null;
  }
  const found = await deviceKeyObject(env, parsed.id).lookup();
  if (!found || found.record.revokedAt !== null || !sameText(found.secretHash, secretHash)) {
    verified.delete(parsed.id);
    return null;
  }
  if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
  verified.set(parsed.id, {
    secretHash,
    secret: parsed.secret,
    containerId: found.record.containerId,
    expiresAt: now + cacheSeconds(env) * 1000,
  });
  return { keyId: parsed.id, containerId: found.record.containerId };
}

/** Sensors authenticate with `Authorization: Bearer fgk_…`, a key issued at POST /v1/device-keys. */
export function requireDeviceKey(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = bearerToken(c.req.header("Authorization"));
    if (!key) throw new ApiError(401, "unauthenticated", "missing Authorization: Bearer <device key>");
    if (key.startsWith(PARTNER_KEY_PREFIX))
      throw new ApiError(403, "forbidden", "a partner API key reads only its partner's own, under /v1/partner/");
    const device = await checkDeviceKey(c.env, key);
    if (!device) throw new ApiError(401, "unauthenticated", "device key is unknown, revoked or malformed");
    c.set("device", device);
    c.set("credential", device.keyId);
    await next();
  };
}
