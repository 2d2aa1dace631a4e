import type { MiddlewareHandler } from "hono";
import { log } from "../../platform/logging";
import type { AppEnv } from "./context";

/** One line per request: its id, method, path (never the query, which may carry a ticket), status and time. */
export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    await next();
    log(c.res.status >= 500 ? "error" : "info", "request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
    });
  };
}
