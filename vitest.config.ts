import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildAssets } from "./scripts/build-assets.mjs";

export const TEST_SECRETS = {
  JWT_SECRET: "test-jwt-secret-0123456789abcdef0123456789abcdef",
  ADMIN_EMAIL: "admin@fillgrid.test",
  ADMIN_PASSWORD: "admin-password-for-tests",
};

// The worker serves the API reference's script from its assets.
buildAssets();

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          // test/global-setup.ts starts the database and the relay first and provides their addresses.
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                // Short, so the revocation bound can be observed within a test.
                DEVICE_KEY_CACHE_SECONDS: "1",
                DATABASE_URL: inject("database").url,
                NEON_WS_PROXY: inject("database").proxy,
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/**/*-{unit,integration}.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // What runs beside the runtime: the OpenAPI document against the 3.1 specification, and
        // the layering of the code.
        test: {
          name: "node",
          include: ["test/**/*-node.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
    silent: "passed-only",
  },
});
