// The dashboard's live streams (web/src/live.ts, web/src/stores.ts) in Node, against a local
// stand-in of the API's stream protocol (a ticket, a snapshot answering with its seq, a WebSocket
// saying `ready`) whose answers the test holds back, so that sign-out, sign-in and restart land
// exactly while a snapshot or a ticket is still on its way — the races a person meets on a slow link.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as WsClient, WebSocketServer } from "ws";

type Held = { path: string; answer: () => void };

/** The stand-in: every request and socket it saw, and the answers it holds back until released. */
class StandIn {
  readonly requests: string[] = [];
  readonly sockets: { path: string; since: string | null; open: boolean }[] = [];
  private held: Held[] = [];
  private holding = new Set<string>();
  private server = createServer((req, res) => this.handle(req, res));
  private wss = new WebSocketServer({ server: this.server });

  constructor() {
    this.wss.on("connection", (socket, req) => {
      const url = new URL(req.url!, "http://stand-in");
      const entry = { path: url.pathname, since: url.searchParams.get("since"), open: true };
      this.sockets.push(entry);
      socket.on("close", () => (entry.open = false));
      socket.on("message", (m) => String(m) === "ping" && socket.send("pong"));
      socket.send(JSON.stringify({ type: "ready", seq: Number(entry.since ?? 0) }));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  close() {
    this.release();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    this.server.close();
  }

  /** Hold back the answers to these paths from now on (until released). */
  hold(...paths: string[]) {
    for (const p of paths) this.holding.add(p);
  }

  /** Answer what is held, in the order it arrived, and stop holding. */
  release() {
    this.holding.clear();
    for (const h of this.held.splice(0)) h.answer();
  }

  heldCount = (path: string) => this.held.filter((h) => h.path === path).length;
  openSockets = (path: string) => this.sockets.filter((s) => s.open && s.path === path);

  private handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url!, "http://stand-in").pathname;
    this.requests.push(`${req.method} ${path}`);
    const body = (() => {
      switch (`${req.method} ${path}`) {
        case "POST /v1/stream-tickets":
          return {
            status: 201,
            json: { ticket: `ticket-${this.requests.length}`, expiresAt: new Date(Date.now() + 30_000).toISOString() },
          };
        case "GET /v1/fleet":
          return { status: 200, json: { seq: 10, containers: [] } };
        case "GET /v1/alerts":
          return { status: 200, json: { seq: 20, alerts: [] } };
        case "GET /v1/errors":
          return { status: 200, json: { errors: [], nextCursor: null } };
        case "GET /v1/fleet/summary":
          return { status: 200, json: { openErrors: 0 } };
        default:
          return { status: 404, json: { error: { code: "not_found", message: path } } };
      }
    })();
    const answer = () =>
      res.writeHead(body.status, { "content-type": "application/json" }).end(JSON.stringify(body.json));
    if (this.holding.has(path)) this.held.push({ path, answer });
    else answer();
  }
}

/** Every interval the page's code sets, and whether it was cleared: a ping timer left running leaks. */
function trackIntervals() {
  const running = new Set<ReturnType<typeof setInterval>>();
  let created = 0;
  const set = globalThis.setInterval;
  const clear = globalThis.clearInterval;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    const id = set(...args);
    running.add(id);
    created++;
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id: Parameters<typeof clearInterval>[0]) => {
    if (id !== undefined) running.delete(id as ReturnType<typeof setInterval>);
    clear(id);
  }) as typeof clearInterval;
  return {
    running,
    created: () => created,
    restore: () => Object.assign(globalThis, { setInterval: set, clearInterval: clear }),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
/** Long enough for anything late (a second ticket, a second socket) to show. */
const settle = () => new Promise((r) => setTimeout(r, 400));

/** What the test uses of the dashboard's modules (their own types need the DOM; see `dashboard`). */
type LiveStatus = "connecting" | "live" | "offline";
interface FollowedStore {
  start(): void;
  stop(): void;
  get(): { loaded: boolean; status: LiveStatus };
}
interface LiveStream {
  restart(since: number | null): void;
  stop(): void;
}
interface Dashboard {
  stores: { fleetStore: FollowedStore; alertStore: FollowedStore };
  live: {
    LiveStream: new (
      path: string,
      since: number | null,
      on: { change(c: unknown): void; reset(): void; status(s: LiveStatus): void },
    ) => LiveStream;
  };
  session: {
    session: { start(s: { token: string; email: string; role: "viewer"; expiresAt: string }): void; signOut(): void };
  };
}

/**
 * The dashboard's modules, loaded at run time: this file is type-checked with the worker and the
 * tests (no DOM types), the dashboard's code with web/tsconfig.json, so the specifiers are not
 * followed by the compiler.
 */
async function dashboard(): Promise<Dashboard> {
  const load = (path: string) => import(/* @vite-ignore */ new URL(path, import.meta.url).href) as Promise<unknown>;
  const [stores, live, session] = await Promise.all(
    ["../web/src/stores.ts", "../web/src/live.ts", "../web/src/session.ts"].map(load),
  );
  return { stores, live, session } as Dashboard;
}

const standIn = new StandIn();
let web: Dashboard;

beforeAll(async () => {
  const origin = await standIn.listen();
  // What a browser gives the page: where it is, its tab's storage, WebSocket (Node 22 has its own).
  const storage = new Map<string, string>();
  Object.assign(globalThis, {
    location: new URL(origin),
    sessionStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
      removeItem: (k: string) => void storage.delete(k),
    },
  });
  if (typeof globalThis.WebSocket === "undefined") Object.assign(globalThis, { WebSocket: WsClient });
  web = await dashboard();
});

