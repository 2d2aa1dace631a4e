// A WebSocket-to-TCP relay in front of one Postgres server: the local stand-in for Neon's WebSocket
// proxy, so the Neon serverless driver inside workerd reaches an ordinary Postgres.
// The driver asks for `<relay>?address=host:port`; the relay connects only to its own target.
//
// It pools server connections, as Neon's pooled endpoint does (PgBouncer in session mode): the
// Workers runtime binds a connection to one invocation, so every queue batch opens its own, and a
// Postgres backend costs about 5 ms of CPU to start against 0.2 ms for a query on one already open,
// a sizeable share of two cores under ingest. A client
// whose startup message matches an idle backend's gets that backend, its startup answer replayed
// (AuthenticationOk, the parameters, the backend's key, ReadyForQuery); when the client terminates,
// the backend is reset (DISCARD ALL) and kept if it is idle, closed otherwise. Anything other than
// a plain trust-authenticated start (a password asked for, an error) is relayed as it comes, the
// backend never pooled. Written here because the pooler must sit behind the WebSocket relay, which
// no package on hand combines; the protocol it reads is only the message framing (a type byte and a
// length) and the four message types named above.
import { createRequire } from "node:module";
import { createConnection } from "node:net";

// Through require: bundlers that honour package.json "browser" fields would otherwise pick ws's browser stub.
const { WebSocketServer } = createRequire(import.meta.url)("ws");

const SSL_REQUEST = 80877103;
const AUTH_OK = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
const IDLE_PER_KEY = 8;
const IDLE_MS = 30_000;

/** Whole protocol messages (type byte, int32 length) out of a byte stream, and what is left over. */
function splitMessages(buffer) {
  const messages = [];
  let at = 0;
  while (buffer.length - at >= 5) {
    const length = buffer.readInt32BE(at + 1);
    if (buffer.length - at < 1 + length) break;
    messages.push(buffer.subarray(at, at + 1 + length));
    at += 1 + length;
  }
  return { messages, rest: buffer.subarray(at) };
}

