// A container object that holds data under an older schema moves to the current one without losing
// anything: its events, readings and orders stay, and events still in the old outbox are sent from
// the log (the watermark starts just before the first of them).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CONTAINER_SCHEMA, type ContainerDO } from "../durable-objects/container";
import { ensureSchema } from "../durable-objects/schema";
import { uniqueContainer } from "./helpers";

describe("the container's schema", () => {
  it("moves data kept under the old outbox schema to the event log with a watermark, readings and events intact", async () => {
    const stub = env.CONTAINERS.getByName(uniqueContainer("schema"));
    await runInDurableObject(stub, (_instance: ContainerDO, state) => {
      const sql = state.storage.sql;
      // Back to the schema before the log became the outbox (its first 5 steps), with data in it.
      for (const table of ["container", "readings", "orders", "events", "registration", "commands", "_schema"])
        sql.exec(`DROP TABLE IF EXISTS ${table}`);
      ensureSchema(state.storage, CONTAINER_SCHEMA.slice(0, 5));
      sql.exec("INSERT INTO container (id, state) VALUES (1, '{}')");
      for (const seq of [1, 2, 3])
        sql.exec(
          "INSERT INTO events (seq, id, type, at, body) VALUES (?, ?, 'reading.recorded', '2026-12-01T00:00:00.000Z', '{}')",
          seq,
          `evt_${seq}`,
        );
      sql.exec("INSERT INTO outbox (seq, body) VALUES (2, '{}'), (3, '{}')");
      sql.exec(
        "INSERT INTO readings (reading_id, measured_at, received_at, status, body, result, fingerprint) VALUES ('r-1', 1, 2, 'applied', '{}', '{}', 'f')",
      );

      ensureSchema(state.storage, CONTAINER_SCHEMA);
      expect(sql.exec("SELECT sent_seq FROM container").one().sent_seq).toBe(1);
      expect(sql.exec("SELECT seq, id FROM events ORDER BY seq").toArray()).toEqual([
        { seq: 1, id: "evt_1" },
        { seq: 2, id: "evt_2" },
        { seq: 3, id: "evt_3" },
      ]);
      expect(sql.exec("SELECT reading_id, fingerprint FROM readings").toArray()).toEqual([
        { reading_id: "r-1", fingerprint: "f" },
      ]);
      expect(sql.exec("SELECT name FROM sqlite_master WHERE name = 'outbox'").toArray()).toEqual([]);
      // The readings' rows live in their key's tree: one row written per reading, and one for its time index.
      const write = sql.exec(
        "INSERT INTO readings (reading_id, measured_at, received_at, status, body, result) VALUES ('r-2', 3, 4, 'applied', '{}', '{}')",
      );
      expect(write.rowsWritten).toBe(2);
      const event = sql.exec(
        "INSERT INTO events (seq, id, type, at, body) VALUES (4, 'evt_4', 'reading.recorded', 'x', '{}')",
      );
      expect(event.rowsWritten).toBe(1);
    });
  });
});
