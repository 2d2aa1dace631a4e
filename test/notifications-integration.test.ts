// Telling people: alerts reach Telegram (the Bot API stand-in, which checks each call as Telegram
// does) and email (the local send_email binding), paced, retried and archived exactly once; the
// Acknowledge button acknowledges for the linked person; repeats and escalation follow the policy.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { Alert, Condition } from "../domain/alerts";
import type { NotificationSettings } from "../domain/notifications";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  personWith,
  postReadings,
  reading,
  uniqueContainer,
} from "./helpers";

type StandInMessage = {
  message_id: number;
  chat_id: string;
  text: string;
  visible: string;
  reply_markup: { inline_keyboard: { text: string; callback_data: string }[][] } | null;
  at: number;
};
type StandInLog = {
  messages: StandInMessage[];
  requests: { at: number; status: number; description: string | null }[];
};
type Notification = {
  id: string;
  channel: string;
  target: string;
  alertId: string | null;
  kind: string;
  status: string;
  detail: string | null;
  remoteId: string | null;
  text: string;
  subject: string | null;
};
type Notifications = {
  notifications: Notification[];
  next: string | null;
  waiting: { telegram: number; email: number };
};

const telegram = () => inject("telegram").url;
const chatLog = async (chatId: string) =>
  (await (await fetch(`${telegram()}/__messages?chatId=${encodeURIComponent(chatId)}`)).json()) as StandInLog;
const chat = () => `-9${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`;

let admin: string;
let viewer: string;
let key: string;

beforeAll(async () => {
  admin = await adminToken();
  viewer = await personWith("viewer");
  key = (await deviceKey()).key;
});

const notificationsFor = async (query: string) =>
  json<Notifications>(await api(`/v1/notifications?limit=500&${query}`, { token: viewer }), 200);

