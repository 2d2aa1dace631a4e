// `npm run db:migrate`: apply migrations/ to DATABASE_URL, or to the embedded PGlite under
// .data/pglite when DATABASE_URL is not set (stop `npm run dev` first: PGlite has one owner).
import { migrateDatabase, startEmbeddedPostgres } from "./lib/database.mjs";

const url = process.env.DATABASE_URL;
if (url) {
  await migrateDatabase(url);
  console.log(`migrations applied to ${new URL(url).host}${new URL(url).pathname}`);
} else {
  const embedded = await startEmbeddedPostgres({ dataDir: ".data/pglite" });
  try {
    await migrateDatabase(embedded.url);
    console.log("migrations applied to the embedded Postgres in .data/pglite");
  } finally {
    await embedded.stop();
  }
}
