// `npm run dev`: the whole system on this machine. Makes .dev.vars from the example on first run,
// brings up Postgres (DATABASE_URL, or the embedded PostgreSQL with its data in .data/postgres), applies migrations,
// builds the dashboard and keeps rebuilding it on change (vite build --watch; wrangler dev serves
// each new build), starts a local stand-in for Telegram's Bot API (alerts go to its chats; see
// GET <stand-in>/__messages?chatId=-1000000000001) and one for a partner's webhook receiver (on
// 8790; npm run seed's partners deliver there), then hands over to `wrangler dev` (Durable
// Objects, queues, all local): two sessions, the edge and the projector. Fires the cron triggers of
// wrangler.toml on their schedule, which `wrangler dev` does not.
import { spawn } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { buildAssets, viteBin, viteConfig } from "./build-assets.mjs";
import { startDatabaseStack } from "./lib/database.mjs";
import { cronsOf, runCron, startLocalCron } from "./lib/local-cron.mjs";
import { privateRegistry, registered, writeLocalConfigs } from "./lib/local-topology.mjs";
import { startPartnerStandIn } from "./lib/partner-stand-in.mjs";
import { startTelegramStandIn } from "./lib/telegram-stand-in.mjs";

// FILLGRID_WEB_BUILT=1: the dashboard is built already and stays as it is (the browser tests and
// the crash test start this script on the build `npm test` made).
const fixedWeb = process.env.FILLGRID_WEB_BUILT === "1";
if (!fixedWeb) buildAssets();
const webWatch = fixedWeb
  ? null
  : spawn(process.execPath, [viteBin, "build", "--watch", "--config", viteConfig], {
      stdio: ["ignore", "inherit", "inherit"],
    });

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("[fillgrid] created .dev.vars from .dev.vars.example (development secrets)");
} else {
  // A secret the example gained since .dev.vars was made (BACKUP_ENCRYPTION_KEY, say) is added to it.
  const names = (file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => /^[A-Z0-9_]+=/.test(line));
  const have = new Set(names(".dev.vars").map((line) => line.slice(0, line.indexOf("="))));
  const missing = names(".dev.vars.example").filter((line) => !have.has(line.slice(0, line.indexOf("="))));
  if (missing.length > 0) {
    appendFileSync(".dev.vars", `\n${missing.join("\n")}\n`);
    console.log(`[fillgrid] added to .dev.vars from the example: ${missing.map((l) => l.split("=")[0]).join(", ")}`);
  }
}

const database = await startDatabaseStack({
  databaseUrl: process.env.DATABASE_URL || undefined,
  // FILLGRID_POSTGRES_DIR moves the embedded Postgres's data (the tests keep their own).
  dataDir: process.env.FILLGRID_POSTGRES_DIR || ".data/postgres",
  log: (line) => console.log(`[fillgrid] ${line}`),
});

const userArgs = process.argv.slice(2);
const argValue = (name, fallback) => (userArgs.includes(name) ? userArgs[userArgs.indexOf(name) + 1] : fallback);
const port = Number(argValue("--port", "8787"));
const host = argValue("--ip", "127.0.0.1");

if (!process.env.DATABASE_URL && existsSync(".data/pglite")) {
  console.log(
    "[fillgrid] .data/pglite (the earlier embedded database, PGlite) is no longer used; delete it once you no longer need its data",
  );
}

// Telegram cannot be reached from here: its stand-in takes the bot's messages, on
// FILLGRID_TELEGRAM_PORT, else four above the edge's port (8791 beside 8787), else any free port.
const telegramToken = "100000:local-stand-in-token";
const telegramLog = (line) => console.log(`[telegram] ${line}`);
const telegramPort = Number(process.env.FILLGRID_TELEGRAM_PORT ?? (port > 0 ? port + 4 : 0));
const telegram = await startTelegramStandIn({ port: telegramPort, token: telegramToken, log: telegramLog }).catch(() =>
  startTelegramStandIn({ port: 0, token: telegramToken, log: telegramLog }),
);
const telegramVars = {
  TELEGRAM_API_BASE: telegram.url,
  TELEGRAM_BOT_TOKEN: telegramToken,
  TELEGRAM_WEBHOOK_SECRET: "local-stand-in-webhook-secret",
  TELEGRAM_CHAT_ID: "-1000000000001",
  TELEGRAM_ESCALATION_CHAT_ID: "-1000000000002",
};
console.log(
  `[fillgrid] Telegram stand-in on ${telegram.url}: alerts in ${telegram.url}/__messages?chatId=${telegramVars.TELEGRAM_CHAT_ID}`,
);

// Nor can a partner's webhook receiver: its stand-in takes the events of partners registered with
// a webhook URL on it (npm run seed's demonstration partners), on FILLGRID_PARTNER_PORT, else three
// above the edge's port (8790 beside 8787), else any free port. It keeps the secrets it verifies
// with beside the system's state, so after a restart it takes their events as before.
const partnerLog = (line) => line.startsWith("refused") && console.log(`[partner] ${line}`);
const partnerPort = Number(process.env.FILLGRID_PARTNER_PORT ?? (port > 0 ? port + 3 : 0));
const partnerSecrets = join(argValue("--persist-to", ".wrangler/state"), "partner-stand-in.json");
mkdirSync(dirname(partnerSecrets), { recursive: true });
const partners = await startPartnerStandIn({ port: partnerPort, log: partnerLog, secretsFile: partnerSecrets }).catch(
  () => startPartnerStandIn({ port: 0, log: partnerLog, secretsFile: partnerSecrets }),
);
console.log(
  `[fillgrid] partner stand-in on ${partners.url}: a partner's webhook URL ${partners.url}/partners/<partnerId>/events, what it took at ${partners.url}/__received?partnerId=<partnerId>`,
);

