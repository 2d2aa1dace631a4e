import {
  groupReports,
  summaryOf,
  type ErrorChange,
  type ErrorChangeKind,
  type ErrorRecord,
  type ErrorReport,
  type ErrorSource,
  type ErrorStatus,
} from "../domain/errors";
import { monotonicIds } from "../domain/ids";
import { CHANGES_TABLE, StreamHub, type Kept } from "./stream-hub";

const SCHEMA = [
  `CREATE TABLE errors (
     id TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL UNIQUE,
     status TEXT NOT NULL,
     source TEXT NOT NULL,
     last_seen TEXT NOT NULL,
     body TEXT NOT NULL
   );
   CREATE INDEX errors_by_last_seen ON errors (last_seen, id);
   ${CHANGES_TABLE}
   CREATE TABLE reports (report_id TEXT PRIMARY KEY, at INTEGER NOT NULL);`,
];

const REPORT_IDS_KEPT_MS = 7 * 24 * 3600_000;

export interface ErrorFilters {
  status?: ErrorStatus | undefined;
  source?: ErrorSource | undefined;
  lastSeenFrom?: string | undefined;
  lastSeenTo?: string | undefined;
  limit: number;
  /** Records older (by lastSeen, then id) than this one. */
  before?: { lastSeen: string; id: string } | undefined;
}

export type ResolveResult =
  { ok: true; record: ErrorRecord } | { ok: false; reason: "not_found" | "not_open"; record?: ErrorRecord };

/**
 * Where error changes meet dashboards (see StreamHub). When no external error store is configured
 * it is also the error store. A change carries the record's summary (no stack or context): what a
 * dashboard's list shows, a few hundred bytes per socket; the whole record is read by id.
 */
export class ErrorHub extends StreamHub<ErrorChange> {
  private readonly newId = monotonicIds();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, "ErrorHub", SCHEMA);
  }

  /** The embedded store: group reports into records and publish each record that changed. */
  record(reports: ErrorReport[]): ErrorChange[] {
    this.startup.check();
    const changes: Kept<ErrorChange>[] = [];
    this.ctx.storage.transactionSync(() => {
      const fresh = reports.filter((r) => {
        const seen = this.sql.exec("SELECT 1 FROM reports WHERE report_id = ?", r.reportId).toArray().length > 0;
        if (!seen) this.sql.exec("INSERT INTO reports (report_id, at) VALUES (?, ?)", r.reportId, Date.now());
        return !seen;
      });
      const byFingerprint = new Map<string, ErrorReport[]>();
      for (const r of fresh) byFingerprint.set(r.fingerprint, [...(byFingerprint.get(r.fingerprint) ?? []), r]);
      for (const [fingerprint, group] of byFingerprint) {
        const existing = this.byFingerprint(fingerprint);
        const { kind, record } = groupReports(existing, group, () => this.newId("err_"));
        this.save(record);
        changes.push(this.append(kind, record));
      }
      this.sql.exec("DELETE FROM reports WHERE at < ?", Date.now() - REPORT_IDS_KEPT_MS);
    });
    this.broadcast(changes);
    return changes.map((k) => k.change);
  }

  /** For an external store: number and push a change the store has already made. */
  publish(kind: ErrorChangeKind, record: ErrorRecord): ErrorChange {
    this.startup.check();
    const kept = this.ctx.storage.transactionSync(() => this.append(kind, record));
    this.broadcast([kept]);
    return kept.change;
  }

  list(f: ErrorFilters): { items: ErrorRecord[]; next: { lastSeen: string; id: string } | null } {
    this.startup.check();
    const where: string[] = [];
    const args: (string | number)[] = [];
    const when = (clause: string, ...values: (string | number)[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (f.status) when("status = ?", f.status);
    if (f.source) when("source = ?", f.source);
    if (f.lastSeenFrom) when("last_seen >= ?", f.lastSeenFrom);
    if (f.lastSeenTo) when("last_seen < ?", f.lastSeenTo);
    if (f.before)
      when("(last_seen < ? OR (last_seen = ? AND id < ?))", f.before.lastSeen, f.before.lastSeen, f.before.id);
    const rows = this.sql
      .exec<{ body: string }>(
        `SELECT body FROM errors ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY last_seen DESC, id DESC LIMIT ?`,
        ...args,
        f.limit + 1,
      )
      .toArray()
      .map((r) => JSON.parse(r.body) as ErrorRecord);
    const items = rows.slice(0, f.limit);
    const last = items[items.length - 1];
    return { items, next: rows.length > f.limit && last ? { lastSeen: last.lastSeen, id: last.id } : null };
  }

  countOpen(): number {
    this.startup.check();
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM errors WHERE status = 'open'").one().n;
  }

  get(id: string): ErrorRecord | null {
    this.startup.check();
    const row = this.sql.exec<{ body: string }>("SELECT body FROM errors WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.body) as ErrorRecord) : null;
  }

  resolve(id: string, by: string): ResolveResult {
    this.startup.check();
    const record = this.get(id);
    if (!record) return { ok: false, reason: "not_found" };
    if (record.status !== "open") return { ok: false, reason: "not_open", record };
    const resolved: ErrorRecord = {
      ...record,
      status: "resolved",
      resolvedAt: new Date().toISOString(),
      resolvedBy: by,
    };
    const kept = this.ctx.storage.transactionSync(() => {
      this.save(resolved);
      return this.append("error.updated", resolved);
    });
    this.broadcast([kept]);
    return { ok: true, record: resolved };
  }

  private byFingerprint(fingerprint: string): ErrorRecord | null {
    const row = this.sql
      .exec<{ body: string }>("SELECT body FROM errors WHERE fingerprint = ?", fingerprint)
      .toArray()[0];
    return row ? (JSON.parse(row.body) as ErrorRecord) : null;
  }

  private save(record: ErrorRecord): void {
    this.sql.exec(
      `INSERT INTO errors (id, fingerprint, status, source, last_seen, body) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen, body = excluded.body`,
      record.id,
      record.fingerprint,
      record.status,
      record.source,
      record.lastSeen,
      JSON.stringify(record),
    );
  }

  private append(kind: ErrorChangeKind, record: ErrorRecord): Kept<ErrorChange> {
    return this.appendChange((seq) => ({ seq, type: kind, record: summaryOf(record) }));
  }
}
