import type { MiddlewareHandler } from "hono";
import { log, sampleRate } from "../../platform/logging";
import type { AppEnv } from "./context";

/**
 * One line per request: its id, method, path (never the query, which may carry a ticket), status and
 * time. Answers of 400 and above are always logged; the rest by REQUEST_LOG_SAMPLE_RATE (each line
 * costs CPU in the runtime and money in the log store; at ingest rates most are alike).
 */
export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    await next();
    if (c.res.status < 400 && Math.random() >= sampleRate(c.env.REQUEST_LOG_SAMPLE_RATE)) return;
    log(c.res.status >= 500 ? "error" : c.res.status >= 400 ? "warn" : "info", "request", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
    });
  };
}
