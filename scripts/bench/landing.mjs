// How far the projection trails ingest under load (`npm run bench:landing`): `npm run bench`'s
// into-Postgres run alone, repeated (BENCH_ROUNDS, default 3) on one system: per round the readings
// acknowledged per second, landed ÷ acknowledged, the tail (last answer → last row in Postgres), and
// the projection consumer's batches in that round with their mean and longest consumer time (its
// own histogram in GET /metrics, fillgrid_consumer_batch_duration_seconds: a batch from its start
// until it is done, the metrics record that follows not counted). The queue hands the consumer its
// next batch only when one is done, so what is acknowledged during a batch lands with the next one:
// the tail follows the batch's time. BENCH_E2E_BATCHES and BENCH_DATABASE_URL as for npm run bench.
import pg from "pg";
import { benchCredentials, benchDatabaseUrl, readingSource } from "../lib/bench-support.mjs";
import { startDatabaseStack } from "../lib/database.mjs";
import { intoPostgres } from "../lib/into-postgres.mjs";
import { startSystem } from "../lib/local-system.mjs";

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const CONTAINERS = 1000;
const PROJECTION_QUEUE = "fillgrid-projection";

const database = await startDatabaseStack({ databaseUrl: await benchDatabaseUrl("fillgrid_bench"), dataDir: null });
const system = await startSystem({
  vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
  raiseRateLimits: true,
});
const client = new pg.Client({ connectionString: database.url });

async function call(path, init = {}) {
  const res = await fetch(system.url + path, {
    ...init,
    headers: { "content-type": "application/json", ...init.headers },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res;
}

/** The projection consumer's batches so far: how many, their summed seconds and the histogram's buckets (le → count). */
async function projectionBatches() {
  const text = await (
    await call("/metrics", { headers: { authorization: `Bearer ${system.vars.METRICS_TOKEN}` } })
  ).text();
  const seen = { count: 0, sum: 0, buckets: new Map() };
  for (const line of text.split("\n")) {
    if (!line.startsWith("fillgrid_consumer_batch_duration_seconds") || !line.includes(`queue="${PROJECTION_QUEUE}"`))
      continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith("fillgrid_consumer_batch_duration_seconds_count")) seen.count = value;
    else if (line.startsWith("fillgrid_consumer_batch_duration_seconds_sum")) seen.sum = value;
    else {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le) seen.buckets.set(le, value);
    }
  }
  return seen;
}

/** The projection's batches once none has been recorded for 3 s: the last batch of a round is recorded after its rows land. */
async function settledBatches() {
  let last = await projectionBatches();
  for (;;) {
    await new Promise((r) => setTimeout(r, 3_000));
    const now = await projectionBatches();
    if (now.count === last.count) return now;
    last = now;
  }
}

/** The least bucket bound every batch between two readings of the histogram fell within (seconds; Infinity past the last; null for none). */
function longestAtMost(before, after) {
  const batches = after.count - before.count;
  if (batches === 0) return null;
  const bounds = [...after.buckets]
    .filter(([le, n]) => n - (before.buckets.get(le) ?? 0) === batches)
    .map(([le]) => (le === "+Inf" ? Infinity : Number(le)));
  return Math.min(...bounds);
}

try {
  await client.connect();
  const { device: auth } = await benchCredentials(system);
  const source = readingSource("bench-", CONTAINERS);
  // Every container's object started, and that drained into Postgres first.
  for (const body of source.everyContainer()) await call("/v1/readings", { method: "POST", headers: auth, body });
  const landedFirst = async () =>
    (await client.query("SELECT count(*)::int AS n FROM readings WHERE reading_id LIKE 'bench-%'")).rows[0].n;
  while ((await landedFirst()) < CONTAINERS) await new Promise((r) => setTimeout(r, 100));

  const results = [];
  for (let round = 1; round <= rounds; round++) {
    const before = await settledBatches();
    const run = await intoPostgres({
      baseUrl: system.url,
      auth,
      client,
      reading: source.reading,
      containers: CONTAINERS,
    });
    if (!run.converged)
      throw new Error(`round ${round}: ${run.readings - run.landed} of ${run.readings} readings never landed`);
    const after = await settledBatches();
    const batches = after.count - before.count;
    const meanMs = batches > 0 ? ((after.sum - before.sum) / batches) * 1000 : 0;
    const longest = longestAtMost(before, after);
    results.push({ ...run, ratio: run.landedPerSec / run.ackedPerSec, batches, meanMs });
    console.log(
      `round ${round}: acknowledged ${run.ackedPerSec.toFixed(0)} readings/s · landed ÷ acknowledged ${(run.landedPerSec / run.ackedPerSec).toFixed(3)} · tail ${run.tailMs.toFixed(0)} ms · ` +
        `${batches} projection batches, each ${meanMs.toFixed(0)} ms on average, the longest ${longest === null ? "–" : longest === Infinity ? "over the last bucket" : `≤ ${longest * 1000} ms`}`,
    );
  }
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(
    `median of ${rounds}: landed ÷ acknowledged ${median(results.map((r) => r.ratio)).toFixed(3)} (target 0.9) · tail ${median(results.map((r) => r.tailMs)).toFixed(0)} ms · a projection batch ${median(results.map((r) => r.meanMs)).toFixed(0)} ms`,
  );
} finally {
  await client.end();
  await system.stop();
  await database.stop();
}
