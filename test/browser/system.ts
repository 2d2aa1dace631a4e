// The browser tests' system: started as `npm run dev` starts it (scripts/dev.mjs: Postgres, the
// worker under wrangler dev, Durable Objects, queues, cron, the built dashboard), on free ports and
// throw-away state: a database of its own on the server at TEST_DATABASE_SERVER_URL (default the
// local PostgreSQL) when one listens, the embedded PostgreSQL otherwise.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { canConnect, dropDatabase, freshDatabase, hostAndPort } from "../../scripts/lib/database.mjs";
import { freePort } from "../../scripts/lib/local-system.mjs";
import { TEST_SECRETS } from "../support/secrets.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    system: { url: string; adminEmail: string; adminPassword: string };
  }
}

export default async function setup(project: TestProject) {
  const { url, stop } = await startDevSystem("browser");
  project.provide("system", { url, adminEmail: TEST_SECRETS.ADMIN_EMAIL, adminPassword: TEST_SECRETS.ADMIN_PASSWORD });
  return stop;
}

/**
 * The whole system as `npm run dev` starts it, its state and database named for `name` and this
 * process; `env` goes to scripts/dev.mjs (FILLGRID_PARTNER_PORT, say). Signs in with TEST_SECRETS.
 */
export async function startDevSystem(
  name: string,
  env: Record<string, string> = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = process.env.TEST_DATABASE_SERVER_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const { host, port: pgPort } = hostAndPort(server);
  const state = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), `fillgrid-${name}-`));
  const dbName = `fillgrid_${name}_${process.pid}`;
  const usePostgres = await canConnect(host, pgPort);
  const databaseUrl = usePostgres ? await freshDatabase(server, dbName) : null;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const vars = Object.entries(TEST_SECRETS).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "scripts/dev.mjs",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      join(state, "wrangler"),
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
      ...vars,
    ],
    {
      env: {
        ...process.env,
        FILLGRID_WEB_BUILT: "1",
        ...env,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { FILLGRID_POSTGRES_DIR: join(state, "postgres") }),
      },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        process.kill(-child.pid!, "SIGTERM");
        setTimeout(() => (child.exitCode === null ? process.kill(-child.pid!, "SIGKILL") : undefined), 10_000).unref();
      });
    }
    if (databaseUrl) await dropDatabase(server, dbName);
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    // A system that did not come up is stopped and its database dropped, not left behind.
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`the system did not start:\n${output.slice(-4000)}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the system did not answer within 120 s:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, stop };
}
