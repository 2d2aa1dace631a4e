import { z } from "zod";
import { readingSchema, MAX_BATCH } from "../domain/reading";
import { settingsSchema } from "../domain/settings";

const errorSchema = {
  type: "object",
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        issues: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } },
      },
    },
  },
};

const json = (schema: unknown) => ({ content: { "application/json": { schema } } });
const errors = { "4XX": { description: "Refused; `error.issues` names each bad field", ...json(errorSchema) } };
const person = [{ bearer: [] }];

function op(summary: string, role: string | null, extra: Record<string, unknown> = {}) {
  return {
    summary: role ? `${summary} (${role})` : summary,
    ...(role === "device key" ? { security: [{ deviceKey: [] }] } : role ? { security: person } : { security: [] }),
    responses: { "200": { description: "OK" }, ...errors },
    ...extra,
  };
}

/** The API reference, with request bodies generated from the same zod schemas that validate them. */
export function openApiDocument() {
  const reading = z.toJSONSchema(readingSchema, { io: "input" });
  return {
    openapi: "3.1.0",
    info: { title: "Fillgrid API", version: "1" },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT from POST /v1/auth/login" },
        deviceKey: { type: "http", scheme: "bearer", description: "Device key fgk_… from POST /v1/device-keys" },
      },
    },
    paths: {
      "/v1/readings": {
        post: op("Report one reading, or a batch of up to " + MAX_BATCH, "device key", {
          requestBody: json({
            oneOf: [reading, { type: "object", required: ["readings"], properties: { readings: { type: "array", maxItems: MAX_BATCH, items: reading } } }],
          }),
        }),
      },
      "/v1/auth/login": { post: op("Log in; returns a token", null) },
      "/v1/users": { get: op("List users", "admin"), post: op("Add a user with a role", "admin") },
      "/v1/device-keys": { get: op("List device keys", "admin"), post: op("Issue a device key (shown once)", "admin") },
      "/v1/device-keys/{id}": { delete: op("Revoke a device key", "admin") },
      "/v1/containers": { get: op("The fleet from Postgres: filters, sort, cursor paging", "viewer") },
      "/v1/orders": { get: op("Orders from Postgres, newest first: status, container, time range", "viewer") },
      "/v1/orders/{id}": { get: op("One order from Postgres", "viewer") },
      "/v1/errors": { get: op("Error records, latest seen first", "viewer") },
      "/v1/errors/stream": { get: op("WebSocket of error changes; ?since=<seq> replays what was missed", "viewer") },
      "/v1/errors/{id}/resolve": { post: op("Resolve an error record", "operator") },
      "/v1/diagnostics/fail": { post: op("Fail on purpose, to check the error pipeline", "admin") },
      "/v1/dead-letters": { get: op("Messages that exhausted their retries", "admin") },
      "/v1/dead-letters/{id}/replay": { post: op("Send a dead letter back to its queue", "admin") },
      "/v1/containers/{id}": {
        get: op("Live state of a container", "viewer"),
        put: op("Change settings", "admin", { requestBody: json(z.toJSONSchema(settingsSchema, { io: "input" })) }),
      },
      "/v1/containers/{id}/readings": { get: op("Reading history, newest first", "viewer") },
      "/v1/containers/{id}/events": { get: op("Event log (audit trail)", "viewer") },
      "/v1/containers/{id}/orders": {
        get: op("Orders of the container, newest first", "viewer"),
        post: op("Open an order by hand; 409 with the active one", "operator"),
      },
      "/v1/containers/{id}/orders/{orderId}/close": { post: op("Close an order by hand; 409 when not active", "operator") },
      "/healthz": { get: op("Health", null) },
    },
  };
}
