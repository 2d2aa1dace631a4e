// What the consumption model (domain/forecast.ts) costs per reading, part of `npm run bench` and
// runnable alone (`node scripts/bench/model.mjs`): the model's two calls a container makes for each
// applied reading (observe, then estimate) timed in this process's CPU over streams of readings, as
// a share of the CPU a reading costs the whole system (the ingest scenarios of the same run).
//   - realistic: 200 containers, a reading every 15 minutes for 60 days, noise, refills, a
//     weekly pattern: a new hourly bucket (and so a fit) every fourth reading;
//   - the ingest bench's own stream: readings milliseconds apart whose level jumps at random, so
//     about half of them look like refills (each a bucket and a fit of its own).
import { importTypeScript, random } from "../lib/bench-support.mjs";
import { cpuUsage } from "node:process";

/** The model as the worker bundles it. */
const loadModel = () => importTypeScript("bench-model", `export * from "./domain/forecast.ts";`);

function realisticStream(seed, days, everyMinutes) {
  const rand = random(seed);
  const rate = 0.5 + rand() * 7.5;
  const start = Date.parse("2026-01-05T00:00:00Z");
  const out = [];
  let level = 95;
  for (let t = start; t < start + days * 86_400_000; t += everyMinutes * 60_000) {
    const weekday = (Math.floor(t / 86_400_000) + 4) % 7;
    level -= (rate * (1 + 0.3 * Math.cos((2 * Math.PI * (weekday - 3)) / 7)) * everyMinutes) / 1440;
    if (level < 15) level = 95;
    out.push({ measuredAt: t, fill: Math.max(0, Math.min(100, level + (rand() - 0.5) * 2)) });
  }
  return out;
}

function benchStream(count) {
  const start = Date.now();
  return Array.from({ length: count }, (_, i) => ({ measuredAt: start + i, fill: ((i + 1) * 37) % 101 }));
}

/** CPU microseconds per reading of observe + estimate over `streams`, each fed to a window of its own. */
function timeModel(model, streams) {
  const settings = { threshold: 30, capacity: 10_000, unit: "l" };
  let readings = 0;
  const before = cpuUsage();
  for (const stream of streams) {
    let window = model.emptyWindow();
    for (const r of stream) {
      window = model.observe(window, r.measuredAt, r.fill, model.DEFAULT_REFILL_RISE).window;
      model.estimate(window, settings);
    }
    readings += stream.length;
  }
  const used = cpuUsage(before);
  return { readings, usPerReading: (used.user + used.system) / readings };
}

export async function benchModel({ containers = 200, days = 60 } = {}) {
  const model = await loadModel();
  // Warm the code first, as a long-lived object's isolate is.
  timeModel(model, [realisticStream(0, 10, 15), benchStream(5_000)]);
  const realistic = timeModel(
    model,
    Array.from({ length: containers }, (_, i) => realisticStream(i + 1, days, 15)),
  );
  const jumpy = timeModel(model, [benchStream(36_000)]);
  return { containers, days, realistic, jumpy };
}

/** `cpuMsPerReading`: the whole system's CPU per reading by scenario, from the ingest run. */
export function printModel(r, cpuMsPerReading = {}) {
  console.log(`\nThe consumption model's cost per applied reading (observe + estimate, CPU of this process)`);
  const line = (label, run) =>
    `  ${label.padEnd(58)} ${run.usPerReading.toFixed(2).padStart(6)} µs per reading (${run.readings.toLocaleString("en")} readings)`;
  console.log(
    line(`realistic: ${r.containers.toLocaleString("en")} containers × ${r.days} days, every 15 min`, r.realistic),
  );
  console.log(line("the ingest bench's stream: jumps, half of them refills", r.jumpy));
  for (const [scenario, ms] of Object.entries(cpuMsPerReading)) {
    if (!(ms > 0)) continue;
    console.log(
      `  ÷ a reading's CPU in "${scenario}" (${ms.toFixed(3)} ms): realistic ${((r.realistic.usPerReading / 1000 / ms) * 100).toFixed(2)} %   bench stream ${((r.jumpy.usPerReading / 1000 / ms) * 100).toFixed(2)} %   (target ≤ 5 %)`,
    );
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  printModel(await benchModel());
}
