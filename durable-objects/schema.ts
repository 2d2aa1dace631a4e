/**
 * Bring an object's SQLite schema up to date. `steps[i]` moves the schema from version i to i + 1;
 * the version reached is stored in the same transaction as the step, so a step runs exactly once.
 */
export function ensureSchema(
  storage: DurableObjectStorage,
  steps: readonly string[],
  /** The version as the caller just read it (`schemaVersion`): at the newest, nothing more is read. */
  known: number | null = null,
): void {
  if (known === steps.length) return;
  storage.sql.exec(
    "CREATE TABLE IF NOT EXISTS _schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
  );
  const row = storage.sql.exec<{ version: number }>("SELECT version FROM _schema WHERE id = 1").toArray()[0];
  let version = row?.version ?? 0;
  while (version < steps.length) {
    const step = steps[version]!;
    const next = version + 1;
    storage.transactionSync(() => {
      storage.sql.exec(step);
      storage.sql.exec(
        "INSERT INTO _schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        next,
      );
    });
    version = next;
  }
}

/**
 * The schema version an object's storage is at, in one statement; null when it has no schema yet
 * (an object that never wrote anything: its first statement is refused for the missing table).
 */
export function schemaVersion(storage: DurableObjectStorage): number | null {
  try {
    return storage.sql.exec<{ version: number }>("SELECT version FROM _schema WHERE id = 1").toArray()[0]?.version ?? 0;
  } catch {
    return null;
  }
}
