// Error push latency, the error stream's part of `npm run bench`, also runnable alone:
//   node scripts/bench/push.mjs   (its own system and database; BENCH_PUSH_SAMPLES, default 100 per
//   size; BENCH_PUSH_DASHBOARDS, default "1,500"; BENCH_DATABASE_URL as for the bench).
// Each sample is an admin's diagnostic failure (a real 500 through the whole error pipeline: route →
// errors queue → consumer → ErrorHub → every dashboard), one at a time, so each is its own change.
// Besides the time until the last dashboard has it, every sample is split where the time goes:
// request → first dashboard (the route, the queue hop, the consumer, the store, one send: what one
// dashboard waits) and first → last dashboard (the fan-out: the hub's sends, the runtime's and
// wrangler dev's relaying of each frame, this process receiving them). The failing request's own
// answer is timed too: it shares the runtime's thread with the fan-out. The dashboards offer
// permessage-deflate as browsers do, so the runtime compresses each copy and this process inflates
// each; a last run of the largest size without it isolates what that costs. A dashboard has the
// change when its bytes reach its socket: inflating and parsing 500 copies in this one process
// (what 500 browsers do each on their own) is timed apart, as "decoded here".
import { resolve as resolvePath } from "node:path";
import { WebSocket } from "ws";
import { canConnect, dropDatabase, freshDatabase, startDatabaseStack } from "../lib/database.mjs";
import { startSystem } from "../lib/local-system.mjs";
import { cpuByPart, processTimes } from "../lib/process-cpu.mjs";
import { login } from "../lib/seed.mjs";

const WARM_UP = 5;
const pct = (list, p) =>
  [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))];
const spread = (list) => ({ p50: pct(list, 50), p99: pct(list, 99) });

/**
 * `dashboards` error streams open at once (the token in Sec-WebSocket-Protocol, as a browser sends
 * it), each recording when bytes first reached its socket and when a message was decoded, nothing
 * else: parsing waits until every socket has one, so this process's own JSON work delays nothing.
 */
