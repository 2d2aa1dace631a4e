// What the benchmarks share: the product's TypeScript as a module Node can import, a seeded random
// number generator for fixtures that come out the same in every run, the Postgres a benchmark uses,
// and the ingest benchmarks' readings and load.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { canConnect, freshDatabase } from "./database.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The modules `exports` re-exports (TypeScript, paths from the repository's root), bundled as the
 * worker bundles them; npm packages stay imports of node_modules. Written under
 * node_modules/.cache as `name`.mjs, so that their own imports resolve.
 */
export async function importTypeScript(name, exports) {
  const out = await build({
    stdin: { contents: exports, resolveDir: root, loader: "ts" },
    bundle: true,
    format: "esm",
    platform: "node",
    packages: "external",
    write: false,
    logLevel: "silent",
  });
  mkdirSync(`${root}/node_modules/.cache`, { recursive: true });
  const file = `${root}/node_modules/.cache/${name}.mjs`;
  writeFileSync(file, out.outputFiles[0].text);
  return import(`${file}?${Date.now()}`);
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The Postgres a benchmark uses: BENCH_DATABASE_URL; with "embedded", or when nothing listens on
 * 127.0.0.1:5432, undefined (a throw-away embedded one); otherwise a fresh database `name` there.
 */
export async function benchDatabaseUrl(name) {
  const given = process.env.BENCH_DATABASE_URL;
  if (given === "embedded") return undefined;
  if (given) return given;
  if (!(await canConnect("127.0.0.1", 5432))) return undefined;
  return freshDatabase("postgres://postgres@127.0.0.1:5432/postgres", name);
}

/** Connections for requests of `perRequest` readings: about the same readings in flight for every size (16 of 100, 3 of 500). */
export function connectionsFor(perRequest, connections) {
  return perRequest > 100 ? Math.max(2, Math.round((connections * 100) / perRequest)) : connections;
}

/**
 * The readings the ingest benchmarks send (npm run bench, npm run bench:profile): ids `prefix`1,
 * `prefix`2, …, fill levels that jump (about a third of them open or close an order), measured from
 * an hour ago a millisecond apart, to containers named `bench-<n>`.
 */
export function readingSource(prefix, containers) {
  let seq = 0;
  const start = Date.now() - 3_600_000;
  const reading = (containerId) => {
    seq++;
    return {
      containerId,
      readingId: `${prefix}${seq}`,
      fillPercent: (seq * 37) % 101,
      location: { lat: 50 + (seq % 10) / 10, lon: 8 },
      battery: 80,
      measuredAt: new Date(start + seq).toISOString(),
    };
  };
  return {
    reading,
    /** Bodies of 100 readings across every container, which start every container's object. */
    everyContainer() {
      return Array.from({ length: Math.ceil(containers / 100) }, (_, b) =>
        JSON.stringify({
          readings: Array.from({ length: Math.min(100, containers - b * 100) }, (_, j) =>
            reading(`bench-${b * 100 + j}`),
          ),
        }),
      );
    },
    /**
     * A request's body: one reading to the next container in turn (`size` 1), `size` readings
     * across as many containers, or (`spread` 1) `size` readings for one of 100 containers, each
     * request another, as many gateways would post.
     */
    body(size, spread = size) {
      if (size === 1) return JSON.stringify(reading(`bench-${seq % containers}`));
      const first = seq;
      const one = `bench-${Math.floor(first / size) % 100}`;
      return JSON.stringify({
        readings: Array.from({ length: size }, (_, j) =>
          reading(spread === 1 ? one : `bench-${(first + j * 7) % containers}`),
        ),
      });
    },
  };
}

/** The usage counters (GET /v1/diagnostics/usage) of each session at `urls` (a system's edge and projector), summed. */
export async function usageOf(urls, headers) {
  const each = await Promise.all(
    urls.map(async (url) => {
      const res = await fetch(`${url}/v1/diagnostics/usage`, { headers });
      if (!res.ok) throw new Error(`${url}/v1/diagnostics/usage: ${res.status} ${await res.text()}`);
      return res.json();
    }),
  );
  return Object.fromEntries(Object.keys(each[0]).map((k) => [k, each.reduce((sum, u) => sum + u[k], 0)]));
}

/** The usage counters once the queues are quiet (nothing sent or delivered for a second). */
export async function settledQueues(urls, headers) {
  let last = await usageOf(urls, headers);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await usageOf(urls, headers);
    if (now.queueMessagesDelivered === last.queueMessagesDelivered && now.queueMessagesSent === last.queueMessagesSent)
      return now;
    last = now;
  }
}

/**
 * A system's first admin signed in and a fleet device key issued, as every benchmark starts:
 * `token` (the admin's), `admin` (their headers: diagnostics, metrics) and `device` (the key's
 * headers: ingest).
 */
export async function benchCredentials({ url, vars }, label = "bench") {
  const post = async (path, body, headers = {}) => {
    const res = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const { token } = await post("/v1/auth/login", { email: vars.ADMIN_EMAIL, password: vars.ADMIN_PASSWORD });
  const admin = { authorization: `Bearer ${token}` };
  const { key } = await post("/v1/device-keys", { label }, admin);
  return { token, admin, device: { authorization: `Bearer ${key}`, "content-type": "application/json" } };
}
