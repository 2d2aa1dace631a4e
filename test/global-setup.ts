// Starts what the tests need outside the Workers runtime: a Postgres database of this run's own with
// the migrations applied (on the server at TEST_DATABASE_SERVER_URL, default the local PostgreSQL,
// when one listens; on a throw-away embedded PostgreSQL otherwise), the WebSocket relay the Neon driver inside
// workerd reaches it through, and a Data API stand-in. Their addresses reach the worker's bindings
// and the tests through provide/inject, so no port is picked before its server holds it.
import {
  canConnect,
  dropDatabase,
  freshDatabase,
  hostAndPort,
  migrateDatabase,
  startEmbeddedPostgres,
} from "../scripts/lib/database.mjs";
import { startRelay } from "../scripts/lib/pg-relay.mjs";
import type { TestProject } from "vitest/node";
import { startDataApiStandIn } from "./support/data-api-stand-in.mjs";
import { startPartnerStandIn } from "../scripts/lib/partner-stand-in.mjs";
import { startTelegramStandIn } from "../scripts/lib/telegram-stand-in.mjs";
import { TEST_TELEGRAM } from "./support/secrets.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    database: { url: string; proxy: string };
    dataApi: { url: string; controlUrl: string; apiKey: string };
    partnerStandIn: { url: string };
    telegram: { url: string };
  }
}

export default async function setup(project: TestProject) {
  let server = process.env.TEST_DATABASE_SERVER_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const { host, port } = hostAndPort(server);
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
  if (!(await canConnect(host, port))) {
    console.warn(`no PostgreSQL at ${host}:${port}; tests use a throw-away embedded PostgreSQL`);
    embedded = await startEmbeddedPostgres({ dataDir: null });
    server = embedded.url;
  }
  const name = `fillgrid_test_${process.pid}_${crypto.randomUUID().slice(0, 8)}`;
  const url = await freshDatabase(server, name);
  const cleanUp = async () => {
    await dropDatabase(server, name);
    await embedded?.stop();
  };
  await migrateDatabase(url);
  const relay = await startRelay({ target: hostAndPort(url) });
  const dataApi = await startDataApiStandIn();
  const partnerStandIn = await startPartnerStandIn();
  const telegram = await startTelegramStandIn({ token: TEST_TELEGRAM.TELEGRAM_BOT_TOKEN });
  project.provide("telegram", { url: telegram.url });
  project.provide("partnerStandIn", { url: partnerStandIn.url });
  project.provide("database", { url, proxy: relay.proxy });
  project.provide("dataApi", { url: dataApi.url, controlUrl: dataApi.controlUrl, apiKey: dataApi.apiKey });
  return async () => {
    await dataApi.close();
    await partnerStandIn.close();
    await telegram.close();
    await relay.close();
    await cleanUp();
  };
}
