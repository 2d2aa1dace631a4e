import { csvResponse, jsonOrCsv, wantsCsv } from "../http/csv";
import { formatParam } from "../../domain/analytics";
import { AUDIT_CSV_COLUMNS, auditCsvRows } from "../../domain/access";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context";
import { createRoute, z } from "@hono/zod-openapi";
import { AUDIT_ACTIONS, ROLES, type User } from "../../domain/access";
import { randomToken } from "../../domain/ids";
import { auditEntrySchema, userSchema } from "../../domain/schemas";
import { MAX_PAGE } from "../../platform/paging";
import { hashPassword } from "../../platform/crypto";
import { forgetPerson, requireRole } from "../http/auth";
import { ApiError, notFound } from "../http/errors";
import { jsonBody } from "../http/json-body";
import { jsonContent, personProblems, problems, router, security } from "../http/openapi";
import { limits, rateLimit } from "../http/rate-limit";
import { directory } from "../stubs";
import { emailSchema, passwordSchema } from "../../domain/validation";

/** Admins only; the configured first admin is stored before any list or change can miss them. */
const firstAdminStored: MiddlewareHandler<AppEnv> = async (c, next) => {
  await seedFirstAdmin(c.env);
  await next();
};
const admin: MiddlewareHandler<AppEnv>[] = [requireRole("admin"), rateLimit(limits.api), firstAdminStored];
const emailParam = z.object({ email: emailSchema.meta({ param: { name: "email", in: "path" } }) });

/** The configured first admin, stored once (the stored password counts from then on). */
async function seedFirstAdmin(env: Env): Promise<void> {
  const email = env.ADMIN_EMAIL?.toLowerCase();
  if (!email || !env.ADMIN_PASSWORD) return;
  if (await directory(env).findUser(email)) return;
  await directory(env).seedFirstAdmin(email, await hashPassword(env.ADMIN_PASSWORD));
}

const refusals = {
  not_found: (email: string) => notFound(`person ${email}`),
  last_admin: () => new ApiError(409, "last_admin", "this would leave no enabled admin; make another admin first"),
  self: () =>
    new ApiError(409, "own_account", "you cannot take your own admin role or disable yourself; ask another admin"),
  telegram_taken: () => new ApiError(409, "telegram_taken", "telegramUserId is linked to another person already"),
};

export const users = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/users",
      tags: ["People"],
      summary: "Add a person with a role",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ email: emailSchema, password: passwordSchema, role: z.enum(ROLES) }),
            },
          },
          required: true,
        },
      },
      responses: {
        201: jsonContent(z.object({ user: userSchema }), "Added"),
        ...problems(...personProblems, 409, 413, 415),
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const now = new Date().toISOString();
      const by = c.get("person").email;
      const user: User = {
        email: input.email,
        role: input.role,
        disabled: false,
        createdAt: now,
        createdBy: by,
        updatedAt: now,
        passwordChangedAt: null,
        telegramUserId: null,
      };
      const added = await directory(c.env).addUser(
        { ...user, passwordHash: await hashPassword(input.password), tokenVersion: 0 },
        by,
      );
      if (!added) throw new ApiError(409, "user_exists", `a person with email ${input.email} exists`);
      return c.json({ user }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/users",
      tags: ["People"],
      summary: "Every person, the first admin included",
      security: security.person,
      middleware: admin,
      responses: {
        200: jsonContent(z.object({ users: z.array(userSchema) }), "By email"),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      return c.json({ users: await directory(c.env).listUsers() }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/users/{email}",
      tags: ["People"],
      summary: "Change a person's role, disable / re-enable them, or link their Telegram user",
      description:
        "A disabled person's tokens stop working within DEVICE_KEY_CACHE_SECONDS. At least one enabled admin always remains.",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        params: emailParam,
        body: {
          content: {
            "application/json": {
              schema: z
                .strictObject({
                  role: z.enum(ROLES).optional(),
                  disabled: z.boolean().optional(),
                  telegramUserId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable().optional().meta({
                    description:
                      "The Telegram user (numeric id) who may acknowledge alerts from a chat for this person; null unlinks",
                  }),
                })
                .refine((b) => b.role !== undefined || b.disabled !== undefined || b.telegramUserId !== undefined, {
                  error: "give role, disabled, telegramUserId or a mix",
                }),
            },
          },
          required: true,
        },
      },
      responses: {
        200: jsonContent(z.object({ user: userSchema }), "Changed"),
        ...problems(...personProblems, 404, 409, 413, 415),
      },
    }),
    async (c) => {
      const { email } = c.req.valid("param");
      const result = await directory(c.env).changeUser(email, c.req.valid("json"), c.get("person").email);
      if (!result.ok) throw refusals[result.reason](email);
      forgetPerson(email);
      return c.json({ user: result.user }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/users/{email}/password",
      tags: ["People"],
      summary: "Reset a person's password; their tokens stop working",
      description: "Give `password`, or leave it out to have one made up; it is shown in this answer only.",
      security: security.person,
      middleware: [...admin, ...jsonBody()],
      request: {
        params: emailParam,
        body: {
          content: { "application/json": { schema: z.strictObject({ password: passwordSchema.optional() }) } },
          required: true,
        },
      },
      responses: {
        200: jsonContent(z.object({ user: userSchema, temporaryPassword: z.string().optional() }), "Reset"),
        ...problems(...personProblems, 404, 413, 415),
      },
    }),
    async (c) => {
      const { email } = c.req.valid("param");
      const given = c.req.valid("json").password;
      const password = given ?? randomToken(15);
      const updated = await directory(c.env).setPassword(email, await hashPassword(password), c.get("person").email);
      if (!updated) throw notFound(`person ${email}`);
      forgetPerson(email);
      const { passwordHash: _h, tokenVersion: _v, ...user } = updated;
      return c.json({ user, ...(given === undefined ? { temporaryPassword: password } : {}) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/audit",
      tags: ["People"],
      summary: "Admin actions (people, device keys, settings), newest first",
      security: security.person,
      middleware: admin,
      request: {
        query: z.strictObject({
          action: z.enum(AUDIT_ACTIONS).optional(),
          actor: z.string().min(1).max(254).optional(),
          limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
          format: formatParam,
          cursor: z.coerce
            .number()
            .int()
            .positive()
            .max(Number.MAX_SAFE_INTEGER)
            .optional()
            .meta({ description: "nextCursor of the page before" }),
        }),
      },
      description:
        "As CSV (`?format=csv` or `Accept: text/csv`): the page's entries, each with what was done as a sentence (`what`) and its details as JSON.",
      responses: {
        200: jsonOrCsv(
          z.object({ entries: z.array(auditEntrySchema), nextCursor: z.number().int().nullable() }),
          "A page",
        ),
        ...problems(...personProblems),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const entries = await directory(c.env).listAudit({
        limit: q.limit + 1,
        beforeSeq: q.cursor,
        action: q.action,
        actor: q.actor?.toLowerCase(),
      });
      const page = entries.slice(0, q.limit);
      if (wantsCsv(c, q.format)) return csvResponse("audit.csv", AUDIT_CSV_COLUMNS, auditCsvRows(page));
      return c.json({ entries: page, nextCursor: entries.length > q.limit ? page[page.length - 1]!.seq : null }, 200);
    },
  );
