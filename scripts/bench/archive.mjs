// Backups, restore and archival, part of `npm run bench` and runnable alone (`npm run bench:archive`).
//   1. Backup against ingest: BENCH_ARCHIVE_CONTAINERS containers (default 200) post
//      BENCH_ARCHIVE_READINGS readings each (default 250), measured in a month past READINGS_HOT_DAYS,
//      in requests of 100 readings across 100 containers, 8 at a time. The ingest rate (readings/s
//      acknowledged) against the backup's: events/s into R2 objects from the first request until the
//      backup ledger holds every event Postgres has, and the lag from the last acknowledgement.
//   2. Archival of that month end to end (the check against the backup, Parquet parts, the
//      containers' pruning, the partition's drop), after the hour's backup: readings/s, and Parquet
//      bytes per reading against the partition's bytes per reading in Postgres.
//   3. Restore: the backup bucket's objects put into a second, empty system, which restores every
//      container from them (POST /v1/backups/restore): events/s replayed into containers.
//   4. A BENCH_ARCHIVE_BIG_READINGS partition (default 10,000,000: 5,000 containers × 2,000) loaded
//      by COPY, read by the worker as Parquet pages of 100,000 (the export the archival job makes,
//      GET /v1/archive/months/{month}/readings.parquet), against the same rows read by COPY TO STDOUT
//      from the same Postgres in the same run (the raw rate of getting them out at all).
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { canConnect, freshDatabase, startDatabaseStack } from "../lib/database.mjs";
import { startSystem } from "../lib/local-system.mjs";
import { login } from "../lib/seed.mjs";
import { random } from "../lib/bench-support.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The month the fleet's readings are measured in, and the big partition's: both long past 400 days. */
const FLEET_MONTH = "2024-02";
const BIG_MONTH = "2024-01";

async function client(url, email, password) {
  const token = await login(url, email, password);
  const call = async (path, init = {}, auth = token) => {
    const res = await fetch(url + path, {
      ...init,
      headers: { "content-type": "application/json", authorization: `Bearer ${auth}`, ...init.headers },
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  return { call, json: async (path, init, auth) => (await call(path, init, auth)).json() };
}

/** A month's own partition, as migration 0010 makes for a database that held readings of it. */
const partition = (month) => {
  const [y, m] = month.split("-").map(Number);
  const next = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  return `create table if not exists readings_${month.replace("-", "_")} partition of readings
    for values from ('${month}-01T00:00:00Z') to ('${next}T00:00:00Z')`;
};

async function backupAgainstIngest(api, sql, { containers, perContainer }) {
  const { key } = await api.json("/v1/device-keys", {
    method: "POST",
    body: JSON.stringify({ label: "archive bench" }),
  });
  const ids = Array.from({ length: containers }, (_, i) => `arc-${String(i).padStart(5, "0")}`);
  const start = Date.parse(`${FLEET_MONTH}-01T00:00:00Z`);
  const step = Math.floor((27 * 86_400_000) / perContainer);
  // Requests of 100 readings across 100 containers: round r of every container, a slice at a time.
  const requests = [];
  for (let r = 0; r < perContainer; r++)
    for (let c = 0; c < ids.length; c += 100)
      requests.push(
        ids.slice(c, c + 100).map((id) => ({
          containerId: id,
          readingId: `r-${r}`,
          fillPercent: 95 - (r % 80) + (r % 7) * 0.3,
          measuredAt: new Date(start + r * step).toISOString(),
        })),
      );
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      // Each container's rounds in order: a request waits for the one before of the same slice.
      for (let i = next++; i < requests.length; i = next++)
        await api.call("/v1/readings", { method: "POST", body: JSON.stringify({ readings: requests[i] }) }, key);
    }),
  );
  const acked = performance.now();
  const readings = containers * perContainer;
  let events;
  for (;;) {
    const [{ n, e }] = (
      await sql.query(
        "select (select count(*) from readings)::int as n, (select count(*) from container_events)::int as e",
      )
    ).rows;
    const state = await api.json("/v1/backups");
    const backedUp = state.unlisted.events;
    events = e;
    if (n >= readings && backedUp >= events) break;
    if (performance.now() - acked > 600_000)
      throw new Error(`backup behind: ${backedUp} of ${events} events after 10 minutes`);
    await sleep(250);
  }
  const done = performance.now();
  return {
    readings,
    events,
    ingestPerSecond: readings / ((acked - began) / 1000),
    backupEventsPerSecond: events / ((done - began) / 1000),
    backupLagSeconds: (done - acked) / 1000,
  };
}

