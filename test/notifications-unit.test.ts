// What people read and when: alert messages in Telegram's HTML (escaped, within 4096 characters),
// the Acknowledge button's data, who is told by default, and the email digest's pacing and content.
import { describe, expect, it } from "vitest";
import type { Alert } from "../domain/alerts";
import { anAlert } from "./support/alerts";
import {
  ackData,
  alertOfAckData,
  alertTelegramText,
  defaultSettings,
  digestOf,
  DIGEST_INTERVAL_MS,
  emailed,
  GROUP_OVER,
  isChatId,
  SUMMARY_ALERTS,
  nextDigestAt,
  offersAck,
  summaryInWords,
  summaryOf,
  telegramMessages,
} from "../domain/notifications";
import { TELEGRAM_MAX_TEXT } from "../domain/telegram";

const alert = (over: Partial<Alert> = {}) =>
  anAlert({ key: "silent:tank-1", rule: "silent", message: "North <yard> & co (tank-1) silent for 70 min", ...over });
const at = (iso: string) => Date.parse(iso);

describe("alert messages", () => {
  it("escape what comes from the data and keep Telegram's tags", () => {
    const text = alertTelegramText(alert(), "fired", at("2026-12-01T10:00:00Z"), "https://fillgrid.example/");
    expect(text).toBe(
      '<b>🟠 WARNING</b>\nNorth &lt;yard&gt; &amp; co (tank-1) silent for 70 min\n<i>silent · tank-1</i>\n<a href="https://fillgrid.example/alerts?id=alr_01JABCDEFGHJKMNPQRSTVWXYZ0">Open in Fillgrid</a>',
    );
  });

  it("say how long for repeats, escalations and resolves, and who took it", () => {
    const now = at("2026-12-01T11:20:00Z");
    expect(alertTelegramText(alert(), "repeat", now, null).split("\n")[0]).toBe(
      "<b>🔁 WARNING, still firing after 1 h 20 min, not acknowledged</b>",
    );
    expect(
      alertTelegramText(alert({ severity: "critical" }), "escalated", at("2026-12-01T10:30:00Z"), null).split("\n")[0],
    ).toBe("<b>⏫ CRITICAL, escalated: not acknowledged after 30 min</b>");
    expect(alertTelegramText(alert({ acknowledgedBy: "ann@x.test" }), "acknowledged", now, null).split("\n")[0]).toBe(
      "<b>👤 Taken by ann@x.test</b>",
    );
    expect(alertTelegramText(alert(), "resolved", at("2026-12-01T12:00:00Z"), null).split("\n")[0]).toBe(
      "<b>✅ Resolved after 2 h</b>",
    );
  });

  it("stay within 4096 characters however long the condition's message", () => {
    const text = alertTelegramText(alert({ message: "&".repeat(5000) }), "fired", 0, null);
    expect(text.length).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
    expect(text).not.toMatch(/&a?m?p?…$/);
  });

  it("offer the button while someone can act, and email only the turns that matter", () => {
    expect(["fired", "repeat", "escalated", "acknowledged", "resolved"].filter((k) => offersAck(k as never))).toEqual([
      "fired",
      "repeat",
      "escalated",
    ]);
    expect(
      ["fired", "repeat", "escalated", "acknowledged", "resolved", "error"].filter((k) => emailed(k as never)),
    ).toEqual(["fired", "escalated", "resolved"]);
  });
});

describe("the Acknowledge button", () => {
  it("carries the alert id within Telegram's 64 bytes, and only that is taken back", () => {
    const data = ackData("alr_01JABCDEFGHJKMNPQRSTVWXYZ0");
    expect(new TextEncoder().encode(data).length).toBeLessThanOrEqual(64);
    expect(alertOfAckData(data)).toBe("alr_01JABCDEFGHJKMNPQRSTVWXYZ0");
    for (const bad of [
      undefined,
      "",
      "ack:",
      "ack:alr_short",
      "nack:alr_01JABCDEFGHJKMNPQRSTVWXYZ0",
      "ack:alr_01JABCDEFGHJKMNPQRSTVWXYZ0x",
    ])
      expect(alertOfAckData(bad)).toBeNull();
  });
});

