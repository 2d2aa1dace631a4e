// The local stand-in for Neon's proxy pools Postgres connections: clients that come one after
// another share one server connection, none sees what an earlier one set, and a connection left in
// the middle of a transaction is never handed on. Driven with the Neon driver over WebSockets, as
// the worker reaches it, against the local PostgreSQL server (or the embedded one when none listens).
import { neonConfig, Pool } from "@neondatabase/serverless";
import { createConnection, createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { canConnect, hostAndPort, startEmbeddedPostgres } from "../scripts/lib/database.mjs";
import { startRelay } from "../scripts/lib/pg-relay.mjs";

let url: string;
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
let counter: Server;
let relay: Awaited<ReturnType<typeof startRelay>>;
/** Connections the relay opened to the server, and those closed again. */
let opened = 0;
let closed = 0;

beforeAll(async () => {
  url = process.env.TEST_DATABASE_SERVER_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const { host, port } = hostAndPort(url);
  if (!(await canConnect(host, port))) {
    embedded = await startEmbeddedPostgres({ dataDir: null });
    url = embedded.url;
  }
  // A TCP hop in front of the server that counts the connections made through it.
  const target = hostAndPort(url);
  counter = createServer((socket) => {
    opened++;
    const upstream = createConnection({ host: target.host, port: target.port, noDelay: true });
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
    socket.on("close", () => (closed++, upstream.destroy()));
    upstream.on("close", () => socket.destroy());
  });
  await new Promise<void>((resolve) => counter.listen(0, "127.0.0.1", resolve));
  const address = counter.address() as { port: number };
  relay = await startRelay({ target: { host: "127.0.0.1", port: address.port } });
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (h: string, p: string | number) => `${relay.proxy}?address=${h}:${p}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
});

afterAll(async () => {
  await relay.close();
  await new Promise((resolve) => counter.close(resolve));
  await embedded?.stop();
});

/** One client's whole life, as a queue batch has it: connect, run `work`, end. */
async function session<T>(work: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new Pool({ connectionString: url });
  try {
    return await work(pool);
  } finally {
    await pool.end();
  }
}

/** Until `n` server connections wait in the pool (a connection goes back once its reset is answered). */
async function idleBecomes(n: number): Promise<void> {
  for (let i = 0; relay.idle() !== n; i++) {
    if (i > 200) throw new Error(`the pool holds ${relay.idle()} connections, not ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("the local Postgres relay's pool", () => {
  it("clients one after another share one server connection, and none sees what an earlier one set", async () => {
    const before = opened;
    await session((pool) => pool.query("SET statement_timeout = 1234"));
    for (let i = 0; i < 4; i++) {
      await idleBecomes(1);
      const shown = await session((pool) => pool.query<{ statement_timeout: string }>("SHOW statement_timeout"));
      expect(shown.rows[0]!.statement_timeout).toBe("0");
      await idleBecomes(1);
      const answer = await session((pool) => pool.query<{ n: number }>("SELECT $1::int AS n", [i]));
      expect(answer.rows[0]!.n).toBe(i);
    }
    expect(opened - before).toBe(1);
  });

  it("a connection left inside a transaction is closed, not handed to the next client", async () => {
    await idleBecomes(1);
    const before = opened;
    const pool = new Pool({ connectionString: url });
    const client = await pool.connect();
    await client.query("BEGIN");
    await client.query("CREATE TEMP TABLE left_behind (x int)");
    const closedBefore = closed;
    client.release(true);
    await pool.end();
    for (let i = 0; closed === closedBefore; i++) {
      if (i > 200) throw new Error("the abandoned connection was not closed");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(relay.idle()).toBe(0);
    const seen = await session((p) =>
      p.query<{ n: string }>("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'left_behind'"),
    );
    expect(seen.rows[0]!.n).toBe("0");
    // The abandoned client had the idle connection; it was closed, not put back, so the next needed a new one.
    expect(opened - before).toBe(1);
  });
});
