// What the daily rollups add to the projection's write (`npm run bench:projection-write`): batches
// of readings as the consumer plans them (workers/projection/plan.ts, writer.ts, bundled here),
// written to a fresh Postgres database with the rollups kept and with them left out (the writer's
// `keepRollups`), alternately, three rounds each; the median Postgres time per reading of each,
// as the client sees it.
import pg from "pg";
import { benchDatabaseUrl, importTypeScript } from "../lib/bench-support.mjs";
import { startDatabaseStack } from "../lib/database.mjs";

const loadWriter = () =>
  importTypeScript(
    "bench-projection-write",
    `export { planProjections } from "./workers/projection/plan.ts"; export { planStatements } from "./workers/projection/writer.ts";`,
  );

export async function benchProjectionWrite({ databaseUrl } = {}) {
  const { planProjections, planStatements } = await loadWriter();
  const database = await startDatabaseStack({ databaseUrl, dataDir: null });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const seqs = new Map();
  let n = 0;
  /** Change messages of one reading each, `perContainer` for each of `containers` containers. */
  function batch(containers, perContainer) {
    const messages = [];
    for (let c = 0; c < containers; c++) {
      const id = `c${c}`;
      for (let k = 0; k < perContainer; k++) {
        const seq = (seqs.get(id) ?? 0) + 1;
        seqs.set(id, seq);
        n++;
        const at = new Date(Date.now() - 3_600_000 + n).toISOString();
        const reading = {
          readingId: `r${n}`,
          measuredAt: at,
          receivedAt: at,
          fillPercent: (n * 37) % 101,
          contents: "diesel",
        };
        messages.push({
          event: {
            id: `e${n}`,
            seq,
            containerId: id,
            type: "reading.recorded",
            at,
            actor: { kind: "device", id: "key" },
            readingId: `r${n}`,
            outcome: "applied",
            reading,
          },
          state: {
            containerId: id,
            version: seq,
            name: null,
            threshold: 20,
            capacity: 1000,
            unit: "l",
            reportIntervalSeconds: null,
            fillPercent: reading.fillPercent,
            contents: "diesel",
            battery: 80,
            measuredAt: at,
            lastSeenAt: at,
            autoOpenArmed: true,
            activeOrder: null,
          },
          order: null,
        });
      }
    }
    return messages;
  }
  async function msPerReading(containers, perContainer, rounds, keepRollups) {
    let ms = 0;
    for (let i = 0; i < rounds; i++) {
      const statements = planProjections(batch(containers, perContainer)).flatMap(
        (plan) => planStatements(plan, true, keepRollups).statements,
      );
      const t0 = performance.now();
      await client.query(statements.join(";\n"));
      ms += performance.now() - t0;
    }
    return ms / (rounds * containers * perContainer);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const results = [];
  try {
    for (const [containers, perContainer] of [
      [1, 1],
      [100, 1],
      [500, 1],
      [1, 100],
    ]) {
      const rounds = containers * perContainer >= 100 ? 30 : 300;
      const without = [];
      const withRollups = [];
      for (let r = 0; r < 3; r++) {
        without.push(await msPerReading(containers, perContainer, rounds, false));
        withRollups.push(await msPerReading(containers, perContainer, rounds, true));
      }
      results.push({ containers, perContainer, withoutMs: median(without), withMs: median(withRollups) });
    }
  } finally {
    await client.end();
    await database.stop();
  }
  return results;
}

export function printProjectionWrite(results) {
  console.log("\nThe projection's write, Postgres ms per reading, without → with the daily rollups");
  for (const r of results)
    console.log(
      `  ${`${r.containers} container(s) × ${r.perContainer}`.padEnd(26)} ${r.withoutMs.toFixed(3)} → ${r.withMs.toFixed(3)}   with ÷ without ${(r.withMs / r.withoutMs).toFixed(2)}`,
    );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = await benchDatabaseUrl("fillgrid_bench_projection_write");
  printProjectionWrite(await benchProjectionWrite({ databaseUrl }));
}
