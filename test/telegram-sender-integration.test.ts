// The Notifier's Telegram sender against the Bot API stand-in (which checks each call as Telegram
// does): paced to one message a second per chat, held for a 429's retry_after, a 403 failed for good
// with an error record, each message archived exactly once however often it is handed over.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { alertTelegramText, type OutboundMessage } from "../domain/notifications";
import { adminToken, api, eventually, json, personWith } from "./helpers";
import { anAlert } from "./support/alerts";

type StandInLog = { messages: { visible: string; at: number }[]; requests: { at: number; status: number }[] };
type Notification = { id: string; target: string; status: string; detail: string | null; attempts: number };

const telegram = () => inject("telegram").url;
const chatLog = async (chatId: string) =>
  (await (await fetch(`${telegram()}/__messages?chatId=${encodeURIComponent(chatId)}`)).json()) as StandInLog;
const control = (body: unknown) => fetch(`${telegram()}/__control`, { method: "POST", body: JSON.stringify(body) });
const chat = () => `-9${String(Math.floor(Math.random() * 1e12)).padStart(12, "0")}`;

let admin: string;
let viewer: string;

beforeAll(async () => {
  admin = await adminToken();
  viewer = await personWith("viewer");
});

const notificationsFor = async (query: string) =>
  json<{ notifications: Notification[] }>(await api(`/v1/notifications?limit=500&${query}`, { token: viewer }), 200);

describe("the Telegram sender", () => {
  it("sends 25 messages to one chat at most one a second; a 429 holds its chat for retry_after and loses nothing; a 403 fails with an error record; each ends in the archive once", async () => {
    const busy = chat();
    const limited = chat();
    const blocked = chat();
    await control({ chatId: limited, tooManyRequests: { retryAfter: 3, times: 1 } });
    await control({ chatId: blocked, mode: "blocked" });
    const fake = (i: number) =>
      anAlert({
        id: `alr_${String(i).padStart(26, "0")}`,
        key: `battery:tank-${i}`,
        subject: `tank-${i}`,
        message: `tank-${i} <north> & "yard" battery at ${i % 15} %`,
        firedAt: new Date().toISOString(),
      });
    const run = crypto.randomUUID().slice(0, 8);
    const message = (i: number, target: string): OutboundMessage => ({
      id: `tg_test_${run}_${target}_${i}`,
      channel: "telegram",
      target,
      alertId: null,
      kind: "fired",
      text: alertTelegramText(fake(i), "fired", Date.now(), "https://fillgrid.example"),
      acks: [{ alertId: fake(i).id, label: "Acknowledge" }],
    });
    const batch = [...Array.from({ length: 25 }, (_, i) => message(i, busy)), message(0, limited), message(0, blocked)];
    const notifier = env.NOTIFIER.getByName("notifier");
    expect((await notifier.accept(batch)).accepted).toBe(27);
    // Handed over again (a retried hand-over): nothing new.
    expect((await notifier.accept(batch.slice(0, 10))).accepted).toBe(0);

    const delivered = await eventually(
      async () => {
        const log = await chatLog(busy);
        return log.messages.length >= 25 ? log.messages : undefined;
      },
      180_000,
      "25 messages",
    );
    expect(delivered).toHaveLength(25);
    expect(delivered[0]!.visible).toContain('tank-0 <north> & "yard" battery at 0 %');
    const gaps = delivered.slice(1).map((m, i) => m.at - delivered[i]!.at);
    // Paced from Telegram's last answer: as the stand-in received them, a second apart (within its clock's jitter).
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950);
    expect(delivered.at(-1)!.at - delivered[0]!.at).toBeGreaterThanOrEqual(24 * 990);

    const limitedLog = await chatLog(limited);
    expect(limitedLog.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(limitedLog.requests[1]!.at - limitedLog.requests[0]!.at).toBeGreaterThanOrEqual(2900);
    expect(limitedLog.messages).toHaveLength(1);

    expect((await chatLog(blocked)).requests.map((r) => r.status)).toEqual([403]);
    const failed = await eventually(
      async () => (await notificationsFor(`target=${encodeURIComponent(blocked)}`)).notifications[0],
      20_000,
      "the failed message archived",
    );
    expect(failed).toMatchObject({ status: "failed", detail: "403: Forbidden: bot was blocked by the user" });
    await eventually(
      async () => {
        const { errors } = await json<{ errors: { message: string }[] }>(
          await api("/v1/errors?status=open&limit=200", { token: admin }),
          200,
        );
        return errors.find((e) => e.message.includes(`chat ${blocked}`));
      },
      20_000,
      "the error record",
    );

    // The archive: every message once, all sent but the blocked one.
    const archived = (await notificationsFor(`target=${encodeURIComponent(busy)}`)).notifications;
    expect(archived).toHaveLength(25);
    expect(new Set(archived.map((n) => n.id)).size).toBe(25);
    expect(archived.every((n) => n.status === "sent")).toBe(true);
    expect((await notificationsFor(`target=${encodeURIComponent(limited)}`)).notifications).toMatchObject([
      { status: "sent", attempts: 2 },
    ]);
    // And once archived, a hand-over of the same ids is still nothing new.
    expect((await notifier.accept(batch)).accepted).toBe(0);
  }, 240_000);
});