// Two wrangler dev sessions (scripts/lib/local-topology.mjs says why): the projector, which consumes
// the projection queue, and the edge, which is everything else and answers on --port (8787).
const configs = writeLocalConfigs({ prefix: ".wrangler.local" });
const registry = privateRegistry();
const env = { ...process.env, WRANGLER_REGISTRY_PATH: registry };
const vars = [
  "--var",
  `DATABASE_URL:${database.url}`,
  "--var",
  `NEON_WS_PROXY:${database.proxy}`,
  ...Object.entries(telegramVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  // Developers see every request.
  "--var",
  `REQUEST_LOG_SAMPLE_RATE:${process.env.FILLGRID_REQUEST_LOG_SAMPLE_RATE ?? "1"}`,
];
// The projector takes the edge's --var, --log-level and --ip; its state sits beside the edge's.
const passOn = userArgs.flatMap((arg, i) =>
  ["--var", "--log-level", "--ip"].includes(arg)
    ? [arg, userArgs[i + 1]]
    : arg.startsWith("--show-interactive-dev-session")
      ? [arg]
      : [],
);
const projector = spawn(
  "wrangler",
  [
    "dev",
    "--config",
    configs.projector,
    "--port",
    "0",
    "--inspector-port",
    "0",
    "--persist-to",
    join(
      dirname(argValue("--persist-to", ".wrangler/state")),
      `${basename(argValue("--persist-to", ".wrangler/state"))}-projector`,
    ),
    ...vars,
    ...passOn,
  ],
  { stdio: ["ignore", "inherit", "inherit"], env },
);
// The edge's queue broker drops what it finds no consumer for, so the projector registers first.
for (let i = 0; !registered(registry, configs.projectorName); i++) {
  if (projector.exitCode !== null) process.exit(1);
  if (i > 600) {
    console.error("[fillgrid] the projector did not start within 60 s");
    projector.kill("SIGTERM");
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 100));
}
const args = [
  "dev",
  "--config",
  configs.edge,
  // The cron triggers run through the runtime's scheduled entry point (scripts/lib/local-cron.mjs);
  // by hand too: curl "localhost:8787/__scheduled?cron=0+3+*+*+*"
  "--test-scheduled",
  ...vars,
  ...userArgs,
];
// A marker in the state folder while the system runs: found at start, the last run did not stop
// cleanly (killed, a crash, the machine lost power), so the start-up reconciliation is a full sweep.
const persistTo = argValue("--persist-to", ".wrangler/state");
const runningMarker = join(persistTo, ".fillgrid-running");
const stoppedUncleanly = existsSync(runningMarker);
mkdirSync(persistTo, { recursive: true });
writeFileSync(runningMarker, String(process.pid));
const child = spawn("wrangler", args, { stdio: "inherit", env });
let stopping = false;
let cron = null;
const stop = (signal) => {
  stopping = true;
  cron?.stop();
  webWatch?.kill(signal);
  child.kill(signal);
  projector.kill(signal);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// Once the worker answers: reconcile the projection (whatever a hard stop lost between the
// containers and Postgres is sent again; the job the cron runs every 10 minutes), let the Telegram
// stand-in deliver button presses, and start firing the cron triggers on their schedule
// (FILLGRID_CRON=off leaves them to be run by hand, for tests that drive time themselves).
(async () => {
  const base = `http://${host}:${port}`;
  for (let i = 0; i < 240 && !stopping; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) {
        // After an unclean stop the daily job runs (its full sweep asks every container); otherwise
        // the regular one asks the containers that moved since the last run.
        const [cronOfStart, what] = stoppedUncleanly
          ? ["0 3 * * *", "full sweep (the last run did not stop cleanly)"]
          : ["*/10 * * * *", "containers that moved"];
        console.log(
          `[fillgrid] projection reconciliation after start-up, ${what}: ${await runCron(base, cronOfStart)}`,
        );
        // As an admin would with Telegram: button presses (POST <stand-in>/__press) reach the worker.
        await fetch(`${telegram.url}/bot${telegramToken}/setWebhook`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            url: `${base}/v1/webhooks/telegram`,
            secret_token: telegramVars.TELEGRAM_WEBHOOK_SECRET,
          }),
        });
        if (process.env.FILLGRID_CRON === "off") {
          console.log("[fillgrid] cron triggers off (FILLGRID_CRON=off): run them by hand through /__scheduled");
        } else if (!stopping) {
          cron = startLocalCron({ baseUrl: base, crons: cronsOf(), log: (line) => console.log(`[cron] ${line}`) });
          console.log(
            `[fillgrid] cron triggers on their schedule (UTC): ${cron.jobs.map((j) => `"${j.cron}" next ${j.next()?.toISOString()}`).join(", ")}`,
          );
        }
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
})();

// Either session ending ends the system.
projector.on("exit", () => !stopping && child.kill("SIGTERM"));
child.on("exit", async (code, signal) => {
  cron?.stop();
  webWatch?.kill("SIGTERM");
  projector.kill("SIGTERM");
  await new Promise((r) =>
    projector.exitCode !== null || projector.signalCode !== null ? r() : projector.once("exit", r),
  );
  rmSync(registry, { recursive: true, force: true });
  await telegram.close();
  await partners.close();
  await database.stop();
  rmSync(runningMarker, { force: true });
  process.exit(stopping ? 0 : signal ? 1 : (code ?? 0));
});
