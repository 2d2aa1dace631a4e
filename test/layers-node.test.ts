// The layering the README's Layout names, checked with dependency-cruiser against .dependency-cruiser.cjs:
// domain ← platform ← durable-objects ← workers, no route importing another, the dashboard seeing only
// the domain and the API's type, no import cycles.
import { cruise } from "dependency-cruiser";
import { createRequire } from "node:module";
import { expect, it } from "vitest";

const require = createRequire(import.meta.url);

it("layers import downward only, no route imports another route, and the dashboard sees the API only", async () => {
  const config = require("../.dependency-cruiser.cjs") as { forbidden: object[]; options: object };
  const result = await cruise(["domain", "platform", "durable-objects", "workers", "web/src"], {
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
  // The dashboard's files were read too.
  expect((output.modules as Array<{ source: string }>).some((m) => m.source === "web/src/stores.ts")).toBe(true);
});
