// CPU time from /proc: the whole machine's, and per process grouped into the parts of a local run,
// so the benchmark can say where the machine's CPU per reading goes (Linux only; elsewhere null or
// empty).
import { readdirSync, readFileSync } from "node:fs";

/** Busy CPU time of the whole machine so far, in ms (from /proc/stat; null where there is none). */
export function machineCpuMs() {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return ((total - idle) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Every process's CPU time so far (user + system, ms), its parent and its command line. */
export function processTimes() {
  const out = new Map();
  let entries;
  try {
    entries = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name in parentheses: state, ppid, …, utime (14th), stime (15th).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      out.set(pid, { ms: (Number(f[11]) + Number(f[12])) * 10, ppid: f[1], cmd }); // USER_HZ is 100
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** The part of the run a process belongs to, from its command line and its ancestors'. */
function partOf(pid, times) {
  const own = times.get(pid).cmd;
  if (Number(pid) === process.pid) return "bench process (load generator, Postgres relay)";
  // The server's main process by its path, its backends by the titles they set ("postgres: …").
  if (/^(\S*\/)?postgres[: ]/.test(own)) return "Postgres";
  for (let p = pid, hops = 0; p && times.has(p) && hops < 5; p = times.get(p).ppid, hops++) {
    const cmd = times.get(p).cmd;
    if (cmd.includes("wrangler") && cmd.includes(" dev ")) {
      const session = cmd.includes(".projector.json") ? "projector" : "edge";
      // wrangler dev runs two workerd per session: the worker's own (with the inspector) and the
      // proxy in front of it that every request passes (production has no such hop).
      if (own.includes("workerd") && !own.includes("--inspector-addr")) return "workerd (wrangler dev's proxies)";
      return own.includes("workerd") ? `workerd (${session})` : `wrangler (${session})`;
    }
  }
  return "other";
}

/** Whether `pid` or one of its ancestors was started with `marker` in its command line. */
function startedUnder(pid, times, marker) {
  for (let p = pid, hops = 0; p && times.has(p) && hops < 5; p = times.get(p).ppid, hops++)
    if (times.get(p).cmd.includes(marker)) return true;
  return false;
}

/**
 * CPU ms spent per part between two `processTimes()` readings. With `under` (a session's
 * `edgeMarker` from scripts/lib/local-system.mjs), only the processes started under the one whose
 * command line holds it: one system's parts apart from another's running beside it.
 */
export function cpuByPart(before, after, under = null) {
  const parts = {};
  for (const [pid, now] of after) {
    const spent = now.ms - (before.get(pid)?.ms ?? 0);
    if (spent <= 0) continue;
    if (under !== null && !startedUnder(pid, after, under)) continue;
    const part = partOf(pid, after);
    parts[part] = (parts[part] ?? 0) + spent;
  }
  return parts;
}
