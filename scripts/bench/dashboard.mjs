// The dashboard's part of `npm run bench`, in the same headless Chromium the browser tests use:
//   - time from navigation to a usable fleet view (figures counted, the table's rows drawn) with
//     10,000 containers, and to the map drawn; against navigating to a trivial page of the same
//     worker (GET /healthz) in the same run;
//   - live latency: a reading's acknowledgement → the open fleet view showing it, against the same
//     worker's trivial request (GET /healthz) answered in the same run.
import { startDatabaseStack } from "../lib/database.mjs";
import { startSystem } from "../lib/local-system.mjs";
import { login, seedFleet } from "../lib/seed.mjs";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

async function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const { existsSync } = await import("node:fs");
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  return (await import("@sparticuz/chromium")).default.executablePath();
}

const pct = (list, p) =>
  [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))];
const median = (list) => pct(list, 50);

export async function benchDashboard({ containers = 10_000, runs = 5, samples = 30, databaseUrl } = {}) {
  const { chromium } = await import("playwright-core");
  const database = await startDatabaseStack({ databaseUrl, dataDir: null });
  const system = await startSystem({
    vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
    raiseRateLimits: true,
  });
  const browser = await chromium.launch({ executablePath: await chromiumPath(), args: FLAGS });
  try {
    const { url, vars } = system;
    const token = await login(url, vars.ADMIN_EMAIL, vars.ADMIN_PASSWORD);
    const seededAt = performance.now();
    const { key, ids } = await seedFleet(url, token, containers, { prefix: "fleet" });
    for (;;) {
      const res = await fetch(`${url}/v1/fleet/summary`, { headers: { authorization: `Bearer ${token}` } });
      if ((await res.json()).containers >= containers) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const seedSeconds = (performance.now() - seededAt) / 1000;
    const session = JSON.stringify({
      token,
      email: vars.ADMIN_EMAIL,
      role: "admin",
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const fleetBytes = (
      await (await fetch(`${url}/v1/fleet`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer()
    ).byteLength;

    async function signedInPage() {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
      await context.addInitScript((s) => sessionStorage.setItem("fillgrid.session", s), session);
      return context.newPage();
    }

    const usable = [];
    const mapped = [];
    const trivial = [];
    for (let i = 0; i < runs; i++) {
      const page = await signedInPage();
      const t0 = performance.now();
      await page.goto(`${url}/healthz`);
      trivial.push(performance.now() - t0);
      const t1 = performance.now();
      await page.goto(`${url}/`);
      await page.waitForFunction(
        (n) => {
          const figure = document.querySelector('[data-figure="Containers"]');
          return (
            figure &&
            figure.textContent.replace(/\D/g, "") === String(n) &&
            document.querySelectorAll(".fleet-table .row[data-container]").length > 0
          );
        },
        containers,
        { polling: "raf", timeout: 60_000 },
      );
      usable.push(performance.now() - t1);
      await page.waitForSelector(".map[data-ready=true]", { timeout: 60_000 });
      mapped.push(performance.now() - t1);
      await page.context().close();
    }

    // Live latency: the fleet view open on one container's row, a reading to it, and the time from
    // the answer to the row showing the new fill.
    const page = await signedInPage();
    await page.goto(`${url}/`);
    await page.waitForSelector(".live[data-status=live]", { timeout: 60_000 });
    const target = ids[Math.floor(ids.length / 2)];
    await page.fill('input[type="search"]', target);
    await page.waitForSelector(`[data-container="${target}"]`);
    const live = [];
    const healthz = [];
    for (let i = 0; i < samples; i++) {
      const fill = 20 + (i % 2 === 0 ? 0.5 : 0) + i; // a new figure every time
      const t0 = performance.now();
      await fetch(`${url}/healthz`);
      healthz.push(performance.now() - t0);
      const res = await fetch(`${url}/v1/readings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ containerId: target, fillPercent: fill }),
      });
      if (!res.ok) throw new Error(`reading: ${res.status}`);
      const acked = performance.now();
      await page.waitForFunction(
        ({ id, text }) => document.querySelector(`[data-container="${id}"]`)?.textContent.includes(text),
        { id: target, text: `${Math.round(fill * 10) / 10} %` },
        { polling: "raf", timeout: 30_000 },
      );
      live.push(performance.now() - acked);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.context().close();
    return {
      containers,
      seedSeconds,
      fleetBytes,
      runs,
      usableMs: { median: median(usable), all: usable },
      mapMs: { median: median(mapped), all: mapped },
      trivialPageMs: { median: median(trivial) },
      live: { samples, p50ms: pct(live, 50), p95ms: pct(live, 95), healthzP50ms: pct(healthz, 50) },
    };
  } finally {
    await browser.close();
    await system.stop();
    await database.stop();
  }
}

export function printDashboard(d) {
  console.log(
    `\nDashboard in headless Chromium, ${d.containers.toLocaleString("en")} containers (GET /v1/fleet: ${(d.fleetBytes / 1e6).toFixed(1)} MB uncompressed), median of ${d.runs} navigations`,
  );
  console.log(
    `  usable fleet view (figures counted, rows drawn) ${d.usableMs.median.toFixed(0)} ms   ÷ trivial page ${(d.usableMs.median / d.trivialPageMs.median).toFixed(1)}   (trivial page ${d.trivialPageMs.median.toFixed(0)} ms)`,
  );
  console.log(
    `  map drawn                                       ${d.mapMs.median.toFixed(0)} ms   ÷ trivial page ${(d.mapMs.median / d.trivialPageMs.median).toFixed(1)}`,
  );
  console.log(
    `  live: reading acknowledged → shown on the open page, ${d.live.samples} readings: p50 ${d.live.p50ms.toFixed(0)} ms   p95 ${d.live.p95ms.toFixed(0)} ms   p50 ÷ GET /healthz p50 ${(d.live.p50ms / Math.max(d.live.healthzP50ms, 1)).toFixed(1)}`,
  );
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const result = await benchDashboard({ containers: Number(process.env.BENCH_CONTAINERS ?? 10_000) });
  printDashboard(result);
}
