import { createRoute, z } from "@hono/zod-openapi";
import { CLIENT_ERROR_KINDS, CLIENT_ERROR_LIMITS as MAX } from "../../domain/errors";
import { reportOf, sendReport } from "../../platform/error-report";
import { requireRole } from "../http/auth";
import { ApiError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";

// What a browser knows about a failure it caught. Every field is bounded; the dashboard cuts to
// these lengths before sending, so only a broken or hostile client is refused.
const clientErrorSchema = z
  .strictObject({
    kind: z.enum(CLIENT_ERROR_KINDS).meta({
      description: "render: a view's error boundary; error: uncaught; rejection: an unhandled promise rejection",
    }),
    name: z.string().min(1).max(MAX.name).meta({ example: "TypeError" }),
    message: z.string().max(MAX.message).meta({ example: "Cannot read properties of null (reading 'id')" }),
    stack: z.string().max(MAX.stack).nullable().optional(),
    componentStack: z
      .string()
      .max(MAX.componentStack)
      .nullable()
      .optional()
      .meta({ description: "React's component stack, for a render failure" }),
    view: z.string().min(1).max(MAX.view).meta({
      description: "The routed view as declared (one record for every container's page)",
      example: "/containers/:id",
    }),
    path: z
      .string()
      .max(MAX.path)
      .regex(/^\/[^?#]*$/, { error: "must be the page's path: starting with /, without query or fragment" })
      .meta({ example: "/containers/silo-7" }),
    userAgent: z.string().max(MAX.userAgent).optional(),
  })
  .meta({ id: "ClientError" });

export const clientErrors = router().openapi(
  createRoute({
    method: "post",
    path: "/v1/client-errors",
    tags: ["Errors"],
    summary: "Record an error the dashboard caught in a person's browser",
    description:
      'It becomes an error record with `source: "dashboard"`, grouped by name, message (numbers and ids set aside) and view, so the same failure in many browsers is one record with a count. ' +
      "Answered 202 once queued: the record is written and pushed to dashboards moments later (GET /v1/errors, the errors stream).",
    security: security.person,
    middleware: [requireRole("viewer"), rateLimit(limits.api), ...jsonBody(32 * 1024)],
    request: { body: { content: { "application/json": { schema: clientErrorSchema } }, required: true } },
    responses: {
      202: jsonContent(
        z.object({ reportId: z.string(), fingerprint: z.string() }),
        "Queued; the record groups under `fingerprint`",
      ),
      ...problems(...personProblems, 413, 415, 503),
    },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const stack =
      [input.stack, input.componentStack && `The component stack:${input.componentStack}`]
        .filter(Boolean)
        .join("\n\n") || null;
    const report = await reportOf(
      { name: input.name, message: input.message, stack },
      "dashboard",
      input.view,
      {
        requestId: c.get("requestId"),
        email: c.get("person").email,
        view: input.view,
        path: input.path,
        kind: input.kind,
        userAgent: input.userAgent ?? c.req.header("User-Agent")?.slice(0, MAX.userAgent),
      },
      // Browsers and builds spell stacks differently; the same crash must still be one record.
      { stackInFingerprint: false },
    );
    if (!(await sendReport(c.env, report, input.view)))
      throw new ApiError(503, "unavailable", "the error pipeline is not taking reports now; try again later");
    return c.json({ reportId: report.reportId, fingerprint: report.fingerprint }, 202);
  },
);
