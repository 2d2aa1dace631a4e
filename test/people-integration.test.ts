import { auditSentence } from "../domain/access";
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry, Role, User } from "../domain/access";
import { adminToken, api, eventually, json, login } from "./helpers";

let admin: string;

beforeAll(async () => {
  admin = await adminToken();
});

const password = "a long enough password";

async function addPerson(role: Role): Promise<{ email: string; token: string }> {
  const email = `person-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
  await json(await api("/v1/users", { method: "POST", token: admin, json: { email, password, role } }), 201);
  return { email, token: await login(email, password) };
}

const patch = (token: string, email: string, body: unknown) =>
  api(`/v1/users/${encodeURIComponent(email)}`, { method: "PATCH", token, json: body });
const users = async () => (await json<{ users: User[] }>(await api("/v1/users", { token: admin }), 200)).users;
const audit = async (query = "") =>
  (await json<{ entries: AuditEntry[] }>(await api(`/v1/audit?limit=500${query}`, { token: admin }), 200)).entries;
const canListUsers = async (token: string) => (await api("/v1/users", { token })).status;
/** Viewer-level access: any signed-in person may list errors. */
const canRead = async (token: string) => (await api("/v1/errors?limit=1", { token })).status;

describe("GET /v1/users", () => {
  it("lists every person, the first admin included, without password hashes", async () => {
    const { email } = await addPerson("viewer");
    const list = await users();
    expect(list.find((u) => u.email === env.ADMIN_EMAIL)).toMatchObject({ role: "admin", disabled: false });
    expect(list.find((u) => u.email === email)).toMatchObject({ role: "viewer", createdBy: env.ADMIN_EMAIL });
    expect(JSON.stringify(list)).not.toMatch(/pbkdf2|passwordHash|tokenVersion/);
  });
});

describe("roles", () => {
  it("an admin changes a role; it applies to the person's existing token", async () => {
    const person = await addPerson("viewer");
    expect(await canListUsers(person.token)).toBe(403);
    const changed = await json<{ user: User }>(await patch(admin, person.email, { role: "admin" }), 200);
    expect(changed.user.role).toBe("admin");
    expect(await canListUsers(person.token)).toBe(200);
    await json(await patch(admin, person.email, { role: "viewer" }), 200);
    expect(await canListUsers(person.token)).toBe(403);
  });

  it("the assembler role ranks between viewer and operator", async () => {
    const assembler = await addPerson("assembler");
    expect(await canRead(assembler.token)).toBe(200);
    const manual = await api("/v1/containers/nowhere-1/orders", { method: "POST", token: assembler.token });
    expect(manual.status).toBe(403);
    expect((await json<{ error: { message: string } }>(manual, 403)).error.message).toContain("operator");
  });

  it("only an admin changes people: 401 without a token, 403 for the rest", async () => {
    const target = await addPerson("viewer");
    await json(
      await api(`/v1/users/${encodeURIComponent(target.email)}`, { method: "PATCH", json: { role: "admin" } }),
      401,
    );
    for (const role of ["viewer", "assembler", "operator"] as const) {
      const other = await addPerson(role);
      await json(await patch(other.token, target.email, { role: "admin" }), 403);
      await json(await patch(other.token, target.email, { disabled: true }), 403);
      await json(
        await api(`/v1/users/${encodeURIComponent(target.email)}/password`, {
          method: "POST",
          token: other.token,
          json: {},
        }),
        403,
      );
      await json(await api("/v1/audit", { token: other.token }), 403);
    }
    expect((await users()).find((u) => u.email === target.email)).toMatchObject({ role: "viewer", disabled: false });
  });

  it("bad changes name the field; an unknown person is 404", async () => {
    const target = await addPerson("viewer");
    const bad = await json<{ error: { issues: { path: string; message: string }[] } }>(
      await patch(admin, target.email, { role: "owner" }),
      400,
    );
    expect(bad.error.issues[0]).toMatchObject({ path: "role", message: expect.stringContaining('"operator"') });
    const empty = await json<{ error: { message: string } }>(await patch(admin, target.email, {}), 400);
    expect(empty.error.message).toMatch(/give role, disabled, telegramUserId or a mix/);
    await json(await patch(admin, "nobody@fillgrid.test", { role: "viewer" }), 404);
    const notEmail = await json<{ error: { issues: { path: string }[] } }>(
      await patch(admin, "not-an-email", { role: "viewer" }),
      400,
    );
    expect(notEmail.error.issues[0]!.path).toBe("email");
  });

  it("the last enabled admin cannot be demoted or disabled, and no admin locks themselves out", async () => {
    const own = await json<{ error: { code: string } }>(await patch(admin, env.ADMIN_EMAIL, { disabled: true }), 409);
    expect(own.error.code).toBe("own_account");
    await json(await patch(admin, env.ADMIN_EMAIL, { role: "viewer" }), 409);
    expect((await users()).find((u) => u.email === env.ADMIN_EMAIL)).toMatchObject({ role: "admin", disabled: false });
  });
});

describe("disable and re-enable", () => {
  it("a disabled person's tokens stop working within the bound, and they cannot log in", async () => {
    const person = await addPerson("operator");
    expect(await canRead(person.token)).toBe(200);
    const changed = await json<{ user: User }>(await patch(admin, person.email, { disabled: true }), 200);
    expect(changed.user.disabled).toBe(true);
    const bound = Number(env.DEVICE_KEY_CACHE_SECONDS) * 1000;
    const started = Date.now();
    await eventually(
      async () => ((await canRead(person.token)) === 401 ? true : undefined),
      bound + 2000,
      "the token to be refused",
    );
    expect(Date.now() - started).toBeLessThanOrEqual(bound + 1000);
    const refused = await json<{ error: { code: string } }>(
      await api("/v1/auth/login", { method: "POST", json: { email: person.email, password } }),
      403,
    );
    expect(refused.error.code).toBe("account_disabled");

    await json(await patch(admin, person.email, { disabled: false }), 200);
    // Re-enabled, they log in again; the tokens from before the disable stay void.
    const fresh = await login(person.email, password);
    expect(await canRead(fresh)).toBe(200);
    expect(await canRead(person.token)).toBe(401);
  });
});

describe("disabled elsewhere", () => {
  it("a person disabled by another isolate is refused here within DEVICE_KEY_CACHE_SECONDS", async () => {
    const person = await addPerson("viewer");
    expect(await canRead(person.token)).toBe(200);
    // Disable at the directory itself, as another isolate's PATCH would: this isolate has the person cached.
    await env.DIRECTORY.getByName("directory").changeUser(person.email, { disabled: true }, "admin@elsewhere");
    const bound = Number(env.DEVICE_KEY_CACHE_SECONDS) * 1000;
    const started = Date.now();
    let refusedAfter = -1;
    while (Date.now() - started < bound + 3000) {
      const status = await canRead(person.token);
      if (status === 401) {
        refusedAfter = Date.now() - started;
        break;
      }
      expect(status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThanOrEqual(bound + 1000);
  });
});

describe("passwords", () => {
  it("anyone changes their own password; their old token and password stop working", async () => {
    const person = await addPerson("viewer");
    const wrong = await json<{ error: { issues: { path: string }[] } }>(
      await api("/v1/auth/password", {
        method: "POST",
        token: person.token,
        json: { currentPassword: "not it at all", newPassword: "another long password" },
      }),
      400,
    );
    expect(wrong.error.issues[0]!.path).toBe("currentPassword");
    const short = await json<{ error: { issues: { path: string; message: string }[] } }>(
      await api("/v1/auth/password", {
        method: "POST",
        token: person.token,
        json: { currentPassword: password, newPassword: "short" },
      }),
      400,
    );
    expect(short.error.issues[0]).toEqual({ path: "newPassword", message: "must be at least 10 characters" });
    await json(
      await api("/v1/auth/password", {
        method: "POST",
        json: { currentPassword: password, newPassword: "another long password" },
      }),
      401,
    );

    const changed = await json<{ token: string }>(
      await api("/v1/auth/password", {
        method: "POST",
        token: person.token,
        json: { currentPassword: password, newPassword: "another long password" },
      }),
      200,
    );
    expect(await canRead(changed.token)).toBe(200);
    expect(await canRead(person.token)).toBe(401);
    await json(await api("/v1/auth/login", { method: "POST", json: { email: person.email, password } }), 401);
    await login(person.email, "another long password");
  });

  it("an admin resets a password, given or made up and shown once; the person's tokens stop working", async () => {
    const person = await addPerson("operator");
    const reset = await json<{ user: User; temporaryPassword?: string }>(
      await api(`/v1/users/${encodeURIComponent(person.email)}/password`, { method: "POST", token: admin, json: {} }),
      200,
    );
    expect(reset.temporaryPassword!.length).toBeGreaterThanOrEqual(16);
    expect(reset.user.passwordChangedAt).not.toBeNull();
    expect(await canRead(person.token)).toBe(401);
    await json(await api("/v1/auth/login", { method: "POST", json: { email: person.email, password } }), 401);
    await login(person.email, reset.temporaryPassword!);

    const given = await json<{ temporaryPassword?: string }>(
      await api(`/v1/users/${encodeURIComponent(person.email)}/password`, {
        method: "POST",
        token: admin,
        json: { password: "chosen by the admin" },
      }),
      200,
    );
    expect(given.temporaryPassword).toBeUndefined();
    await login(person.email, "chosen by the admin");
    await json(
      await api(`/v1/users/${encodeURIComponent("nobody@fillgrid.test")}/password`, {
        method: "POST",
        token: admin,
        json: {},
      }),
      404,
    );
  });
});

describe("GET /v1/audit", () => {
  it("records every admin action with who and when, newest first", async () => {
    const started = new Date().toISOString();
    const person = await addPerson("viewer");
    await json(await patch(admin, person.email, { role: "operator" }), 200);
    await json(await patch(admin, person.email, { disabled: true }), 200);
    await json(await patch(admin, person.email, { disabled: false }), 200);
    await json(
      await api(`/v1/users/${encodeURIComponent(person.email)}/password`, { method: "POST", token: admin, json: {} }),
      200,
    );
    const issued = await json<{ deviceKey: { id: string } }>(
      await api("/v1/device-keys", { method: "POST", token: admin, json: { label: "audited" } }),
      201,
    );
    await json(await api(`/v1/device-keys/${issued.deviceKey.id}`, { method: "DELETE", token: admin }), 200);
    const containerId = `audit-${crypto.randomUUID().slice(0, 8)}`;
    await json(
      await api(`/v1/containers/${containerId}`, { method: "PUT", token: admin, json: { threshold: 30 } }),
      200,
    );

    const mine = (await audit()).filter(
      (e) => e.target === person.email || e.target === issued.deviceKey.id || e.target === containerId,
    );
    expect(mine.map((e) => e.action)).toEqual([
      "container.settings_changed",
      "device_key.revoked",
      "device_key.issued",
      "user.password_reset",
      "user.enabled",
      "user.disabled",
      "user.role_changed",
      "user.created",
    ]);
    for (const e of mine) {
      expect(e.actor).toBe(env.ADMIN_EMAIL);
      expect(e.at >= started).toBe(true);
    }
    expect(mine[0]!.details).toEqual({ changes: { threshold: 30 }, previous: { threshold: 50 } });
    expect(mine.at(-2)!.details).toEqual({ from: "viewer", to: "operator" });
    const onlyRoles = await audit("&action=user.role_changed");
    expect(onlyRoles.every((e) => e.action === "user.role_changed")).toBe(true);
    const page = await json<{ entries: AuditEntry[]; nextCursor: number | null }>(
      await api("/v1/audit?limit=2", { token: admin }),
      200,
    );
    const next = await json<{ entries: AuditEntry[] }>(
      await api(`/v1/audit?limit=2&cursor=${page.nextCursor}`, { token: admin }),
      200,
    );
    expect(next.entries[0]!.seq).toBeLessThan(page.entries[1]!.seq);

    // As CSV: each entry with what was done in words.
    const csv = await api("/v1/audit?limit=500&format=csv", { token: admin });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const text = await csv.text();
    expect(text.split("\n")[0]).toBe("seq,at,actor,action,target,what,details");
    const sentences = mine.map((e) => auditSentence(e));
    expect(sentences).toEqual([
      `${env.ADMIN_EMAIL} changed ${containerId}: threshold 50 → 30`,
      `${env.ADMIN_EMAIL} revoked device key ${issued.deviceKey.id}`,
      `${env.ADMIN_EMAIL} issued device key “audited” (${issued.deviceKey.id}) for the whole fleet`,
      `${env.ADMIN_EMAIL} set a new password for ${person.email}`,
      `${env.ADMIN_EMAIL} enabled ${person.email} again`,
      `${env.ADMIN_EMAIL} disabled ${person.email}`,
      `${env.ADMIN_EMAIL} made ${person.email} operator (was viewer)`,
      `${env.ADMIN_EMAIL} added ${person.email} as viewer`,
    ]);
    for (const sentence of sentences) expect(text).toContain(sentence);
  });
});
