import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

export interface DeviceKeyRecord {
  id: string;
  label: string | null;
  /** The one container the key may report for, or null for the whole fleet. */
  containerId: string | null;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

const SCHEMA = [
  `CREATE TABLE device_key (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     secret_hash TEXT NOT NULL,
     body TEXT NOT NULL
   );`,
];

/**
 * The authority on one device key, named by the key's id. Keeping each key in its own object puts
 * every sensor's check on a different object, so the ingest path has no shared hot spot.
 */
export class DeviceKeyDO extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "DeviceKeyDO", () => ensureSchema(ctx.storage, SCHEMA));
  }

  issue(record: DeviceKeyRecord, secretHash: string): void {
    this.startup.check();
    const existing = this.ctx.storage.sql.exec("SELECT 1 FROM device_key WHERE id = 1").toArray();
    if (existing.length > 0) throw new Error(`device key ${record.id} already issued`);
    this.ctx.storage.sql.exec(
      "INSERT INTO device_key (id, secret_hash, body) VALUES (1, ?, ?)",
      secretHash,
      JSON.stringify(record),
    );
  }

  /** The key's record and stored hash, for the caller to compare; null when never issued. */
  lookup(): { record: DeviceKeyRecord; secretHash: string } | null {
    this.startup.check();
    const row = this.ctx.storage.sql
      .exec<{ secret_hash: string; body: string }>("SELECT secret_hash, body FROM device_key WHERE id = 1")
      .toArray()[0];
    return row ? { record: JSON.parse(row.body) as DeviceKeyRecord, secretHash: row.secret_hash } : null;
  }

  revoke(by: string): DeviceKeyRecord | null {
    const found = this.lookup();
    if (!found) return null;
    if (found.record.revokedAt !== null) return found.record;
    const record = { ...found.record, revokedAt: new Date().toISOString(), revokedBy: by };
    this.ctx.storage.sql.exec("UPDATE device_key SET body = ? WHERE id = 1", JSON.stringify(record));
    return record;
  }
}
