// Telegram's pacing and answers: ≤ 1 message per second per chat, ≤ 25 per second in all, a 429
// holds its chat for retry_after, 400/403 fail for good; HTML escaped and within 4096 characters.
import { describe, expect, it } from "vitest";
import { due, escapeHtml, verdictOf, withinLimit, type ChatPace, type Pending } from "../domain/telegram";

/** Simulate the sender ticking every 100 ms until every message is sent; returns each send's time. */
function drain(pending: Pending[], answer: (p: Pending, now: number) => number = () => 200) {
  const paces = new Map<string, ChatPace>();
  const sends: { id: string; chatId: string; at: number }[] = [];
  let queue = [...pending];
  for (let now = 0; queue.length > 0 && now < 600_000; now += 100) {
    const lastSecond = sends.filter((s) => now - s.at < 1000).length;
    for (const p of due(queue, paces, now, lastSecond)) {
      const status = answer(p, now);
      const verdict = verdictOf(
        status,
        status === 200 ? { ok: true } : { ok: false, parameters: { retry_after: 3 } },
        now,
      );
      const pace = paces.get(p.chatId) ?? { lastSentAt: null, holdUntil: null };
      if (verdict.outcome === "retry") paces.set(p.chatId, { ...pace, holdUntil: verdict.holdUntil });
      else {
        paces.set(p.chatId, { lastSentAt: now, holdUntil: null });
        sends.push({ id: p.id, chatId: p.chatId, at: now });
        queue = queue.filter((q) => q.id !== p.id);
      }
    }
  }
  return sends;
}

const messages = (n: number, chatId: string, prefix = chatId): Pending[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i).padStart(3, "0")}`, chatId, queuedAt: i }));

describe("pacing", () => {
  it("100 messages for one chat go out at most one per second, in order, all of them", () => {
    const sends = drain(messages(100, "ops"));
    expect(sends.map((s) => s.id)).toEqual(messages(100, "ops").map((m) => m.id));
    for (let i = 1; i < sends.length; i++) expect(sends[i]!.at - sends[i - 1]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("many chats share at most 25 messages a second", () => {
    const pending = Array.from({ length: 60 }, (_, c) => messages(2, `chat-${c}`)).flat();
    const sends = drain(pending);
    expect(sends).toHaveLength(120);
    for (const s of sends)
      expect(sends.filter((t) => t.at > s.at - 1000 && t.at <= s.at).length).toBeLessThanOrEqual(25);
  });

  it("a 429 with retry_after 3 holds that chat 3 s and loses nothing", () => {
    let refused = false;
    const sends = drain(messages(3, "ops"), (p) => {
      if (p.id === "ops-001" && !refused) {
        refused = true;
        return 429;
      }
      return 200;
    });
    expect(sends.map((s) => s.id)).toEqual(["ops-000", "ops-001", "ops-002"]);
    expect(sends[1]!.at - sends[0]!.at).toBeGreaterThanOrEqual(4000);
  });
});

describe("answers and text", () => {
  it("400 and 403 fail for good; 429 and 5xx are tried again", () => {
    expect(verdictOf(403, { ok: false, description: "Forbidden: bot was blocked by the user" }, 0)).toEqual({
      outcome: "failed",
      reason: "403: Forbidden: bot was blocked by the user",
    });
    expect(verdictOf(400, { ok: false, description: "Bad Request: chat not found" }, 0).outcome).toBe("failed");
    expect(verdictOf(429, { ok: false, parameters: { retry_after: 3 } }, 1000)).toEqual({
      outcome: "retry",
      holdUntil: 4000,
    });
    expect(verdictOf(502, null, 0).outcome).toBe("retry");
  });

  it("escapes HTML and keeps within 4096 characters without cutting an entity", () => {
    expect(escapeHtml("fill < 15 & falling > fast")).toBe("fill &lt; 15 &amp; falling &gt; fast");
    const long = withinLimit(`${"x".repeat(4093)}&amp;tail`);
    expect(long.length).toBeLessThanOrEqual(4096);
    expect(long.endsWith("x…")).toBe(true);
  });
});
