import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [
  `CREATE TABLE containers (id TEXT PRIMARY KEY, registered_at TEXT NOT NULL);`,
  // When each container last said its log moved, and when the last reconciliation that finished began.
  `CREATE TABLE moved (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX moved_by_time ON moved (at, id);
   CREATE TABLE looked (id INTEGER PRIMARY KEY CHECK (id = 1), began_at INTEGER NOT NULL);`,
];

/**
 * Every container that exists, so the projection's reconciliation can find those Postgres has never
 * heard of (all of their messages lost), and the containers whose log moved lately, so that a
 * regular reconciliation asks only those. Each container registers once, after its first commit,
 * and says it moved at most once per reconciliation interval (ContainerDO); the index is never on the
 * reading path.
 */
export class ContainerIndex extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "ContainerIndex", () => ensureSchema(ctx.storage, SCHEMA));
  }

  register(containerId: string): void {
    this.startup.check();
    this.ctx.storage.sql.exec(
      "INSERT INTO containers (id, registered_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
      containerId,
      new Date().toISOString(),
    );
  }

  /** Container ids in order, after `after`. */
  list(after: string, limit: number): string[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ id: string }>("SELECT id FROM containers WHERE id > ? ORDER BY id LIMIT ?", after, limit)
      .toArray()
      .map((r) => r.id);
  }

  /** A container's log moved (it committed). */
  moved(containerId: string): void {
    this.startup.check();
    this.ctx.storage.sql.exec(
      "INSERT INTO moved (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
      containerId,
      Date.now(),
    );
  }

  /** Containers that last said they moved after `since` (ms), in id order, after `after`. */
  movedSince(since: number, after: string, limit: number): string[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ id: string }>("SELECT id FROM moved WHERE at > ? AND id > ? ORDER BY id LIMIT ?", since, after, limit)
      .toArray()
      .map((r) => r.id);
  }

  /** When the last reconciliation that finished began (ms), or null before the first. */
  lastLooked(): number | null {
    this.startup.check();
    return (
      this.ctx.storage.sql.exec<{ began_at: number }>("SELECT began_at FROM looked WHERE id = 1").toArray()[0]
        ?.began_at ?? null
    );
  }

  /**
   * A reconciliation that began at `beganAt` (ms) has asked every container that moved since
   * `since`: the next looks back to `beganAt - lookBack`, so marks older than that are forgotten.
   */
  looked(beganAt: number, lookBack: number): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        "INSERT INTO looked (id, began_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET began_at = max(began_at, excluded.began_at)",
        beganAt,
      );
      this.ctx.storage.sql.exec("DELETE FROM moved WHERE at <= ?", beganAt - lookBack);
    });
  }
}
