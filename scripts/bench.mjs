// `npm run bench`: throughput and latency of reading ingest, end-to-end throughput into Postgres and
// projection lag. Every ingest figure is read against four baselines measured in the same run: the
// same worker answering a trivial request (GET /healthz), a no-op fan-out of the same shape to
// Durable Objects that do nothing (scripts/bench/fanout: the runtime's own ceiling for this work),
// the same fan-out whose objects commit the least a container stores per reading, and that one again
// asking the Rate Limiting binding once per request first, as Fillgrid's ingest does.
// CPU per reading is the whole machine's busy CPU time during a scenario (workerd, wrangler's node
// process, Postgres, the relay, the load generator) divided by the readings it acknowledged.
//   BENCH_SECONDS (default 10) per scenario, each after BENCH_WARMUP_SECONDS (default 2) of it not counted,
//   BENCH_CONNECTIONS (default 16),
//   BENCH_DATABASE_URL: a Postgres server to use, or "embedded" for a throw-away embedded PostgreSQL (default: a
//   fresh database on 127.0.0.1:5432 when one listens there, otherwise the embedded one).
import autocannon from "autocannon";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import pg from "pg";
import { freshDatabase, startDatabaseStack } from "./lib/database.mjs";
import { startSystem } from "./lib/local-system.mjs";
import { LAND_WITHIN_MS, intoPostgres } from "./lib/into-postgres.mjs";
import {
  benchCredentials,
  benchDatabaseUrl,
  connectionsFor,
  readingSource,
  settledQueues,
} from "./lib/bench-support.mjs";
import { cpuByPart, machineCpuMs, processTimes } from "./lib/process-cpu.mjs";
import { benchAnalytics, printAnalytics } from "./bench/analytics.mjs";
import { benchArchive, printArchive } from "./bench/archive.mjs";
import { benchDashboard, printDashboard } from "./bench/dashboard.mjs";
import { benchModel, printModel } from "./bench/model.mjs";
import { benchProjectionWrite, printProjectionWrite } from "./bench/projection-write.mjs";
import { benchPush, printPush } from "./bench/push.mjs";
import { benchReconcile, printReconcile } from "./bench/reconcile.mjs";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
// wrangler dev captures every invocation's trace and console lines for its local explorer, a cost
// of the development tool per span (each storage call, each queue send) that production does not
// have; the benchmark measures the system without it unless BENCH_LOCAL_OBSERVABILITY=on.
const localObservability = process.env.BENCH_LOCAL_OBSERVABILITY === "on";
process.env.X_LOCAL_OBSERVABILITY = localObservability ? "true" : "false";
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const CONTAINERS = 1000;
/** wrangler dev evicts a Durable Object after 10 s without a request; a little more to be sure. */
const OBJECT_EVICTED_AFTER_MS = 12_000;

const databaseUrl = await benchDatabaseUrl("fillgrid_bench");
const database = await startDatabaseStack({ databaseUrl, dataDir: null });
const databaseLabel = databaseUrl
  ? `PostgreSQL at ${new URL(databaseUrl).host}`
  : "the embedded PostgreSQL (throw-away)";
// The benchmark drives one device key and one token far past their rate limits; it measures the
// system, not the limiter, so it runs with every limit raised (the limiter's calls still happen).
const system = await startSystem({
  vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
  raiseRateLimits: true,
});
const { url, vars } = system;
const sqlClient = new pg.Client({ connectionString: database.url });
let stopped = false;
await sqlClient.connect();

