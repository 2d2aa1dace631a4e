// `npm run bench`: throughput and latency of reading ingest, against the same worker answering a
// trivial request (GET /healthz) in the same run, so the figures read as ratios on a noisy machine.
//   BENCH_SECONDS (default 10) per scenario, BENCH_CONNECTIONS (default 16).
import autocannon from "autocannon";
import { mkdirSync, writeFileSync } from "node:fs";
import { startSystem } from "./lib/local-system.mjs";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const CONTAINERS = 1000;

const system = await startSystem();
const { url, vars } = system;

async function call(path, init = {}) {
  const res = await fetch(url + path, { ...init, headers: { "content-type": "application/json", ...init.headers } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

function run(title, opts) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
  }).then((result) => {
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${title}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    }
    return result;
  });
}

let seq = 0;
const start = Date.now() - 3_600_000;
function reading(containerId) {
  seq++;
  return {
    containerId,
    readingId: `bench-${seq}`,
    fillPercent: (seq * 37) % 101,
    location: { lat: 50 + (seq % 10) / 10, lon: 8 },
    battery: 80,
    measuredAt: new Date(start + seq).toISOString(),
  };
}

try {
  const { token } = await call("/v1/auth/login", {
    method: "POST",
    body: JSON.stringify({ email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD }),
  });
  const { key } = await call("/v1/device-keys", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ label: "bench" }),
  });
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };

  // Warm the runtime and every container object once, so the first scenario pays no start-up cost.
  for (let i = 0; i < CONTAINERS; i += 100) {
    const readings = Array.from({ length: 100 }, (_, j) => reading(`bench-${i + j}`));
    await call("/v1/readings", { method: "POST", headers: auth, body: JSON.stringify({ readings }) });
  }

  const scenarios = [
    { name: "baseline GET /healthz", perRequest: 0, opts: { requests: [{ method: "GET", path: "/healthz" }] } },
    {
      name: "single reading",
      perRequest: 1,
      opts: {
        requests: [
          {
            method: "POST",
            path: "/v1/readings",
            headers: auth,
            setupRequest: (req) => ({ ...req, body: JSON.stringify(reading(`bench-${seq % CONTAINERS}`)) }),
          },
        ],
      },
    },
    {
      name: "batch of 100 (100 containers)",
      perRequest: 100,
      opts: {
        requests: [
          {
            method: "POST",
            path: "/v1/readings",
            headers: auth,
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ readings: Array.from({ length: 100 }, (_, j) => reading(`bench-${(seq + j * 7) % CONTAINERS}`)) }),
            }),
          },
        ],
      },
    },
  ];

  const rows = [];
  for (const s of scenarios) {
    const r = await run(s.name, s.opts);
    rows.push({
      scenario: s.name,
      requestsPerSec: r.requests.average,
      readingsPerSec: r.requests.average * s.perRequest,
      p50ms: r.latency.p50,
      p99ms: r.latency.p99,
    });
  }
  const base = rows[0];
  console.log(`\nFillgrid ingest benchmark — ${seconds}s per scenario, ${connections} connections, wrangler dev on this machine\n`);
  console.log(
    ["scenario".padEnd(32), "req/s".padStart(9), "readings/s".padStart(11), "p50 ms".padStart(8), "p99 ms".padStart(8), "req/s ÷ base".padStart(13), "p50 ÷ base".padStart(11), "p99 ÷ base".padStart(11)].join(" "),
  );
  for (const row of rows) {
    console.log(
      [
        row.scenario.padEnd(32),
        row.requestsPerSec.toFixed(0).padStart(9),
        row.readingsPerSec.toFixed(0).padStart(11),
        row.p50ms.toFixed(0).padStart(8),
        row.p99ms.toFixed(0).padStart(8),
        (row.requestsPerSec / base.requestsPerSec).toFixed(3).padStart(13),
        (row.p50ms / Math.max(base.p50ms, 1)).toFixed(2).padStart(11),
        (row.p99ms / Math.max(base.p99ms, 1)).toFixed(2).padStart(11),
      ].join(" "),
    );
  }
  mkdirSync("bench-results", { recursive: true });
  writeFileSync("bench-results/latest.json", JSON.stringify({ at: new Date().toISOString(), seconds, connections, rows }, null, 2));
} finally {
  await system.stop();
}
