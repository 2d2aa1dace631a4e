// The layering the README's Layout names, checked with dependency-cruiser against .dependency-cruiser.cjs:
// domain ← platform ← durable-objects ← workers, no route importing another, no import cycles.
import { cruise } from "dependency-cruiser";
import { createRequire } from "node:module";
import { expect, it } from "vitest";

const require = createRequire(import.meta.url);

it("layers import downward only, and no route imports another route", async () => {
  const config = require("../.dependency-cruiser.cjs") as { forbidden: object[]; options: object };
  const result = await cruise(["domain", "platform", "durable-objects", "workers"], {
    ...config.options,
    ruleSet: { forbidden: config.forbidden },
    validate: true,
  } as Parameters<typeof cruise>[1]);
  const output = typeof result.output === "string" ? JSON.parse(result.output) : result.output;
  const violations = (output.summary.violations as Array<{ from: string; to: string; rule: { name: string } }>).map(
    (v) => `${v.rule.name}: ${v.from} → ${v.to}`,
  );
  expect(violations).toEqual([]);
  expect(output.summary.totalCruised).toBeGreaterThan(40);
});
