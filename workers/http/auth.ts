import type { MiddlewareHandler } from "hono";
import { sign, verify } from "hono/jwt";
import { ROLES, roleAllows, type Role } from "../../domain/access";
import { ApiError } from "./errors";
import type { AppEnv, Person } from "./context";

const ALG = "HS256";

function secret(env: Env): string {
  if (!env.JWT_SECRET) throw new Error("JWT_SECRET is not set (wrangler secret put JWT_SECRET, or .dev.vars locally)");
  return env.JWT_SECRET;
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match ? match[1]! : null;
}

export async function issueToken(env: Env, person: Person): Promise<{ token: string; expiresAt: string }> {
  const ttl = Number(env.JWT_TTL_SECONDS) || 43_200;
  const exp = Math.floor(Date.now() / 1000) + ttl;
  const token = await sign({ sub: person.email, role: person.role, exp }, secret(env), ALG);
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/** The person a token speaks for, or null when it is missing, forged, expired or malformed. */
export async function personFromToken(env: Env, token: string | null): Promise<Person | null> {
  if (!token) return null;
  try {
    const payload = await verify(token, secret(env), ALG);
    const role = payload.role as Role;
    if (typeof payload.sub !== "string" || !ROLES.includes(role)) return null;
    return { email: payload.sub, role };
  } catch {
    return null;
  }
}

/** Only people holding `need` or a higher role pass; 401 without a valid token, 403 with too low a role. */
export function requireRole(need: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header("Authorization"));
    if (!token) throw new ApiError(401, "unauthenticated", "missing Authorization: Bearer <token>; log in at POST /v1/auth/login");
    const person = await personFromToken(c.env, token);
    if (!person) throw new ApiError(401, "unauthenticated", "token is invalid or expired; log in again");
    if (!roleAllows(person.role, need)) {
      throw new ApiError(403, "forbidden", `this needs the ${need} role; you are ${person.role}`);
    }
    c.set("person", person);
    await next();
  };
}
