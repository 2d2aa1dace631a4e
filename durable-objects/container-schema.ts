// A container object's tables, step by step (ensureSchema runs each step once, in order).

export const CONTAINER_SCHEMA = [
  `CREATE TABLE container (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL);
   CREATE TABLE readings (
     reading_id TEXT PRIMARY KEY,
     measured_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     body TEXT NOT NULL,
     result TEXT NOT NULL
   );
   CREATE INDEX readings_by_time ON readings (measured_at, reading_id);
   CREATE TABLE orders (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     at TEXT NOT NULL,
     body TEXT NOT NULL
   );`,
  // Transactional outbox: a row per event, written with the change, deleted once the queue has it.
  `CREATE TABLE outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);`,
  // What the sensor sent, to tell a retry (duplicate) from a different reading under the same key.
  `ALTER TABLE readings ADD COLUMN fingerprint TEXT;`,
  // The seq of the event that last changed each order (for sending it again), and whether the
  // container is in the index the projection's reconciliation walks.
  `ALTER TABLE orders ADD COLUMN version INTEGER;
   CREATE TABLE registration (id INTEGER PRIMARY KEY CHECK (id = 1), registered_at TEXT NOT NULL);`,
  // The first answer to each command that carries an idempotency key (a partner's eventId).
  `CREATE TABLE commands (key TEXT PRIMARY KEY, answer TEXT NOT NULL, at TEXT NOT NULL);`,
  // The event log is the outbox: a watermark on the container's row says up to which seq the queue
  // has every event (written with the state, so it costs no row of its own). Rows still in the old
  // outbox are sent from the log.
  `ALTER TABLE container ADD COLUMN sent_seq INTEGER NOT NULL DEFAULT 0;
   UPDATE container SET sent_seq = coalesce((SELECT min(seq) - 1 FROM outbox), (SELECT max(seq) FROM events), 0);
   DROP TABLE outbox;`,
  // Fewer rows written per reading (each index entry is a row written): events lose the unique
  // index on their id (ids are unique by construction and never looked up here), and readings keep
  // their rows in their primary key's tree (WITHOUT ROWID) instead of a table beside an index.
  `CREATE TABLE events_next (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL);
   INSERT INTO events_next (seq, id, type, at, body) SELECT seq, id, type, at, body FROM events;
   DROP TABLE events;
   ALTER TABLE events_next RENAME TO events;
   CREATE TABLE readings_next (
     reading_id TEXT PRIMARY KEY,
     measured_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     status TEXT NOT NULL,
     body TEXT NOT NULL,
     result TEXT NOT NULL,
     fingerprint TEXT
   ) WITHOUT ROWID;
   INSERT INTO readings_next (reading_id, measured_at, received_at, status, body, result, fingerprint)
     SELECT reading_id, measured_at, received_at, status, body, result, fingerprint FROM readings;
   DROP TABLE readings;
   ALTER TABLE readings_next RENAME TO readings;
   CREATE INDEX readings_by_time ON readings (measured_at, reading_id);`,
  // Whether the commit that wrote an event handed it to its caller to send (ingestRelayed): the
  // watermark runs on over such events at load, so the state row need not be written every commit.
  `ALTER TABLE events ADD COLUMN handed INTEGER NOT NULL DEFAULT 0;`,
  // The consumption model's window (domain/forecast), written with the state row and as of the same
  // version, so that a start folds the few readings after it instead of a month of the log.
  `CREATE TABLE model (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, window TEXT NOT NULL);`,
  // A log being restored from a backup (ContainerDO.restoreEvents): the seq it will end at. While
  // the row is there, the next part of that log may follow; once the last is in, it goes.
  `CREATE TABLE restoring (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);`,
  // Archival (ContainerDO.pruneReadings): reading rows measured before `before` are gone, so a
  // reading measured before it cannot be told from one seen before, and is answered "archived".
  `CREATE TABLE pruned (id INTEGER PRIMARY KEY CHECK (id = 1), before INTEGER NOT NULL);`,
  // What each keyed command asked (a digest of the partner's event), to tell a retry from an
  // eventId reused for a different event.
  `ALTER TABLE commands ADD COLUMN fingerprint TEXT;`,
  // A reading is stored once (docs/benchmarks.md, "Rows written"): the log keeps a row per reading
  // holding its events (the reading's and the order or anomaly events it caused), its answer and
  // what the sensor sent, keyed by the row's last seq; other events get a row each. A reading's
  // row costs two written rows (the row, its entry in the index by reading id), where the event,
  // the reading row and its time index cost three, and an order that opens or closes with a
  // reading costs no event row of its own. Time order comes from the log itself: applied readings
  // never go back in time along it; stale ones (measured before the newest) have their own index.
  // Orders keep their rows in their key's tree; the model's window moves into the state's row.
  `CREATE TABLE log (
     last_seq INTEGER PRIMARY KEY,
     handed INTEGER NOT NULL DEFAULT 0,
     events TEXT NOT NULL,
     reading_id TEXT,
     measured_at INTEGER,
     status TEXT,
     result TEXT,
     fingerprint TEXT
   );
   INSERT INTO log (last_seq, handed, events, reading_id, measured_at, status, result, fingerprint)
     SELECT e.seq, e.handed, e.body, r.reading_id, r.measured_at, r.status, r.result, r.fingerprint
     FROM events e LEFT JOIN readings r
       ON e.type = 'reading.recorded' AND r.reading_id = json_extract(e.body, '$.reading.readingId')
     ORDER BY e.seq;
   CREATE UNIQUE INDEX log_by_reading ON log (reading_id) WHERE reading_id IS NOT NULL;
   CREATE INDEX log_stale_by_time ON log (measured_at, last_seq) WHERE status = 'stale';
   DROP TABLE events;
   DROP TABLE readings;
   CREATE TABLE orders_next (id TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL, version INTEGER) WITHOUT ROWID;
   INSERT INTO orders_next (id, status, body, version) SELECT id, status, body, version FROM orders;
   DROP TABLE orders;
   ALTER TABLE orders_next RENAME TO orders;
   ALTER TABLE container ADD COLUMN window TEXT;
   ALTER TABLE container ADD COLUMN window_version INTEGER;
   UPDATE container SET window = (SELECT window FROM model WHERE id = 1), window_version = (SELECT version FROM model WHERE id = 1);
   DROP TABLE model;`,
  // When the object last told the index its log moved, kept with the state row (no row of its own),
  // so that an object started again within the interval does not tell it again.
  `ALTER TABLE container ADD COLUMN moved_said_at INTEGER;`,
];

/** Durable Object SQL binds at most this many parameters to one statement. */
export const SQL_PARAMETERS = 100;

/**
 * Rows into `table`, as many to a statement as its 100 bound parameters allow (Durable Object SQL's
 * limit): each statement is a call into storage, and a group of readings makes hundreds of rows.
 * With `skipExisting` (a column to count them by), rows that would break a unique key are left
 * out; the answer is how many went in.
 */
export function insertMany(
  sql: SqlStorage,
  table: string,
  columns: string[],
  rows: unknown[][],
  skipExisting: string | null = null,
): number {
  const row = `(${columns.map(() => "?").join(", ")})`;
  const perStatement = Math.floor(SQL_PARAMETERS / columns.length);
  const tail = skipExisting ? ` ON CONFLICT DO NOTHING RETURNING ${skipExisting}` : "";
  let written = 0;
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const cursor = sql.exec(
      `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => row).join(", ")}${tail}`,
      ...chunk.flat(),
    );
    written += skipExisting ? cursor.toArray().length : chunk.length;
  }
  return written;
}
