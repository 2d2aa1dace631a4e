// `npm run seed`: a demonstration fleet in the system `npm run dev` runs.
//   npm run seed -- [--containers 200] [--names <all>] [--days 21] [--url http://127.0.0.1:8787]
// Signs in as the first admin of .dev.vars (ADMIN_EMAIL, ADMIN_PASSWORD).
import { parseArgs } from "node:util";
import { readVars } from "./lib/local-system.mjs";
import { login, seedFleet } from "./lib/seed.mjs";

const USAGE = `npm run seed -- [options]

A demonstration fleet in the system npm run dev runs: containers at towns across Europe, each named,
with weeks of history (consumption with noise, a weekly pattern, deliveries, a few sudden drops), so
the dashboard shows charts, forecasts, orders and alerts at once.

  --containers N   how many containers (default 200)
  --names N        how many of them get a name and their place (default: all)
  --days N         days of history before now, a reading every 6 hours (default 21; 0: today only)
  --url URL        the system (default http://127.0.0.1:8787)
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
const containers = whole("containers", values.containers, 100_000);
const names = values.names === undefined ? containers : whole("names", values.names, containers);
const days = whole("days", values.days, 365);

const vars = readVars(".dev.vars");
const token = await login(values.url, vars.ADMIN_EMAIL, vars.ADMIN_PASSWORD);
const { ids, history } = await seedFleet(values.url, token, containers, {
  names,
  days,
  log: (line) => console.log(`[fillgrid] ${line}`),
});
console.log(
  `[fillgrid] ${ids.length} containers posted (${ids[0]} … ${ids.at(-1)}) with ${history} readings of history; open ${values.url}`,
);