afterAll(() => standIn.close());

const signIn = () =>
  web.session.session.start({
    token: "token-of-a-viewer",
    email: "viewer@fillgrid.test",
    role: "viewer",
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  });
const STREAMS = ["/v1/fleet/stream", "/v1/alerts/stream"] as const;

describe("the dashboard's live streams", () => {
  it("two dashboards' streams after sign-out/restart races hold one socket each", async () => {
    const { fleetStore, alertStore } = web.stores;
    const intervals = trackIntervals();
    try {
      // 1. Signed out while both snapshots load: when they arrive, nothing opens and nothing is loaded.
      signIn();
      standIn.hold("/v1/fleet", "/v1/alerts");
      fleetStore.start();
      alertStore.start();
      await until(
        () => standIn.heldCount("/v1/fleet") === 1 && standIn.heldCount("/v1/alerts") === 1,
        "both snapshots asked for",
      );
      fleetStore.stop();
      alertStore.stop();
      web.session.session.signOut();
      standIn.release();
      await settle();
      expect(standIn.requests.filter((r) => r === "POST /v1/stream-tickets")).toEqual([]);
      expect(standIn.sockets).toEqual([]);
      expect([fleetStore.get().loaded, alertStore.get().loaded]).toEqual([false, false]);

      // 2. Signed out and in again while the first snapshots still load: the late first answers are
      // dropped, the second ones followed; one socket per stream.
      signIn();
      standIn.hold("/v1/fleet", "/v1/alerts");
      fleetStore.start();
      alertStore.start();
      await until(
        () => standIn.heldCount("/v1/fleet") === 1 && standIn.heldCount("/v1/alerts") === 1,
        "the first snapshots asked for",
      );
      fleetStore.stop();
      alertStore.stop();
      fleetStore.start();
      alertStore.start();
      await until(
        () => standIn.heldCount("/v1/fleet") === 2 && standIn.heldCount("/v1/alerts") === 2,
        "the second snapshots asked for",
      );
      standIn.release();
      await until(() => STREAMS.every((p) => standIn.openSockets(p).length >= 1), "both streams open");
      await settle();
      for (const path of STREAMS) expect(standIn.openSockets(path), path).toHaveLength(1);
      await until(() => fleetStore.get().status === "live" && alertStore.get().status === "live", "both stores live");
      expect(standIn.openSockets("/v1/fleet/stream")[0]!.since).toBe("10");
      expect(standIn.openSockets("/v1/alerts/stream")[0]!.since).toBe("20");

      // 3. A stream restarted (a reset, a reloaded snapshot) while it waits for its ticket: one
      // socket, from the restarted position.
      fleetStore.stop();
      alertStore.stop();
      await until(() => STREAMS.every((p) => standIn.openSockets(p).length === 0), "the stores' sockets closed");
      const opened = standIn.sockets.length;
      standIn.hold("/v1/stream-tickets");
      const streams = STREAMS.map(
        (path) => new web.live.LiveStream(path, 5, { change: () => {}, reset: () => {}, status: () => {} }),
      );
      await until(() => standIn.heldCount("/v1/stream-tickets") === 2, "both tickets asked for");
      for (const s of streams) s.restart(7);
      await until(() => standIn.heldCount("/v1/stream-tickets") === 4, "the restarted streams' tickets asked for");
      standIn.release();
      await until(() => STREAMS.every((p) => standIn.openSockets(p).length >= 1), "both restarted streams open");
      await settle();
      for (const path of STREAMS) {
        expect(standIn.openSockets(path), path).toHaveLength(1);
        expect(standIn.openSockets(path)[0]!.since).toBe("7");
      }
      expect(standIn.sockets.length - opened).toBe(2);

      // Stopped, nothing is left: no socket open, no ping timer running.
      for (const s of streams) s.stop();
      await until(() => standIn.sockets.every((s) => !s.open), "every socket closed");
      expect(intervals.created()).toBeGreaterThanOrEqual(4);
      expect(intervals.running.size).toBe(0);
    } finally {
      intervals.restore();
      fleetStore.stop();
      alertStore.stop();
      web.session.session.signOut();
    }
  });
});