async function openDashboards(url, token, dashboards, deflate) {
  const wsUrl = `${url.replace("http", "ws")}/v1/errors/stream`;
  let waiting = null;
  let closing = false;
  const sockets = await Promise.all(
    Array.from(
      { length: dashboards },
      () =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(wsUrl, ["fillgrid", `bearer.${token}`], { perMessageDeflate: deflate });
          ws.received = [];
          ws.bytesAt = null;
          // Listened to once ws has taken the socket: a listener before it would let the bytes that came
          // with the handshake pass ws by.
          ws.on("upgrade", (res) =>
            ws.once("open", () => res.socket.on("data", () => (ws.bytesAt ??= performance.now()))),
          );
          ws.onmessage = (e) => {
            ws.received.push({ at: performance.now(), data: e.data });
            if (waiting && ws.received.length === 1 && ++waiting.reached === dashboards) waiting.resolve();
          };
          ws.onopen = () => resolve(ws);
          // wrangler dev reloads the worker when a source file changes, closing every socket.
          ws.onclose = (e) =>
            closing || waiting?.reject(new Error(`a dashboard's socket closed (${e.code}): did wrangler dev reload?`));
          ws.onerror = () => reject(new Error("dashboard could not connect"));
        }),
    ),
  );
  // Every socket's `ready` first, so the samples start from quiet streams.
  while (!sockets.every((ws) => ws.received.some((m) => m.data.includes('"ready"'))))
    await new Promise((r) => setTimeout(r, 10));
  for (const ws of sockets) ws.received.length = 0;
  return {
    sockets,
    /** Resolves once every socket has received a message since the last `clear`. */
    everyOneHasOne(timeoutMs) {
      const reached = sockets.filter((ws) => ws.received.length > 0).length;
      if (reached === dashboards) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`a push reached ${waiting.reached} of ${dashboards} dashboards within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiting = { reached, resolve: () => (clearTimeout(timer), (waiting = null), resolve()), reject };
      });
    },
    clear() {
      for (const ws of sockets) {
        ws.received.length = 0;
        ws.bytesAt = null;
      }
    },
    close() {
      closing = true;
      for (const ws of sockets) ws.close();
    },
  };
}

/**
 * The diagnostic failures all group into one record, so a sample's change is that record counted
 * once more; the first warm-up failure finds the record (by its message).
 */
function isSample(change, known) {
  const r = change.record;
  if (!r || (change.type !== "error.created" && change.type !== "error.updated")) return false;
  if (known.id === null) return typeof r.message === "string" && r.message.startsWith("diagnostic failure requested");
  return r.id === known.id && r.count > known.count;
}

/**
 * This process and the wrangler dev sessions it started (their configurations carry its pid), so
 * other work on the machine does not count.
 */
function ownProcessTimes() {
  const mark = `.wrangler.local-${process.pid}.`;
  const times = processTimes();
  const own = new Map();
  for (const [pid, t] of times) {
    let mine = Number(pid) === process.pid;
    for (let p = pid, hops = 0; !mine && p && times.has(p) && hops < 5; p = times.get(p).ppid, hops++)
      mine = times.get(p).cmd.includes(mark);
    if (mine) own.set(pid, t);
  }
  return own;
}

async function measureSize(url, token, dashboards, samples, known, deflate = true) {
  const streams = await openDashboards(url, token, dashboards, deflate);
  const all = [];
  const decoded = [];
  const first = [];
  const answered = [];
  const firstToLast = [];
  const healthz = [];
  const parseMs = [];
  let bytes = 0;
  let cpuBefore = null;
  let cpuAfter;
  try {
    for (let i = 0; i < WARM_UP + samples; i++) {
      if (i === WARM_UP) cpuBefore = ownProcessTimes();
      // The same worker's trivial request, between samples, as the baseline for the route's share.
      const h0 = performance.now();
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      const trivial = performance.now() - h0;
      streams.clear();
      const started = performance.now();
      const res = await fetch(`${url}/v1/diagnostics/fail`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      const answeredAt = performance.now();
      if (res.status !== 500) throw new Error(`POST /v1/diagnostics/fail answered ${res.status}`);
      let arrivals;
      for (;;) {
        await streams.everyOneHasOne(15_000);
        const p0 = performance.now();
        arrivals = streams.sockets.map((ws) => {
          for (const m of ws.received) {
            const change = JSON.parse(m.data);
            // The bytes' arrival is this change's only when nothing else came to the socket.
            if (isSample(change, known))
              return {
                at: ws.received.length === 1 ? ws.bytesAt : m.at,
                decodedAt: m.at,
                bytes: Buffer.byteLength(m.data),
                change,
              };
          }
          return null;
        });
        const parsed = performance.now() - p0;
        if (arrivals.every(Boolean)) {
          if (i >= WARM_UP) parseMs.push(parsed);
          break;
        }
        // Some socket had only another change: wait for its next message.
        for (const [j, ws] of streams.sockets.entries()) if (!arrivals[j]) ws.received.length = 0;
      }
      known.id = arrivals[0].change.record.id;
      known.count = Math.max(...arrivals.map((a) => a.change.record.count));
      if (i < WARM_UP) continue;
      const times = arrivals.map((a) => a.at);
      const firstAt = Math.min(...times);
      const lastAt = Math.max(...times);
      all.push(lastAt - started);
      decoded.push(Math.max(...arrivals.map((a) => a.decodedAt)) - started);
      first.push(firstAt - started);
      answered.push(answeredAt - started);
      firstToLast.push(lastAt - firstAt);
      healthz.push(trivial);
      bytes = arrivals[0].bytes;
    }
    cpuAfter = ownProcessTimes();
  } finally {
    streams.close();
  }
  const label = (part) =>
    part.startsWith("bench process") ? "this process (the dashboards, the Postgres relay)" : part;
  const cpu = Object.fromEntries(
    Object.entries(cpuByPart(cpuBefore, cpuAfter)).map(([part, ms]) => [label(part), ms / samples]),
  );
  return {
    dashboards,
    samples,
    deflate,
    allP50: pct(all, 50),
    allP99: pct(all, 99),
    decoded: spread(decoded),
    firstP50: pct(first, 50),
    answered: spread(answered),
    first: spread(first),
    firstToLast: spread(firstToLast),
    healthz: spread(healthz),
    bytesPerPush: bytes,
    clientParseMs: spread(parseMs),
    /** CPU ms per sample by process, the healthz baseline included (10 ms ticks summed over the samples). */
    cpuMsPerSample: cpu,
  };
}

/**
 * Push latency with each number of dashboards open in turn, on a running system; then the largest
 * again with dashboards that do not offer permessage-deflate (`withoutDeflate`).
 */
export async function benchPush({ url, token, sizes = [1, 500], samples = 100 }) {
  const known = { id: null, count: 0 };
  const pushes = [];
  for (const dashboards of sizes) pushes.push(await measureSize(url, token, dashboards, samples, known));
  const withoutDeflate = await measureSize(url, token, Math.max(...sizes), samples, known, false);
  return { pushes, withoutDeflate };
}

/** `baselineP50`: the bench's trivial request p50 for the ratio it prints (default: each run's own GET /healthz). */
export function printPush({ pushes, withoutDeflate }, baselineP50 = null) {
  console.log(
    `\nError push latency (failing request sent → change received by every dashboard), one failure at a time, ${pushes[0].samples} samples per size`,
  );
  const f = (n) => n.toFixed(0);
  for (const p of [...pushes, withoutDeflate]) {
    const base = baselineP50 ?? p.healthz.p50;
    if (!p.deflate)
      console.log(
        `  baseline: the same without permessage-deflate (dashboards that do not offer it; browsers do): what compressing each copy costs`,
      );
    console.log(
      `  ${String(p.dashboards).padStart(3)} dashboard(s): p50 ${f(p.allP50)} ms   p99 ${f(p.allP99)} ms   (first dashboard p50 ${f(p.firstP50)} ms)   p50 ÷ baseline p50 ${(p.allP50 / Math.max(base, 1)).toFixed(1)}`,
    );
    console.log(
      `       where it goes, p50/p99 ms: request → first dashboard ${f(p.first.p50)}/${f(p.first.p99)} · first → last dashboard (the fan-out) ${f(p.firstToLast.p50)}/${f(p.firstToLast.p99)} · the failing request's answer ${f(p.answered.p50)}/${f(p.answered.p99)}`,
    );
    if (p.dashboards > 1) {
      console.log(
        `       decoded here (this process inflating and parsing every copy, not the system), the last: ${f(p.decoded.p50)}/${f(p.decoded.p99)}; JSON.parse of all ${p.clientParseMs.p50.toFixed(1)} ms`,
      );
    }
    console.log(
      `       GET /healthz ${f(p.healthz.p50)}/${f(p.healthz.p99)} · ${p.bytesPerPush} bytes per pushed change`,
    );
    const parts = Object.entries(p.cpuMsPerSample).sort((a, b) => b[1] - a[1]);
    console.log(`       CPU ms per sample: ${parts.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(" · ")}`);
  }
  if (pushes.length > 1) {
    const [one, many] = [pushes[0], pushes[pushes.length - 1]];
    console.log(
      `  ${many.dashboards} ÷ ${one.dashboards} dashboards, p50: ${(many.allP50 / one.allP50).toFixed(2)}   p99: ${(many.allP99 / one.allP99).toFixed(2)}`,
    );
  }
  const many = pushes[pushes.length - 1];
  console.log(
    `  ${many.dashboards} dashboards with ÷ without permessage-deflate, p50: ${(many.allP50 / withoutDeflate.allP50).toFixed(2)}   p99: ${(many.allP99 / withoutDeflate.allP99).toFixed(2)}`,
  );
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // Run with plain `node`, wrangler is found where npm would find it.
  process.env.PATH = `${resolvePath("node_modules/.bin")}:${process.env.PATH}`;
  // As the bench: wrangler dev's local trace capture off unless BENCH_LOCAL_OBSERVABILITY=on.
  process.env.X_LOCAL_OBSERVABILITY = process.env.BENCH_LOCAL_OBSERVABILITY === "on" ? "true" : "false";
  const server = "postgres://postgres@127.0.0.1:5432/postgres";
  const name = "fillgrid_bench_push";
  let databaseUrl = process.env.BENCH_DATABASE_URL;
  let fresh = false;
  if (databaseUrl === "embedded") databaseUrl = undefined;
  else if (!databaseUrl && (await canConnect("127.0.0.1", 5432))) {
    databaseUrl = await freshDatabase(server, name);
    fresh = true;
  }
  const database = await startDatabaseStack({ databaseUrl, dataDir: null });
  const system = await startSystem({
    vars: { DATABASE_URL: database.url, NEON_WS_PROXY: database.proxy },
    raiseRateLimits: true,
  });
  try {
    const token = await login(system.url, system.vars.ADMIN_EMAIL, system.vars.ADMIN_PASSWORD);
    const sizes = (process.env.BENCH_PUSH_DASHBOARDS ?? "1,500").split(",").map(Number);
    const result = await benchPush({
      url: system.url,
      token,
      sizes,
      samples: Number(process.env.BENCH_PUSH_SAMPLES ?? 100),
    });
    console.log(
      `\nwrangler dev on this machine, ${databaseUrl ? `PostgreSQL at ${new URL(databaseUrl).host}` : "the embedded PostgreSQL (throw-away)"}`,
    );
    printPush(result);
  } finally {
    await system.stop();
    await database.stop();
    if (fresh) await dropDatabase(server, name);
  }
}
