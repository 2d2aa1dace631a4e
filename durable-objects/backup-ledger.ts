import { DurableObject } from "cloudflare:workers";
import { cover, type BackupSummary, type SeqRange } from "../domain/backups";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

const SCHEMA = [
  `CREATE TABLE objects (key TEXT PRIMARY KEY, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, events INTEGER NOT NULL,
     ranges TEXT NOT NULL, recorded_at INTEGER NOT NULL, manifest TEXT);
   CREATE INDEX objects_waiting ON objects (manifest, recorded_at);
   CREATE TABLE coverage (container_id TEXT PRIMARY KEY, contiguous INTEGER NOT NULL, beyond TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE manifests (hour TEXT PRIMARY KEY, body TEXT NOT NULL, complete INTEGER NOT NULL, written_at TEXT NOT NULL);
   CREATE INDEX manifests_complete ON manifests (complete, hour);`,
  // Every object written, until the replica has it.
  `CREATE TABLE replication (key TEXT PRIMARY KEY, written_at INTEGER NOT NULL, replicated_at INTEGER);
   CREATE INDEX replication_waiting ON replication (replicated_at, written_at);`,
];

/** An event object as written to the bucket. */
export interface WrittenObject {
  key: string;
  bytes: number;
  sha256: string;
  events: number;
  ranges: SeqRange[];
}

export interface Coverage {
  contiguous: number;
  beyond: { fromSeq: number; toSeq: number }[];
}

/**
 * What the backup bucket holds, so that a batch's events are written once, an hour's manifest can
 * list what was written since the last, and a backup can say whether it is complete: every event
 * object written (with its checksum and the ranges it holds), each container's coverage (every seq
 * up to `contiguous` is in the bucket, and the ranges beyond a hole), and the manifests. One object:
 * it is written once per backup batch and once an hour, never on the reading path. The bucket is the
 * backup; this ledger is rebuilt from its manifests and objects if lost (`npm run restore` reads the
 * bucket, not the ledger).
 */
