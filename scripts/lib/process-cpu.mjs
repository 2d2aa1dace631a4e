// CPU time per process from /proc, grouped into the parts of a local run, so the benchmark can say
// where the machine's CPU per reading goes (Linux only; elsewhere every reading is empty).
import { readdirSync, readFileSync } from "node:fs";

/** Every process's CPU time so far (user + system, ms), its parent and its command line. */
export function processTimes() {
  const out = new Map();
  let entries = [];
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
  if (own.startsWith("postgres")) return "Postgres";
  let cmd = own;
  for (let p = pid, hops = 0; p && times.has(p) && hops < 5; p = times.get(p).ppid, hops++) {
    cmd = times.get(p).cmd;
    if (cmd.includes("wrangler") && cmd.includes(" dev ")) {
      const session = cmd.includes(".projector.json") ? "projector" : "edge";
      return own.includes("workerd") ? `workerd (${session})` : `wrangler (${session})`;
    }
  }
  return "other";
}

/** CPU ms spent per part between two `processTimes()` readings. */
export function cpuByPart(before, after) {
  const parts = {};
  for (const [pid, now] of after) {
    const spent = now.ms - (before.get(pid)?.ms ?? 0);
    if (spent <= 0) continue;
    const part = partOf(pid, after);
    parts[part] = (parts[part] ?? 0) + spent;
  }
  return parts;
}
