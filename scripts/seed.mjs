// `npm run seed`: a demonstration fleet in the system `npm run dev` runs.
//   npm run seed -- [--containers 200] [--names 40] [--url http://127.0.0.1:8787]
// Signs in as the first admin of .dev.vars (ADMIN_EMAIL, ADMIN_PASSWORD).
import { parseArgs } from "node:util";
import { readVars } from "./lib/local-system.mjs";
import { login, seedFleet } from "./lib/seed.mjs";

const { values } = parseArgs({
  options: {
    containers: { type: "string", default: "200" },
    names: { type: "string", default: "40" },
    url: { type: "string", default: "http://127.0.0.1:8787" },
  },
});
const vars = readVars(".dev.vars");
const token = await login(values.url, vars.ADMIN_EMAIL, vars.ADMIN_PASSWORD);
const { ids } = await seedFleet(values.url, token, Number(values.containers), { names: Number(values.names) });
console.log(`[fillgrid] ${ids.length} containers posted (${ids[0]} … ${ids.at(-1)}); open ${values.url}`);
