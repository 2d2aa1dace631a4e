// Where the system's Postgres comes from when run locally: DATABASE_URL when set, otherwise the
// embedded PostgreSQL (scripts/lib/embedded-postgres.mjs), its data kept under .data/postgres.
import { createConnection } from "node:net";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { startEmbeddedPostgres } from "./embedded-postgres.mjs";

export { startEmbeddedPostgres };

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
 * given, otherwise the embedded PostgreSQL keeping its data in `dataDir` (null: a throw-away one).
 * A local server gets a WebSocket relay in front (NEON_WS_PROXY); a remote one (Neon itself) is
 * reached directly.
 * @param {{ databaseUrl?: string, dataDir?: string | null, log?: (line: string) => void }} options
 */
export async function startDatabaseStack({ databaseUrl, dataDir = ".data/postgres", log = () => {} } = {}) {
  const { startRelay } = await import("./pg-relay.mjs");
  let url = databaseUrl;
  let embedded = null;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir, log });
    url = embedded.url;
    log(`embedded Postgres on ${url}, ${dataDir ? `data in ${dataDir}` : "throw-away data"}`);
  } else {
    log(`Postgres from DATABASE_URL (${new URL(url).host})`);
  }
  await migrateDatabase(url);
  log("migrations applied");
  let relay = null;
  if (LOCAL_HOSTS.has(new URL(url).hostname)) {
    relay = await startRelay({ target: hostAndPort(url) });
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
