// What the code knows of wrangler.toml, checked against it: the worker cannot read the file at run
// time, so the queue names it dispatches on, the retries it counts, the cron expressions of its
// jobs and the periods of its rate limits are constants beside it, held together here.
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { JOBS } from "../workers/cron";
import { limits, loginEmailLimit } from "../workers/http/rate-limit";
import * as queues from "../workers/queues";

type Consumer = { queue: string; max_retries?: number; dead_letter_queue?: string };
const config = parse(readFileSync("wrangler.toml", "utf8")) as {
  queues: { producers: { binding: string; queue: string }[]; consumers: Consumer[] };
  triggers: { crons: string[] };
  ratelimits: { name: string; simple: { period: number } }[];
  vars: Record<string, string>;
};
const consumer = (queue: string) => config.queues.consumers.find((c) => c.queue === queue);

describe("the code and wrangler.toml agree", () => {
  it("every queue the consumers dispatch on has a consumer, and each dead-letter queue is the one its origin names", () => {
    const names = [
      queues.PROJECTION_QUEUE,
      queues.ERRORS_QUEUE,
      queues.DEAD_LETTER_QUEUE,
      queues.ERRORS_DEAD_LETTER_QUEUE,
      queues.PARKED_DEAD_LETTER_QUEUE,
      queues.PARTNER_EVENTS_QUEUE,
      queues.PARTNER_EVENTS_DEAD_LETTER_QUEUE,
      queues.BACKUP_QUEUE,
      queues.BACKUP_REPLICATION_QUEUE,
      queues.BACKUP_REPLICATION_DEAD_LETTER_QUEUE,
    ];
    expect(names.filter((q) => !consumer(q))).toEqual([]);
    expect(config.queues.consumers.map((c) => c.queue).sort()).toEqual([...names].sort());
    for (const [deadLetters, origin] of Object.entries(queues.DEAD_LETTER_ORIGIN))
      expect(consumer(origin)!.dead_letter_queue).toBe(deadLetters);
    expect(config.queues.producers.find((p) => p.binding === "PROJECTION_QUEUE")!.queue).toBe(queues.PROJECTION_QUEUE);
  });

  it("a partner event is tried as often as the code says", () => {
    expect(consumer(queues.PARTNER_EVENTS_QUEUE)!.max_retries).toBe(queues.PARTNER_MAX_RETRIES);
  });

  it("every cron trigger has its job, and the regular reconciliation's interval is its cron's", () => {
    expect(Object.keys(JOBS).sort()).toEqual([...config.triggers.crons].sort());
    expect(config.triggers.crons).toContain(`*/${Number(config.vars.RECONCILE_EVERY_SECONDS) / 60} * * * *`);
  });

  it("each rate limit's period is the one its refusal tells the caller to wait", () => {
    const period = (name: string) => config.ratelimits.find((l) => l.name === name)!.simple.period;
    const bindingName = (limit: { binding: (env: Env) => RateLimit }) => {
      // The binding a limit reads, found by handing it an Env whose bindings are their own names.
      const names = new Proxy({}, { get: (_t, key) => key }) as unknown as Env;
      return limit.binding(names) as unknown as string;
    };
    for (const limit of [...Object.values(limits), loginEmailLimit("someone@fillgrid.test")]) {
      expect(limit.periodSeconds, bindingName(limit)).toBe(period(bindingName(limit)));
    }
  });
});
