import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("answers health", async () => {
  const res = await exports.default.fetch("http://fillgrid.test/healthz");
  expect(res.status).toBe(200);
});

it("serves an OpenAPI document naming every route group", async () => {
  const res = await exports.default.fetch("http://fillgrid.test/docs");
  const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
  expect(doc.openapi).toBe("3.1.0");
  for (const path of ["/v1/readings", "/v1/containers", "/v1/orders", "/v1/errors", "/v1/auth/login", "/v1/device-keys"]) {
    expect(Object.keys(doc.paths)).toContain(path);
  }
});
