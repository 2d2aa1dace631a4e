// Starts what the tests need outside the Workers runtime: a fresh Postgres database with the
// migrations applied (the local PostgreSQL when one listens on 127.0.0.1:5432, an in-memory PGlite
// otherwise) and the WebSocket relay the Neon driver inside workerd reaches it through.
import { freshDatabase, hostAndPort, migrateDatabase, startEmbeddedPostgres } from "../scripts/lib/database.mjs";
import { startRelay } from "../scripts/lib/pg-relay.mjs";
import type { TestProject } from "vitest/node";
import { startDataApiStandIn } from "./support/data-api-stand-in.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    dataApi: { url: string; controlUrl: string; apiKey: string };
  }
}

export default async function setup(project: TestProject) {
  const relayPort = Number(process.env.FILLGRID_TEST_RELAY_PORT);
  const databaseName = process.env.FILLGRID_TEST_DATABASE!;
  let url: string;
  let embedded: { stop(): Promise<void> } | null = null;
  const server = process.env.TEST_DATABASE_SERVER_URL!;
  if (!process.env.FILLGRID_TEST_EMBEDDED) {
    url = await freshDatabase(server, databaseName);
  } else {
    console.warn(`no PostgreSQL at ${new URL(server).host}; tests use an in-memory PGlite`);
    const pglite = await startEmbeddedPostgres({ dataDir: null });
    embedded = pglite;
    url = pglite.url;
  }
  await migrateDatabase(url);
  const relay = await startRelay({ port: relayPort, target: hostAndPort(url) });
  const dataApi = await startDataApiStandIn();
  project.provide("dataApi", { url: dataApi.url, controlUrl: dataApi.controlUrl, apiKey: dataApi.apiKey });
  return async () => {
    await dataApi.close();
    await relay.close();
    await embedded?.stop();
  };
}
