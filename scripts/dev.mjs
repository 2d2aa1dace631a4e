// `npm run dev`: the whole system on this machine. Makes .dev.vars from the example on first run,
// then hands over to `wrangler dev` (Durable Objects, static dashboard, all local).
import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("created .dev.vars from .dev.vars.example (development secrets)");
}

const args = ["dev", ...process.argv.slice(2)];
const child = spawn("wrangler", args, { stdio: "inherit", shell: false });
const stop = (signal) => child.kill(signal);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
