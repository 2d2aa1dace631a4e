// `npm run test:crash`: the system started as `npm run dev` starts it, under steady ingest, killed
// hard (SIGKILL of its whole process group) and started again on the same state, twice. Afterwards
// every acknowledged reading, order and event must be in Postgres exactly once, equal to the live
// state of every container. Prints the figures; exits non-zero when anything was lost or doubled.
//   CRASH_CYCLES (default 2), CRASH_INGEST_SECONDS (default 4), CRASH_CONTAINERS (default 40),
//   CRASH_DATABASE: "server" (a database of its own on the local PostgreSQL at 127.0.0.1:5432) or
//   "embedded" (npm run dev's default, the embedded PostgreSQL, killed with the rest); default: the
//   server when one listens, the embedded one otherwise.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { buildAssets } from "./build-assets.mjs";
import { canConnect, dropDatabase, freshDatabase } from "./lib/database.mjs";
import { freePort, readVars } from "./lib/local-system.mjs";

const cycles = Number(process.env.CRASH_CYCLES ?? 2);
const ingestSeconds = Number(process.env.CRASH_INGEST_SECONDS ?? 4);
const containerCount = Number(process.env.CRASH_CONTAINERS ?? 40);

const server = "postgres://postgres@127.0.0.1:5432/postgres";
const usePostgres = process.env.CRASH_DATABASE
  ? process.env.CRASH_DATABASE === "server"
  : await canConnect("127.0.0.1", 5432);
const dbName = `fillgrid_crash_${process.pid}`;
const state = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "fillgrid-crash-"));
let databaseUrl = null;
if (usePostgres) databaseUrl = await freshDatabase(server, dbName);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const vars = readVars(".dev.vars.example");

// The dashboard is built once; each start serves that build (no rebuild, no watcher).
buildAssets();
let output = "";
function startDev() {
  const env = {
    ...process.env,
    FILLGRID_WEB_BUILT: "1",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { FILLGRID_POSTGRES_DIR: join(state, "postgres") }),
  };
  // Its own process group, so one kill reaches the dev script, wrangler and workerd alike.
  const child = spawn(
    "node",
    [
      "scripts/dev.mjs",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--persist-to",
      join(state, "wrangler"),
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
    ],
    {
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return child;
}

async function waitUp(child) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited:\n${output.slice(-4000)}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`npm run dev did not answer within 90 s:\n${output.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function killHard(child) {
  return new Promise((resolve) => {
    child.once("exit", resolve);
    process.kill(-child.pid, "SIGKILL");
  });
}

/** A request as a client would make it, waiting out the rate limit (Retry-After) when it is reached. */
async function call(path, init = {}, token) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(base + path, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...init.headers,
      },
    });
    if (res.status === 429 && attempt < 10) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get("Retry-After") ?? 10) * 1000));
      continue;
    }
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }
}

const containerIds = Array.from({ length: containerCount }, (_, i) => `crash-${i}`);
const acknowledged = new Map(); // readingId → containerId
let sequence = 0;

/** Batches of readings across the containers, as fast as answers come, until `until`. */
async function ingest(key, until) {
  const senders = Array.from({ length: 6 }, async () => {
    while (Date.now() < until) {
      const readings = Array.from({ length: 10 }, () => {
        const n = ++sequence;
        return { containerId: containerIds[n % containerCount], readingId: `c-${n}`, fillPercent: (n * 37) % 101 };
      });
      try {
        const res = await fetch(`${base}/v1/readings`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ readings }),
        });
        if (res.ok) for (const r of readings) acknowledged.set(r.readingId, r.containerId);
      } catch {
        // killed mid-request: not acknowledged, so not counted
      }
    }
  });
  await Promise.all(senders);
}

let child = startDev();
let sql = null;
const figures = { cycles: [], missingAtFirstLook: {}, lost: {}, duplicated: {}, convergeMs: null };
try {
  await waitUp(child);
  const { token } = await call("/v1/auth/login", {
    method: "POST",
    body: JSON.stringify({ email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD }),
  });
  // A key per sender would share the per-key limit less; the test drives one gateway, so it raises nothing and stays below it.
  const { key } = await call(
    "/v1/device-keys",
    { method: "POST", body: JSON.stringify({ label: "crash test" }) },
    token,
  );

  for (let cycle = 1; cycle <= cycles; cycle++) {
    const before = acknowledged.size;
    // Kill in the middle of steady ingest.
    const ingesting = ingest(key, Date.now() + ingestSeconds * 1000 + 2000);
    await new Promise((r) => setTimeout(r, ingestSeconds * 1000));
    await killHard(child);
    await ingesting;
    figures.cycles.push({ cycle, acknowledged: acknowledged.size - before });
    child = startDev();
    await waitUp(child);
  }

  // Converge: reconcile until Postgres equals every container's live state.
  const restarted = Date.now();
  const { token: admin } = await call("/v1/auth/login", {
    method: "POST",
    body: JSON.stringify({ email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD }),
  });
  sql = new pg.Client({ connectionString: databaseUrl ?? (await embeddedUrl()) });
  sql.on("error", (error) => console.error(`crash test: database connection: ${error.message}`));
  await sql.connect();
  let report;
  for (let attempt = 0; ; attempt++) {
    report = await compare(sql, admin);
    // What Postgres lacked at the first look after the last restart: what the repair had to do.
    if (attempt === 0) figures.missingAtFirstLook = { ...report.lost };
    if (report.ok) break;
    if (Date.now() - restarted > 120_000) break;
    // Each look asks every container (two API calls each); looks are spaced to stay within the token's limit.
    if (attempt % 2 === 1) await call("/v1/projection/reconcile", { method: "POST" }, admin);
    await new Promise((r) => setTimeout(r, 2000));
  }
  figures.convergeMs = Date.now() - restarted;
  figures.lost = report.lost;
  figures.duplicated = report.duplicated;
  figures.acknowledged = acknowledged.size;
  console.log(JSON.stringify(figures, null, 2));
  if (!report.ok) {
    console.error(
      "crash test: Postgres does not match the containers",
      JSON.stringify(report.mismatches.slice(0, 10), null, 2),
    );
    process.exitCode = 1;
  } else {
    console.log(
      `crash test: ${cycles} kill/restart cycles, ${acknowledged.size} readings acknowledged (${figures.missingAtFirstLook.readings} of them not in Postgres at the first look after the last restart); lost ${report.lost.readings} readings, ${report.lost.orders} orders, ${report.lost.events} events; duplicated ${report.duplicated.readings}/${report.duplicated.orders}/${report.duplicated.events}; converged ${figures.convergeMs} ms after the last restart`,
    );
  }
} catch (error) {
  console.error(`crash test failed: ${error.stack ?? error}\n--- the system's last output ---\n${output.slice(-6000)}`);
  process.exitCode = 1;
} finally {
  await sql?.end().catch(() => {});
  if (child.exitCode === null) await killHard(child);
  if (usePostgres) await dropDatabase(server, dbName);
  rmSync(state, { recursive: true, force: true });
}

