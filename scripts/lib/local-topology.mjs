// How Fillgrid runs on one machine: two `wrangler dev` sessions made from wrangler.toml.
//
// - the edge (named as in wrangler.toml): the API, the dashboard, every Durable Object, the cron
//   jobs and every queue consumer but one;
// - the projector ("<name>-projector"): the same code consuming only the projection queue, its
//   Durable Object bindings pointing at the edge's objects.
//
// Why two: a wrangler dev session is one workerd process running every invocation on one thread,
// and that thread attends to network I/O only between in-process work. Under ingest load the
// projection consumer's every round trip to Postgres waited 0.3–1 s there, so the projection fell
// behind what ingest acknowledged. In production a queue consumer runs in invocations of its own,
// on whatever machine has room, never queued behind the ingest it follows; its own session gives it
// that here. The two find each other through a dev registry of their own (WRANGLER_REGISTRY_PATH,
// a directory per system, so two systems on one machine never see each other): the edge's queue
// broker hands the projection queue's messages to the projector's, and the projector's calls to the
// objects and sends to the other queues reach the edge the same way.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";

/** The binding whose queue's consumer runs in the projector session (its queue's name is wrangler.toml's). */
const PROJECTION_BINDING = "PROJECTION_QUEUE";

/**
 * The two sessions' configurations, written as JSON beside wrangler.toml (so its relative paths
 * hold) under names .gitignore keeps out. `raiseRateLimits`: every [[ratelimits]] limit raised, for
 * the benchmark, which drives one key far past them.
 * @returns {{ edge: string, projector: string, edgeName: string, projectorName: string }}
 */
export function writeLocalConfigs({
  raiseRateLimits = false,
  source = "wrangler.toml",
  prefix = ".wrangler.local",
} = {}) {
  const config = parse(readFileSync(source, "utf8"));
  if (raiseRateLimits)
    for (const limit of config.ratelimits ?? []) limit.simple = { ...limit.simple, limit: 100_000_000 };
  const consumers = config.queues?.consumers ?? [];
  const projectionQueue = config.queues?.producers?.find((p) => p.binding === PROJECTION_BINDING)?.queue;
  if (!projectionQueue || !consumers.some((c) => c.queue === projectionQueue))
    throw new Error(`${source} has no queue bound to ${PROJECTION_BINDING} with a consumer`);

  const edge = {
    ...config,
    queues: { ...config.queues, consumers: consumers.filter((c) => c.queue !== projectionQueue) },
  };
  const projectorName = `${config.name}-projector`;
  const projector = {
    name: projectorName,
    main: config.main,
    compatibility_date: config.compatibility_date,
    compatibility_flags: config.compatibility_flags,
    vars: config.vars,
    // The edge's objects (the projector declares none of its own, so it has no migrations).
    durable_objects: { bindings: config.durable_objects.bindings.map((b) => ({ ...b, script_name: config.name })) },
    send_email: config.send_email,
    r2_buckets: config.r2_buckets,
    ratelimits: config.ratelimits,
    observability: config.observability,
    queues: { producers: config.queues.producers, consumers: consumers.filter((c) => c.queue === projectionQueue) },
  };
  const paths = { edge: `${prefix}.edge.json`, projector: `${prefix}.projector.json` };
  writeFileSync(paths.edge, JSON.stringify(edge, null, 2));
  writeFileSync(paths.projector, JSON.stringify(projector, null, 2));
  return { ...paths, edgeName: config.name, projectorName };
}

/** A dev registry directory for one system's two sessions (WRANGLER_REGISTRY_PATH). */
export function privateRegistry() {
  return mkdtempSync(join(tmpdir(), "fillgrid-registry-"));
}

/**
 * Whether `name` is in the dev registry at `dir`: the projector must be there before the edge takes
 * traffic, or the edge's broker, finding no consumer, would drop the projection's messages.
 */
export function registered(dir, name) {
  try {
    return readFileSync(join(dir, name), "utf8").length > 0;
  } catch {
    return false;
  }
}
