// `npm run seed`: a demonstration fleet in the system `npm run dev` runs.
//   npm run seed -- [--containers 200] [--names <all>] [--days 21] [--url http://127.0.0.1:8787] [--partner <url>|none]
// Signs in as the first admin of .dev.vars (ADMIN_EMAIL, ADMIN_PASSWORD).
import { parseArgs } from "node:util";
import { readVars } from "./lib/local-system.mjs";
import { DEMO_PARTNERS, login, seedFleet } from "./lib/seed.mjs";

const USAGE = `npm run seed -- [options]

A demonstration fleet in the system npm run dev runs: containers at towns across Europe, each named,
with weeks of history (consumption with noise, a weekly pattern), so the dashboard shows charts,
forecasts, orders and alerts at once. Every refill of that history is a delivery: the container
opens an order below its threshold, and a demonstration partner (${DEMO_PARTNERS.map((p) => p.id).join(", ")}, by
contents) accepts, dispatches and delivers it through signed webhooks before the level rises; the
deliveries get their sales documents. Every 40th container shows an anomaly on purpose (a sudden
drop, a refill nobody ordered, a stuck sensor, a delivery the level does not show); orders opened
lately are still open.

  --containers N   how many containers (default 200)
  --names N        how many of them get a name, a capacity and their place (default: all)
  --days N         days of history before now, a reading every 6 hours (default 21; 0: today only)
  --url URL        the system (default http://127.0.0.1:8787)
  --partner URL    the partner stand-in that receives the partners' events: the one npm run dev
                   starts, three ports above the system's (default: http://127.0.0.1:8790 for the
                   default --url); "none": no partners, the refills are rises nobody delivered
  --help           this text

Signs in as the first admin of .dev.vars (ADMIN_EMAIL, ADMIN_PASSWORD).`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      containers: { type: "string", default: "200" },
      names: { type: "string" },
      days: { type: "string", default: "21" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
      partner: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name, text, max) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(`--${name} must be a whole number from 0 to ${max}, not "${text}"\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const address = (name, text) => {
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return url;
  } catch {
    // said below
  }
  console.error(`--${name} must be an http:// or https:// URL, not "${text}"\n\n${USAGE}`);
  process.exit(2);
};
const containers = whole("containers", values.containers, 100_000);
const names = values.names === undefined ? containers : whole("names", values.names, containers);
const days = whole("days", values.days, 365);
const system = address("url", values.url);
// npm run dev starts the partner stand-in three ports above the system's.
const standIn = new URL(system.origin);
standIn.port = String(Number(system.port || (system.protocol === "https:" ? 443 : 80)) + 3);
const partner = values.partner === "none" ? null : address("partner", values.partner ?? standIn.origin).origin;

const vars = readVars(".dev.vars");
const base = system.origin;
const started = Date.now();
try {
  const token = await login(base, vars.ADMIN_EMAIL, vars.ADMIN_PASSWORD);
  const seeded = await seedFleet(base, token, containers, {
    names,
    days,
    partner,
    log: (line) => console.log(`[fillgrid] ${line}`),
  });
  const { ids } = seeded;
  console.log(
    `[fillgrid] ${ids.length} containers posted (${ids[0]} … ${ids.at(-1)}) with ${seeded.history} readings of history` +
      (seeded.partners.length > 0
        ? `; ${seeded.partners.join(" and ")} delivered ${seeded.delivered} orders, ${seeded.documents} of them with their sales documents`
        : "") +
      ` in ${((Date.now() - started) / 1000).toFixed(1)} s; open ${base}`,
  );
} catch (error) {
  console.error(`[fillgrid] ${error.message}`);
  process.exit(1);
}
