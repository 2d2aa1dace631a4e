import { DurableObject } from "cloudflare:workers";
import {
  groupReports,
  type ErrorChange,
  type ErrorChangeKind,
  type ErrorRecord,
  type ErrorReport,
  type ErrorSource,
  type ErrorStatus,
} from "../domain/errors";
import { monotonicIds } from "../domain/ids";
import { reportError } from "../platform/error-report";
import { log } from "../platform/logging";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

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
   CREATE TABLE changes (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
   CREATE TABLE reports (report_id TEXT PRIMARY KEY, at INTEGER NOT NULL);`,
];

/** How many changes are kept for dashboards that reconnect. */
const CHANGES_KEPT = 10_000;
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

export type ResolveResult = { ok: true; record: ErrorRecord } | { ok: false; reason: "not_found" | "not_open"; record?: ErrorRecord };

interface SocketState {
  connectedAt: number;
  email: string;
}

/** What the worker hands over with a dashboard's WebSocket, once it has checked who is asking. */
export interface StreamRequest {
  email: string;
  since: number | null;
  /** The subprotocol to answer with, when the browser offered one. */
  protocol: string | null;
}

/**
 * Where error changes meet dashboards: numbers every change, keeps the recent ones for catch-up,
 * and pushes each to every connected dashboard over hibernating WebSockets (an idle dashboard costs
 * nothing; pings are answered by the runtime without waking the object). When no external error
 * store is configured it is also the error store.
 */
export class ErrorHub extends DurableObject<Env> {
  private readonly newId = monotonicIds();
  private readonly startup: Startup;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.startup = new Startup(ctx, "ErrorHub", () => {
      ensureSchema(ctx.storage, SCHEMA);
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    });
  }

  /** The embedded store: group reports into records and publish each record that changed. */
  record(reports: ErrorReport[]): ErrorChange[] {
    this.startup.check();
    const changes: ErrorChange[] = [];
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
    return changes;
  }

  /** For an external store: number and push a change the store has already made. */
  publish(kind: ErrorChangeKind, record: ErrorRecord): ErrorChange {
    this.startup.check();
    const change = this.ctx.storage.transactionSync(() => this.append(kind, record));
    this.broadcast([change]);
    return change;
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
    if (f.before) when("(last_seen < ? OR (last_seen = ? AND id < ?))", f.before.lastSeen, f.before.lastSeen, f.before.id);
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
    const resolved: ErrorRecord = { ...record, status: "resolved", resolvedAt: new Date().toISOString(), resolvedBy: by };
    const change = this.ctx.storage.transactionSync(() => {
      this.save(resolved);
      return this.append("error.updated", resolved);
    });
    this.broadcast([change]);
    return { ok: true, record: resolved };
  }

  /** Changes after `since`, oldest first. */
  changesSince(since: number, limit = CHANGES_KEPT): ErrorChange[] {
    this.startup.check();
    return this.sql
      .exec<{ body: string }>("SELECT body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", since, limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as ErrorChange);
  }

  latestSeq(): number {
    this.startup.check();
    return this.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM changes").one().seq ?? 0;
  }

  /**
   * A dashboard connects (the worker has checked its token). It first gets every change after
   * `since` (when given), then a `ready` line with the latest seq, then each change as it happens.
   * All of this runs without yielding, so no change can fall between catch-up and live.
   */
  override async fetch(request: Request): Promise<Response> {
    this.startup.check();
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { email, since, protocol } = JSON.parse(request.headers.get("X-Fillgrid-Stream") ?? "{}") as StreamRequest;
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, ["dashboard"]);
    server.serializeAttachment({ connectedAt: Date.now(), email } satisfies SocketState);
    const latest = this.latestSeq();
    if (since !== null) {
      const oldest = this.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM changes").one().seq;
      if (oldest !== null && since < oldest - 1) {
        // Older than what is kept: the dashboard must reload the list, then follow from here.
        server.send(JSON.stringify({ type: "reset", seq: latest }));
      } else {
        for (const change of this.changesSince(since)) server.send(JSON.stringify(change));
      }
    }
    server.send(JSON.stringify({ type: "ready", seq: latest }));
    return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : {} });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    // Dashboards only listen; "ping" is answered by the runtime. Anything else is told so.
    if (message === "ping") return;
    try {
      ws.send(JSON.stringify({ type: "notice", message: "this stream only sends" }));
    } catch (error) {
      this.socketTrouble(ws, "notice could not be sent", error);
    }
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch (error) {
      // The peer closing first is the usual case; it is logged, not reported, as nothing failed.
      this.socketTrouble(ws, "close after the peer's close", error, "info");
    }
  }

  override webSocketError(ws: WebSocket, error: unknown): void {
    this.socketTrouble(ws, "dashboard socket error", error, "warn");
    try {
      ws.close(1011, "socket error");
    } catch (closeError) {
      this.socketTrouble(ws, "close after a socket error", closeError, "info");
    }
  }

  /**
   * What went wrong with one dashboard's socket, with who it was and since when. A socket failing
   * is reported as an error record; a peer that had already gone (`info`) is only logged.
   */
  private socketTrouble(ws: WebSocket, msg: string, error: unknown, level: "info" | "warn" = "warn"): void {
    const who = ws.deserializeAttachment() as SocketState | null;
    log(level, msg, { object: "ErrorHub", email: who?.email, connectedAt: who?.connectedAt, error: String(error) });
    if (level === "warn") {
      this.ctx.waitUntil(reportError(this.env, error, "durable-object", `ErrorHub ${msg}`, { object: "ErrorHub", email: who?.email }));
    }
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  private byFingerprint(fingerprint: string): ErrorRecord | null {
    const row = this.sql.exec<{ body: string }>("SELECT body FROM errors WHERE fingerprint = ?", fingerprint).toArray()[0];
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

  private append(kind: ErrorChangeKind, record: ErrorRecord): ErrorChange {
    const change: ErrorChange = { seq: this.latestSeq() + 1, type: kind, record };
    this.sql.exec("INSERT INTO changes (seq, body) VALUES (?, ?)", change.seq, JSON.stringify(change));
    this.sql.exec("DELETE FROM changes WHERE seq <= ?", change.seq - CHANGES_KEPT);
    return change;
  }

  private broadcast(changes: ErrorChange[]): void {
    if (changes.length === 0) return;
    const lines = changes.map((c) => JSON.stringify(c));
    for (const ws of this.ctx.getWebSockets("dashboard")) {
      for (const line of lines) {
        try {
          ws.send(line);
        } catch (error) {
          // A socket closing as we send; its close handler tidies up.
          this.socketTrouble(ws, "push to a closing socket", error, "info");
          break;
        }
      }
    }
  }
}
