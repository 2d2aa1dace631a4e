import { Hono } from "hono";
import { z } from "zod";
import { ROLES } from "../../domain/access";
import { directory } from "../../durable-objects/directory";
import type { AppEnv } from "../http/context";
import { requireRole } from "../http/auth";
import { ApiError, readJson, validate } from "../http/errors";
import { limitBody } from "../http/limits";
import { hashPassword } from "../lib/crypto";
import { emailSchema } from "./auth";

export const users = new Hono<AppEnv>();

const newUserSchema = z.strictObject({
  email: emailSchema,
  password: z.string().min(10, { error: "must be at least 10 characters" }).max(200),
  role: z.enum(ROLES),
});

users.post("/", limitBody(16 * 1024), requireRole("admin"), async (c) => {
  const input = validate(newUserSchema, await readJson(c));
  if (input.email === c.env.ADMIN_EMAIL?.toLowerCase()) {
    throw new ApiError(409, "user_exists", `${input.email} is the configured first admin`);
  }
  const user = { email: input.email, role: input.role, createdAt: new Date().toISOString(), createdBy: c.get("person").email };
  const added = await directory(c.env).addUser({ ...user, passwordHash: await hashPassword(input.password) });
  if (!added) throw new ApiError(409, "user_exists", `a user with email ${input.email} exists`);
  return c.json({ user }, 201);
});

users.get("/", requireRole("admin"), async (c) => {
  return c.json({ users: await directory(c.env).listUsers() });
});