describe("a silent container, end to end", () => {
  it("fires one alert (not one per minute) with one message, acknowledged from Telegram by the linked operator; a reading resolves it and says so", async () => {
    // Chats of this test's own: each test file has its own alert objects but shares Postgres and
    // the Telegram stand-in, so another file's monitor finds this container silent too and tells
    // the default chat about it under its own alert.
    const primary = chat();
    const previous = (
      await json<{ settings: NotificationSettings }>(await api("/v1/notification-settings", { token: admin }), 200)
    ).settings;
    const chats = { primary, escalation: chat() };
    await json(
      await api("/v1/notification-settings", {
        method: "PUT",
        token: admin,
        json: { settings: { ...previous, telegram: { critical: chats, warning: chats, info: chats } } },
      }),
      200,
    );
    try {
      await silentEndToEnd(primary);
    } finally {
      await json(
        await api("/v1/notification-settings", { method: "PUT", token: admin, json: { settings: previous } }),
        200,
      );
    }
    // Long: the chat is paced to a message a second, and the first runs tell it of every condition
    // the other files left in the shared Postgres before this container falls silent.
  }, 600_000);

  async function silentEndToEnd(primary: string) {
    const containerId = uniqueContainer("silent");
    await json(await postReadings(key, reading(containerId, 80)), 200);
    await json(
      await api(`/v1/containers/${containerId}`, { method: "PUT", token: admin, json: { reportIntervalSeconds: 60 } }),
      200,
    );
    const run = async () => json(await api("/v1/monitor/run", { method: "POST", token: admin }), 200);
    const alertsOf = async () =>
      (await json<{ alerts: Alert[] }>(await api("/v1/alerts?limit=500", { token: viewer }), 200)).alerts.filter(
        (a) => a.key === `silent:${containerId}`,
      );

    // Not yet silent: a minute has not passed.
    await run();
    expect(await alertsOf()).toHaveLength(0);
    const [alert] = await eventually(
      async () => {
        await run();
        const found = await alertsOf();
        return found.length > 0 ? found : undefined;
      },
      100_000,
      "the silent alert",
    );
    // More runs, two of them at once: still one alert, one message.
    await Promise.all([run(), run()]);
    await run();
    expect(await alertsOf()).toHaveLength(1);
    expect(alert).toMatchObject({ state: "firing", severity: "warning", rule: "silent", subject: containerId });

    const fired = await eventually(
      async () => (await chatLog(primary)).messages.find((m) => m.visible.includes(containerId)),
      180_000,
      "the message on Telegram",
    );
    expect(fired.visible).toContain("WARNING");
    expect(fired.visible).toContain(`${containerId} has not reported for 1 min (it reports every 1 min)`);
    // Its own message, or a summary when other containers fell silent in the same run: either way
    // a button that takes this alert.
    const button = fired.reply_markup?.inline_keyboard.flat().find((b) => b.callback_data === `ack:${alert!.id}`);
    expect(button, `a button for ${alert!.id} on ${JSON.stringify(fired)}`).toBeDefined();
    expect(button!.text).toMatch(/^Acknowledge/);

    // The button, pressed by someone not linked: told so, nothing changes.
    const press = async (fromId: number) =>
      json<{ method: string; callback_query_id: string; text: string; show_alert: boolean }>(
        await api("/v1/webhooks/telegram", {
          method: "POST",
          headers: { "X-Telegram-Bot-Api-Secret-Token": env.TELEGRAM_WEBHOOK_SECRET },
          json: {
            update_id: 1,
            callback_query: {
              id: `cq-${fromId}`,
              from: { id: fromId, is_bot: false, first_name: "A" },
              chat_instance: "1",
              data: button!.callback_data,
            },
          },
        }),
        200,
      );
    const stranger = Math.floor(Math.random() * 1e9) + 1;
    expect(await press(stranger)).toMatchObject({
      method: "answerCallbackQuery",
      callback_query_id: `cq-${stranger}`,
      show_alert: true,
      text: expect.stringContaining("not linked"),
    });
    expect((await alertsOf())[0]!.state).toBe("firing");
    // A wrong secret is refused before anything is read.
    await json(
      await api("/v1/webhooks/telegram", {
        method: "POST",
        headers: { "X-Telegram-Bot-Api-Secret-Token": "guess" },
        json: { update_id: 2 },
      }),
      401,
    );

    // Linked by an admin, the operator's press acknowledges it in their name; the chat is told who took it.
    const operatorEmail = `tg-operator-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email: operatorEmail, password: "correct horse battery", role: "operator" },
      }),
      201,
    );
    const telegramUserId = Math.floor(Math.random() * 1e9) + 1;
    const linked = await json<{ user: { telegramUserId: number } }>(
      await api(`/v1/users/${encodeURIComponent(operatorEmail)}`, {
        method: "PATCH",
        token: admin,
        json: { telegramUserId },
      }),
      200,
    );
    expect(linked.user.telegramUserId).toBe(telegramUserId);
    expect(await press(telegramUserId)).toMatchObject({ text: "Acknowledged. Repeats stop.", show_alert: false });
    expect((await alertsOf())[0]).toMatchObject({ state: "acknowledged", acknowledgedBy: operatorEmail });
    await eventually(
      async () =>
        (await chatLog(primary)).messages.find(
          (m) => m.visible.includes(`Taken by ${operatorEmail}`) && m.visible.includes(containerId),
        ),
      180_000,
      "who took it, on Telegram",
    );

    // Heard from again: resolved, and the chat is told.
    await json(await postReadings(key, reading(containerId, 79)), 200);
    await eventually(
      async () => {
        await run();
        return (await alertsOf())[0]?.state === "resolved" ? true : undefined;
      },
      30_000,
      "the resolve",
    );
    const resolved = await eventually(
      async () =>
        (await chatLog(primary)).messages.find(
          (m) => m.visible.includes(containerId) && m.visible.includes("Resolved"),
        ),
      180_000,
      "the resolve message",
    );
    expect(resolved.reply_markup).toBeNull();

    // Each of the three in the archive once, sent, with Telegram's message id (alone, or in a summary).
    const archived = await eventually(
      async () => {
        const { notifications } = await notificationsFor(`target=${encodeURIComponent(primary)}&channel=telegram`);
        const ours = notifications.filter((n) => n.alertId === alert!.id || n.text.includes(containerId));
        return ours.length >= 3 ? ours : undefined;
      },
      30_000,
      "the archive",
    );
    expect(archived.map((n) => n.kind).sort()).toEqual(["acknowledged", "fired", "resolved"]);
    expect(archived.every((n) => n.status === "sent" && n.target === primary && n.remoteId !== null)).toBe(true);
    const onTelegram = (await chatLog(primary)).messages.filter((m) => m.visible.includes(containerId));
    expect(onTelegram).toHaveLength(3);
  }

  it("one Telegram user acts for one person; a viewer linked to it cannot acknowledge", async () => {
    const a = `tg-a-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    const b = `tg-b-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    for (const email of [a, b])
      await json(
        await api("/v1/users", {
          method: "POST",
          token: admin,
          json: { email, password: "correct horse battery", role: "viewer" },
        }),
        201,
      );
    const id = Math.floor(Math.random() * 1e9) + 1;
    await json(
      await api(`/v1/users/${encodeURIComponent(a)}`, { method: "PATCH", token: admin, json: { telegramUserId: id } }),
      200,
    );
    const taken = await json<{ error: { code: string } }>(
      await api(`/v1/users/${encodeURIComponent(b)}`, { method: "PATCH", token: admin, json: { telegramUserId: id } }),
      409,
    );
    expect(taken.error.code).toBe("telegram_taken");
    const bad = await json<{ error: { issues: { path: string }[] } }>(
      await api(`/v1/users/${encodeURIComponent(b)}`, {
        method: "PATCH",
        token: admin,
        json: { telegramUserId: "me" },
      }),
      400,
    );
    expect(bad.error.issues[0]!.path).toBe("telegramUserId");
    const answer = await json<{ text: string }>(
      await api("/v1/webhooks/telegram", {
        method: "POST",
        headers: { "X-Telegram-Bot-Api-Secret-Token": env.TELEGRAM_WEBHOOK_SECRET },
        json: {
          update_id: 3,
          callback_query: { id: "cq-viewer", from: { id }, data: "ack:alr_00000000000000000000000000" },
        },
      }),
      200,
    );
    expect(answer.text).toContain("not linked to a Fillgrid operator");
  });
});

describe("repeats, escalation, acknowledgement", () => {
  it("repeats every N minutes while unacknowledged, escalates to the second chat after M repeats, stops once acknowledged, and says when it is resolved", async () => {
    // An AlertsDO of this test's own, run at chosen times: the production object's code, a clock the test controls.
    const alerts = env.ALERTS.getByName(`policy-test-${crypto.randomUUID()}`);
    const primary = chat();
    const escalation = chat();
    const oncall = `oncall-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    const settings: NotificationSettings = {
      telegram: { critical: { primary, escalation }, warning: { primary, escalation }, info: { primary, escalation } },
      email: { alerts: { critical: [oncall], warning: [], info: [] }, newErrors: [oncall] },
    };
    await alerts.setSettings(settings);
    const condition: Condition = {
      key: "overdue:ord_test",
      rule: "overdue",
      subject: "ord_test",
      severity: "critical",
      message: "order ord_test for tank-x not delivered 2 h after its ETA",
      containerId: "tank-x",
    };
    const t0 = Date.now();
    const min = 60_000;
    // Critical: a repeat every 10 minutes, escalated at the third.
    const newError = {
      id: `err_${crypto.randomUUID()}`,
      name: "TypeError",
      message: "x is undefined",
      firstSeen: new Date(t0).toISOString(),
    };
    for (const at of [0, 5, 10, 20, 30, 40]) await alerts.run([condition], t0 + at * min, at === 0 ? [newError] : []);
    const [alert] = await alerts.list({ limit: 10 });
    expect(alert).toMatchObject({ state: "firing", repeats: 4, escalated: true });
    await alerts.acknowledge(alert!.id, "oncall@fillgrid.test");
    for (const at of [50, 60, 70]) await alerts.run([condition], t0 + at * min);
    await alerts.run([], t0 + 80 * min);

    const headlines = async (chatId: string) => (await chatLog(chatId)).messages.map((m) => m.visible.split("\n")[0]);
    const onPrimary = await eventually(
      async () => {
        const h = await headlines(primary);
        return h.length >= 3 ? h : undefined;
      },
      30_000,
      "the primary chat's messages",
    );
    const onEscalation = await eventually(
      async () => {
        const h = await headlines(escalation);
        return h.length >= 4 ? h : undefined;
      },
      30_000,
      "the escalation chat's messages",
    );
    expect(onPrimary).toEqual([
      "🔴 CRITICAL",
      "🔁 CRITICAL, still firing after 10 min, not acknowledged",
      "🔁 CRITICAL, still firing after 20 min, not acknowledged",
    ]);
    expect(onEscalation).toEqual([
      "⏫ CRITICAL, escalated: not acknowledged after 30 min",
      "🔁 CRITICAL, still firing after 40 min, not acknowledged",
      "👤 Taken by oncall@fillgrid.test",
      "✅ Resolved after 1 h 20 min",
    ]);

    // By email: the new error record and the fired, escalated and resolved turns (not the repeats),
    // in one digest with whatever waited when it went; anything later waits out the 5 minutes.
    const emails = await eventually(
      async () => {
        const { notifications } = await notificationsFor(`channel=email&target=${encodeURIComponent(oncall)}`);
        return notifications.length >= 1 ? notifications : undefined;
      },
      30_000,
      "the first digest",
    );
    expect(emails.every((n) => n.status === "sent" && n.remoteId === emails[0]!.remoteId && n.remoteId !== null)).toBe(
      true,
    );
    expect(emails.map((n) => n.kind)).toContain("error");
    expect(emails.every((n) => ["error", "fired", "escalated", "resolved"].includes(n.kind))).toBe(true);
    await alerts.run([{ ...condition, key: "overdue:ord_test2", subject: "ord_test2" }], t0 + 85 * min);
    await new Promise((r) => setTimeout(r, 3000));
    const later = (await notificationsFor(`channel=email&target=${encodeURIComponent(oncall)}`)).notifications;
    expect(new Set(later.map((n) => n.remoteId)).size).toBe(1);
    expect(later.some((n) => n.subject?.includes("ord_test2"))).toBe(false);
    expect((await notificationsFor("channel=email")).waiting.email).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
