import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

/**
 * One limit on one credential, enforced by a Workers Rate Limiting binding (`[[ratelimits]]` in
 * wrangler.toml, where each limit and period is set). Over it: 429 with `Retry-After`, before the
 * request does anything. The binding counts per location and is permissive by design: it stops
 * floods, not the odd request over.
 */
export interface Limit {
  binding: (env: Env) => RateLimit;
  /** The period of that binding in wrangler.toml, in seconds: how long a refused caller should wait. */
  periodSeconds: 10 | 60;
  /** What is being counted, for the message. */
  what: string;
  key: (c: Context<AppEnv>) => string | Promise<string>;
}

export async function enforce(c: Context<AppEnv>, limit: Limit): Promise<void> {
  const key = await limit.key(c);
  const { success } = await limit.binding(c.env).limit({ key });
  if (!success) {
    throw new ApiError(429, "rate_limited", `too many requests for this ${limit.what}; try again in ${limit.periodSeconds} s`, undefined, undefined, {
      "Retry-After": String(limit.periodSeconds),
    });
  }
}

export function rateLimit(limit: Limit): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await enforce(c, limit);
    await next();
  };
}

/** The caller's address as Cloudflare gives it; absent only off Cloudflare (`wrangler dev` without it). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "local";
}

export const limits = {
  ingest: {
    binding: (env) => env.INGEST_RATE_LIMIT,
    periodSeconds: 10,
    what: "device key",
    key: (c) => `device:${c.get("device").keyId}`,
  },
  api: {
    binding: (env) => env.API_RATE_LIMIT,
    periodSeconds: 10,
    what: "token",
    key: (c) => `token:${c.get("credential")}`,
  },
  loginIp: {
    binding: (env) => env.LOGIN_IP_RATE_LIMIT,
    periodSeconds: 60,
    what: "client address",
    key: (c) => `ip:${clientIp(c)}`,
  },
} satisfies Record<string, Limit>;

/** Per email on login: the key is the (lower-cased) email the caller tries. */
export function loginEmailLimit(email: string): Limit {
  return { binding: (env) => env.LOGIN_EMAIL_RATE_LIMIT, periodSeconds: 60, what: "email", key: () => `email:${email}` };
}