describe("settings", () => {
  it("send every severity to the configured chats, escalations to the primary when no second chat is set", () => {
    expect(defaultSettings({ TELEGRAM_CHAT_ID: "-100", ALERT_EMAILS: "a@x.test, b@x.test", ERROR_EMAILS: "" })).toEqual(
      {
        telegram: {
          critical: { primary: "-100", escalation: "-100" },
          warning: { primary: "-100", escalation: "-100" },
          info: { primary: "-100", escalation: "-100" },
        },
        email: { alerts: { critical: ["a@x.test", "b@x.test"], warning: [], info: [] }, newErrors: [] },
      },
    );
    expect(defaultSettings({}).telegram.critical).toEqual({ primary: null, escalation: null });
  });

  it("know a Telegram chat id", () => {
    for (const ok of ["-1001234567890", "12345", "@fillgrid_ops"]) expect(isChatId(ok)).toBe(true);
    for (const bad of ["", "ops", "@ab", "-12a", "1".repeat(21)]) expect(isChatId(bad)).toBe(false);
  });
});

describe("email digests", () => {
  it("go at once to a recipient not written to in the last 5 minutes, else when the 5 minutes are up", () => {
    expect(nextDigestAt(null, 1000)).toBe(1000);
    expect(nextDigestAt(0, 60_000)).toBe(DIGEST_INTERVAL_MS);
    expect(nextDigestAt(0, DIGEST_INTERVAL_MS + 1)).toBe(DIGEST_INTERVAL_MS + 1);
  });

  it("hold every item waiting, oldest first, escaped in the HTML part", () => {
    const digest = digestOf(
      [
        { subject: "second", text: "b <2>", queuedAt: 2000 },
        { subject: "first", text: "a & 1", queuedAt: 1000 },
      ],
      "https://fillgrid.example",
    );
    expect(digest.subject).toBe("Fillgrid: 2 notices, the first: first");
    expect(digest.text.indexOf("a & 1")).toBeLessThan(digest.text.indexOf("b <2>"));
    expect(digest.html).toContain("a &amp; 1");
    expect(digest.html).toContain("b &lt;2&gt;");
    expect(digest.html).toContain('href="https://fillgrid.example/alerts"');
    expect(digestOf([{ subject: "only", text: "x", queuedAt: 0 }], null).subject).toBe("Fillgrid: only");
  });
});