async function archiveMonth(api) {
  await api.json("/v1/backups/run", { method: "POST" });
  const began = performance.now();
  let month;
  for (let runs = 0; ; runs++) {
    const { status } = await api.json("/v1/archive/run", {
      method: "POST",
      body: JSON.stringify({ budgetSeconds: 600 }),
    });
    month = status.months.find((m) => m.month === `${FLEET_MONTH}-01`);
    if (month?.state === "archived") break;
    if (runs > 20) throw new Error(`archival did not finish: ${JSON.stringify(month)}`);
  }
  const seconds = (performance.now() - began) / 1000;
  return {
    rows: month.rows,
    seconds,
    rowsPerSecond: month.rows / seconds,
    parquetBytesPerReading: month.bytes / month.rows,
    postgresBytesPerReading: month.postgresBytes / month.rows,
    containersPruned: month.containersPruned,
    readingsPruned: month.readingsPruned,
  };
}

/** Every object of the first system's backup bucket into the second's, then a restore there. */
async function restoreElsewhere(from, to) {
  let cursor = null;
  let objects = 0;
  do {
    const page = await from.json(`/v1/backups/objects${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
    for (const o of page.objects) {
      const bytes = await (await from.call(`/v1/backups/object?key=${encodeURIComponent(o.key)}`)).arrayBuffer();
      await to.call(`/v1/backups/object?key=${encodeURIComponent(o.key)}`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: bytes,
      });
      objects++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  const began = performance.now();
  const summary = await to.json("/v1/backups/restore", { method: "POST", body: JSON.stringify({}) });
  const seconds = (performance.now() - began) / 1000;
  if (summary.refused.length > 0) throw new Error(`restore refused ${summary.refused.length} containers`);
  return {
    objects,
    containers: summary.containers,
    events: summary.events,
    seconds,
    eventsPerSecond: summary.events / seconds,
  };
}

/** The big partition: COPY into a table of its own, attached (its indexes built then, as a restore would). */
async function loadBigPartition(sql, { containers, perContainer }) {
  const table = `readings_${BIG_MONTH.replace("-", "_")}`;
  await sql.query(`create table ${table} (like readings including defaults)`);
  const start = Date.parse(`${BIG_MONTH}-01T00:00:00Z`);
  const step = Math.floor((30 * 86_400_000) / perContainer);
  // As sensors report: a level falling at the container's own rate with noise, refills, a battery
  // draining, ids as a gateway makes them and event ids as random as ULIDs.
  const ID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  function* lines() {
    for (let c = 0; c < containers; c++) {
      const rand = random(c + 11);
      const id = `big-${String(c).padStart(5, "0")}`;
      const lat = (36 + rand() * 24).toFixed(5);
      const lon = (-8 + rand() * 32).toFixed(5);
      const rate = 0.05 + rand() * 0.5;
      let fill = 40 + rand() * 55;
      let chunk = "";
      for (let r = 0; r < perContainer; r++) {
        const at = new Date(start + r * step + Math.floor(rand() * 30_000)).toISOString();
        fill -= rate * (0.5 + rand());
        let rise = "\\N";
        if (fill < 15) {
          rise = (80 - fill).toFixed(2);
          fill = 95;
        }
        const measured = Math.min(100, Math.max(0, fill + (rand() - 0.5) * 2)).toFixed(2);
        let event = "evt_";
        for (let k = 0; k < 26; k++) event += ID_CHARS[Math.floor(rand() * 32)];
        chunk += `${id}\t${id}-${Date.parse(at)}\t${at}\t${at}\t${measured}\tdiesel\t${lat}\t${lon}\t${(100 - r / 40).toFixed(1)}\t0\tapplied\t${rise}\t${event}\t${r + 1}\n`;
      }
      yield chunk;
    }
  }
  const began = performance.now();
  await pipeline(
    Readable.from(lines()),
    sql.query(
      copyFrom(
        `COPY ${table} (container_id, reading_id, measured_at, received_at, fill_percent, contents, lat, lon, battery, clock_skew_ms, status, refill_rise, event_id, seq) FROM STDIN`,
      ),
    ),
  );
  const [y, m] = BIG_MONTH.split("-").map(Number);
  const next = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  await sql.query(
    `alter table readings attach partition ${table} for values from ('${BIG_MONTH}-01T00:00:00Z') to ('${next}T00:00:00Z')`,
  );
  await sql.query(`vacuum analyze ${table}`);
  const [{ bytes, rows }] = (
    await sql.query(
      `select pg_total_relation_size('${table}')::float8 as bytes, (select count(*) from ${table})::int as rows`,
    )
  ).rows;
  return { table, rows, postgresBytes: bytes, loadSeconds: (performance.now() - began) / 1000 };
}

async function exportBig(api, sql, big) {
  // The baseline: the same rows out of the same Postgres by COPY, in the export's order.
  let copied = 0;
  const t0 = performance.now();
  await pipeline(
    sql.query(
      copyTo(
        `COPY (select * from readings where measured_at >= '${BIG_MONTH}-01' and measured_at < '${BIG_MONTH}-01'::date + interval '1 month' order by container_id, reading_id, measured_at) TO STDOUT`,
      ),
    ),
    new Writable({
      write(chunk, _encoding, done) {
        copied += chunk.length;
        done();
      },
    }),
  );
  const copySeconds = (performance.now() - t0) / 1000;
  let rows = 0;
  let bytes = 0;
  let cursor = null;
  const t1 = performance.now();
  do {
    const res = await api.call(
      `/v1/archive/months/${BIG_MONTH}/readings.parquet?limit=100000${cursor ? `&cursor=${cursor}` : ""}`,
    );
    bytes += (await res.arrayBuffer()).byteLength;
    rows += Number(res.headers.get("x-rows"));
    cursor = res.headers.get("x-next-cursor");
  } while (cursor);
  const seconds = (performance.now() - t1) / 1000;
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    copyRowsPerSecond: big.rows / copySeconds,
    copyBytes: copied,
    ratioToCopy: rows / seconds / (big.rows / copySeconds),
    parquetBytesPerReading: bytes / rows,
    postgresBytesPerReading: big.postgresBytes / big.rows,
  };
}

export async function benchArchive({
  databaseUrl,
  restoreDatabaseUrl,
  containers = Number(process.env.BENCH_ARCHIVE_CONTAINERS ?? 200),
  perContainer = Number(process.env.BENCH_ARCHIVE_READINGS ?? 250),
  bigReadings = Number(process.env.BENCH_ARCHIVE_BIG_READINGS ?? 10_000_000),
} = {}) {
  const database = await startDatabaseStack({ databaseUrl, dataDir: null });
  const system = await startSystem({
    vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
    raiseRateLimits: true,
  });
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  try {
    const api = await client(system.url, system.vars.ADMIN_EMAIL, system.vars.ADMIN_PASSWORD);
    await sql.query(partition(FLEET_MONTH));
    const backup = await backupAgainstIngest(api, sql, { containers, perContainer });
    const archival = await archiveMonth(api);

    const restoreDb = await startDatabaseStack({ databaseUrl: restoreDatabaseUrl, dataDir: null });
    const second = await startSystem({
      vars: { DATABASE_URL: restoreDb.url, NEON_WS_PROXY: restoreDb.proxy },
      raiseRateLimits: true,
    });
    let restore;
    try {
      restore = await restoreElsewhere(
        api,
        await client(second.url, second.vars.ADMIN_EMAIL, second.vars.ADMIN_PASSWORD),
      );
    } finally {
      await second.stop();
      await restoreDb.stop();
    }

    const bigContainers = 5000;
    const big = await loadBigPartition(sql, {
      containers: bigContainers,
      perContainer: Math.ceil(bigReadings / bigContainers),
    });
    const exported = await exportBig(api, sql, big);
    return { backup, archival, restore, big: { loadSeconds: big.loadSeconds, ...exported } };
  } finally {
    await sql.end();
    await system.stop();
    await database.stop();
  }
}

const f = (x, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function printArchive(r) {
  console.log("\nBackups, restore and archival (npm run bench:archive)");
  console.log(
    `  backup against ingest: ${f(r.backup.readings)} readings (${f(r.backup.events)} events) acknowledged at ${f(r.backup.ingestPerSecond)} readings/s; ` +
      `backed up at ${f(r.backup.backupEventsPerSecond)} events/s (${f(r.backup.backupEventsPerSecond / r.backup.ingestPerSecond, 2)} × the ingest rate), ` +
      `every event in R2 ${f(r.backup.backupLagSeconds, 1)} s after the last acknowledgement`,
  );
  console.log(
    `  archival end to end: ${f(r.archival.rows)} readings in ${f(r.archival.seconds, 1)} s (${f(r.archival.rowsPerSecond)} readings/s, ${f(r.archival.containersPruned)} containers pruned); ` +
      `${f(r.archival.parquetBytesPerReading, 1)} bytes per reading in Parquet against ${f(r.archival.postgresBytesPerReading, 1)} in Postgres`,
  );
  console.log(
    `  restore elsewhere: ${f(r.restore.containers)} containers, ${f(r.restore.events)} events from ${f(r.restore.objects)} objects in ${f(r.restore.seconds, 1)} s: ${f(r.restore.eventsPerSecond)} events/s ` +
      `(${f(r.restore.eventsPerSecond / r.backup.ingestPerSecond, 2)} × the ingest rate)`,
  );
  console.log(
    `  a ${f(r.big.rows)}-reading partition as Parquet: ${f(r.big.rowsPerSecond)} rows/s against ${f(r.big.copyRowsPerSecond)} rows/s by COPY TO STDOUT ` +
      `(${f(r.big.ratioToCopy, 2)} ×); ${f(r.big.parquetBytesPerReading, 1)} bytes per reading against ${f(r.big.postgresBytesPerReading, 1)} in Postgres ` +
      `(${f(r.big.postgresBytesPerReading / r.big.parquetBytesPerReading, 1)} × smaller)`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const local = await canConnect("127.0.0.1", 5432);
  const fresh = (name) => (local ? freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", name) : undefined);
  const result = await benchArchive({
    databaseUrl: await fresh("fillgrid_bench_archive"),
    restoreDatabaseUrl: await fresh("fillgrid_bench_archive_restore"),
  });
  printArchive(result);
}
