// The API reference checked by a validator of the OpenAPI 3.1 specification itself. It runs in Node
// (the validator compiles schemas with code generation, which the Workers runtime forbids) on the
// document the worker serves: the app builds it the same way in both places.
import { Validator } from "@seriousme/openapi-schema-validator";
import { expect, it } from "vitest";
import { apiReference } from "../workers/app";

it("the generated document, with its webhooks and who may call each operation, is valid OpenAPI 3.1", async () => {
  const document = apiReference();
  const validator = new Validator();
  const result = await validator.validate(JSON.parse(JSON.stringify(document)));
  expect(validator.version).toBe("3.1");
  expect(result.errors ?? []).toEqual([]);
  expect(result.valid).toBe(true);
});

it("every operation has a summary, a tag and an error answer in the API's shape", () => {
  const document = apiReference();
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, op] of Object.entries(
      operations as Record<string, { summary?: string; tags?: string[]; responses: object }>,
    )) {
      expect(op.summary, `${method} ${path}`).toBeTruthy();
      expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
    }
  }
});
