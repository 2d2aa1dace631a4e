import type { MiddlewareHandler } from "hono";
import { sign, verify } from "hono/jwt";
import { roleAllows, type Role } from "../../domain/access";
import type { PersonStatus } from "../../durable-objects/directory";
import { sha256Hex } from "../../platform/crypto";
import { directory } from "../stubs";
import { ApiError } from "./errors";
import type { AppEnv, Person } from "./context";
import type { RoleGate } from "./reference";
import { PARTNER_KEY_PREFIX } from "../../domain/partners";
import { bearerToken, cacheSeconds } from "./credentials";

const ALG = "HS256";

/** A setting the system cannot run without; a 500 and an error record, never a caller's fault. */
export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

function secret(env: Env): string {
  if (!env.JWT_SECRET)
    throw new ConfigurationError("JWT_SECRET is not set (wrangler secret put JWT_SECRET, or .dev.vars locally)");
  return env.JWT_SECRET;
}

export async function issueToken(env: Env, person: PersonStatus): Promise<{ token: string; expiresAt: string }> {
  const ttl = Number(env.JWT_TTL_SECONDS) || 43_200;
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttl;
  const token = await sign({ sub: person.email, ver: person.tokenVersion, iat: now, exp }, secret(env), ALG);
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

// What this isolate knows of each person, trusted for DEVICE_KEY_CACHE_SECONDS: the bound on how
// long a disabled person, a changed role or a replaced password takes to reach every isolate.
const people = new Map<string, { status: PersonStatus | null; expiresAt: number }>();
const MAX_CACHED = 10_000;

export function forgetPerson(email: string): void {
  people.delete(email);
}

async function personStatus(env: Env, email: string): Promise<PersonStatus | null> {
  const now = Date.now();
  const cached = people.get(email);
  if (cached && cached.expiresAt > now) return cached.status;
  const status = await directory(env).personStatus(email);
  if (people.size >= MAX_CACHED) people.delete(people.keys().next().value!);
  people.set(email, { status, expiresAt: now + cacheSeconds(env) * 1000 });
  return status;
}

/**
 * The person a token speaks for, with their current role; null when the token is missing, forged,
 * expired or malformed, or its person is disabled or has changed password since. A missing secret
 * is not the caller's fault and throws.
 */
export async function personFromToken(env: Env, token: string | null): Promise<Person | null> {
  if (!token) return null;
  const key = secret(env);
  let payload: Awaited<ReturnType<typeof verify>>;
  try {
    payload = await verify(token, key, ALG);
  } catch {
    // forged, expired or not a JWT at all: the caller is told 401
    return null;
  }
  if (typeof payload.sub !== "string" || typeof payload.ver !== "number") return null;
  return personByEmail(env, payload.sub, payload.ver);
}

/** The person behind an email, if enabled (and, given a token version, still at that version). */
export async function personByEmail(env: Env, email: string, tokenVersion?: number): Promise<Person | null> {
  const status = await personStatus(env, email);
  if (!status || status.disabled) return null;
  if (tokenVersion !== undefined && status.tokenVersion !== tokenVersion) return null;
  return { email: status.email, role: status.role };
}

/** The name the per-token rate limit counts a token under: a digest, never the token itself. */
export async function credentialKey(token: string): Promise<string> {
  return (await sha256Hex(token)).slice(0, 32);
}

/** Only people holding `need` or a higher role pass; 401 without a valid token, 403 with too low a role. */
export function requireRole(need: Role): MiddlewareHandler<AppEnv> & RoleGate {
  const gate: MiddlewareHandler<AppEnv> = async (c, next) => {
    const token = bearerToken(c.req.header("Authorization"));
    if (!token)
      throw new ApiError(
        401,
        "unauthenticated",
        "missing Authorization: Bearer <token>; log in at POST /v1/auth/login",
      );
    if (token.startsWith(PARTNER_KEY_PREFIX))
      throw new ApiError(
        403,
        "forbidden",
        "a partner API key reads only its partner's own, under /v1/partner/ (orders, deliveries, documents)",
      );
    const person = await personFromToken(c.env, token);
    if (!person)
      throw new ApiError(
        401,
        "unauthenticated",
        "token is invalid or expired, or its account is disabled; log in again",
      );
    if (!roleAllows(person.role, need)) {
      throw new ApiError(403, "forbidden", `this needs the ${need} role; you are ${person.role}`);
    }
    c.set("person", person);
    c.set("credential", await credentialKey(token));
    await next();
  };
  // The reference states the role from here (workers/http/reference.ts).
  return Object.assign(gate, { requiredRole: need });
}
