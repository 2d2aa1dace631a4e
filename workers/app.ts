import { createRoute, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { reportError } from "../platform/error-report";
import { ApiError } from "./http/errors";
import { requestLog } from "./http/logging";
import { jsonContent, registerSecuritySchemes, router, security } from "./http/openapi";
import { documentRoles, registerOutboundWebhooks } from "./http/reference";
import { auth } from "./routes/auth";
import { clientErrors } from "./routes/client-errors";
import { containers } from "./routes/containers";
import { deviceKeys } from "./routes/device-keys";
import { errors } from "./routes/errors";
import { fleet } from "./routes/fleet";
import { dashboard } from "./routes/dashboard";
import { metrics } from "./routes/metrics";
import { partners } from "./routes/partners";
import { webhooks } from "./routes/webhooks";
import { partnerSelf } from "./routes/partner-self";
import { documents } from "./routes/documents";
import { alerts } from "./routes/alerts";
import { notifications } from "./routes/notifications";
import { telegram } from "./routes/telegram";
import { meta } from "./routes/meta";
import { operations } from "./routes/operations";
import { analytics } from "./routes/analytics";
import { archive } from "./routes/archive";
import { backups } from "./routes/backups";
import { anomalies } from "./routes/anomalies";
import { orders } from "./routes/orders";
import { projection } from "./routes/projection";
import { readings } from "./routes/readings";
import { streamTickets } from "./routes/stream-tickets";
import { users } from "./routes/users";

const base = router();
base.use(requestId());
base.use(requestLog());
base.use(async (c, next) => {
  // Set first, it goes into every answer the context makes (c.json, errors, not found) as it is made;
  // a route that answers with a Response of its own gets it after, on a copy of that Response.
  c.header("X-Content-Type-Options", "nosniff");
  await next();
  if (c.res.headers.get("X-Content-Type-Options") === null) c.header("X-Content-Type-Options", "nosniff");
});
registerSecuritySchemes(base);
registerOutboundWebhooks(base);

/** Every route of the API; its type is what a typed client (`hc<AppType>`) calls. */
export const app = base
  .route("/", readings)
  .route("/", auth)
  .route("/", users)
  .route("/", deviceKeys)
  .route("/", containers)
  .route("/", fleet)
  .route("/", orders)
  .route("/", anomalies)
  .route("/", analytics)
  .route("/", backups)
  .route("/", archive)
  .route("/", errors)
  .route("/", clientErrors)
  .route("/", streamTickets)
  .route("/", operations)
  .route("/", projection)
  .route("/", partners)
  .route("/", webhooks)
  .route("/", partnerSelf)
  .route("/", documents)
  .route("/", alerts)
  .route("/", notifications)
  .route("/", telegram)
  .route("/", dashboard)
  .route("/", metrics)
  .route("/", meta);

export type AppType = typeof app;

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Fillgrid API",
    version: "1",
    description:
      'Fill levels and replenishment orders for remote containers. Errors are `{"error": {"code", "message", "issues"?: [{"path", "message"}]}}`; ' +
      "every credential is rate limited (429 with Retry-After).",
  },
  tags: [
    {
      name: "Readings",
      description:
        "Sensors and gateways report fill levels with a device key. Each reading is answered only after its container has committed it.",
    },
    {
      name: "People",
      description:
        "Log in, change your password; admins add people, change roles, disable, reset passwords, and read the audit list.",
    },
    {
      name: "Device keys",
      description:
        "Keys for sensors: shown once, stored as a hash, revocable; limited to one container or good for the fleet.",
    },
    {
      name: "Containers",
      description:
        "The fleet from Postgres; each container's live state, history and event log from its own object; settings.",
    },
    {
      name: "Orders",
      description:
        "Replenishment orders: opened and closed by readings against the threshold, ahead of it by the forecast, or by hand.",
    },
    {
      name: "Anomalies",
      description:
        "What the level shows that consumption does not explain: sudden drops, stuck or noisy sensors, refills nobody delivered, deliveries the level does not show.",
    },
    {
      name: "Partners",
      description:
        "The suppliers that deliver: their signed webhooks in (order.created … order.delivered) and Fillgrid's events out, their delivery logs and price lists.",
    },
    {
      name: "Partner's own",
      description:
        "A partner reads its own with the API key an admin issued it (`Authorization: Bearer fgpk_…`): its orders and their history, what was sent to its webhook (and sends one again), its sales documents, and a test event. Nothing of any other partner; a partner key anywhere else is 403.",
    },
    {
      name: "Documents",
      description:
        "A sales document for every delivered order, numbered without gaps per partner and year, as CSV and as a printable page.",
    },
    {
      name: "Alerts",
      description:
        "What the minute monitor found: one alert per condition and subject, repeated until acknowledged, resolved when the condition clears.",
    },
    {
      name: "Errors",
      description:
        "Every failure of the system as a grouped error record, live over a WebSocket; the dashboard reports what fails in a browser too.",
    },
    { name: "Operations", description: "Dead letters and a deliberate failure to check the error pipeline." },
    { name: "Meta", description: "Health and this reference." },
  ],
};

/** The API reference as served: the routes, the outbound webhooks, and who may call each operation. */
export function apiReference(): ReturnType<typeof app.getOpenAPI31Document> {
  const doc = app.getOpenAPI31Document(OPENAPI_INFO);
  documentRoles(doc as Parameters<typeof documentRoles>[0]);
  return doc;
}

app.openapi(
  createRoute({
    method: "get",
    path: "/openapi.json",
    tags: ["Meta"],
    summary: "This document: OpenAPI 3.1, generated from the schemas that validate every request",
    security: security.none,
    responses: { 200: jsonContent(z.record(z.string(), z.unknown()), "The OpenAPI document") },
  }),
  (c) => c.json(apiReference() as unknown as Record<string, unknown>, 200),
);

app.notFound((c) => c.json(new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`).body(), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    for (const [name, value] of Object.entries(error.headers ?? {})) c.header(name, value);
    return c.json(error.body(), error.status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json(new ApiError(error.status, "http_error", error.message).body(), error.status);
  }
  const requestId = c.get("requestId");
  const route = c.req.routePath;
  const containerId = route.includes(":containerId") ? c.req.param("containerId") : undefined;
  c.executionCtx.waitUntil(
    reportError(c.env, error, "worker", `${c.req.method} ${route}`, {
      requestId,
      method: c.req.method,
      route,
      path: c.req.path,
      containerId,
    }),
  );
  return c.json(
    { error: { code: "internal", message: "internal error; quote the request id when reporting it", requestId } },
    500,
  );
});
