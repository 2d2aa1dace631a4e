import { Hono } from "hono";
import { z } from "zod";
import { directory } from "../../durable-objects/directory";
import type { AppEnv, Person } from "../http/context";
import { issueToken } from "../http/auth";
import { ApiError, readJson, validate } from "../http/errors";
import { limitBody } from "../http/limits";
import { hashPassword, sameText, verifyPassword } from "../lib/crypto";

export const auth = new Hono<AppEnv>();

export const emailSchema = z.email({ error: "must be an email address" }).transform((e) => e.toLowerCase());

const loginSchema = z.strictObject({
  email: emailSchema,
  password: z.string().min(1),
});

// Checked against when the email is unknown, so an unknown email takes as long as a wrong password.
let decoyHash: string | null = null;

/** A stored user, or the first admin named by ADMIN_EMAIL / ADMIN_PASSWORD. */
async function authenticate(env: Env, email: string, password: string): Promise<Person | null> {
  const user = await directory(env).findUser(email);
  if (user) return (await verifyPassword(password, user.passwordHash)) ? { email, role: user.role } : null;
  decoyHash ??= await hashPassword(crypto.randomUUID());
  await verifyPassword(password, decoyHash);
  const adminEmail = env.ADMIN_EMAIL?.toLowerCase();
  if (adminEmail && env.ADMIN_PASSWORD && email === adminEmail && sameText(password, env.ADMIN_PASSWORD)) {
    return { email, role: "admin" };
  }
  return null;
}

auth.post("/login", limitBody(16 * 1024), async (c) => {
  const { email, password } = validate(loginSchema, await readJson(c));
  const person = await authenticate(c.env, email, password);
  if (!person) throw new ApiError(401, "invalid_credentials", "email or password is wrong");
  return c.json({ ...(await issueToken(c.env, person)), role: person.role });
});
