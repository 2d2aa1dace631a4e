import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { AppEnv } from "./http/context";
import { ApiError } from "./http/errors";
import { reportError } from "./errors/report";
import { requestLog } from "./http/logging";
import { openApiDocument } from "./openapi";
import { auth } from "./routes/auth";
import { containers } from "./routes/containers";
import { errors } from "./routes/errors";
import { operations } from "./routes/operations";
import { orders } from "./routes/orders";
import { deviceKeys } from "./routes/device-keys";
import { readings } from "./routes/readings";
import { users } from "./routes/users";

export const app = new Hono<AppEnv>();

app.use(requestId());
app.use(requestLog());

app.get("/healthz", (c) => c.json({ ok: true }));
app.get("/docs", (c) => c.json(openApiDocument()));
app.route("/v1/readings", readings);
app.route("/v1/auth", auth);
app.route("/v1/users", users);
app.route("/v1/device-keys", deviceKeys);
app.route("/v1/containers", containers);
app.route("/v1/orders", orders);
app.route("/v1/errors", errors);
app.route("/v1", operations);

app.notFound((c) => c.json(new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`).body(), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) return c.json(error.body(), error.status);
  if (error instanceof HTTPException) {
    return c.json(new ApiError(error.status, "http_error", error.message).body(), error.status);
  }
  const requestId = c.get("requestId");
  const route = c.req.routePath;
  const containerId = route.startsWith("/v1/containers/:id") ? c.req.param("id") : undefined;
  c.executionCtx.waitUntil(
    reportError(c.env, error, "worker", `${c.req.method} ${route}`, { requestId, method: c.req.method, route, path: c.req.path, containerId }),
  );
  return c.json({ error: { code: "internal", message: "internal error; quote the request id when reporting it", requestId } }, 500);
});
