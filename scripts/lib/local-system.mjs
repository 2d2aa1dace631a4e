// Start the worker under `wrangler dev` on a free port with its own throw-away state, for scripts
// that need the whole system running (the benchmark).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAssets } from "../build-assets.mjs";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** The settings in a .dev.vars-style file (KEY="value" lines); empty values left out. */
export function readVars(file = ".dev.vars.example") {
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
    if (m && m[2] !== "") vars[m[1]] = m[2];
  }
  return vars;
}

/**
 * wrangler.toml with every `[[ratelimits]]` limit raised, written beside it (so its relative paths
 * hold) under a name .gitignore keeps out; returns its path.
 */
function configWithRaisedLimits() {
  const text = readFileSync("wrangler.toml", "utf8").replace(/simple = \{ limit = \d+, period = (\d+) \}/g, "simple = { limit = 100000000, period = $1 }");
  const path = ".wrangler.bench.toml";
  writeFileSync(path, text);
  return path;
}

/**
 * Fillgrid (or, with `configPath`, another worker: the benchmark's no-op fan-out) under wrangler dev.
 * @param {{ vars?: Record<string, string>, extraArgs?: string[], raiseRateLimits?: boolean, configPath?: string }} [options]
 */
export async function startSystem({ vars: extraVars = {}, extraArgs = [], raiseRateLimits = false, configPath } = {}) {
  if (!configPath) buildAssets();
  const config = configPath ?? (raiseRateLimits ? configWithRaisedLimits() : "wrangler.toml");
  const port = await freePort();
  const inspector = await freePort();
  // Memory-backed when the machine has it, so the figures measure the system rather than the disk.
  const state = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "fillgrid-"));
  const vars = configPath ? { ...extraVars } : { ...readVars(), ...extraVars };
  const args = [
    "dev", "--config", config, "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspector),
    "--persist-to", state, "--log-level", process.env.BENCH_VERBOSE ? (process.env.BENCH_LOG_LEVEL ?? "info") : "warn", "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ...extraArgs,
  ];
  const child = spawn("wrangler", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  // BENCH_VERBOSE=1 shows wrangler dev's lines while it runs (BENCH_LOG_LEVEL=log adds the system's own console lines).
  const echo = process.env.BENCH_VERBOSE ? (d) => process.stderr.write(d) : () => {};
  child.stdout.on("data", (d) => ((output += d), echo(d)));
  child.stderr.on("data", (d) => ((output += d), echo(d)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    vars,
    /** wrangler dev's inspector (Chrome DevTools protocol) for the worker, its objects included. */
    inspectorPort: inspector,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(state, { recursive: true, force: true });
      if (config !== "wrangler.toml" && !configPath) rmSync(config, { force: true });
    },
  };
}