async function call(path, init = {}, baseUrl = url) {
  const res = await fetch(baseUrl + path, {
    ...init,
    headers: { "content-type": "application/json", ...init.headers },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function run(title, opts, baseUrl = url) {
  return new Promise((resolve, reject) => {
    autocannon({ url: baseUrl, connections, duration: seconds, ...opts }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  }).then((result) => {
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${title}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    }
    return result;
  });
}

const source = readingSource("bench-", CONTAINERS);
const reading = source.reading;

/** CPU ms per reading by process, largest first, the negligible left out. */
function partsText(byPart) {
  return Object.entries(byPart)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(" · ");
}

/**
 * The same into-Postgres run against a second system whose projection keeps no completeness
 * (PROJECTION_GAP_CHECK off), on a fresh database and warmed the same way: what the check costs.
 */
async function intoPostgresWithoutGapCheck() {
  const db2 = databaseUrl
    ? await freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", "fillgrid_bench_nogap")
    : undefined;
  const stack = await startDatabaseStack({ databaseUrl: db2, dataDir: null });
  const other = await startSystem({
    vars: { DATABASE_URL: stack.url, NEON_WS_PROXY: stack.proxy, PROJECTION_GAP_CHECK: "off" },
    raiseRateLimits: true,
  });
  const client = new pg.Client({ connectionString: stack.url });
  await client.connect();
  try {
    const { device: auth } = await benchCredentials(other);
    for (const body of source.everyContainer())
      await call("/v1/readings", { method: "POST", headers: auth, body }, other.url);
    return await intoPostgres({
      baseUrl: other.url,
      auth,
      client,
      reading,
      containers: CONTAINERS,
      landWithinMs: 60_000,
    });
  } finally {
    await client.end();
    await other.stop();
    await stack.stop();
  }
}

const settledUsage = (headers) => settledQueues([url, system.projectorUrl], headers);

/**
 * Cloudflare's published prices beyond the Workers Paid plan's inclusions, as of 2026-12-02
 * (developers.cloudflare.com: workers/platform/pricing, durable-objects/platform/pricing,
 * queues/platform/pricing), in dollars per million.
 */
const PRICES = { workerRequests: 0.3, objectRequests: 0.15, rowsRead: 0.001, rowsWritten: 1.0, queueOperations: 0.4 };

/** Per reading and per million readings, from two readings of the usage counters around `readings`. */
function costOf(before, after, readings) {
  const d = (k) => (after[k] - before[k]) / readings;
  // A message is written, read and deleted: 3 operations per 64 KB of it; every retry reads it again.
  const per = {
    workerRequests: d("workerInvocations"),
    objectRequests: d("objectRequests"),
    rowsRead: d("rowsRead"),
    rowsWritten: d("rowsWritten"),
    queueOperations: 3 * d("queueMessageUnits") + d("queueMessagesRetried"),
    queueMessages: d("queueMessagesSent"),
  };
  const dollars = Object.fromEntries(Object.keys(PRICES).map((k) => [k, per[k] * PRICES[k]]));
  return {
    perReading: per,
    dollarsPerMillion: dollars,
    totalPerMillion: Object.values(dollars).reduce((a, b) => a + b, 0),
  };
}

try {
  const { token, admin: adminAuth, device: auth } = await benchCredentials(system);

  /**
   * The ingest scenarios, for Fillgrid and for the no-op fan-out alike: single readings; batches of
   * 100 across 100 containers; batches of 100 for one container (each request another one of 100,
   * as many gateways would post); batches of 500 across 500 containers.
   */
  const body = (size, spread) => (req) => ({ ...req, body: source.body(size, spread) });
  const ingest = (headers) =>
    [
      { name: "single reading", perRequest: 1, setupRequest: body(1) },
      { name: "batch of 100 (100 containers)", perRequest: 100, setupRequest: body(100) },
      { name: "batch of 100 (one container)", perRequest: 100, setupRequest: body(100, 1) },
      { name: "batch of 500 (500 containers)", perRequest: 500, setupRequest: body(500) },
      // As a sensor's reading meets its container in the field (an object evicted after a minute or
      // two idle, and sensors report every few minutes): one reading to each of the 1,000
      // containers, every object idle past the runtime's eviction first.
      {
        name: "single reading, cold objects",
        perRequest: 1,
        cold: true,
        setupRequest: body(1),
      },
    ].map((s) => ({
      name: s.name,
      perRequest: s.perRequest,
      cold: s.cold ?? false,
      opts: {
        connections: connectionsFor(s.perRequest, connections),
        ...(s.cold ? { amount: CONTAINERS } : {}),
        requests: [{ method: "POST", path: "/v1/readings", headers, setupRequest: s.setupRequest }],
      },
    }));
  const scenarios = [
    { name: "baseline GET /healthz", perRequest: 0, opts: { requests: [{ method: "GET", path: "/healthz" }] } },
    ...ingest(auth),
  ];

  /** One batch across every container: each object started (a local object is evicted after 10 s idle). */
  async function startObjects(baseUrl, headers) {
    for (const body of source.everyContainer()) await call("/v1/readings", { method: "POST", headers, body }, baseUrl);
  }

  /**
   * Each scenario measured on its own and alike for every system: once (with `settle`) the system
   * has finished what the one before left it (Fillgrid's projection drains the backlog a scenario
   * leaves), with every object started, after a moment of the same scenario not counted (its code
   * compiled); then measured.
   */
  async function measure(list, baseUrl, headers, settle = async () => {}) {
    const out = [];
    for (const s of list) {
      await settle();
      if (s.cold) await new Promise((resolve) => setTimeout(resolve, OBJECT_EVICTED_AFTER_MS));
      else {
        if (s.perRequest > 0) await startObjects(baseUrl, headers);
        if (warmupSeconds > 0) await run(`${s.name} (warm-up)`, { ...s.opts, duration: warmupSeconds }, baseUrl);
      }
      const cpuBefore = machineCpuMs();
      const timesBefore = processTimes();
      // A run of a set number of requests (the cold one) ends on autocannon's next whole second:
      // its time is taken to its last answer here.
      let lastAnswerAt = 0;
      const opts = s.opts.amount
        ? {
            ...s.opts,
            requests: s.opts.requests.map((q) => ({ ...q, onResponse: () => (lastAnswerAt = performance.now()) })),
          }
        : s.opts;
      const began = performance.now();
      const r = await run(s.name, opts, baseUrl);
      const tookSeconds = (lastAnswerAt - began) / 1000;
      const cpuAfter = machineCpuMs();
      const parts = cpuByPart(timesBefore, processTimes());
      const readings = r.requests.total * s.perRequest;
      const requestsPerSec = s.opts.amount ? r.requests.total / tookSeconds : r.requests.average;
      out.push({
        scenario: s.name,
        perRequest: s.perRequest,
        requestsPerSec,
        readingsPerSec: requestsPerSec * s.perRequest,
        p50ms: r.latency.p50,
        p99ms: r.latency.p99,
        cpuMsPerReading: cpuBefore !== null && readings > 0 ? (cpuAfter - cpuBefore) / readings : null,
        cpuMsPerReadingByPart:
          readings > 0 ? Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v / readings])) : null,
      });
    }
    return out;
  }

  /** Readings with this id prefix that have landed in Postgres. */
  async function landed(prefix) {
    const { rows } = await sqlClient.query("SELECT count(*)::int AS n FROM readings WHERE reading_id LIKE $1", [
      `${prefix}%`,
    ]);
    return rows[0].n;
  }

  // The ceilings first, each on its own system (stopped before the next starts), then Fillgrid.
  // Three of them: objects that do nothing, objects that commit a reading's least rows
  // (FANOUT_COMMIT), and those behind the Rate Limiting binding (FANOUT_LIMIT).
  async function measureFanout(vars) {
    const fanout = await startSystem({ configPath: "scripts/bench/fanout/wrangler.toml", vars });
    try {
      return await measure(
        [
          { name: "baseline GET /healthz", perRequest: 0, opts: { requests: [{ method: "GET", path: "/healthz" }] } },
          ...ingest({ "content-type": "application/json" }),
        ],
        fanout.url,
        { "content-type": "application/json" },
      );
    } finally {
      await fanout.stop();
    }
  }
  const fanoutRows = await measureFanout({});
  const committingRows = await measureFanout({ FANOUT_COMMIT: "on" });
  const limitedRows = await measureFanout({ FANOUT_COMMIT: "on", FANOUT_LIMIT: "on" });

  // Fillgrid's container objects created, and that drained into Postgres so it does not count against
  // the end-to-end figures.
  await startObjects(url, auth);
  while ((await landed("bench-")) < CONTAINERS) await new Promise((r) => setTimeout(r, 100));
  // What the into-Postgres run costs, from the code's own counters (GET /v1/diagnostics/usage).
  const rows = await measure(scenarios, url, auth, () => settledUsage(adminAuth));
  // The scenarios above leave the projection a backlog; it drains first, so this run measures itself.
  const usageBefore = await settledUsage(adminAuth);
  const e2eTimesBefore = processTimes();
  const e2e = await intoPostgres({ baseUrl: url, auth, client: sqlClient, reading, containers: CONTAINERS });
  const e2eCpu = cpuByPart(e2eTimesBefore, processTimes());
  if (!e2e.converged)
    throw new Error(
      `into Postgres: ${e2e.readings - e2e.landed} of ${e2e.readings} readings acknowledged had not landed ${LAND_WITHIN_MS / 1000} s later`,
    );
  const usageAfter = await settledUsage(adminAuth);
  const cost = costOf(usageBefore, usageAfter, e2e.readings);

  // Projection lag: single readings at a steady 20 per second; for each, the time from the answer to
  // the moment its row is visible in Postgres (polled every 5 ms).
  const lagPrefix = `lag-${Date.now()}-`;
  const acked = new Map();
  const lags = [];
  let polling = true;
  const poller = (async () => {
    while (polling || acked.size > 0) {
      if (acked.size > 0) {
        const { rows: seen } = await sqlClient.query("SELECT reading_id FROM readings WHERE reading_id = ANY($1)", [
          [...acked.keys()],
        ]);
        const now = performance.now();
        for (const { reading_id } of seen) {
          lags.push(now - acked.get(reading_id));
          acked.delete(reading_id);
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  for (let i = 0; i < 200; i++) {
    const r = { ...reading(`bench-${(i * 13) % CONTAINERS}`), readingId: `${lagPrefix}${i}` };
    await call("/v1/readings", { method: "POST", headers: auth, body: JSON.stringify(r) });
    acked.set(r.readingId, performance.now());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  polling = false;
  await poller;
  lags.sort((a, b) => a - b);
  const pct = (p) => lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))];
  const lag = { samples: lags.length, p50ms: pct(50), p99ms: pct(99) };

  // Push latency (scripts/bench/push.mjs): diagnostic failures one at a time, with 1 and with 500
  // dashboards connected, split where the time goes.
  const pushes = await benchPush({ url, token, samples: Number(process.env.BENCH_PUSH_SAMPLES ?? 100) });

  const base = rows[0];
  console.log(
    `\nFillgrid benchmark — ${seconds}s per scenario, ${connections} connections, wrangler dev on this machine, ${databaseLabel}`,
  );
  const logRate =
    vars.REQUEST_LOG_SAMPLE_RATE ??
    /REQUEST_LOG_SAMPLE_RATE = "([^"]*)"/.exec(readFileSync("wrangler.toml", "utf8"))?.[1] ??
    "1";
  console.log(
    `Request logs: successful requests at REQUEST_LOG_SAMPLE_RATE ${logRate}, 4xx/5xx and errors always; wrangler dev's local trace capture ${localObservability ? "on (its default)" : "off (X_LOCAL_OBSERVABILITY=false; BENCH_LOCAL_OBSERVABILITY=on measures with it)"}\n`,
  );
  console.log(
    [
      "scenario".padEnd(32),
      "req/s".padStart(9),
      "readings/s".padStart(11),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "÷ trivial".padStart(10),
      "fan-out r/s".padStart(12),
      "÷ fan-out".padStart(10),
      "commit r/s".padStart(11),
      "÷ commit".padStart(9),
      "+limit r/s".padStart(11),
      "÷ +limit".padStart(9),
      "CPU ms/reading".padStart(15),
      "fan-out CPU".padStart(12),
    ].join(" "),
  );
  for (const [i, row] of rows.entries()) {
    const ceiling = fanoutRows[i];
    const perReading = row.perRequest === 0;
    // A baseline's rate (requests/s on the trivial line, readings/s below it) and Fillgrid's against it.
    const rate = (r) => (perReading ? r.requestsPerSec : r.readingsPerSec);
    const versus = (baseline, rateWidth, ratioWidth) => [
      rate(baseline).toFixed(0).padStart(rateWidth),
      (rate(row) / rate(baseline)).toFixed(3).padStart(ratioWidth),
    ];
    console.log(
      [
        row.scenario.padEnd(32),
        row.requestsPerSec.toFixed(0).padStart(9),
        row.readingsPerSec.toFixed(0).padStart(11),
        row.p50ms.toFixed(0).padStart(7),
        row.p99ms.toFixed(0).padStart(7),
        (row.requestsPerSec / base.requestsPerSec).toFixed(3).padStart(10),
        ...versus(ceiling, 12, 10),
        ...versus(committingRows[i], 11, 9),
        ...versus(limitedRows[i], 11, 9),
        (row.cpuMsPerReading === null || perReading ? "" : row.cpuMsPerReading.toFixed(3)).padStart(15),
        (ceiling.cpuMsPerReading === null || i === 0 ? "" : ceiling.cpuMsPerReading.toFixed(3)).padStart(12),
      ].join(" "),
    );
  }
  console.log(
    "  ÷ trivial: requests/s against Fillgrid's GET /healthz; ÷ fan-out: readings/s against the no-op fan-out's same scenario (its GET /healthz on the first line);",
  );
  console.log(
    "  ÷ commit: against the fan-out whose objects commit an event row and a reading row per reading (FANOUT_COMMIT=on), the least a container stores;",
  );
  console.log(
    "  ÷ +limit: against that committing fan-out calling the Rate Limiting binding once per request first (FANOUT_LIMIT=on), as Fillgrid's ingest does",
  );
  console.log(
    "  (each fan-out is measured once, minutes before Fillgrid: npm run bench:ratios measures ÷ +limit in alternate rounds, the median of BENCH_ROUNDS, five by default)",
  );
  // What the runtime itself allows the two ratio targets: the fan-outs against their own trivial
  // request and against each other, in this run.
  const own = (list, i) => list[i].readingsPerSec / list[0].requestsPerSec;
  const across = (list) => list[2].readingsPerSec / fanoutRows[2].readingsPerSec;
  console.log("\nCeilings in this run (what a design that only stores, or stores behind the limiter, reaches here)");
  console.log(
    `  single reading ÷ its own GET /healthz:    no-op ${own(fanoutRows, 1).toFixed(3)} · committing ${own(committingRows, 1).toFixed(3)} · committing + limiter ${own(limitedRows, 1).toFixed(3)} · Fillgrid ${own(rows, 1).toFixed(3)} (target 0.70)`,
  );
  console.log(
    `  100 across 100 containers ÷ no-op fan-out: committing ${across(committingRows).toFixed(3)} · committing + limiter ${across(limitedRows).toFixed(3)} · Fillgrid ${across(rows).toFixed(3)} (target 0.60)`,
  );
  console.log(
    "\nCPU ms per reading by process (Fillgrid's scenarios; the edge session runs the API and every object, the projector the projection consumer)",
  );
  const printParts = (label, row) => {
    if (row.cpuMsPerReadingByPart) console.log(`  ${label.padEnd(32)} ${partsText(row.cpuMsPerReadingByPart)}`);
  };
  for (const row of rows.slice(1)) printParts(row.scenario, row);
  console.log(
    "  the committing + limiter fan-out, the same scenarios (its one session counts as edge; Fillgrid's stand idle meanwhile):",
  );
  for (const row of limitedRows.slice(1)) printParts(row.scenario, row);
  // The system under test stops first, so the second one has the machine to itself.
  await sqlClient.end();
  await system.stop();
  stopped = true;
  const withoutGapCheck = await intoPostgresWithoutGapCheck();
  const batchRow = rows[2];
  console.log(`\nInto Postgres: ${e2e.readings} readings in batches of 100, 8 requests in flight`);
  console.log(`  acknowledged      ${e2e.ackedPerSec.toFixed(0).padStart(7)} readings/s`);
  const e2ePerReading = Object.fromEntries(Object.entries(e2eCpu).map(([part, ms]) => [part, ms / e2e.readings]));
  console.log(`  CPU ms per reading, acknowledged to landed: ${partsText(e2ePerReading)}`);
  console.log(
    `  landed (all rows) ${e2e.landedPerSec.toFixed(0).padStart(7)} readings/s   ÷ acknowledged ${(e2e.landedPerSec / e2e.ackedPerSec).toFixed(3)}   last answer → last row landed ${e2e.tailMs.toFixed(0)} ms`,
  );
  console.log(
    `                    ÷ baseline req/s ${(e2e.landedPerSec / base.requestsPerSec).toFixed(3)}   ÷ batch ingest readings/s ${(e2e.landedPerSec / batchRow.readingsPerSec).toFixed(3)}`,
  );
  if (withoutGapCheck.converged) {
    console.log(
      `  without the gap check (PROJECTION_GAP_CHECK off, a second system): landed ${withoutGapCheck.landedPerSec.toFixed(0)} readings/s`,
    );
    console.log(
      `  landed with ÷ without the gap check: ${(e2e.landedPerSec / withoutGapCheck.landedPerSec).toFixed(3)}`,
    );
  } else {
    // Seen locally when a workerd process of that system died mid-run (a trap in V8's garbage
    // collector; docs/benchmarks.md, "What sets the figures"): the queue between the two sessions
    // lives in memory, so wrangler dev's restart does not bring back what it held.
    console.log(
      `  without the gap check (PROJECTION_GAP_CHECK off, a second system): ${withoutGapCheck.readings - withoutGapCheck.landed} of ${withoutGapCheck.readings} readings never landed —`,
    );
    console.log(`  messages lost in transit, which nothing asks for again without the check; no rate to compare`);
  }
  console.log(
    `\nCost per million readings (the into-Postgres run, counted by the code: GET /v1/diagnostics/usage; prices of 2026-12-02 beyond the Workers Paid inclusions)`,
  );
  const names = {
    workerRequests: "Worker requests",
    objectRequests: "Durable Object requests",
    rowsRead: "SQLite rows read",
    rowsWritten: "SQLite rows written",
    queueOperations: "queue operations",
  };
  for (const [k, label] of Object.entries(names)) {
    console.log(
      `  ${label.padEnd(24)} ${cost.perReading[k].toFixed(3).padStart(8)} per reading   $${cost.dollarsPerMillion[k].toFixed(4).padStart(8)} per million readings   ($${PRICES[k]} per million)`,
    );
  }
  console.log(
    `  total                                                $${cost.totalPerMillion.toFixed(4).padStart(8)} per million readings (Durable Object duration and storage not included)`,
  );
  console.log(
    `  (queue messages sent: ${cost.perReading.queueMessages.toFixed(3)} per reading; queue operations are 3 per 64 KB of each message)`,
  );
  const batchTimeout =
    /queue = "fillgrid-projection"\nmax_batch_size = \d+\nmax_batch_timeout = (\d+)/.exec(
      readFileSync("wrangler.toml", "utf8"),
    )?.[1] ?? "?";
  console.log(
    `\nProjection lag (answer → row visible), ${lag.samples} single readings at 20/s; the projection queue's max_batch_timeout is ${batchTimeout} s`,
  );
  console.log(
    `  p50 ${lag.p50ms.toFixed(0)} ms   p99 ${lag.p99ms.toFixed(0)} ms   p50 ÷ baseline p50 ${(lag.p50ms / Math.max(base.p50ms, 1)).toFixed(1)}`,
  );
  printPush(pushes, base.p50ms);
  // The consumption model's own cost per reading, against each ingest scenario's CPU per reading.
  const model = await benchModel();
  printModel(
    model,
    Object.fromEntries(rows.filter((r) => r.perRequest > 0).map((r) => [r.scenario, r.cpuMsPerReading])),
  );
  // What the daily rollups add to the projection's write, on a database of its own.
  const projectionWrite = await benchProjectionWrite({
    databaseUrl: databaseUrl
      ? await freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", "fillgrid_bench_projection_write")
      : undefined,
  });
  printProjectionWrite(projectionWrite);
  // The dashboard on a third system of its own, with 10,000 containers (BENCH_DASHBOARD=off skips it).
  let dashboard = null;
  if (process.env.BENCH_DASHBOARD !== "off") {
    const dashboardDb = databaseUrl
      ? await freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", "fillgrid_bench_dashboard")
      : undefined;
    dashboard = await benchDashboard({
      databaseUrl: dashboardDb,
      containers: Number(process.env.BENCH_DASHBOARD_CONTAINERS ?? 10_000),
    });
    printDashboard(dashboard);
  }
  // Reconciliation at fleet size on a fourth system (BENCH_RECONCILE=off skips it; npm run
  // bench:reconcile runs it alone, BENCH_RECONCILE_CONTAINERS sets the fleet's size).
  let reconciliation = null;
  if (process.env.BENCH_RECONCILE !== "off") {
    const reconcileDb = databaseUrl
      ? await freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", "fillgrid_bench_reconcile")
      : undefined;
    reconciliation = await benchReconcile({
      databaseUrl: reconcileDb,
      containers: Number(process.env.BENCH_RECONCILE_CONTAINERS ?? 1000),
      events: Number(process.env.BENCH_RECONCILE_EVENTS ?? 100),
    });
    printReconcile(reconciliation);
  }
  // Fleet analytics on 10 million readings loaded straight into Postgres (BENCH_ANALYTICS=off skips
  // it; npm run bench:analytics runs it alone).
  let analytics = null;
  if (process.env.BENCH_ANALYTICS !== "off") {
    const analyticsDb = databaseUrl
      ? await freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", "fillgrid_bench_analytics")
      : undefined;
    analytics = await benchAnalytics({ databaseUrl: analyticsDb });
    printAnalytics(analytics);
  }
  // Backups against ingest, archival end to end, a restore elsewhere, and a 10-million-reading
  // partition as Parquet, on systems of their own (BENCH_ARCHIVE=off skips it; npm run
  // bench:archive runs it alone).
  let archive = null;
  if (process.env.BENCH_ARCHIVE !== "off") {
    const fresh = (name) =>
      databaseUrl ? freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", name) : undefined;
    archive = await benchArchive({
      databaseUrl: await fresh("fillgrid_bench_archive"),
      restoreDatabaseUrl: await fresh("fillgrid_bench_archive_restore"),
    });
    printArchive(archive);
  }
  mkdirSync("bench-results", { recursive: true });
  writeFileSync(
    "bench-results/latest.json",
    JSON.stringify(
      {
        at: new Date().toISOString(),
        seconds,
        connections,
        localObservability,
        database: databaseLabel,
        rows,
        fanout: fanoutRows,
        committingFanout: committingRows,
        limitedFanout: limitedRows,
        e2e,
        cost,
        withoutGapCheck,
        lag,
        pushes,
        model,
        projectionWrite,
        dashboard,
        reconciliation,
        analytics,
        archive,
      },
      null,
      2,
    ),
  );
} finally {
  if (!stopped) {
    await sqlClient.end();
    await system.stop();
  }
  await database.stop();
}
