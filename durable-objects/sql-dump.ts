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
