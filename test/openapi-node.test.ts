// The API reference checked by a validator of the OpenAPI 3.1 specification itself. It runs in Node
// (the validator compiles schemas with code generation, which the Workers runtime forbids) on the
// document the worker serves: the app builds it the same way in both places.
import { Validator as JsonSchemaValidator, type Schema } from "@cfworker/json-schema";
import { Validator } from "@seriousme/openapi-schema-validator";
import { expect, it } from "vitest";
import { apiReference } from "../workers/app";
import { everyOutboundEvent } from "./support/outbound-events";

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

it("every kind of event sent to partners is valid against the webhook the reference publishes for its type", () => {
  const document = JSON.parse(JSON.stringify(apiReference())) as {
    webhooks: Record<string, { post: { requestBody: { content: { "application/json": { schema: Schema } } } } }>;
    components: Record<string, unknown>;
  };
  const events = everyOutboundEvent();
  expect(events.map((e) => e.type).sort()).toEqual(Object.keys(document.webhooks).sort());
  for (const event of events) {
    const schema = document.webhooks[event.type]!.post.requestBody.content["application/json"].schema;
    const result = new JsonSchemaValidator(
      { ...schema, components: document.components } as Schema,
      "2020-12",
      false,
    ).validate(event);
    expect(
      result.errors.map((e) => `${e.instanceLocation}: ${e.error}`),
      event.type,
    ).toEqual([]);
  }
  // And the schema refuses what is not such an event: the check can fail.
  const opened = document.webhooks["order.opened"]!.post.requestBody.content["application/json"].schema;
  const broken = { ...events[0]!, eventId: 7 };
  expect(
    new JsonSchemaValidator({ ...opened, components: document.components } as Schema, "2020-12", false).validate(broken)
      .valid,
  ).toBe(false);
});
