// The embedded PostgreSQL that `npm run dev` uses when no DATABASE_URL is set: after a hard kill of
// everything it starts again with every committed row; a server left running by a killed owner is
// stopped, not left to block the next start; one whose owner still runs is shared.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../scripts/lib/embedded-postgres.mjs";

const MODULE = resolve("scripts/lib/embedded-postgres.mjs");
const dirs: string[] = [];
const children: ChildProcess[] = [];

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fillgrid-embedded-test-"));
  dirs.push(dir);
  return join(dir, "postgres");
}

/**
 * Another process that starts the embedded server on `dir` and inserts rows one commit at a time,
 * printing each committed id: the owner, as `npm run dev` is. In a process group of its own, so one
 * kill can reach its server processes too.
 */
function owner(dir: string): { child: ChildProcess; url: Promise<string>; committed: () => number } {
  const script = `
    import pg from "pg";
    import { startEmbeddedPostgres } from ${JSON.stringify(MODULE)};
    const db = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)} });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("CREATE TABLE IF NOT EXISTS rows (id int PRIMARY KEY)");
    console.log("url " + db.url);
    const { rows } = await client.query("SELECT coalesce(max(id), 0)::int AS last FROM rows");
    for (let id = rows[0].last + 1; ; id++) {
      await client.query("INSERT INTO rows (id) VALUES ($1)", [id]);
      console.log("committed " + id);
      if (id % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: process.cwd(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let last = 0;
  let output = "";
  const url = new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk;
      const found = /url (\S+)/.exec(output);
      if (found) resolveUrl(found[1]!);
      for (const m of String(chunk).matchAll(/committed (\d+)/g)) last = Math.max(last, Number(m[1]));
    });
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk));
    child.once("exit", () => reject(new Error(`the owner exited:\n${output}`)));
  });
  url.catch(() => {});
  return { child, url, committed: () => last };
}

async function rowsIn(url: string): Promise<{ count: number; max: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: number; max: number }>(
      "SELECT count(*)::int AS count, coalesce(max(id), 0) AS max FROM rows",
    );
    return rows[0]!;
  } finally {
    await client.end();
  }
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not). */
const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the embedded PostgreSQL", () => {
  it("killed hard with its owner (SIGKILL of the process group, server processes included) mid-write, twice, starts again with every committed row and nothing else", async () => {
    const dir = dataDir();
    for (let cycle = 0; cycle < 2; cycle++) {
      const run = owner(dir);
      await run.url;
      await until(() => run.committed() >= 300 * (cycle + 1), "rows committed", 30_000);
      process.kill(-run.child.pid!, "SIGKILL");
      await new Promise((r) => run.child.once("exit", r));
      const acknowledged = run.committed();
      const db = await startEmbeddedPostgres({ dataDir: dir });
      try {
        const { count, max } = await rowsIn(db.url);
        // Every acknowledged commit is there; at most the one in flight at the kill beyond it.
        expect(count).toBe(max);
        expect(max).toBeGreaterThanOrEqual(acknowledged);
        expect(max).toBeLessThanOrEqual(acknowledged + 1);
      } finally {
        await db.stop();
      }
    }
  });

  it("a server left running by an owner that was killed alone is found by its pid file and stopped, and the next start has the data", async () => {
    const dir = dataDir();
    const run = owner(dir);
    await run.url;
    await until(() => run.committed() >= 100, "rows committed");
    // Only the owner dies; its server runs on, orphaned.
    process.kill(run.child.pid!, "SIGKILL");
    await new Promise((r) => run.child.once("exit", r));
    const leftover = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
    expect(running(leftover)).toBe(true);

    const lines: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir: dir, log: (line) => lines.push(line) });
    try {
      expect(db.reused).toBe(false);
      expect(lines.join("\n")).toContain(`left running by an earlier run (pid ${leftover})`);
      expect(running(leftover)).toBe(false);
      const { count } = await rowsIn(db.url);
      expect(count).toBeGreaterThanOrEqual(100);
    } finally {
      await db.stop();
    }
    expect(existsSync(join(dir, "postmaster.pid"))).toBe(false);
  });

  it("a server whose owner still runs is shared, not stopped (a script beside npm run dev)", async () => {
    const dir = dataDir();
    const run = owner(dir);
    const ownerUrl = await run.url;
    const shared = await startEmbeddedPostgres({ dataDir: dir });
    expect(shared.reused).toBe(true);
    expect(new URL(shared.url).port).toBe(new URL(ownerUrl).port);
    await shared.stop();
    // Still the owner's, still writing.
    const before = run.committed();
    await until(() => run.committed() > before + 50, "the owner to go on writing");
    expect((await rowsIn(ownerUrl)).count).toBeGreaterThan(before);
  });
});
