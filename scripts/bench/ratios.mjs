// The ingest ratios the performance targets are set in (`npm run bench:ratios`): Fillgrid against
// the committing + limiter fan-out (scripts/bench/fanout: the least a design that limits each device
// and stores a reading before answering does), scenario by scenario, in rounds that alternate the
// two, both systems up the whole time. `npm run bench` measures each fan-out minutes before
// Fillgrid, once, and this machine's speed drifts over minutes: a ratio from it moves as far as the
// two measurements are apart. Here each round measures both within seconds of each other (which
// goes first alternates), and the median of the rounds' ratios is what to read.
//   Scenarios: single readings; 100 across 100 containers; 500 across 500.
//   BENCH_ROUNDS (default 5) rounds, BENCH_SECONDS (default 5) each measurement after
//   BENCH_WARMUP_SECONDS (default 2) of it not counted, BENCH_CONNECTIONS (default 16),
//   BENCH_DATABASE_URL as for npm run bench. Results also go to bench-results/ratios.json.
// Before every measurement of either system, Fillgrid's projection has drained (its queues quiet)
// and every object of the system measured has been started, as `npm run bench` does.
import autocannon from "autocannon";
import { mkdirSync, writeFileSync } from "node:fs";
import {
  benchCredentials,
  benchDatabaseUrl,
  connectionsFor,
  readingSource,
  settledQueues,
} from "../lib/bench-support.mjs";
import { startDatabaseStack } from "../lib/database.mjs";
import { startSystem } from "../lib/local-system.mjs";
import { cpuByPart, processTimes } from "../lib/process-cpu.mjs";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const CONTAINERS = 1000;
/** The targets of the second performance round (the issue's), as ratios to the committing + limiter fan-out. */
const SCENARIOS = [
  { name: "single reading", size: 1, target: 0.6 },
  { name: "100 across 100 containers", size: 100, target: 0.8 },
  { name: "500 across 500 containers", size: 500, target: 0.8 },
];
// Without wrangler dev's local trace capture, as npm run bench measures by default (a cost of the
// development tool per span that production does not have).
process.env.X_LOCAL_OBSERVABILITY = "false";

const database = await startDatabaseStack({ databaseUrl: await benchDatabaseUrl("fillgrid_bench"), dataDir: null });
let fillgrid;
let fanout;

async function call(url, path, init = {}) {
  const res = await fetch(url + path, { ...init, headers: { "content-type": "application/json", ...init.headers } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** autocannon against `url` for `duration` seconds; any answer but 2xx fails the run. */
function load(url, size, headers, duration) {
  return new Promise((resolve, reject) =>
    autocannon(
      {
        url,
        duration,
        connections: connectionsFor(size, connections),
        requests: [
          {
            method: "POST",
            path: "/v1/readings",
            headers,
            setupRequest: (req) => ({ ...req, body: source.body(size) }),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    ),
  ).then((result) => {
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    return result;
  });
}

const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
const source = readingSource("bench-", CONTAINERS);

try {
  fillgrid = await startSystem({
    vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
    raiseRateLimits: true,
  });
  fanout = await startSystem({
    configPath: "scripts/bench/fanout/wrangler.toml",
    vars: { FANOUT_COMMIT: "on", FANOUT_LIMIT: "on" },
  });
  const { admin, device } = await benchCredentials(fillgrid);
  const systems = {
    fillgrid: {
      url: fillgrid.url,
      marker: fillgrid.edgeMarker,
      headers: device,
    },
    fanout: { url: fanout.url, marker: fanout.edgeMarker, headers: { "content-type": "application/json" } },
  };

  /** One measurement of `system` in `scenario`: readings/s, and its edge workerd's CPU ms per reading (the fan-out's one session counts as edge). */
  async function measure(system, scenario) {
    await settledQueues([fillgrid.url, fillgrid.projectorUrl], admin);
    for (const body of source.everyContainer())
      await call(system.url, "/v1/readings", { method: "POST", headers: system.headers, body });
    if (warmupSeconds > 0) await load(system.url, scenario.size, system.headers, warmupSeconds);
    const before = processTimes();
    const result = await load(system.url, scenario.size, system.headers, seconds);
    const readings = result.requests.total * scenario.size;
    const edgeMs = cpuByPart(before, processTimes(), system.marker)["workerd (edge)"];
    if (!edgeMs) throw new Error(`${system.url}: no CPU time found for its edge's workerd`);
    return { readingsPerSec: result.requests.average * scenario.size, edgeCpuMsPerReading: edgeMs / readings };
  }

  const results = [];
  console.log(
    `Fillgrid ÷ the committing + limiter fan-out, ${rounds} rounds of ${seconds} s each (after ${warmupSeconds} s not counted), ${connections} connections`,
  );
  for (const scenario of SCENARIOS) {
    const measured = [];
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? ["fanout", "fillgrid"] : ["fillgrid", "fanout"];
      const m = {};
      for (const name of order) m[name] = await measure(systems[name], scenario);
      const ratio = m.fillgrid.readingsPerSec / m.fanout.readingsPerSec;
      measured.push({ round, ...m, ratio });
      console.log(
        `  ${scenario.name}, round ${round}: Fillgrid ${m.fillgrid.readingsPerSec.toFixed(0)} readings/s (edge ${m.fillgrid.edgeCpuMsPerReading.toFixed(3)} ms CPU a reading) · ` +
          `fan-out ${m.fanout.readingsPerSec.toFixed(0)} (edge ${m.fanout.edgeCpuMsPerReading.toFixed(3)} ms) · ÷ ${ratio.toFixed(3)}`,
      );
    }
    const ratios = measured.map((r) => r.ratio);
    const cpuRatios = measured.map((r) => r.fanout.edgeCpuMsPerReading / r.fillgrid.edgeCpuMsPerReading);
    const summary = {
      scenario: scenario.name,
      target: scenario.target,
      medianRatio: median(ratios),
      lowest: Math.min(...ratios),
      highest: Math.max(...ratios),
      medianEdgeCpuRatio: median(cpuRatios),
      rounds: measured,
    };
    results.push(summary);
    console.log(
      `${scenario.name}: median ${summary.medianRatio.toFixed(3)} (${summary.lowest.toFixed(3)}–${summary.highest.toFixed(3)}; target ${scenario.target}) · ` +
        `the fan-out's edge CPU a reading ÷ Fillgrid's, median ${summary.medianEdgeCpuRatio.toFixed(3)}`,
    );
  }
  mkdirSync("bench-results", { recursive: true });
  writeFileSync(
    "bench-results/ratios.json",
    JSON.stringify({ at: new Date().toISOString(), rounds, seconds, warmupSeconds, connections, results }, null, 2),
  );
} finally {
  await fanout?.stop();
  await fillgrid?.stop();
  await database.stop();
}
