import { createRoute, z } from "@hono/zod-openapi";
import { ROLES } from "../../domain/access";
import { emailSchema, passwordSchema } from "../../domain/validation";
import { hashPassword, sameText, verifyPassword } from "../../platform/crypto";
import type { PersonStatus } from "../../durable-objects/directory";
import { forgetPerson, issueToken, requireRole } from "../http/auth";
import { ApiError } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { enforce, limits, loginEmailLimit, rateLimit } from "../http/rate-limit";
import { directory } from "../stubs";

const tokenSchema = z
  .object({ token: z.string(), expiresAt: z.string().meta({ format: "date-time" }), role: z.enum(ROLES) })
  .meta({ id: "Token" });

// Checked against when the email is unknown, so an unknown email takes as long as a wrong password.
let decoyHash: string | null = null;

/**
 * The stored person a login names, the configured first admin included: ADMIN_EMAIL with
 * ADMIN_PASSWORD is stored as an admin the first time it is used, and from then on is a person
 * like any other (their password changes there, not in the configuration).
 */
async function authenticate(env: Env, email: string, password: string): Promise<PersonStatus | "disabled" | null> {
  const found = await directory(env).findUser(email);
  if (found) {
    if (!(await verifyPassword(password, found.passwordHash))) return null;
    return found.disabled ? "disabled" : { email, role: found.role, disabled: false, tokenVersion: found.tokenVersion };
  }
  decoyHash ??= await hashPassword(crypto.randomUUID());
  await verifyPassword(password, decoyHash);
  const adminEmail = env.ADMIN_EMAIL?.toLowerCase();
  if (adminEmail && env.ADMIN_PASSWORD && email === adminEmail && sameText(password, env.ADMIN_PASSWORD)) {
    await directory(env).seedFirstAdmin(email, await hashPassword(password));
    return directory(env).personStatus(email);
  }
  return null;
}

export const auth = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/login",
      tags: ["People"],
      summary: "Log in; returns a token",
      description: "Limited per email (10 a minute) and per client address (50 a minute).",
      security: security.none,
      middleware: [rateLimit(limits.loginIp), ...jsonBody()],
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ email: emailSchema, password: z.string().min(1).max(200) }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: jsonContent(tokenSchema, "A token for `Authorization: Bearer …`"),
        ...problems(400, 401, 403, 413, 415, 429, 500),
      },
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      await enforce(c, loginEmailLimit(email));
      const person = await authenticate(c.env, email, password);
      if (person === "disabled") throw new ApiError(403, "account_disabled", "this account is disabled; ask an admin");
      if (!person) throw new ApiError(401, "invalid_credentials", "email or password is wrong");
      return c.json({ ...(await issueToken(c.env, person)), role: person.role }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/auth/password",
      tags: ["People"],
      summary: "Change your own password; every other token of yours stops working",
      security: security.person,
      middleware: [requireRole("viewer"), rateLimit(limits.api), ...jsonBody()],
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ currentPassword: z.string().min(1).max(200), newPassword: passwordSchema }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: jsonContent(tokenSchema, "A new token; the old ones are void"),
        ...problems(...personProblems, 413, 415),
      },
    }),
    async (c) => {
      const { currentPassword, newPassword } = c.req.valid("json");
      const me = c.get("person");
      const stored = await directory(c.env).findUser(me.email);
      if (!stored || !(await verifyPassword(currentPassword, stored.passwordHash))) {
        throw new ApiError(400, "validation_failed", "currentPassword is wrong", [
          { path: "currentPassword", message: "is wrong" },
        ]);
      }
      const updated = await directory(c.env).setPassword(me.email, await hashPassword(newPassword), me.email);
      forgetPerson(me.email);
      if (!updated) throw new ApiError(401, "unauthenticated", "this account no longer exists");
      return c.json({ ...(await issueToken(c.env, updated)), role: updated.role }, 200);
    },
  );
