import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { buildAssets } from "./scripts/build-assets.mjs";
import { TEST_SECRETS, TEST_TELEGRAM } from "./test/support/secrets.mjs";

// The worker serves the dashboard and the API reference's script from its assets (web/dist); the
// browser tests drive that same build.
buildAssets();

/**
 * The files that wait longest on real time (a chat paced to a message a second, a container going
 * silent for a minute) start first, so that they run beside the rest rather than after it.
 */
const LONGEST = [
  "telegram-sender-integration",
  "notifications-integration",
  "timeline-integration",
  "projection-repair-integration",
];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((name) => f.moduleId.includes(name));
      return i === -1 ? LONGEST.length : i;
    };
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        plugins: [
          // test/global-setup.ts starts the database and the relay first and provides their addresses.
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                // Partner stand-ins listen on this machine, as in local development.
                WEBHOOK_PRIVATE_ADDRESSES: "allow",
                // Short, so the revocation bound can be observed within a test.
                DEVICE_KEY_CACHE_SECONDS: "1",
                // A partner that fails is retried at once, and one that hangs is given up on soon.
                PARTNER_RETRY_BASE_SECONDS: "0",
                PARTNER_TIMEOUT_MS: "1500",
                METRICS_TOKEN: "test-metrics-token",
                // Every request logged, so the tests that read logs see them all.
                REQUEST_LOG_SAMPLE_RATE: "1",
                ...TEST_TELEGRAM,
                TELEGRAM_API_BASE: inject("telegram").url,
                DATABASE_URL: inject("database").url,
                NEON_WS_PROXY: inject("database").proxy,
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/**/*-{unit,integration}.test.ts"],
          // Several files wait on real time (a container going silent, a chat paced to one message
          // a second): more files at once than cores keeps the machine busy while they wait.
          maxWorkers: 4,
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // The dashboard in a real headless Chromium, against the whole system started as
        // `npm run dev` starts it (test/browser/system.ts).
        test: {
          name: "browser",
          include: ["test/**/*-browser.test.ts"],
          environment: "node",
          globalSetup: ["test/browser/system.ts"],
          testTimeout: 90_000,
          hookTimeout: 120_000,
          fileParallelism: false,
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
          // Their hooks start servers and a database while the other projects keep both cores busy.
          hookTimeout: 60_000,
        },
      },
    ],
    silent: "passed-only",
  },
});
