// The benchmarks' into-Postgres run (npm run bench, npm run bench:landing): readings acknowledged by
// the API, timed until every one of them is a row in Postgres.

/** The default wait for the last row: lost messages are asked for again by the gap check (after its grace period, at the container's next message or the minute job). */
export const LAND_WITHIN_MS = 150_000;

/**
 * `batches` requests of 100 readings across 100 containers each (default BENCH_E2E_BATCHES or 200),
 * 8 in flight, timed until every reading row is in Postgres. Long enough to measure a rate: the last
 * answer's readings still take the pipeline's depth to land (the tail, reported apart), which in a
 * run of 50 batches (about 2 s) was a fifth of the time. Without the gap check nothing asks for a
 * lost message again: then `converged` is false once `landWithinMs` has passed.
 * @param {{ baseUrl: string, auth: Record<string, string>, client: import("pg").Client,
 *   reading: (containerId: string) => object, containers: number, batches?: number, landWithinMs?: number }} options
 */
export async function intoPostgres({
  baseUrl,
  auth,
  client,
  reading,
  containers,
  batches = Number(process.env.BENCH_E2E_BATCHES ?? 200),
  landWithinMs = LAND_WITHIN_MS,
}) {
  const start = performance.now();
  const prefix = `e2e-${Date.now()}-`;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches) {
        const b = next++;
        const readings = Array.from({ length: 100 }, (_, j) => ({
          ...reading(`bench-${(b * 100 + j) % containers}`),
          readingId: `${prefix}${b}-${j}`,
        }));
        const res = await fetch(`${baseUrl}/v1/readings`, {
          method: "POST",
          headers: { "content-type": "application/json", ...auth },
          body: JSON.stringify({ readings }),
        });
        if (!res.ok) throw new Error(`/v1/readings: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  const acked = performance.now();
  const landedCount = async () =>
    (await client.query("SELECT count(*)::int AS n FROM readings WHERE reading_id LIKE $1", [`${prefix}%`])).rows[0].n;
  const deadline = Date.now() + landWithinMs;
  let landedNow;
  while ((landedNow = await landedCount()) < batches * 100) {
    if (Date.now() > deadline) return { readings: batches * 100, landed: landedNow, converged: false };
    await new Promise((r) => setTimeout(r, 20));
  }
  const landed = performance.now();
  return {
    converged: true,
    readings: batches * 100,
    ackedPerSec: (batches * 100) / ((acked - start) / 1000),
    landedPerSec: (batches * 100) / ((landed - start) / 1000),
    tailMs: landed - acked,
  };
}
