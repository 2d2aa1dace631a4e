import { createRoute, z } from "@hono/zod-openapi";
import { TICKET_TTL_MS } from "../../domain/access";
import { requireRole } from "../http/auth";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { directory } from "../stubs";

export const streamTickets = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/stream-tickets",
    tags: ["Errors"],
    summary: `A single-use ticket, valid ${TICKET_TTL_MS / 1000} s, to open a stream with ?ticket=`,
    description: "Browsers cannot set headers on a WebSocket; a ticket keeps the long-lived token out of the URL.",
    security: security.person,
    middleware: [requireRole("viewer"), rateLimit(limits.api)],
    responses: {
      201: jsonContent(
        z.object({ ticket: z.string(), expiresAt: z.string().meta({ format: "date-time" }) }),
        "Use it once, within 30 s",
      ),
      ...problems(...personProblems),
    },
  }),
  async (c) => c.json(await directory(c.env).issueTicket(c.get("person").email), 201),
);
