import { OpenAPIHono, type Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import { errorBodySchema } from "../../domain/schemas";
import { toFieldIssues } from "../../domain/validation";
import type { AppEnv } from "./context";
import { validationError } from "./errors";
import { withRequiredRole } from "./reference";

/** Every validation failure, wherever it is (path, query, body), becomes the API's error shape. */
export const defaultHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) throw validationError(toFieldIssues(result.error.issues));
};

/** A router whose routes are contracts: validated by, and documented from, the same schemas. */
export function router() {
  const r = new OpenAPIHono<AppEnv>({ defaultHook });
  // Each route states in the reference the role its middleware admits (workers/http/reference.ts).
  const declare = r.openapi.bind(r);
  r.openapi = ((route, handler, hook) => declare(withRequiredRole(route), handler, hook)) as typeof r.openapi;
  return r;
}

export function jsonContent<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: { "application/json": { schema } } };
}

const PROBLEMS = {
  400: "Bad input; `error.issues` names each bad field and what is wrong with it",
  401: "No valid credentials",
  403: "The credentials do not allow this",
  404: "Not found",
  409: "In conflict with the current state; the body says with what",
  413: "Body over the size limit",
  415: "Body not sent as application/json",
  429: "Over the rate limit; wait `Retry-After` seconds",
  500: "Internal failure; recorded as an error record, quote `requestId`",
  503: "Not available here (a setting or secret is missing; the body says which)",
} as const;

type Problem = keyof typeof PROBLEMS;

/** The error answers a route can give, each with the error body. */
export function problems<C extends Problem>(
  ...codes: C[]
): { [K in C]: ReturnType<typeof jsonContent<typeof errorBodySchema>> } {
  return Object.fromEntries(codes.map((code) => [code, jsonContent(errorBodySchema, PROBLEMS[code])])) as {
    [K in C]: ReturnType<typeof jsonContent<typeof errorBodySchema>>;
  };
}

/** The usual failures of a route a signed-in person calls. */
export const personProblems = [400, 401, 403, 429, 500] as const;

export const security = {
  person: [{ bearer: [] }],
  device: [{ deviceKey: [] }],
  partner: [{ partnerSignature: [] }],
  none: [],
};

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A person's token from POST /v1/auth/login",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "deviceKey", {
    type: "http",
    scheme: "bearer",
    description: "A device key (fgk_…) from POST /v1/device-keys",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "The METRICS_TOKEN secret, for Prometheus",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "partnerKey", {
    type: "http",
    scheme: "bearer",
    description: "A partner's API key (fgpk_…) from POST /v1/partners/{id}/api-key: reads only that partner's own",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "partnerSignature", {
    type: "apiKey",
    in: "header",
    name: "X-Fillgrid-Signature",
    description:
      'v1=<hex HMAC-SHA256(partner secret, "<X-Fillgrid-Timestamp>.<raw body>")>, with X-Fillgrid-Timestamp: <unix seconds> within 300 s of now',
  });
}
