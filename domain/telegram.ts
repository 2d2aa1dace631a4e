// What the Notifier sends to Telegram's Bot API and when: messages in HTML parse mode (escaped, at
// most 4096 characters), at most one per second per chat and 25 per second in all, a chat held back
// for the `retry_after` seconds a 429 names. Pure: the Notifier's alarm loop asks `due` what to send.

export const TELEGRAM_MAX_TEXT = 4096;
export const PER_CHAT_INTERVAL_MS = 1000;
export const GLOBAL_PER_SECOND = 25;

/** Text for `parse_mode: "HTML"`: only &, < and > need escaping there. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A message body within Telegram's limit; cut at the limit with an ellipsis, never inside an entity. */
export function withinLimit(html: string): string {
  if (html.length <= TELEGRAM_MAX_TEXT) return html;
  let cut = html.slice(0, TELEGRAM_MAX_TEXT - 1);
  const amp = cut.lastIndexOf("&");
  if (amp > cut.lastIndexOf(";")) cut = cut.slice(0, amp);
  return `${cut}…`;
}

export interface Pending {
  id: string;
  chatId: string;
  /** When it was queued (ms): oldest first within a chat. */
  queuedAt: number;
}

export interface ChatPace {
  /** When this chat was last sent to (ms), or null. */
  lastSentAt: number | null;
  /** A 429's retry_after: nothing to this chat before this time (ms). */
  holdUntil: number | null;
}

/**
 * What may be sent at `now`, in order: the oldest pending message of each chat that is neither held
 * nor sent to within the last second, oldest chats first, at most `GLOBAL_PER_SECOND` minus what was
 * sent in the last second overall (`sentLastSecond`).
 */
export function due(
  pending: readonly Pending[],
  paces: ReadonlyMap<string, ChatPace>,
  now: number,
  sentLastSecond: number,
): Pending[] {
  const budget = Math.max(0, GLOBAL_PER_SECOND - sentLastSecond);
  const oldest = new Map<string, Pending>();
  for (const p of pending) {
    const known = oldest.get(p.chatId);
    if (!known || p.queuedAt < known.queuedAt || (p.queuedAt === known.queuedAt && p.id < known.id))
      oldest.set(p.chatId, p);
  }
  const ready = [...oldest.values()].filter((p) => {
    const pace = paces.get(p.chatId);
    if (!pace) return true;
    if (pace.holdUntil !== null && pace.holdUntil > now) return false;
    return pace.lastSentAt === null || now - pace.lastSentAt >= PER_CHAT_INTERVAL_MS;
  });
  return ready.sort((a, b) => a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : 1)).slice(0, budget);
}

/** What Telegram's answer means for the message and its chat. */
export type Verdict =
  { outcome: "sent" } | { outcome: "retry"; holdUntil: number } | { outcome: "failed"; reason: string };

export function verdictOf(
  status: number,
  body: { ok?: boolean; description?: string; parameters?: { retry_after?: number } } | null,
  now: number,
): Verdict {
  if (status === 200 && body?.ok) return { outcome: "sent" };
  if (status === 429)
    return { outcome: "retry", holdUntil: now + Math.max(1, body?.parameters?.retry_after ?? 1) * 1000 };
  // 400 (chat not found, bad request) and 403 (bot blocked, kicked) will not get better by trying again.
  if (status === 400 || status === 403)
    return { outcome: "failed", reason: `${status}: ${body?.description ?? "refused"}` };
  return { outcome: "retry", holdUntil: now + 5000 };
}
