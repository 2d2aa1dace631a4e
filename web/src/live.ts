// A live stream from the API (fleet or errors) that stays live: a single-use ticket per connection
// (the token stays out of the URL), catch-up from the last seq seen after every reconnect, retries
// with backoff, and a status the page shows. Written here because it is the API's own protocol
// (ticket, since, ready, reset), which no general WebSocket library knows.
import { api, ApiProblem, data } from "./api";

export type LiveStatus = "connecting" | "live" | "offline";

export interface StreamHandlers<Change> {
  /** Each change after `since`, in order, catch-up first. */
  change(change: Change): void;
  /** What was missed is older than what the server keeps: reload the snapshot, then `restart`. */
  reset(): void;
  status(status: LiveStatus, detail?: string): void;
}

type Message<Change> = ({ type: "ready" | "reset" | "notice"; seq: number } | Change) & { type: string; seq: number };

const RETRY_MS = [500, 1000, 2000, 5000, 10000];
const PING_MS = 25_000;

export class LiveStream<Change extends { seq: number; type: string }> {
  private socket: WebSocket | null = null;
  private since: number | null;
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly path: "/v1/fleet/stream" | "/v1/errors/stream" | "/v1/alerts/stream",
    /** null: from now on (the server's `ready` says where that is). */
    since: number | null,
    private readonly on: StreamHandlers<Change>,
  ) {
    this.since = since;
    void this.connect();
  }

  /** The last seq applied (null until the first `ready` when started from now). */
  get seq(): number | null {
    return this.since;
  }

  /** Start over from `since` (after a reset and a reloaded snapshot). */
  restart(since: number | null) {
    this.since = since;
    this.drop();
    this.attempt = 0;
    void this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  private drop() {
    clearInterval(this.pingTimer);
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = s.onmessage = s.onerror = null;
      s.close(1000, "done");
    }
  }

  private async connect() {
    if (this.stopped) return;
    this.on.status("connecting");
    let ticket: string;
    try {
      ticket = (await data(api.v1["stream-tickets"].$post())).ticket;
    } catch (error) {
      // Signed out (401) ends the session elsewhere; anything else is retried.
      if (error instanceof ApiProblem && error.status === 401) return this.on.status("offline", error.message);
      return this.retry(error instanceof Error ? error.message : String(error));
    }
    if (this.stopped) return;
    const url = new URL(this.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = new URLSearchParams(this.since === null ? { ticket } : { ticket, since: String(this.since) }).toString();
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onmessage = (event) => {
      if (event.data === "pong") return;
      const message = JSON.parse(String(event.data)) as Message<Change>;
      if (message.type === "ready") {
        this.since ??= message.seq;
        this.attempt = 0;
        this.on.status("live");
      } else if (message.type === "reset") {
        this.since = message.seq;
        this.on.reset();
      } else if (message.type !== "notice" && message.seq > (this.since ?? -1)) {
        this.since = message.seq;
        this.on.change(message as Change);
      }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      this.retry("connection lost");
    };
    this.pingTimer = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send("ping"), PING_MS);
  }

  private retry(detail: string) {
    if (this.stopped) return;
    this.on.status("offline", detail);
    const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)]!;
    this.attempt++;
    this.retryTimer = setTimeout(() => void this.connect(), wait);
  }
}
