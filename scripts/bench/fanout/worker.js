// The benchmark's ceilings, not part of the product: the shape of Fillgrid's ingest with nothing in
// it. POST /v1/readings takes one reading or {readings: [...]}, groups them by containerId, calls one
// Durable Object per container (in parallel, as Fillgrid does) and answers one result per reading;
// GET /healthz answers "ok". With FANOUT_COMMIT unset the objects do nothing but answer: the
// runtime's own ceiling for this work. With FANOUT_COMMIT=on each object first commits, in one
// storage transaction per call, what a Fillgrid container writes at the least for a reading that
// moves no order: an event row and the reading's row with its time index (two statements): the
// ceiling for any design that stores a reading durably before answering. With FANOUT_LIMIT=on as
// well, each request first asks the Rate Limiting binding, as Fillgrid's ingest does per device key
// (locally that binding is a simulator object that writes a counter row per call).
import { DurableObject } from "cloudflare:workers";

export class Noop extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.commits = env.FANOUT_COMMIT === "on";
    if (!this.commits) return;
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS readings (reading_id TEXT PRIMARY KEY, measured_at INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS readings_by_time ON readings (measured_at, reading_id);`);
    this.seq = sql.exec("SELECT coalesce(max(seq), 0) AS seq FROM events").one().seq;
  }

  apply(readings) {
    if (this.commits) {
      const sql = this.ctx.storage.sql;
      const at = new Date().toISOString();
      this.ctx.storage.transactionSync(() => {
        insertMany(
          sql,
          "events (seq, id, type, at, body)",
          readings.map((r) => [++this.seq, `evt_${this.seq}`, "reading.recorded", at, JSON.stringify(r)]),
        );
        insertMany(
          sql,
          "readings (reading_id, measured_at, body)",
          readings.map((r) => [r.readingId, Date.parse(r.measuredAt), JSON.stringify(r)]),
          " ON CONFLICT DO NOTHING",
        );
      });
    }
    return readings.map((r) => ({ readingId: r.readingId, status: "applied" }));
  }
}

/** Rows many to a statement, within Durable Object SQL's 100 bound parameters (as Fillgrid writes them). */
function insertMany(sql, into, rows, tail = "") {
  const per = Math.floor(100 / rows[0].length);
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    sql.exec(
      `INSERT INTO ${into} VALUES ${chunk.map((r) => `(${r.map(() => "?").join(", ")})`).join(", ")}${tail}`,
      ...chunk.flat(),
    );
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    if (url.pathname !== "/v1/readings" || request.method !== "POST") return new Response("not found", { status: 404 });
    if (env.FANOUT_LIMIT === "on" && !(await env.LIMIT.limit({ key: "device:bench" })).success)
      return new Response("rate limited", { status: 429 });
    const body = await request.json();
    const readings = Array.isArray(body.readings) ? body.readings : [body];
    const groups = new Map();
    for (const r of readings) groups.set(r.containerId, [...(groups.get(r.containerId) ?? []), r]);
    const answers = await Promise.all([...groups].map(([id, group]) => env.NOOP.getByName(id).apply(group)));
    return Response.json({ results: answers.flat() });
  },
};
