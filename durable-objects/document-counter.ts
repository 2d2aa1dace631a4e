import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema";
import { dumpTables, loadTables, type TableDump } from "./sql-dump";
import { Startup } from "./startup";

const SCHEMA = [`CREATE TABLE numbers (order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, at TEXT NOT NULL);`];

/**
 * The sales-document numbers of one partner and year (named `<partner>:<year>`): the next number
 * goes to each order once, so numbers run 1, 2, 3… with no gap and no repeat however many runs ask
 * at once, and a run that asks again for the same order (a retry, an overlapping run) gets the
 * number it was given before.
 */
export class DocumentCounter extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "DocumentCounter", () => ensureSchema(ctx.storage, SCHEMA));
  }

  /** The numbers given, for the hourly backup. */
  backupDump(): Record<string, TableDump> {
    this.startup.check();
    return dumpTables(this.ctx.storage.sql, ["numbers"]);
  }

  /**
   * The numbers of a backup, into a counter that has given none; one that holds exactly these
   * already (restored before) is left as it is. False: it has given other numbers.
   */
  restoreBackup(dump: Record<string, TableDump>): boolean {
    this.startup.check();
    const sql = this.ctx.storage.sql;
    if (sql.exec<{ n: number }>("SELECT count(*) AS n FROM numbers").one().n > 0)
      return JSON.stringify(dumpTables(sql, Object.keys(dump))) === JSON.stringify(dump);
    this.ctx.storage.transactionSync(() => loadTables(sql, dump));
    return true;
  }

  /** The order's number, and when it was given (the document's issue time). */
  numberFor(orderId: string): { seq: number; at: string } {
    this.startup.check();
    return this.ctx.storage.transactionSync(() => {
      const known = this.ctx.storage.sql
        .exec<{ seq: number; at: string }>("SELECT seq, at FROM numbers WHERE order_id = ?", orderId)
        .toArray()[0];
      if (known) return { seq: known.seq, at: known.at };
      const next =
        (this.ctx.storage.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM numbers").one().seq ?? 0) + 1;
      const at = new Date().toISOString();
      this.ctx.storage.sql.exec("INSERT INTO numbers (order_id, seq, at) VALUES (?, ?, ?)", orderId, next, at);
      return { seq: next, at };
    });
  }
}
