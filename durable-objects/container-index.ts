import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [`CREATE TABLE containers (id TEXT PRIMARY KEY, registered_at TEXT NOT NULL);`];

/**
 * Every container that exists, so the projection's reconciliation can find those Postgres has never
 * heard of (all of their messages lost). Each container registers once, after its first commit; the
 * index is written once per container and read every reconciliation, never on the reading path.
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
}
