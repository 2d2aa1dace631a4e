import { Validator, type Schema } from "@cfworker/json-schema";
import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { hc } from "hono/client";
import { app, type AppType } from "../workers/app";
import { OUTBOUND_TYPES } from "../domain/partner-events";
import { adminToken, api, deviceKey, json, postReadings, reading, uniqueContainer } from "./helpers";

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: unknown[];
  description?: string;
  "x-required-role"?: string;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, unknown> };
}

let doc: Document;

beforeAll(async () => {
  doc = await json<Document>(await exports.default.fetch("http://fillgrid.test/openapi.json"), 200);
});

/** Validate a real answer against the schema the document declares for that route and status. */
function validateAgainstDocument(path: string, method: string, status: number, body: unknown) {
  const schema = doc.paths[path]?.[method]?.responses[String(status)]?.content?.["application/json"]?.schema;
  expect(schema, `${method.toUpperCase()} ${path} declares ${status}`).toBeDefined();
  // The document's components ride along in the root, so `#/components/schemas/…` refs resolve.
  const validator = new Validator({ ...schema!, components: doc.components } as Schema, "2020-12", false);
  const result = validator.validate(body);
  expect(
    result.errors.map((e) => `${e.instanceLocation}: ${e.error}`),
    `${method.toUpperCase()} ${path} ${status}`,
  ).toEqual([]);
}

describe("the OpenAPI document", () => {
  it("is OpenAPI 3.1 with its security schemes (people, devices, partners' signatures, the metrics token)", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      "bearer",
      "deviceKey",
      "metricsToken",
      "partnerKey",
      "partnerSignature",
    ]);
  });

  it("lists every route of the app with its responses", () => {
    const routes = app.routes.filter((r) => r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(20);
    for (const route of routes) {
      const path = route.path.replace(/:([A-Za-z]+)/g, "{$1}");
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${path} is documented`).toBeDefined();
      expect(Object.keys(operation!.responses).length, `${route.method} ${path} has responses`).toBeGreaterThan(0);
    }
  });

  it("names what each person-facing route refuses with, in the error shape", () => {
    const withErrors = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.security?.length)
        .map(([method, op]) => ({ path, method, op })),
    );
    for (const { path, method, op } of withErrors) {
      expect(op.responses["401"], `${method} ${path} 401`).toBeDefined();
      expect(JSON.stringify(op.responses["401"]!.content)).toContain("#/components/schemas/Error");
    }
  });

  it("says who may call each operation: the role its middleware admits, or its credential", () => {
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op })),
    );
    for (const { path, method, op } of ops) {
      expect(op["x-required-role"], `${method} ${path}`).toMatch(
        /^(viewer|assembler|operator|admin|person|partner|device|metrics|public)$/,
      );
      expect(op.description, `${method} ${path}`).toMatch(/^\*\*Who:\*\* /);
    }
    const role = (path: string, method: string) => doc.paths[path]![method]!["x-required-role"];
    expect(role("/v1/partners", "post")).toBe("admin");
    expect(role("/v1/assembly/queue", "get")).toBe("assembler");
    expect(role("/v1/orders", "get")).toBe("viewer");
    expect(role("/v1/containers/{containerId}/orders/{orderId}/close", "post")).toBe("operator");
    expect(role("/v1/readings", "post")).toBe("device");
    expect(role("/v1/webhooks/partners/{partnerId}", "post")).toBe("partner");
    expect(role("/healthz", "get")).toBe("public");
    expect(doc.paths["/v1/partners"]!.post!.description).toMatch(/^\*\*Who:\*\* a person with the role admin\./);
  });

  it("describes every event Fillgrid sends partners as a webhook: envelope, data, signature headers and delivery", () => {
    const webhooks = (doc as unknown as { webhooks: Record<string, { post: Record<string, unknown> }> }).webhooks;
    expect(Object.keys(webhooks).sort()).toEqual([...OUTBOUND_TYPES].sort());
    for (const [type, { post }] of Object.entries(webhooks)) {
      const text = JSON.stringify(post);
      expect(text, type).toContain("X-Fillgrid-Signature");
      expect(text, type).toContain("dedupe on `eventId`");
      expect(text, type).toContain("6 attempts");
    }
    const opened = JSON.stringify(webhooks["order.opened"]!.post);
    expect(opened).toContain("#/components/schemas/OutboundOrderOpened");
    const schema = doc.components.schemas.OutboundOrderOpened as { required: string[] };
    expect(schema.required).toEqual(
      expect.arrayContaining(["schemaVersion", "eventId", "type", "occurredAt", "containerId", "orderId", "data"]),
    );
  });

  it("is explorable at /docs, with the reference's script served by the worker itself", async () => {
    const page = await exports.default.fetch("http://fillgrid.test/docs");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("/openapi.json");
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    expect(script).toBe("/vendor/scalar-api-reference.js");
    expect(html).not.toMatch(/https?:\/\/[^"]*cdn/);
    // Static assets are answered before the worker runs; here they are asked of the assets binding.
    const asset = await env.ASSETS.fetch(`http://fillgrid.test${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("Content-Type")).toMatch(/javascript/);
    expect((await asset.text()).length).toBeGreaterThan(100_000);
  });
});

