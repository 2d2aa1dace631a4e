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
  /** The socket now followed, with its own ping timer (a socket replaced takes its timer with it). */
  private current: { socket: WebSocket; ping: ReturnType<typeof setInterval> } | null = null;
  private since: number | null;
  private attempt = 0;
  private stopped = false;
  /** Counts restarts and the stop: a connect begun before one (still waiting for its ticket) gives up. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly path: "/v1/fleet/stream" | "/v1/errors/stream" | "/v1/alerts/stream",
    /** null: from now on (the server's `ready` says where that is). */
    since: number | null,
    private readonly on: StreamHandlers<Change>,
  ) {
    this.since = since;
    void this.connect(this.generation);
  }

  /** The last seq applied (null until the first `ready` when started from now). */
  get seq(): number | null {
    return this.since;
  }

  /** Start over from `since` (after a reset and a reloaded snapshot). */
  restart(since: number | null) {
    if (this.stopped) return;
    this.since = since;
    this.supersede();
    this.attempt = 0;
    void this.connect(this.generation);
  }

  stop() {
    this.stopped = true;
    this.supersede();
  }

  /** Whatever is connected, connecting or waiting to retry belongs to the past from here on. */
  private supersede() {
    this.generation++;
    clearTimeout(this.retryTimer);
    const c = this.current;
    this.current = null;
    if (c) {
      clearInterval(c.ping);
      c.socket.onclose = c.socket.onmessage = c.socket.onerror = null;
      c.socket.close(1000, "done");
    }
  }

  private async connect(generation: number) {
    const stale = () => this.stopped || generation !== this.generation;
    if (stale()) return;
    this.on.status("connecting");
    let ticket: string;
    try {
      ticket = (await data(api.v1["stream-tickets"].$post())).ticket;
    } catch (error) {
      if (stale()) return;
      // Signed out (401) ends the session elsewhere; anything else is retried.
      if (error instanceof ApiProblem && error.status === 401) return this.on.status("offline", error.message);
      return this.retry(generation, error instanceof Error ? error.message : String(error));
    }
    if (stale()) return;
    const url = new URL(this.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = new URLSearchParams(
      this.since === null ? { ticket } : { ticket, since: String(this.since) },
    ).toString();
    const socket = new WebSocket(url);
    const ping = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send("ping"), PING_MS);
    const connection = { socket, ping };
    this.current = connection;
    socket.onmessage = (event) => {
      if (this.current !== connection || event.data === "pong") return;
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
      clearInterval(ping);
      if (this.current !== connection) return;
      this.current = null;
      this.retry(generation, "connection lost");
    };
  }

  private retry(generation: number, detail: string) {
    if (this.stopped || generation !== this.generation) return;
    this.on.status("offline", detail);
    const wait = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)]!;
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(generation), wait);
  }
}
