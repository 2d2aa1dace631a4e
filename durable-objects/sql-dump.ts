/** A table's rows as a backup holds them: column names once, then each row's values in that order. */
export interface TableDump {
  columns: string[];
  rows: SqlStorageValue[][];
}

/**
 * The named tables of an object's SQLite storage, whole, for the hourly snapshot (domain/backups.ts).
 * Values stay as SQLite gives them (text, numbers, null); no table here holds blobs.
 */
export function dumpTables(sql: SqlStorage, tables: readonly string[]): Record<string, TableDump> {
  const out: Record<string, TableDump> = {};
  for (const table of tables) {
    const cursor = sql.exec(`SELECT * FROM ${table}`);
    out[table] = { columns: cursor.columnNames, rows: [...cursor.raw()] };
  }
  return out;
}

/**
 * Rows of a dump into the same tables (inside the caller's transaction): a restore. Columns the
 * dump lacks (added since it was taken) take their defaults; a column the table does not have is
 * an error.
 */
export function loadTables(sql: SqlStorage, dump: Record<string, TableDump>): number {
  let rows = 0;
  for (const [table, { columns, rows: values }] of Object.entries(dump)) {
    if (!/^[a-z_]+$/.test(table) || columns.some((c) => !/^[a-z_]+$/.test(c)))
      throw new Error(`not a table of this object: ${table}`);
    const perStatement = Math.max(1, Math.floor(100 / Math.max(1, columns.length)));
    for (let i = 0; i < values.length; i += perStatement) {
      const chunk = values.slice(i, i + perStatement);
      sql.exec(
        `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => `(${columns.map(() => "?").join(", ")})`).join(", ")}`,
        ...chunk.flat(),
      );
      rows += chunk.length;
    }
  }
  return rows;
}