/** With no server the system's embedded PostgreSQL holds the data (on a port of this start's own); it is read the same way. */
async function embeddedUrl() {
  const match = /embedded Postgres on (postgres:\/\/\S+?),/.exec(output.split("\n").reverse().join("\n"));
  if (!match) throw new Error("could not find the embedded Postgres address");
  return match[1];
}

/** Every container: live state and log against Postgres, and every acknowledged reading. */
async function compare(sql, token) {
  const lost = { readings: 0, orders: 0, events: 0 };
  const duplicated = { readings: 0, orders: 0, events: 0 };
  const mismatches = [];
  const pgReadings = new Map();
  for (const r of (await sql.query("SELECT container_id, reading_id FROM readings WHERE container_id LIKE 'crash-%'"))
    .rows) {
    pgReadings.set(`${r.container_id}/${r.reading_id}`, true);
  }
  for (const [readingId, containerId] of acknowledged) {
    if (!pgReadings.has(`${containerId}/${readingId}`)) lost.readings++;
  }
  for (const id of containerIds) {
    // A container none of whose readings were ever committed does not exist: nothing to compare.
    const { container } = await call(`/v1/containers/${id}`, {}, token).catch((error) => {
      if (/: 404 /.test(error.message)) return { container: null };
      throw error;
    });
    if (!container) continue;
    const events = (
      await sql.query("SELECT seq FROM container_events WHERE container_id = $1 ORDER BY seq", [id])
    ).rows.map((r) => r.seq);
    const expected = container.version;
    const missing = expected - new Set(events.filter((s) => s >= 1 && s <= expected)).size;
    lost.events += missing;
    duplicated.events += events.length - new Set(events).size + events.filter((s) => s > expected).length;
    const liveOrders = [];
    for (let cursor = null; ;) {
      const page = await call(`/v1/containers/${id}/orders?limit=500${cursor ? `&cursor=${cursor}` : ""}`, {}, token);
      liveOrders.push(...page.orders);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const pgOrders = new Map(
      (await sql.query("SELECT id, status, closed_at FROM orders WHERE container_id = $1", [id])).rows.map((r) => [
        r.id,
        r,
      ]),
    );
    for (const o of liveOrders) {
      const row = pgOrders.get(o.id);
      if (!row) lost.orders++;
      else if (row.status !== o.status) mismatches.push({ id, order: o.id, live: o.status, postgres: row.status });
    }
    duplicated.orders += [...pgOrders.keys()].filter((k) => !liveOrders.some((o) => o.id === k)).length;
    const [row] = (
      await sql.query("SELECT version, projected_seq, fill_percent, active_order_id FROM containers WHERE id = $1", [
        id,
      ])
    ).rows;
    if (
      !row ||
      row.version !== expected ||
      row.projected_seq !== expected ||
      row.fill_percent !== container.fillPercent ||
      row.active_order_id !== (container.activeOrder?.id ?? null)
    ) {
      mismatches.push({
        id,
        live: { version: expected, fill: container.fillPercent, order: container.activeOrder?.id ?? null },
        postgres: row ?? null,
      });
    }
    const liveReadings = (await sql.query("SELECT count(*)::int AS n FROM readings WHERE container_id = $1", [id]))
      .rows[0].n;
    const readingEvents = (
      await sql.query(
        "SELECT count(*)::int AS n FROM container_events WHERE container_id = $1 AND type = 'reading.recorded'",
        [id],
      )
    ).rows[0].n;
    if (liveReadings > readingEvents) duplicated.readings += liveReadings - readingEvents;
  }
  const ok =
    lost.readings + lost.orders + lost.events + duplicated.readings + duplicated.orders + duplicated.events === 0 &&
    mismatches.length === 0;
  return { ok, lost, duplicated, mismatches };
}
