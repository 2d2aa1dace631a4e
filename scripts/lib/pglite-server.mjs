// A Postgres wire-protocol server in front of one PGlite instance, for the embedded default.
//
// PGlite is a single session, so connections take turns: a connection holds the session from the
// first message of a request until PGlite reports it idle again (ReadyForQuery 'I'), which keeps
// each transaction whole. Messages are handed to PGlite a whole pipeline at a time (up to a Sync,
// a simple Query or a Flush), the way a backend reads them.
import { createServer } from "node:net";

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const GSSENC_REQUEST = 80877104;

class SessionLock {
  owner = null;
  waiting = [];
  async acquire(connection) {
    while (this.owner !== null && this.owner !== connection) {
      await new Promise((resolve) => this.waiting.push(resolve));
    }
    this.owner = connection;
  }
  release(connection) {
    if (this.owner !== connection) return;
    this.owner = null;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

/** Start serving `db` (a PGlite) on host:port; resolves to { port, stop() }. */
export function servePglite(db, { host = "127.0.0.1", port = 0 } = {}) {
  const lock = new SessionLock();
  const sockets = new Set();

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const connection = {};
    let buffer = Buffer.alloc(0);
    let started = false;
    let pending = [];
    let chain = Promise.resolve();

    const run = (messages) => {
      chain = chain.then(async () => {
        if (socket.destroyed) return;
        await lock.acquire(connection);
        // Transaction status from the last ReadyForQuery; none after a Flush, when the client is in
        // the middle of an extended query and keeps the session.
        let status = null;
        try {
          await db.execProtocolRawStream(Buffer.concat(messages), {
            onRawData: (data) => {
              if (data.length >= 6 && data[data.length - 6] === 0x5a) status = String.fromCharCode(data[data.length - 1]);
              if (!socket.destroyed) socket.write(Buffer.from(data));
            },
          });
        } finally {
          if (status === "I") lock.release(connection);
        }
      }).catch((error) => {
        socket.destroy(error);
      });
    };

    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write("N");
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          started = true;
          run([message]);
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const type = String.fromCharCode(buffer[0]);
        const message = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        if (type === "X") {
          socket.end();
          return;
        }
        pending.push(message);
        if (type === "S" || type === "Q" || type === "H") {
          const group = pending;
          pending = [];
          run(group);
        }
      }
    });

    const cleanUp = () => {
      sockets.delete(socket);
      chain = chain.then(async () => {
        if (lock.owner !== connection) return;
        // The client left inside a transaction: undo it so the session is clean for the next one.
        try {
          await db.exec("ROLLBACK");
        } finally {
          lock.release(connection);
        }
      });
    };
    socket.on("close", cleanUp);
    socket.on("error", () => socket.destroy());
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () =>
      resolve({
        port: server.address().port,
        stop: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
