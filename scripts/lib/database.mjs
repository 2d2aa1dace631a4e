// Where the system's Postgres comes from when run locally: DATABASE_URL when set, otherwise an
// embedded PGlite behind a Postgres wire socket, its data kept under .data/pglite.
import { mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";

export function canConnect(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Start PGlite on a TCP port.
 * @param {{ dataDir?: string | null, port?: number }} [options] `dataDir` null keeps it in memory.
 */
export async function startEmbeddedPostgres({ dataDir = ".data/pglite", port = 0 } = {}) {
  const { PGlite } = await import("@electric-sql/pglite");
  const { servePglite } = await import("./pglite-server.mjs");
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const server = await servePglite(db, { port });
  return {
    url: `postgres://postgres@127.0.0.1:${server.port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** Apply every migration in migrations/ (idempotent). */
export async function migrateDatabase(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: "migrations" });
  } finally {
    await client.end();
  }
}

/**
 * Create `name` on the server at `url` (dropping a leftover of that name first); returns the new
 * database's URL. Callers give names of their own (the tests: one per run), so no one else's
 * database is ever dropped.
 */
export async function freshDatabase(url, name) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}"`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const next = new URL(url);
  next.pathname = `/${name}`;
  return next.toString();
}

/** Drop a database this process made, closing what is still connected to it. */
export async function dropDatabase(url, name) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function hostAndPort(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432) };
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * The Postgres the local system uses, migrated and reachable by the Neon driver: DATABASE_URL when
 * given, otherwise an embedded PGlite keeping its data in `dataDir`. A local server gets a
 * WebSocket relay in front (NEON_WS_PROXY); a remote one (Neon itself) is reached directly.
 * @param {{ databaseUrl?: string, dataDir?: string | null, log?: (line: string) => void }} options
 */
export async function startDatabaseStack({ databaseUrl, dataDir = ".data/pglite", log = () => {} } = {}) {
  const { startRelay } = await import("./pg-relay.mjs");
  let url = databaseUrl;
  let embedded = null;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir });
    url = embedded.url;
    log(`embedded Postgres (PGlite) on ${url}${dataDir ? `, data in ${dataDir}` : ", in memory"}`);
  } else {
    log(`Postgres from DATABASE_URL (${new URL(url).host})`);
  }
  await migrateDatabase(url);
  log("migrations applied");
  let relay = null;
  if (LOCAL_HOSTS.has(new URL(url).hostname)) {
    relay = await startRelay({ target: hostAndPort(url), pool: embedded === null });
    log(`Neon driver relay on ws://${relay.proxy}`);
  }
  return {
    url,
    proxy: relay?.proxy ?? "",
    async stop() {
      await relay?.close();
      await embedded?.stop();
    },
  };
}
