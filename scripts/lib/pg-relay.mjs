// A WebSocket-to-TCP relay in front of one Postgres server: the local stand-in for Neon's WebSocket
// proxy, so the Neon serverless driver inside workerd reaches an ordinary Postgres (or PGlite).
// The driver asks for `<relay>?address=host:port`; the relay connects only to its own target.
import { createRequire } from "node:module";
import { createConnection } from "node:net";

// Through require: bundlers that honour package.json "browser" fields would otherwise pick ws's browser stub.
const { WebSocketServer } = createRequire(import.meta.url)("ws");

export function startRelay({ port = 0, host = "127.0.0.1", target }) {
  const wss = new WebSocketServer({ port, host });
  wss.on("connection", (socket) => {
    const tcp = createConnection({ host: target.host, port: target.port });
    const pending = [];
    tcp.on("connect", () => {
      for (const chunk of pending.splice(0)) tcp.write(chunk);
    });
    socket.on("message", (data) => {
      const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (tcp.connecting) pending.push(chunk);
      else tcp.write(chunk);
    });
    tcp.on("data", (chunk) => socket.readyState === socket.OPEN && socket.send(chunk));
    const closeBoth = () => {
      tcp.destroy();
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close();
    };
    tcp.on("error", closeBoth);
    tcp.on("close", closeBoth);
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
        close: () =>
          new Promise((done) => {
            for (const client of wss.clients) client.terminate();
            wss.close(() => done());
          }),
      }),
    );
  });
}
