// The Notifier's email retries, driven directly: a digest that fails is tried again a minute after
// that failure, then two minutes after the next, then given up; a message that arrived while a
// digest was on its way is not counted as tried.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EMAIL_ATTEMPTS, emailRetryAt, type OutboundMessage } from "../domain/notifications";
import type { Notifier } from "../durable-objects/notifier";

const email = (id: string, to: string): OutboundMessage => ({
  id,
  channel: "email",
  target: to,
  alertId: null,
  kind: "error",
  subject: `subject ${id}`,
  text: `text ${id}`,
});

afterEach(() => {
  vi.useRealTimers();
});

describe("emailRetryAt", () => {
  it("backs off from the failed attempt: 1 minute, then 2", () => {
    expect(emailRetryAt(1, 1_000_000)).toBe(1_060_000);
    expect(emailRetryAt(2, 5_000_000)).toBe(5_120_000);
  });
});

describe("the Notifier's email digests", () => {
  it("a digest that keeps failing is tried again after 1 minute, then 2, each from the attempt before, then given up once", async () => {
    const stub = env.NOTIFIER.getByName(`email-retries-${crypto.randomUUID()}`);
    const to = "oncall@fillgrid.test";
    const start = Date.parse("2026-12-05T10:00:00Z");
    const attempts: number[] = [];
    // The object's email binding, refusing every message (as an unverified recipient would be) and
    // noting when it was asked; the first time, another message arrives while the send is on its way.
    await runInDurableObject(stub, (instance: Notifier) => {
      const bindings = (instance as unknown as { env: Env }).env;
      Object.assign(instance, {
        env: {
          ...bindings,
          EMAIL: {
            send: async () => {
              attempts.push(Date.now());
              if (attempts.length === 1) await instance.accept([email("late", to)]);
              throw new Error("recipient not verified");
            },
          },
        },
      });
    });
    const at = (ms: number) => vi.useFakeTimers({ now: start + ms, toFake: ["Date"] });
    at(0);
    await stub.accept([email("first", to)]);
    const outbox = () =>
      runInDurableObject(stub, (_i: Notifier, state) =>
        state.storage.sql
          .exec<{ id: string; attempts: number; next_attempt_at: number | null }>(
            "SELECT id, attempts, next_attempt_at FROM outbox ORDER BY id",
          )
          .toArray(),
      );

    await runDurableObjectAlarm(stub);
    expect(attempts).toEqual([start]);
    // Only the message the digest carried counts as tried; the one that came meanwhile does not.
    expect(await outbox()).toEqual([
      { id: "first", attempts: 1, next_attempt_at: start + 60_000 },
      { id: "late", attempts: 0, next_attempt_at: null },
    ]);

    // Half a minute later: too early.
    at(30_000);
    await stub.wake();
    await runDurableObjectAlarm(stub);
    expect(attempts).toHaveLength(1);

    // A minute after the failure: the second attempt (with both messages), which fails too.
    at(61_000);
    await stub.wake();
    await runDurableObjectAlarm(stub);
    expect(attempts).toEqual([start, start + 61_000]);
    expect((await outbox()).map((r) => [r.id, r.attempts, r.next_attempt_at])).toEqual([
      ["first", 2, start + 61_000 + 120_000],
      ["late", 2, start + 61_000 + 120_000],
    ]);

    // A minute after that: still waiting (two minutes, counted from the second attempt).
    at(122_000);
    await stub.wake();
    await runDurableObjectAlarm(stub);
    expect(attempts).toHaveLength(2);

    // Two minutes after the second attempt: the third and last, then given up, each message archived once.
    at(182_000);
    await stub.wake();
    await runDurableObjectAlarm(stub);
    expect(attempts).toHaveLength(EMAIL_ATTEMPTS);
    expect(await outbox()).toEqual([]);
    const archived = await stub.archive({ channel: "email", limit: 10 });
    expect(archived.map((m) => [m.id, m.status, m.attempts]).sort()).toEqual([
      ["first", "failed", 3],
      ["late", "failed", 3],
    ]);
  });
});
