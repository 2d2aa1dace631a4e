import { startEmbeddedPostgres, migrateDatabase, hostAndPort } from "./scripts/lib/database.mjs";
import { startRelay } from "./scripts/lib/pg-relay.mjs";
import { neonConfig, Pool } from "@neondatabase/serverless";
import ws from "ws";
const e = await startEmbeddedPostgres({ dataDir: null });
await migrateDatabase(e.url);
const relay = await startRelay({ target: hostAndPort(e.url) });
neonConfig.webSocketConstructor = ws;
neonConfig.wsProxy = (h, p) => `${relay.proxy}?address=${h}:${p}`;
neonConfig.useSecureWebSocket = false; neonConfig.pipelineTLS = false; neonConfig.pipelineConnect = false;
for (let round = 0; round < 3; round++) {
  const pool = new Pool({ connectionString: e.url, max: 4 });
  pool.on("error", (err) => console.log("pool error", err.message));
  try {
    const c = await pool.connect();
    await c.query("BEGIN");
    await c.query("select count(*) from containers");
    await c.query("COMMIT");
    c.release();
    console.log("round", round, "ok");
  } catch (err) { console.log("round", round, "failed", err.message); }
  await pool.end();
}
await relay.close(); await e.stop();