function query(text) {
  const body = Buffer.from(`${text}\0`, "utf8");
  const message = Buffer.alloc(5 + body.length);
  message.write("Q", 0);
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

export function startRelay({ port = 0, host = "127.0.0.1", target }) {
  /** Idle backends by the startup message that opened them: { tcp, preamble, timer }. */
  const idle = new Map();
  const live = new Set();

  function take(key) {
    const list = idle.get(key);
    const backend = list?.pop();
    if (!backend) return null;
    clearTimeout(backend.timer);
    backend.tcp.removeAllListeners("data").removeAllListeners("close").removeAllListeners("error");
    return backend;
  }

  function keep(key, backend) {
    const list = idle.get(key) ?? [];
    if (list.length >= IDLE_PER_KEY) return backend.tcp.destroy();
    const drop = () => {
      clearTimeout(backend.timer);
      const at = list.indexOf(backend);
      if (at >= 0) list.splice(at, 1);
      backend.tcp.destroy();
    };
    backend.timer = setTimeout(drop, IDLE_MS);
    backend.tcp.removeAllListeners("data").removeAllListeners("close").removeAllListeners("error");
    backend.tcp.on("data", drop); // an idle backend has nothing to say; if it does, it is not kept
    backend.tcp.on("close", drop);
    backend.tcp.on("error", drop);
    list.push(backend);
    idle.set(key, list);
  }

  /** DISCARD ALL, then keep the backend if it answers idle. */
  function reset(key, backend) {
    let pending = Buffer.alloc(0);
    backend.tcp.removeAllListeners("data");
    backend.tcp.on("data", (chunk) => {
      const { messages, rest } = splitMessages(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const m of messages) {
        if (m[0] === 0x5a /* Z */)
          return m[5] === 0x49 /* I */ && pending.length === 0 ? keep(key, backend) : backend.tcp.destroy();
        if (m[0] === 0x45 /* E */) return backend.tcp.destroy();
      }
    });
    backend.tcp.write(query("DISCARD ALL"));
  }

  const wss = new WebSocketServer({ port, host });
  wss.on("connection", (socket) => {
    let fromClient = Buffer.alloc(0);
    let key = null;
    let backend = null; // { tcp, preamble }
    let poolable = false;
    let status = null; // the last ReadyForQuery's transaction status
    let fromServer = Buffer.alloc(0);
    let starting = true; // the backend's startup answer is still coming
    let released = false;
    const queued = [];
    const toClient = (data) => socket.readyState === socket.OPEN && socket.send(data);
    const toServer = (data) => (backend?.tcp.connecting || !backend ? queued.push(data) : backend.tcp.write(data));

    const closeBoth = () => {
      if (released) return;
      released = true;
      if (backend) {
        live.delete(backend);
        // Kept only when it is between transactions with nothing half-read.
        if (poolable && !starting && status === 0x49 && fromServer.length === 0 && !backend.tcp.destroyed)
          reset(key, backend);
        else backend.tcp.destroy();
      }
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close();
    };

    const onServerData = (chunk) => {
      if (!poolable) return toClient(chunk);
      const { messages, rest } = splitMessages(Buffer.concat([fromServer, chunk]));
      fromServer = rest;
      for (const m of messages) {
        if (starting) {
          if (m[0] === 0x52 /* R */) {
            if (m.readInt32BE(5) !== 0) poolable = false; // a password asked for: relayed, never pooled
          } else if (m[0] === 0x45 /* E */) {
            poolable = false;
          } else {
            backend.preamble.push(m);
          }
          if (m[0] === 0x5a /* Z */) starting = false;
        }
        if (m[0] === 0x5a) status = m[5];
      }
      toClient(chunk);
    };

    const attach = () => {
      backend.tcp.on("data", onServerData);
      backend.tcp.on("error", closeBoth);
      backend.tcp.on("close", closeBoth);
      live.add(backend);
    };

    const onClientMessages = () => {
      const { messages, rest } = splitMessages(fromClient);
      fromClient = rest;
      for (const m of messages) {
        if (m[0] === 0x58 /* X: Terminate */ && poolable) return closeBoth();
        toServer(m);
      }
    };

    socket.on("message", (data) => {
      const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data);
      fromClient = Buffer.concat([fromClient, chunk]);
      if (key === null) {
        if (fromClient.length < 8) return;
        const length = fromClient.readInt32BE(0);
        if (fromClient.length < length) return;
        const packet = fromClient.subarray(0, length);
        fromClient = fromClient.subarray(length);
        if (packet.readInt32BE(4) === SSL_REQUEST) {
          toClient(Buffer.from("N"));
          return;
        }
        key = packet.toString("hex");
        const pooled = take(key);
        if (pooled) {
          backend = pooled;
          poolable = true;
          starting = false;
          status = 0x49;
          attach();
          toClient(Buffer.concat([AUTH_OK, ...backend.preamble]));
        } else {
          backend = { tcp: createConnection({ host: target.host, port: target.port, noDelay: true }), preamble: [] };
          poolable = true;
          attach();
          backend.tcp.on("connect", () => {
            for (const q of queued.splice(0)) backend.tcp.write(q);
          });
          toServer(packet);
        }
      }
      onClientMessages();
    });
    socket.on("close", closeBoth);
    socket.on("error", closeBoth);
  });
  return new Promise((resolve, reject) => {
    wss.once("error", reject);
    wss.once("listening", () =>
      resolve({
        port: wss.address().port,
        /** The value for NEON_WS_PROXY. */
        proxy: `${host}:${wss.address().port}/v2`,
        /** How many server connections wait in the pool. */
        idle: () => [...idle.values()].reduce((n, list) => n + list.length, 0),
        close: () =>
          new Promise((done) => {
            for (const client of wss.clients) client.terminate();
            for (const list of idle.values()) for (const b of list.splice(0)) (clearTimeout(b.timer), b.tcp.destroy());
            for (const b of live) b.tcp.destroy();
            wss.close(() => done());
          }),
      }),
    );
  });
}
