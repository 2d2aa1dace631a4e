// What the code does that Cloudflare bills for, counted in this isolate since it started: Worker
// invocations (requests, queue batches, cron runs), Durable Object requests (RPC calls and alarms),
// SQLite rows read and written by the objects, queue messages sent, delivered and retried. For
// `npm run bench`'s cost per million readings (GET /v1/diagnostics/usage): counters in memory, so
// they say what one isolate did — locally one per wrangler dev session; they are not metrics (GET
// /metrics reads stores, so every isolate answers it alike).

export interface Usage {
  workerInvocations: number;
  objectRequests: number;
  rowsRead: number;
  rowsWritten: number;
  queueMessagesSent: number;
  /** Messages sent counted in 64 KB units, as Cloudflare bills queue operations. */
  queueMessageUnits: number;
  queueMessagesDelivered: number;
  queueMessagesRetried: number;
}

const counters: Usage = {
  workerInvocations: 0,
  objectRequests: 0,
  rowsRead: 0,
  rowsWritten: 0,
  queueMessagesSent: 0,
  queueMessageUnits: 0,
  queueMessagesDelivered: 0,
  queueMessagesRetried: 0,
};

export function count(what: keyof Usage, n = 1): void {
  counters[what] += n;
}

/** A message of `bytes` in billed units: each 64 KB of it is one operation of each kind. */
export function queueUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / (64 * 1024)));
}

export function usageNow(): Usage {
  return { ...counters };
}

/**
 * SQL storage whose statements are counted: rows written as each statement runs (its cursor is
 * stepped to the end for that by the runtime when it has no result rows), rows read once its result
 * is taken. Same interface; `exec` answers a cursor that counts what it read when consumed.
 */
export function countedSql(sql: SqlStorage): SqlStorage {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property !== "exec") return Reflect.get(target, property, receiver) as unknown;
      return (query: string, ...bindings: unknown[]) => countedCursor(target.exec(query, ...bindings));
    },
  });
}

function countedCursor<T extends Record<string, SqlStorageValue>>(cursor: SqlStorageCursor<T>): SqlStorageCursor<T> {
  let read = 0;
  let written = 0;
  const settle = () => {
    count("rowsRead", cursor.rowsRead - read);
    count("rowsWritten", cursor.rowsWritten - written);
    read = cursor.rowsRead;
    written = cursor.rowsWritten;
  };
  settle();
  return new Proxy(cursor, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === Symbol.iterator) {
          return (function* () {
            for (const row of target) yield row;
            settle();
          })();
        }
        const result = Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        if (property !== "raw") settle();
        return result;
      };
    },
  });
}
