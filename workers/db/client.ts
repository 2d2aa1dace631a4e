import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import { log } from "../../platform/logging";

/**
 * Drizzle over a pool; `$client` is the pool itself, for what Drizzle does not say (a multi-statement
 * text). Without the schema's relations: nothing here uses relational queries, and extracting them
 * from the schema on every handle costs about a twentieth of the projection consumer's CPU per batch.
 */
export type Database = NeonDatabase & { $client: Pool };
/** A transaction on it, for reads that must see one snapshot. */
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

function configureDriver(env: Env): void {
  // Locally the driver reaches Postgres through a WebSocket-to-TCP relay (NEON_WS_PROXY, set by
  // `npm run dev` and the tests); in production it talks to Neon's own proxy over TLS.
  const proxy = env.NEON_WS_PROXY;
  if (proxy) {
    neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
}

/**
 * Run `work` with a database handle whose connections live only for this invocation (the Workers
 * runtime does not let I/O objects outlive the request that made them).
 */
export async function withDatabase<T>(env: Env, work: (db: Database) => Promise<T>): Promise<T> {
  if (!env.DATABASE_URL) throw new Error("DATABASE_URL is not set");
  configureDriver(env);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 4 });
  let ending = false;
  // An idle connection that drops raises here rather than in a query; after end() that is expected.
  pool.on("error", (error: Error) => {
    if (!ending) log("error", "database connection lost", { error: error.message });
  });
  try {
    return await work(drizzle(pool));
  } finally {
    ending = true;
    await pool.end();
  }
}