describe("many at once", () => {
  const notice = (i: number, over: Partial<Alert> = {}, chat = "-100") => ({
    id: `tg_${i}`,
    chat,
    kind: "fired" as const,
    alert: alert({
      id: `alr_${String(i).padStart(26, "0")}`,
      key: `noPartner:ord_${i}`,
      rule: "noPartner",
      subject: `ord_${i}`,
      message: `order ord_${i} for tank-${i} has no partner <to> deliver it`,
      ...over,
    }),
  });

  it("resolved ones in a summary offer no button: nothing is left to take", () => {
    const out = telegramMessages(
      Array.from({ length: 5 }, (_, i) => ({ ...notice(i), kind: "resolved" as const })),
      0,
      null,
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.acks).toEqual([]);
  });

  it("a card acknowledged whole is one line per chat and rule, however many it held", () => {
    const out = telegramMessages(
      Array.from({ length: 119 }, (_, i) => ({
        ...notice(i, { state: "acknowledged", acknowledgedBy: "ann@x.test" }),
        kind: "acknowledged" as const,
      })),
      0,
      null,
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ text: "<b>👤 ann@x.test acknowledged 119 alerts · noPartner</b>", acks: [] });
  });

  it("a summary says in words what it was, as the list of messages sent shows it; a message about one alert is no summary", () => {
    const [taken] = telegramMessages(
      Array.from({ length: 12 }, (_, i) => ({
        ...notice(i, { state: "acknowledged", acknowledgedBy: "ann&bob@x.test" }),
        kind: "acknowledged" as const,
      })),
      0,
      null,
    );
    expect(summaryOf(taken!.text)).toEqual({ count: 12, rule: "noPartner", by: "ann&bob@x.test" });
    expect(summaryInWords(taken!.kind, taken!.text)).toBe(
      "acknowledged 12 alerts of Orders with no partner · by ann&bob@x.test",
    );
    const turns = (["fired", "repeat", "escalated", "resolved"] as const).map(
      (kind) =>
        telegramMessages(
          Array.from({ length: 15 }, (_, i) => ({ ...notice(i), kind })),
          0,
          null,
        )[0]!,
    );
    expect(turns.map((m) => summaryInWords(m.kind, m.text))).toEqual([
      "fired 15 alerts of Orders with no partner",
      "repeated 15 alerts of Orders with no partner",
      "escalated 15 alerts of Orders with no partner",
      "resolved 15 alerts of Orders with no partner",
    ]);
    const [one] = telegramMessages([notice(1)], 0, null);
    expect(summaryOf(one!.text)).toBeNull();
    expect(summaryInWords(one!.kind, one!.text)).toBeNull();
  });

  it("a few go one by one, each with its button", () => {
    const out = telegramMessages(
      Array.from({ length: GROUP_OVER }, (_, i) => notice(i)),
      0,
      null,
    );
    expect(out).toHaveLength(GROUP_OVER);
    expect(out.map((m) => m.acks)).toEqual(out.map((m) => [{ alertId: m.alertId, label: "Acknowledge" }]));
  });

  it("more of one rule and turn to one chat go as summaries of at most 10 within 4096 characters, every alert in one of them once with its own button", () => {
    const notices = Array.from({ length: 200 }, (_, i) => notice(i));
    const out = telegramMessages(
      [...notices, notice(900, {}, "-200"), notice(901, { rule: "silent", key: "silent:x", message: "x silent" })],
      0,
      "https://fillgrid.example",
    );
    const summaries = out.filter((m) => m.target === "-100" && m.alertId === null);
    expect(summaries).toHaveLength(200 / SUMMARY_ALERTS);
    for (const m of summaries) {
      expect(m.text.length).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
      expect(m.text.startsWith("<b>🟠 WARNING ×200 · noPartner</b>\n")).toBe(true);
      expect(m.text).toContain('<a href="https://fillgrid.example/alerts">Open them in Fillgrid</a>');
      // A button for each alert the message lists, naming its subject.
      const inText = [...m.text.matchAll(/order (ord_\d+) for/g)].map((x) => x[1]);
      expect(m.acks.map((b) => b.label)).toEqual(inText.map((subject) => `Acknowledge ${subject}`));
    }
    const listed = summaries.flatMap((m) => [...m.text.matchAll(/order (ord_\d+) for/g)].map((x) => x[1]));
    expect(listed).toEqual(notices.map((n) => n.alert.subject));
    expect(summaries.flatMap((m) => m.acks.map((b) => b.alertId))).toEqual(notices.map((n) => n.alert.id));
    expect(summaries[0]!.text).toContain("has no partner &lt;to&gt; deliver it");
    // Stable ids: the same notices handed over again make the same messages.
    expect(telegramMessages(notices, 0, "https://fillgrid.example").map((m) => m.id)).toEqual(
      summaries.map((m) => m.id),
    );
    // Another chat, another rule: on their own.
    expect(out.filter((m) => m.alertId !== null).map((m) => m.alertId)).toEqual([
      notice(900).alert.id,
      notice(901).alert.id,
    ]);
  });
});
