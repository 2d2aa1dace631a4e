// A container object that holds data under an older schema moves to the current one without losing
// anything: its events, readings and orders stay, events still in the old outbox are sent from the
// log (the watermark starts just before the first of them), and a reading is stored once.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CONTAINER_SCHEMA, type ContainerDO } from "../durable-objects/container";
import { ensureSchema } from "../durable-objects/schema";
import { uniqueContainer } from "./helpers";

describe("the container's schema", () => {
  it("moves data kept under the old outbox schema to the one log with a watermark, readings and events intact, a reading costing two rows", async () => {
    const stub = env.CONTAINERS.getByName(uniqueContainer("schema"));
    await runInDurableObject(stub, (_instance: ContainerDO, state) => {
      const sql = state.storage.sql;
      // Back to the schema before the log became the outbox (its first 5 steps), with data in it.
      for (const table of ["container", "readings", "orders", "events", "registration", "commands", "_schema"])
        sql.exec(`DROP TABLE IF EXISTS ${table}`);
      ensureSchema(state.storage, CONTAINER_SCHEMA.slice(0, 5));
      sql.exec("INSERT INTO container (id, state) VALUES (1, '{}')");
      const body = (seq: number, type: string, readingId?: string) =>
        JSON.stringify({ seq, type, ...(readingId ? { reading: { readingId } } : {}) });
      sql.exec(
        `INSERT INTO events (seq, id, type, at, body) VALUES
           (1, 'evt_1', 'reading.recorded', '2026-12-01T00:00:00.000Z', ?),
           (2, 'evt_2', 'order.opened', '2026-12-01T00:00:00.000Z', ?),
           (3, 'evt_3', 'reading.recorded', '2026-12-01T00:00:00.000Z', ?)`,
        body(1, "reading.recorded", "r-1"),
        body(2, "order.opened"),
        // A reading whose row archival pruned: its event stays, and it is no reading any more.
        body(3, "reading.recorded", "r-0"),
      );
      sql.exec("INSERT INTO outbox (seq, body) VALUES (2, '{}'), (3, '{}')");
      sql.exec(
        "INSERT INTO readings (reading_id, measured_at, received_at, status, body, result, fingerprint) VALUES ('r-1', 1, 2, 'applied', '{}', '{\"readingId\":\"r-1\"}', 'f')",
      );
      sql.exec("INSERT INTO orders (id, status, body) VALUES ('ord_1', 'active', '{}')");

      ensureSchema(state.storage, CONTAINER_SCHEMA);
      expect(sql.exec("SELECT sent_seq FROM container").one().sent_seq).toBe(1);
      // One log: each event a row of its own, the reading's row with its answer and fingerprint.
      expect(
        sql
          .exec("SELECT last_seq, reading_id, measured_at, status, result, fingerprint FROM log ORDER BY last_seq")
          .toArray(),
      ).toEqual([
        {
          last_seq: 1,
          reading_id: "r-1",
          measured_at: 1,
          status: "applied",
          result: '{"readingId":"r-1"}',
          fingerprint: "f",
        },
        { last_seq: 2, reading_id: null, measured_at: null, status: null, result: null, fingerprint: null },
        { last_seq: 3, reading_id: null, measured_at: null, status: null, result: null, fingerprint: null },
      ]);
      expect(
        JSON.parse(sql.exec<{ events: string }>("SELECT events FROM log WHERE last_seq = 2").one().events),
      ).toEqual({
        seq: 2,
        type: "order.opened",
      });
      expect(sql.exec("SELECT id FROM orders").toArray()).toEqual([{ id: "ord_1" }]);
      expect(
        sql.exec("SELECT name FROM sqlite_master WHERE name IN ('outbox', 'events', 'readings', 'model')").toArray(),
      ).toEqual([]);
      // What a reading costs now: its row and its entry in the index by reading id; another event
      // one row; a stale reading one more (its time index); an order's row one (its key's tree).
      const row = (seq: number, readingId: string | null, status: string | null) =>
        sql.exec(
          "INSERT INTO log (last_seq, events, reading_id, measured_at, status, result) VALUES (?, '{}', ?, 5, ?, '{}')",
          seq,
          readingId,
          status,
        ).rowsWritten;
      expect(row(4, "r-4", "applied")).toBe(2);
      expect(row(5, null, null)).toBe(1);
      expect(row(6, "r-6", "stale")).toBe(3);
      expect(sql.exec("INSERT INTO orders (id, status, body) VALUES ('ord_2', 'closed', '{}')").rowsWritten).toBe(1);
      // A reading id is kept once.
      expect(() => row(7, "r-4", "applied")).toThrow(/UNIQUE/);
    });
  });
});