export class BackupLedger extends DurableObject<Env> {
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "BackupLedger", () => ensureSchema(ctx.storage, SCHEMA));
  }

  /** An object was written to the bucket: the replica owes a copy. */
  awaitReplica(key: string): void {
    this.startup.check();
    this.ctx.storage.sql.exec(
      "INSERT INTO replication (key, written_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
      key,
      Date.now(),
    );
  }

  /** The replica has an object, checked. */
  replicated(key: string): void {
    this.startup.check();
    this.ctx.storage.sql.exec(
      `INSERT INTO replication (key, written_at, replicated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET replicated_at = coalesce(replication.replicated_at, excluded.replicated_at)`,
      key,
      Date.now(),
      Date.now(),
    );
  }

  /** How many objects the replica lacks, and since when the oldest has waited (ms; null: none). */
  replication(): { waiting: number; oldestWaiting: number | null } {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ waiting: number; oldestWaiting: number | null }>(
        "SELECT count(*) AS waiting, min(written_at) AS oldestWaiting FROM replication WHERE replicated_at IS NULL",
      )
      .one();
  }

  /** The coverage of these containers (none: not yet backed up at all). */
  coverageOf(containerIds: string[]): Record<string, Coverage> {
    this.startup.check();
    const out: Record<string, Coverage> = {};
    for (const id of new Set(containerIds)) {
      const row = this.ctx.storage.sql
        .exec<{ contiguous: number; beyond: string }>(
          "SELECT contiguous, beyond FROM coverage WHERE container_id = ?",
          id,
        )
        .toArray()[0];
      if (row) out[id] = { contiguous: row.contiguous, beyond: JSON.parse(row.beyond) as Coverage["beyond"] };
    }
    return out;
  }

  /** Every container's seq up to which its events are in the bucket with no hole. */
  contiguous(): Record<string, number> {
    this.startup.check();
    const out: Record<string, number> = {};
    for (const r of this.ctx.storage.sql.exec<{ container_id: string; contiguous: number }>(
      "SELECT container_id, contiguous FROM coverage",
    ))
      out[r.container_id] = r.contiguous;
    return out;
  }

  /** An object is in the bucket: its events count as backed up. Recording it again changes nothing. */
  record(object: WrittenObject): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      const known = this.ctx.storage.sql.exec("SELECT 1 FROM objects WHERE key = ?", object.key).toArray();
      if (known.length > 0) return;
      this.ctx.storage.sql.exec(
        "INSERT INTO objects (key, bytes, sha256, events, ranges, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
        object.key,
        object.bytes,
        object.sha256,
        object.events,
        JSON.stringify(object.ranges),
        Date.now(),
      );
      const byContainer = new Map<string, SeqRange[]>();
      for (const r of object.ranges) byContainer.set(r.containerId, [...(byContainer.get(r.containerId) ?? []), r]);
      const current = this.coverageOf([...byContainer.keys()]);
      for (const [id, ranges] of byContainer) {
        const before = current[id] ?? { contiguous: 0, beyond: [] };
        const after = cover(before.contiguous, [...before.beyond, ...ranges]);
        this.ctx.storage.sql.exec(
          `INSERT INTO coverage (container_id, contiguous, beyond) VALUES (?, ?, ?)
           ON CONFLICT (container_id) DO UPDATE SET contiguous = excluded.contiguous, beyond = excluded.beyond`,
          id,
          after.contiguous,
          JSON.stringify(after.beyond),
        );
      }
    });
  }

  /** The objects no manifest lists yet, oldest first. */
  unlisted(): WrittenObject[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ key: string; bytes: number; sha256: string; events: number; ranges: string }>(
        "SELECT key, bytes, sha256, events, ranges FROM objects WHERE manifest IS NULL ORDER BY recorded_at, key",
      )
      .toArray()
      .map((r) => ({ ...r, ranges: JSON.parse(r.ranges) as SeqRange[] }));
  }

  /** How many objects (and events in them) no manifest lists yet. */
  unlistedTotals(): { objects: number; events: number } {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ objects: number; events: number }>(
        "SELECT count(*) AS objects, coalesce(sum(events), 0) AS events FROM objects WHERE manifest IS NULL",
      )
      .one();
  }

  /** An hour's manifest is in the bucket, listing these objects. */
  recordManifest(summary: BackupSummary, keys: string[]): void {
    this.startup.check();
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec(
        `INSERT INTO manifests (hour, body, complete, written_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (hour) DO UPDATE SET body = excluded.body, complete = excluded.complete, written_at = excluded.written_at`,
        summary.hour,
        JSON.stringify(summary),
        summary.complete ? 1 : 0,
        summary.writtenAt,
      );
      for (const key of keys)
        this.ctx.storage.sql.exec("UPDATE objects SET manifest = ? WHERE key = ?", summary.hour, key);
    });
  }

  /** Manifests, newest first, before `beforeHour` when given. */
  manifests(limit: number, beforeHour?: string): BackupSummary[] {
    this.startup.check();
    return this.ctx.storage.sql
      .exec<{ body: string }>(
        "SELECT body FROM manifests WHERE hour < ? ORDER BY hour DESC LIMIT ?",
        beforeHour ?? "9999",
        limit,
      )
      .toArray()
      .map((r) => JSON.parse(r.body) as BackupSummary);
  }

  /**
   * When the newest complete backup was taken, the newest of any kind, and when the first object
   * was written (backups began); null: none yet.
   */
  newest(): { complete: string | null; any: string | null; since: string | null } {
    this.startup.check();
    const complete = this.ctx.storage.sql
      .exec<{ at: string | null }>("SELECT max(written_at) AS at FROM manifests WHERE complete = 1")
      .one().at;
    const any = this.ctx.storage.sql
      .exec<{ at: string | null }>("SELECT max(written_at) AS at FROM manifests")
      .one().at;
    const first = this.ctx.storage.sql
      .exec<{ at: number | null }>("SELECT min(recorded_at) AS at FROM objects")
      .one().at;
    return { complete, any, since: first === null ? null : new Date(first).toISOString() };
  }
}
