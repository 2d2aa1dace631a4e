import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { canConnect, hostAndPort } from "./scripts/lib/database.mjs";
import { freePort } from "./scripts/lib/local-system.mjs";

export const TEST_SECRETS = {
  JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
  ADMIN_EMAIL: "admin@fillgrid.test",
  ADMIN_PASSWORD: "admin-password-for-tests",
};

export default defineConfig(async () => {
  // The relay's port is chosen here so the worker's bindings can name it; test/global-setup.ts
  // starts the relay on it, in front of the test database.
  const relayPort = await freePort();
  process.env.FILLGRID_TEST_RELAY_PORT = String(relayPort);
  // A fresh database on the local server when one runs; otherwise PGlite, which has one database.
  const server = (process.env.TEST_DATABASE_SERVER_URL ??= "postgres://postgres@127.0.0.1:5432/postgres");
  const { host, port } = hostAndPort(server);
  const embedded = !(await canConnect(host, port));
  process.env.FILLGRID_TEST_EMBEDDED = embedded ? "1" : "";
  process.env.FILLGRID_TEST_DATABASE = embedded ? "postgres" : "fillgrid_test";

  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...TEST_SECRETS,
            // Short, so the revocation bound can be observed within a test.
            DEVICE_KEY_CACHE_SECONDS: "1",
            DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${process.env.FILLGRID_TEST_DATABASE}`,
            NEON_WS_PROXY: `127.0.0.1:${relayPort}/v2`,
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      globalSetup: ["test/global-setup.ts"],
      testTimeout: 30_000,
      silent: "passed-only" as const,
    },
  };
});
