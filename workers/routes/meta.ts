import { createRoute, z } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import type { AppEnv } from "../http/context";
import { jsonContent, router, security } from "../http/openapi";

/** Served from the worker's own assets (scripts/build-assets.mjs), never from a CDN. */
export const SCALAR_SCRIPT = "/vendor/scalar-api-reference.js";

// Nothing fetched from elsewhere: no web fonts, no telemetry, no hosted tooling or AI agent.
const reference = Scalar<AppEnv>({
  url: "/openapi.json",
  cdn: SCALAR_SCRIPT,
  pageTitle: "Fillgrid API",
  withDefaultFonts: false,
  telemetry: false,
  showDeveloperTools: "never",
  agent: { disabled: true },
});

export const meta = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      tags: ["Meta"],
      summary: "Health",
      security: security.none,
      responses: { 200: jsonContent(z.object({ ok: z.literal(true) }), "Up") },
    }),
    (c) => c.json({ ok: true as const }, 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/docs",
      tags: ["Meta"],
      summary: "Interactive API reference (Scalar), reading /openapi.json",
      security: security.none,
      responses: { 200: { description: "An HTML page", content: { "text/html": { schema: z.string() } } } },
    }),
    async (c) => {
      // Scalar's middleware answers with the page itself and never calls on.
      const page = await reference(c, async () => {});
      return page ?? c.text("the API reference could not be rendered", 500);
    },
  );
