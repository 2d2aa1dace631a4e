import { createRoute, z } from "@hono/zod-openapi";
import { requireRole } from "../http/auth";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

export const dashboard = router().openapi(
  createRoute({
    method: "get",
    path: "/v1/dashboard/config",
    tags: ["Meta"],
    summary: "What the dashboard needs to know about this installation",
    description:
      "`mapStyleUrl`: a MapLibre style for the fleet map (the MAP_STYLE_URL setting); null: the bundled offline base map (Natural Earth).",
    security: security.person,
    middleware: [requireRole("viewer"), rateLimit(limits.api)],
    responses: {
      200: jsonContent(z.object({ mapStyleUrl: z.string().nullable() }), "The settings"),
      ...problems(...personProblems),
    },
  }),
  (c) => c.json({ mapStyleUrl: c.env.MAP_STYLE_URL ? c.env.MAP_STYLE_URL : null }, 200),
);
