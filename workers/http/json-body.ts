import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./context";
import { ApiError } from "./errors";

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

/** `Content-Type: application/json`, else 415. */
export const jsonContentType: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header("Content-Type");
  if (!type || !JSON_TYPE.test(type)) {
    throw new ApiError(
      415,
      "unsupported_media_type",
      `send the body as JSON with Content-Type: application/json${type ? ` (got ${type})` : ""}`,
    );
  }
  await next();
};

/** At most `maxBytes`, else 413, refused before it is read whole. */
export const bodyAtMost = (maxBytes: number): MiddlewareHandler<AppEnv> =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "body_too_large", `request body is over the limit of ${maxBytes} bytes`);
    },
  });

/** Parseable JSON, else 400 saying why. Hono caches the text, so the route's validator reads it without reading again. */
export const parseableJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const text = await c.req.text();
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "request body is empty; expected JSON");
  try {
    JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
  }
  await next();
};

/**
 * A JSON request body, checked before the route's schema sees it: `application/json` (else 415),
 * at most `maxBytes` (else 413), and parseable (else 400 saying why).
 */
export function jsonBody(maxBytes = 16 * 1024): MiddlewareHandler<AppEnv>[] {
  return [jsonContentType, bodyAtMost(maxBytes), parseableJson];
}

/**
 * A JSON body that may be left out: none at all passes (the route's schema sees nothing); one that
 * is sent is held to `jsonBody`'s checks.
 */
export function optionalJsonBody(maxBytes = 16 * 1024): MiddlewareHandler<AppEnv>[] {
  const checks = jsonBody(maxBytes);
  return [
    async (c, next) => {
      const sent = c.req.header("Content-Type") !== undefined || Number(c.req.header("Content-Length") ?? 0) > 0;
      if (!sent) return next();
      const run = async (i: number): Promise<void> => {
        if (i === checks.length) return next();
        await checks[i]!(c, () => run(i + 1));
      };
      await run(0);
    },
  ];
}
