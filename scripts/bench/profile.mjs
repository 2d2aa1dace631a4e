// Where an ingest scenario's CPU goes (`npm run bench:profile -- [scenario] [edge|projector]`): the
// system as `npm run bench` runs it, one ingest scenario run once to warm it and once while the
// chosen isolate's inspector samples its CPU (the V8 profiler, through wrangler dev's inspector
// port). Prints the top functions by their own time and with what they call, and the time by
// source file (each function placed in the module esbuild bundled it from); writes the whole
// profile to bench-results/profile-<scenario>-<isolate>.cpuprofile, which Chrome DevTools opens
// (Performance → Load profile). Sampling slows the isolate: read shares, not rates.
//   scenarios: single (default), batch100 (100 across 100 containers), batch500, one (100 for one container),
//   cold (one reading to each of the 1,000 containers once every object is idle past eviction, as
//   `npm run bench`'s cold scenario)
//   BENCH_SECONDS (default 8) per run, BENCH_CONNECTIONS (default 16), BENCH_DATABASE_URL as for npm run bench.
import autocannon from "autocannon";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { benchCredentials, benchDatabaseUrl, connectionsFor, readingSource } from "../lib/bench-support.mjs";
import { startDatabaseStack } from "../lib/database.mjs";
import { startSystem } from "../lib/local-system.mjs";

const SCENARIOS = { single: [1, 1], batch100: [100, 100], batch500: [500, 500], one: [100, 1], cold: [1, 1] };
const scenario = process.argv[2] ?? "single";
const isolate = process.argv[3] ?? "edge";
if (!SCENARIOS[scenario] || !["edge", "projector"].includes(isolate)) {
  console.error(`usage: npm run bench:profile -- [${Object.keys(SCENARIOS).join("|")}] [edge|projector]`);
  process.exit(2);
}
const [size, spread] = SCENARIOS[scenario];
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const CONTAINERS = 1000;
/** wrangler dev evicts an object idle for 10 seconds (as npm run bench waits for its cold scenario). */
const OBJECT_EVICTED_AFTER_MS = 12_000;
const cold = scenario === "cold";
process.env.X_LOCAL_OBSERVABILITY = "false";

const database = await startDatabaseStack({ databaseUrl: await benchDatabaseUrl("fillgrid_bench"), dataDir: null });
const system = await startSystem({
  vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
  raiseRateLimits: true,
});

async function call(path, init = {}) {
  const res = await fetch(system.url + path, {
    ...init,
    headers: { "content-type": "application/json", ...init.headers },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const source = readingSource("profile-", CONTAINERS);

/** One Chrome DevTools protocol session on an inspector port's first target. */
async function inspect(port) {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data);
    if (message.id === undefined || !pending.has(message.id)) return;
    const { resolve, reject } = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) reject(new Error(message.error.message));
    else resolve(message.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        pending.set(++id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** The bundle wrangler dev serves the isolate from, read while it runs (it is removed when it stops). */
function bundleModules() {
  const root = ".wrangler/tmp";
  const starts = [];
  for (const dir of readdirSync(root)) {
    let text;
    try {
      text = readFileSync(join(root, dir, "index.js"), "utf8");
    } catch {
      continue;
    }
    // esbuild heads each module it bundles with a comment naming its path.
    text.split("\n").forEach((line, i) => {
      const m = /^\/\/ ((?:node_modules\/(?:@[^/]+\/)?[^/]+)|[\w.-]+\/[\w./-]+\.[jt]s)/.exec(line);
      if (m) starts.push([i, m[1]]);
    });
    if (starts.length > 0) return starts;
  }
  return starts;
}

function moduleAt(starts, line) {
  let lo = 0;
  let hi = starts.length - 1;
  let found = "(bundle)";
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid][0] <= line) {
      found = starts[mid][1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function summarize(profile, starts) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = new Map();
  for (const s of profile.samples) samples.set(s, (samples.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  // A function by its name and the module it came from (its line in the bundle, to tell apart
  // anonymous ones); the runtime's own frames (native calls, the collector, idle) by name.
  const where = (n) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || "(anonymous)";
    if (!url) return { fn: `${name} · runtime`, module: `runtime: ${name}` };
    const module = url.endsWith("index.js") ? moduleAt(starts, lineNumber) : url;
    return { fn: `${name} · ${module} (bundle line ${lineNumber + 1})`, module };
  };
  const own = new Map();
  const withCallees = new Map();
  const byModule = new Map();
  const add = (map, key, n) => map.set(key, (map.get(key) ?? 0) + n);
  for (const [id, n] of samples) {
    const { fn, module } = where(byId.get(id));
    add(own, fn, n);
    add(byModule, module, n);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = where(byId.get(cur)).fn;
      if (seen.has(key)) continue;
      seen.add(key);
      add(withCallees, key, n);
    }
  }
  const top = (map, count) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([k, n]) => `  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${k}`)
      .join("\n");
  console.log(`\n${total} samples`);
  console.log(
    `\nOwn time (the function itself; (program), (garbage collector) and (idle) are the runtime's):\n${top(own, 30)}`,
  );
  console.log(`\nWith what it calls:\n${top(withCallees, 40)}`);
  console.log(`\nOwn time by source file (the runtime's by what it did):\n${top(byModule, 25)}`);
}

try {
  const { device: headers } = await benchCredentials(system, "profile");
  for (const body of source.everyContainer()) await call("/v1/readings", { method: "POST", headers, body });
  // The cold scenario: a set number of requests, one to each container (its readings go to each in turn).
  const run = (amount) =>
    new Promise((resolve, reject) =>
      autocannon(
        {
          url: system.url,
          connections: connectionsFor(size, connections),
          ...(amount ? { amount } : { duration: seconds }),
          requests: [
            {
              method: "POST",
              path: "/v1/readings",
              headers,
              setupRequest: (req) => ({ ...req, body: source.body(size, spread) }),
            },
          ],
        },
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    ).then((result) => {
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
      return result;
    });
  const warm = await run();
  console.log(`${scenario}, warm-up: ${(warm.requests.average * size).toFixed(0)} readings/s`);
  if (cold) await new Promise((resolve) => setTimeout(resolve, OBJECT_EVICTED_AFTER_MS));
  const inspector = await inspect(isolate === "edge" ? system.inspectorPort : system.projectorInspectorPort);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
  await inspector.send("Profiler.start");
  const started = performance.now();
  const measured = await run(cold ? CONTAINERS : undefined);
  const { profile } = await inspector.send("Profiler.stop");
  inspector.close();
  const rate = cold
    ? `${((CONTAINERS * 1000) / (performance.now() - started)).toFixed(0)} readings/s (${CONTAINERS} containers, each once)`
    : `${(measured.requests.average * size).toFixed(0)} readings/s`;
  console.log(`${scenario}, profiled (${isolate}): ${rate}`);
  mkdirSync("bench-results", { recursive: true });
  const file = `bench-results/profile-${scenario}-${isolate}.cpuprofile`;
  writeFileSync(file, JSON.stringify(profile));
  summarize(profile, bundleModules());
  console.log(`\nThe whole profile: ${file}`);
} finally {
  await system.stop();
  await database.stop?.();
}
