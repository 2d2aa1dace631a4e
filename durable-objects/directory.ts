import { DurableObject } from "cloudflare:workers";
import type { DeviceKeyRecord } from "./device-key";
import { ensureSchema } from "./schema";
import type { Role } from "../domain/access";

export interface User {
  email: string;
  role: Role;
  createdAt: string;
  createdBy: string;
}

export interface StoredUser extends User {
  passwordHash: string;
}

const SCHEMA = [
  `CREATE TABLE users (email TEXT PRIMARY KEY, body TEXT NOT NULL, password_hash TEXT NOT NULL);
   CREATE TABLE device_keys (id TEXT PRIMARY KEY, body TEXT NOT NULL);`,
];

/**
 * People and the index of device keys: small, rarely written, read on login and by admins. It is a
 * single object on purpose and stays off the reading path (device keys are checked by DeviceKeyDO).
 */
export class DirectoryDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ensureSchema(ctx.storage, SCHEMA);
  }

  /** Adds a user; false when the email is taken. */
  addUser(user: StoredUser): boolean {
    const { passwordHash, ...body } = user;
    const taken = this.ctx.storage.sql.exec("SELECT 1 FROM users WHERE email = ?", user.email).toArray();
    if (taken.length > 0) return false;
    this.ctx.storage.sql.exec(
      "INSERT INTO users (email, body, password_hash) VALUES (?, ?, ?)",
      user.email,
      JSON.stringify(body),
      passwordHash,
    );
    return true;
  }

  findUser(email: string): StoredUser | null {
    const row = this.ctx.storage.sql
      .exec<{ body: string; password_hash: string }>("SELECT body, password_hash FROM users WHERE email = ?", email)
      .toArray()[0];
    return row ? { ...(JSON.parse(row.body) as User), passwordHash: row.password_hash } : null;
  }

  listUsers(): User[] {
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM users ORDER BY email")
      .toArray()
      .map((r) => JSON.parse(r.body) as User);
  }

  recordDeviceKey(record: DeviceKeyRecord): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO device_keys (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
      record.id,
      JSON.stringify(record),
    );
  }

  listDeviceKeys(): DeviceKeyRecord[] {
    return this.ctx.storage.sql
      .exec<{ body: string }>("SELECT body FROM device_keys ORDER BY id")
      .toArray()
      .map((r) => JSON.parse(r.body) as DeviceKeyRecord);
  }
}

/** The one directory object. */
export function directory(env: Env) {
  return env.DIRECTORY.getByName("directory");
}
