// Start the system under `wrangler dev` on free ports with its own throw-away state, for scripts
// that need the whole system running (the benchmark).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAssets } from "../build-assets.mjs";
import { privateRegistry, registered, writeLocalConfigs } from "./local-topology.mjs";

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

/** wrangler dev on a free port (and inspector port), its output kept and, with BENCH_VERBOSE, shown. */
async function startWrangler({ config, state, vars, extraArgs = [], env = process.env }) {
  const port = await freePort();
  const inspector = await freePort();
  const args = [
    "dev",
    "--config",
    config,
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspector),
    "--persist-to",
    state,
    "--log-level",
    process.env.BENCH_VERBOSE ? (process.env.BENCH_LOG_LEVEL ?? "info") : "warn",
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ...extraArgs,
  ];
  const child = spawn("wrangler", args, { stdio: ["ignore", "pipe", "pipe"], env });
  // Its own state directory, named in its command line (and so under it in the process tree), tells
  // this session's processes from any other's on the machine (scripts/lib/process-cpu.mjs).
  const marker = `--persist-to ${state} `;
  const session = { child, url: `http://127.0.0.1:${port}`, inspectorPort: inspector, marker, output: "" };
  // BENCH_VERBOSE=1 shows wrangler dev's lines while it runs (BENCH_LOG_LEVEL=log adds the system's own console lines).
  const echo = process.env.BENCH_VERBOSE ? (d) => process.stderr.write(d) : () => {};
  child.stdout.on("data", (d) => ((session.output += d), echo(d)));
  child.stderr.on("data", (d) => ((session.output += d), echo(d)));
  return session;
}

async function waitFor(session, ready, what) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (session.child.exitCode !== null) throw new Error(`wrangler dev (${what}) exited:\n${session.output}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`wrangler dev (${what}) was not ready within 60 s:\n${session.output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopWrangler(session) {
  session.child.kill("SIGTERM");
  await new Promise((r) => (session.child.exitCode !== null ? r() : session.child.once("exit", r)));
}

/**
 * Fillgrid as it runs locally (scripts/lib/local-topology.mjs: the edge and the projector, two
 * wrangler dev sessions), or, with `configPath`, another worker in one session (the benchmark's
 * no-op fan-out).
 * @param {{ vars?: Record<string, string>, extraArgs?: string[], raiseRateLimits?: boolean, configPath?: string }} [options]
 */
export async function startSystem({ vars: extraVars = {}, extraArgs = [], raiseRateLimits = false, configPath } = {}) {
  // Memory-backed when the machine has it, so the figures measure the system rather than the disk.
  const state = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "fillgrid-"));
  const healthy = (session) => async () => (await fetch(`${session.url}/healthz`)).ok;
  if (configPath) {
    const session = await startWrangler({ config: configPath, state, vars: extraVars, extraArgs });
    await waitFor(session, healthy(session), configPath);
    return {
      url: session.url,
      vars: extraVars,
      inspectorPort: session.inspectorPort,
      /** What only this session's command line holds (cpuByPart's `under`). */
      edgeMarker: session.marker,
      async stop() {
        await stopWrangler(session);
        rmSync(state, { recursive: true, force: true });
      },
    };
  }
  buildAssets();
  const configs = writeLocalConfigs({ raiseRateLimits, prefix: `.wrangler.local-${process.pid}` });
  const registry = privateRegistry();
  const env = { ...process.env, WRANGLER_REGISTRY_PATH: registry };
  const vars = { ...readVars(), ...extraVars };
  // The projector first: the edge's queue broker drops what it finds no consumer for.
  const projector = await startWrangler({ config: configs.projector, state: join(state, "projector"), vars, env });
  await waitFor(
    projector,
    async () => registered(registry, configs.projectorName) && (await healthy(projector)()),
    "projector",
  );
  const edge = await startWrangler({ config: configs.edge, state: join(state, "edge"), vars, extraArgs, env });
  await waitFor(edge, healthy(edge), "edge");
  return {
    url: edge.url,
    /** The projector session's own address (its usage counters: GET /v1/diagnostics/usage). */
    projectorUrl: projector.url,
    vars,
    /** wrangler dev's inspector (Chrome DevTools protocol) for the edge, its objects included. */
    inspectorPort: edge.inspectorPort,
    projectorInspectorPort: projector.inspectorPort,
    /** What only the edge session's command line holds (cpuByPart's `under`). */
    edgeMarker: edge.marker,
    async stop() {
      await stopWrangler(edge);
      await stopWrangler(projector);
      rmSync(state, { recursive: true, force: true });
      rmSync(registry, { recursive: true, force: true });
      rmSync(configs.edge, { force: true });
      rmSync(configs.projector, { force: true });
    },
  };
}
