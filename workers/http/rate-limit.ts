import type { Context, MiddlewareHandler } from "hono";
import type { DeviceKeyKind } from "../../domain/monitor";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";
import { noteRefusal } from "./refusals";

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
  /** Told of each refusal (the device keys' are counted for the monitor and GET /metrics). */
  refused?: (c: Context<AppEnv>) => void;
}

export async function enforce(c: Context<AppEnv>, limit: Limit): Promise<void> {
  const key = await limit.key(c);
  const { success } = await limit.binding(c.env).limit({ key });
  if (!success) {
    limit.refused?.(c);
    throw new ApiError(
      429,
      "rate_limited",
      `too many requests for this ${limit.what}; try again in ${limit.periodSeconds} s`,
      undefined,
      undefined,
      {
        "Retry-After": String(limit.periodSeconds),
      },
    );
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

/** A device key's limit on POST /v1/readings, by its kind: a sensor's (one container) or a gateway's (the fleet). */
function deviceLimit(kind: DeviceKeyKind, binding: (env: Env) => RateLimit): Limit {
  return {
    binding,
    periodSeconds: 10,
    what: `${kind} key`,
    key: (c) => `device:${c.get("device").keyId}`,
    refused: (c) => noteRefusal(c.env, c.executionCtx, c.get("device").keyId, kind),
  };
}

export const limits = {
  sensor: deviceLimit("sensor", (env) => env.SENSOR_RATE_LIMIT),
  gateway: deviceLimit("gateway", (env) => env.GATEWAY_RATE_LIMIT),
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
  return {
    binding: (env) => env.LOGIN_EMAIL_RATE_LIMIT,
    periodSeconds: 60,
    what: "email",
    key: () => `email:${email}`,
  };
}

/** POST /v1/readings: the limit of the device key's kind (after requireDeviceKey). */
export function deviceRateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await enforce(c, c.get("device").containerId === null ? limits.gateway : limits.sensor);
    await next();
  };
}
