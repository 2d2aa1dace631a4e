import { describe, expect, it } from "vitest";
import { z } from "zod";
import { toFieldIssues } from "../domain/validation";
import { ingestBodySchema } from "../domain/reading";

const issues = (schema: z.ZodType, input: unknown) => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error("expected a failure");
  return toFieldIssues(result.error.issues);
};

describe("messages a person can act on", () => {
  const cases: Array<[string, z.ZodType, unknown, string]> = [
    ["a missing field", z.object({ a: z.number() }), {}, "is required"],
    ["a wrong type", z.object({ a: z.number() }), { a: "7" }, "must be a number, not a string"],
    ["null for a number", z.object({ a: z.number() }), { a: null }, "must be a number, not null"],
    ["an array for an object", z.object({ a: z.object({}) }), { a: [] }, "must be an object, not an array"],
    ["a number too big", z.object({ a: z.number().max(100) }), { a: 101 }, "must be at most 100"],
    ["a number too small", z.object({ a: z.number().min(0) }), { a: -1 }, "must be at least 0"],
    ["a positive number", z.object({ a: z.number().positive() }), { a: 0 }, "must be more than 0"],
    ["a text too long", z.object({ a: z.string().max(3) }), { a: "abcd" }, "must be at most 3 characters"],
    ["an empty text", z.object({ a: z.string().min(1) }), { a: "" }, "must not be empty"],
    ["too few items", z.object({ a: z.array(z.number()).min(1) }), { a: [] }, "must have at least 1 item"],
    ["too many items", z.object({ a: z.array(z.number()).max(2) }), { a: [1, 2, 3] }, "must have at most 2 items"],
    [
      "not one of the choices",
      z.object({ a: z.enum(["open", "resolved"]) }),
      { a: "x" },
      'must be one of "open", "resolved"',
    ],
    ["not an integer", z.object({ a: z.number().int() }), { a: 1.5 }, "must be an integer"],
    ["a query number that is not one", z.object({ a: z.coerce.number() }), { a: "abc" }, "must be a number"],
    [
      "a number JSON reads as Infinity (1e400)",
      z.object({ a: z.number() }),
      JSON.parse('{"a": 1e400}'),
      "must be a finite number",
    ],
    ["not an email", z.object({ a: z.email() }), { a: "x" }, "must be an email address"],
    ["a boolean wanted", z.object({ a: z.boolean() }), { a: "true" }, "must be a boolean, not a string"],
  ];
  for (const [name, schema, input, message] of cases) {
    it(name, () => {
      expect(issues(schema, input)).toEqual([{ path: "a", message }]);
    });
  }

  it("an unknown field is named by its own path", () => {
    expect(issues(z.strictObject({ a: z.number() }), { a: 1, b: 2, c: 3 })).toEqual([
      { path: "b", message: "is not a known field" },
      { path: "c", message: "is not a known field" },
    ]);
  });
});

describe("a body that is one reading or a batch", () => {
  it("a batch with a bad reading names that reading's field", () => {
    expect(
      issues(ingestBodySchema, {
        readings: [
          { containerId: "t1", fillPercent: 1 },
          { containerId: "t1", fillPercent: 101 },
        ],
      }),
    ).toEqual([{ path: "readings[1].fillPercent", message: "must be at most 100" }]);
  });

  it("a reading with several bad fields names each, not the batch form", () => {
    expect(issues(ingestBodySchema, { containerId: 7, fillPercent: "x", battery: 300 })).toEqual([
      { path: "containerId", message: "must be a string, not a number" },
      { path: "fillPercent", message: "must be a number, not a string" },
      { path: "battery", message: "must be at most 100" },
    ]);
  });

  it("readings that are not a list are told so", () => {
    expect(issues(ingestBodySchema, { readings: { containerId: "t1", fillPercent: 1 } })).toEqual([
      { path: "readings", message: "must be an array, not an object" },
    ]);
  });
});