describe("the typed client", () => {
  it("calls the API with the app's own types (hc<AppType>)", async () => {
    const client = hc<AppType>("http://fillgrid.test", {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input, init),
    });
    const { key } = await deviceKey();
    const containerId = uniqueContainer("typed");
    const posted = await client.v1.readings.$post(
      { json: { containerId, fillPercent: 42 } },
      { headers: { Authorization: `Bearer ${key}` } },
    );
    expect(posted.status).toBe(200);
    if (posted.status !== 200) return;
    const { results } = await posted.json();
    expect(results[0]!.orderOpened?.fillAtOpen).toBe(42);

    const admin = await adminToken();
    const live = await client.v1.containers[":containerId"].$get(
      { param: { containerId } },
      { headers: { Authorization: `Bearer ${admin}` } },
    );
    if (live.status !== 200) throw new Error(`expected 200, got ${live.status}`);
    const { container } = await live.json();
    expect(container.activeOrder?.thresholdAtOpen).toBe(50);
  });
});

describe("real answers match their declared schemas", () => {
  it("ingest, live state, history, events, orders, fleet, people, keys, errors and refusals", async () => {
    const admin = await adminToken();
    const { key } = await deviceKey();
    const id = uniqueContainer("contract");
    const low = reading(id, 30);
    const high = reading(id, 80);
    const ingest = await postReadings(key, { readings: [low, high] });
    validateAgainstDocument("/v1/readings", "post", 200, await json(ingest, 200));
    const duplicate = await postReadings(key, { readings: [{ ...high, fillPercent: 81 }] });
    validateAgainstDocument("/v1/readings", "post", 200, await json(duplicate, 200));

    const gets: Array<[string, string]> = [
      [`/v1/containers/${id}`, "/v1/containers/{containerId}"],
      [`/v1/containers/${id}/readings`, "/v1/containers/{containerId}/readings"],
      [`/v1/containers/${id}/events`, "/v1/containers/{containerId}/events"],
      [`/v1/containers/${id}/orders`, "/v1/containers/{containerId}/orders"],
      ["/v1/containers?limit=5", "/v1/containers"],
      ["/v1/orders?limit=5", "/v1/orders"],
      ["/v1/users", "/v1/users"],
      ["/v1/device-keys", "/v1/device-keys"],
      ["/v1/errors?limit=5", "/v1/errors"],
      ["/v1/audit?limit=5", "/v1/audit"],
      ["/v1/dead-letters?limit=5", "/v1/dead-letters"],
    ];
    for (const [url, path] of gets) {
      validateAgainstDocument(path, "get", 200, await json(await api(url, { token: admin }), 200));
    }
    const settings = await api(`/v1/containers/${id}`, {
      method: "PUT",
      token: admin,
      json: { threshold: 40, location: { lat: 1, lon: 2 } },
    });
    validateAgainstDocument("/v1/containers/{containerId}", "put", 200, await json(settings, 200));
    const opened = await api(`/v1/containers/${id}/orders`, { method: "POST", token: admin });
    validateAgainstDocument("/v1/containers/{containerId}/orders", "post", 201, await json(opened, 201));
    const conflict = await api(`/v1/containers/${id}/orders`, { method: "POST", token: admin });
    validateAgainstDocument("/v1/containers/{containerId}/orders", "post", 409, await json(conflict, 409));
    const bad = await postReadings(key, { containerId: id, fillPercent: 101 });
    validateAgainstDocument("/v1/readings", "post", 400, await json(bad, 400));
    const refused = await api("/v1/users");
    validateAgainstDocument("/v1/users", "get", 401, await json(refused, 401));
    const ticket = await api("/v1/stream-tickets", { method: "POST", token: admin });
    validateAgainstDocument("/v1/stream-tickets", "post", 201, await json(ticket, 201));
    const health = await api("/healthz");
    validateAgainstDocument("/healthz", "get", 200, await json(health, 200));
  });

  it("every JSON answer says nosniff", async () => {
    for (const res of [await api("/healthz"), await api("/v1/users"), await api("/v1/nowhere")]) {
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    }
  });

  it("an answer a route makes as a Response of its own (a CSV export) says nosniff too", async () => {
    const admin = await adminToken();
    const csv = await api("/v1/alerts", { token: admin, headers: { accept: "text/csv" } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("Content-Type")).toMatch(/^text\/csv/);
    expect(csv.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});
