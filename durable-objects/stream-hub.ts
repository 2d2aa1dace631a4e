import { DurableObject } from "cloudflare:workers";
import { reportError } from "../platform/error-report";
import { log } from "../platform/logging";
import { ensureSchema } from "./schema";
import { Startup } from "./startup";

/** What the worker hands over with a dashboard's WebSocket, once it has checked who is asking. */
export interface StreamRequest {
  email: string;
  since: number | null;
  /** The subprotocol to answer with, when the browser offered one. */
  protocol: string | null;
}

interface SocketState {
  connectedAt: number;
  email: string;
}

/** How many changes a hub keeps for dashboards that reconnect. */
export const CHANGES_KEPT = 10_000;

/** The table every hub keeps its numbered changes in; a hub's schema starts with it. */
export const CHANGES_TABLE = "CREATE TABLE changes (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);";

/** A change as numbered and kept, with the one serialisation of it every dashboard is sent. */
export interface Kept<Change> {
  change: Change;
  line: string;
}

/**
 * Where changes meet dashboards: numbers every change, keeps the recent ones for catch-up, and
 * pushes each to every connected dashboard over hibernating WebSockets (an idle dashboard costs
 * nothing; pings are answered by the runtime without waking the object). A dashboard that connects
 * with `since` first gets every change after it (or `reset` when that is older than what is kept),
 * then `ready`, then each change as it happens, with nothing between catch-up and live.
 */
export abstract class StreamHub<Change extends { seq: number }> extends DurableObject<Env> {
  protected readonly startup: Startup;

  constructor(
    ctx: DurableObjectState,
    env: Env,
    protected readonly hubName: string,
    schema: readonly string[],
  ) {
    super(ctx, env);
    this.startup = new Startup(ctx, hubName, () => {
      ensureSchema(ctx.storage, schema);
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    });
  }

  /** Changes after `since`, oldest first. */
  changesSince(since: number, limit = CHANGES_KEPT): Change[] {
    this.startup.check();
    return this.sql
      .exec<{ body: string }>("SELECT body FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", since, limit)
      .toArray()
      .map((r) => JSON.parse(r.body) as Change);
  }

  latestSeq(): number {
    this.startup.check();
    return this.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM changes").one().seq ?? 0;
  }

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
        // Older than what is kept: the dashboard must reload its list, then follow from here.
        server.send(JSON.stringify({ type: "reset", seq: latest }));
      } else {
        // As kept: the catch-up sends the stored lines without parsing them again.
        for (const { body } of this.sql.exec<{ body: string }>(
          "SELECT body FROM changes WHERE seq > ? ORDER BY seq",
          since,
        ))
          server.send(body);
      }
    }
    server.send(JSON.stringify({ type: "ready", seq: latest }));
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: protocol ? { "Sec-WebSocket-Protocol": protocol } : {},
    });
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

  protected get sql() {
    return this.ctx.storage.sql;
  }

  /**
   * Number a change and keep it (in the caller's transaction, if any), dropping the oldest kept. It
   * is serialised here, once: the line kept is the line every dashboard is sent.
   */
  protected appendChange(make: (seq: number) => Change): Kept<Change> {
    const change = make(this.latestSeq() + 1);
    const line = JSON.stringify(change);
    this.sql.exec("INSERT INTO changes (seq, body) VALUES (?, ?)", change.seq, line);
    this.sql.exec("DELETE FROM changes WHERE seq <= ?", change.seq - CHANGES_KEPT);
    return { change, line };
  }

  /** Each kept change to every dashboard, in order: per socket, nothing but the sends. */
  protected broadcast(kept: readonly Kept<Change>[]): void {
    if (kept.length === 0) return;
    const lines = kept.map((k) => k.line);
    for (const ws of this.ctx.getWebSockets("dashboard")) {
      try {
        for (const line of lines) ws.send(line);
      } catch (error) {
        // A socket closing as we send; its close handler tidies up.
        this.socketTrouble(ws, "push to a closing socket", error, "info");
      }
    }
  }

  /**
   * What went wrong with one dashboard's socket, with who it was and since when. A socket failing
   * is reported as an error record; a peer that had already gone (`info`) is only logged.
   */
  private socketTrouble(ws: WebSocket, msg: string, error: unknown, level: "info" | "warn" = "warn"): void {
    const who = ws.deserializeAttachment() as SocketState | null;
    log(level, msg, { object: this.hubName, email: who?.email, connectedAt: who?.connectedAt, error: String(error) });
    if (level === "warn") {
      this.ctx.waitUntil(
        reportError(this.env, error, "durable-object", `${this.hubName} ${msg}`, {
          object: this.hubName,
          email: who?.email,
        }),
      );
    }
  }
}
