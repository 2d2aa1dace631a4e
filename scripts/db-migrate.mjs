// `npm run db:migrate`: apply migrations/ to DATABASE_URL, or to the embedded PostgreSQL in
// .data/postgres when DATABASE_URL is not set (the one `npm run dev` runs, when it runs).
import { migrateDatabase, startEmbeddedPostgres } from "./lib/database.mjs";

const url = process.env.DATABASE_URL;
if (url) {
  await migrateDatabase(url);
  console.log(`migrations applied to ${new URL(url).host}${new URL(url).pathname}`);
} else {
  const embedded = await startEmbeddedPostgres({
    dataDir: process.env.FILLGRID_POSTGRES_DIR || ".data/postgres",
    log: console.log,
  });
  try {
    await migrateDatabase(embedded.url);
    console.log(`migrations applied to the embedded PostgreSQL in ${embedded.dataDir}`);
  } finally {
    await embedded.stop();
  }
}
