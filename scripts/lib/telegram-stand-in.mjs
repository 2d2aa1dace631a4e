// A local stand-in for Telegram's Bot API, for tests and `npm run dev` (Telegram cannot be reached
// from here). It checks each call as Telegram does and answers in its shapes:
//   POST /bot<token>/sendMessage   chat_id, text (1–4096 characters after HTML entities are parsed),
//        parse_mode (HTML: only Telegram's tags, balanced, & < > escaped), reply_markup's
//        inline_keyboard (callback_data 1–64 bytes); 401 for another token, 400 "chat not found" or
//        403 "bot was blocked by the user" for chats told so, 429 with parameters.retry_after when told.
//   POST /bot<token>/setWebhook    url, secret_token: where a button press is delivered.
//   POST /__control  {chatId, mode?: "ok" | "blocked" | "missing", tooManyRequests?: {retryAfter, times}}
//   POST /__press    {chatId, messageId, fromId, buttonIndex?}  a person presses a message's inline
//        button: the callback_query Update goes to the webhook with X-Telegram-Bot-Api-Secret-Token,
//        and the webhook's answer (answerCallbackQuery as the reply) comes back.
//   GET  /__messages?chatId=…   {messages: [{message_id, chat_id, text, reply_markup, at}], requests: [{at, status, description}]}
// Written here because no library of the field emulates the Bot API; the checks follow
// https://core.telegram.org/bots/api (sendMessage, formatting options, InlineKeyboardButton).
import { createServer } from "node:http";

const TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "span",
  "tg-spoiler",
  "a",
  "code",
  "pre",
  "blockquote",
  "tg-emoji",
]);
const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"' };

/** Telegram's HTML parse mode: the visible text, or the reason it "can't parse entities". */
export function parseTelegramHtml(html) {
  const open = [];
  let text = "";
  for (let i = 0; i < html.length;) {
    const c = html[i];
    if (c === "<") {
      const end = html.indexOf(">", i);
      if (end < 0) return { error: `Unclosed start tag at byte offset ${i}` };
      const raw = html.slice(i + 1, end);
      const m = /^(\/?)([a-z-]+)(\s[^]*)?$/.exec(raw);
      if (!m) return { error: `Unsupported start tag "${raw}" at byte offset ${i}` };
      const [, closing, name, attrs] = m;
      if (!TAGS.has(name)) return { error: `Unsupported start tag "${name}" at byte offset ${i}` };
      if (closing) {
        if (open.pop() !== name)
          return {
            error: `Unmatched end tag at byte offset ${i}, expected "</${open.at(-1) ?? ""}>", found "</${name}>"`,
          };
      } else {
        if (name === "a" && !/^\s+href="[^"]*"\s*$/.test(attrs ?? ""))
          return { error: `Can't find href of the link at byte offset ${i}` };
        open.push(name);
      }
      i = end + 1;
      continue;
    }
    if (c === "&") {
      const m = /^&(#\d+|#x[0-9a-f]+|[a-z]+);/i.exec(html.slice(i));
      if (!m) return { error: `Unsupported unescaped "&" at byte offset ${i}` };
      const name = m[1];
      if (name.startsWith("#"))
        text += String.fromCodePoint(name[1] === "x" ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
      else if (ENTITIES[name] !== undefined) text += ENTITIES[name];
      else return { error: `Unsupported HTML entity "&${name};" at byte offset ${i}` };
      i += m[0].length;
      continue;
    }
    if (c === ">") return { error: `Unsupported unescaped ">" at byte offset ${i}` };
    text += c;
    i++;
  }
  if (open.length > 0) return { error: `Can't find end tag corresponding to start tag "${open.at(-1)}"` };
  return { text };
}

function checkKeyboard(markup) {
  if (markup === undefined) return null;
  const rows = markup?.inline_keyboard;
  if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r)))
    return 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays';
  for (const button of rows.flat()) {
    if (typeof button?.text !== "string" || button.text === "")
      return "Bad Request: text buttons are unallowed in the inline keyboard";
    const data = button.callback_data;
    if (data !== undefined && (typeof data !== "string" || Buffer.byteLength(data) < 1 || Buffer.byteLength(data) > 64))
      return "Bad Request: BUTTON_DATA_INVALID";
  }
  return null;
}

/** @param {{ port?: number, token: string, log?: (line: string) => void }} options */
export async function startTelegramStandIn({ port = 0, token, log = () => {} }) {
  const chats = new Map(); // chatId -> { mode, tooMany: {retryAfter, times}, messages: [], requests: [] }
  const chat = (id) => {
    const key = String(id);
    if (!chats.has(key)) chats.set(key, { mode: "ok", tooMany: null, messages: [], requests: [] });
    return chats.get(key);
  };
  let webhook = null; // { url, secret }
  let nextMessageId = 1;

  function sendMessage(p) {
    const fail = (error_code, description, extra = {}) => [
      error_code,
      { ok: false, error_code, description, ...extra },
    ];
    if (p.chat_id === undefined || p.chat_id === "") return fail(400, "Bad Request: chat_id is empty");
    if (!/^(-?\d+|@[A-Za-z][A-Za-z0-9_]{4,31})$/.test(String(p.chat_id)))
      return fail(400, "Bad Request: chat not found");
    const c = chat(p.chat_id);
    const answer = (() => {
      if (c.tooMany && c.tooMany.times > 0) {
        c.tooMany.times--;
        return fail(429, `Too Many Requests: retry after ${c.tooMany.retryAfter}`, {
          parameters: { retry_after: c.tooMany.retryAfter },
        });
      }
      if (c.mode === "missing") return fail(400, "Bad Request: chat not found");
      if (c.mode === "blocked") return fail(403, "Forbidden: bot was blocked by the user");
      if (typeof p.text !== "string" || p.text.trim() === "") return fail(400, "Bad Request: message text is empty");
      let visible = p.text;
      if (p.parse_mode !== undefined) {
        if (p.parse_mode !== "HTML")
          return fail(400, `Bad Request: unsupported parse_mode "${p.parse_mode}" (this stand-in checks HTML only)`);
        const parsed = parseTelegramHtml(p.text);
        if (parsed.error) return fail(400, `Bad Request: can't parse entities: ${parsed.error}`);
        visible = parsed.text;
      }
      if ([...visible].length > 4096) return fail(400, "Bad Request: message is too long");
      const keyboard = checkKeyboard(p.reply_markup);
      if (keyboard) return fail(400, keyboard);
      const message = {
        message_id: nextMessageId++,
        chat_id: String(p.chat_id),
        text: p.text,
        visible,
        reply_markup: p.reply_markup ?? null,
        at: Date.now(),
      };
      c.messages.push(message);
      log(`${message.chat_id} ← ${visible.split("\n")[0]}`);
      return [
        200,
        {
          ok: true,
          result: {
            message_id: message.message_id,
            chat: { id: Number(p.chat_id) || p.chat_id },
            date: Math.floor(message.at / 1000),
            text: visible,
          },
        },
      ];
    })();
    c.requests.push({ at: Date.now(), status: answer[0], description: answer[1].description ?? null });
    return answer;
  }

  async function press({ chatId, messageId, fromId, buttonIndex = 0 }) {
    const message = chat(chatId).messages.find((m) => m.message_id === messageId);
    if (!message) return [404, { error: "no such message" }];
    const button = message.reply_markup?.inline_keyboard?.flat()[buttonIndex];
    if (!button?.callback_data) return [400, { error: "that message has no such button" }];
    if (!webhook) return [409, { error: "no webhook set (setWebhook)" }];
    const update = {
      update_id: nextMessageId++,
      callback_query: {
        id: String(Date.now()) + String(Math.random()).slice(2, 8),
        from: { id: fromId, is_bot: false, first_name: "Stand-in" },
        message: {
          message_id: message.message_id,
          chat: { id: Number(chatId) || chatId },
          date: Math.floor(message.at / 1000),
          text: message.visible,
        },
        chat_instance: String(chatId),
        data: button.callback_data,
      },
    };
    const res = await fetch(webhook.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(webhook.secret ? { "X-Telegram-Bot-Api-Secret-Token": webhook.secret } : {}),
      },
      body: JSON.stringify(update),
    });
    const text = await res.text();
    let reply;
    try {
      reply = JSON.parse(text);
    } catch {
      reply = text;
    }
    // Telegram takes a method given as the reply, if it is one it knows, with its parameters.
    const problems = [];
    if (reply && typeof reply === "object" && reply.method !== undefined) {
      if (reply.method !== "answerCallbackQuery") problems.push(`unexpected method ${reply.method}`);
      if (reply.callback_query_id !== update.callback_query.id)
        problems.push("callback_query_id is not the pressed query's");
      if (reply.text !== undefined && [...String(reply.text)].length > 200)
        problems.push("answerCallbackQuery text longer than 200 characters");
    }
    return [200, { status: res.status, reply, problems }];
  }

  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", async () => {
      const url = new URL(req.url, "http://stand-in");
      const send = (status, value) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      const json = () => {
        try {
          return JSON.parse(body || "{}");
        } catch {
          return null;
        }
      };
      try {
        if (url.pathname === "/__control" && req.method === "POST") {
          const { chatId, mode, tooManyRequests } = json() ?? {};
          const c = chat(chatId);
          if (mode !== undefined) c.mode = mode;
          if (tooManyRequests !== undefined)
            c.tooMany = { retryAfter: tooManyRequests.retryAfter, times: tooManyRequests.times ?? 1 };
          return send(200, { chatId, mode: c.mode });
        }
        if (url.pathname === "/__press" && req.method === "POST") return send(...(await press(json() ?? {})));
        if (url.pathname === "/__messages" && req.method === "GET") {
          const c = chat(url.searchParams.get("chatId"));
          return send(200, { messages: c.messages, requests: c.requests });
        }
        const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
        if (!m) return send(404, { ok: false, error_code: 404, description: "Not Found" });
        if (m[1] !== token) return send(401, { ok: false, error_code: 401, description: "Unauthorized" });
        const type = req.headers["content-type"]?.split(";")[0];
        const params =
          type === "application/json"
            ? json()
            : type === "application/x-www-form-urlencoded"
              ? Object.fromEntries(new URLSearchParams(body))
              : url.searchParams.size
                ? Object.fromEntries(url.searchParams)
                : {};
        if (params === null)
          return send(400, { ok: false, error_code: 400, description: "Bad Request: can't parse JSON object" });
        if (m[2] === "sendMessage") return send(...sendMessage(params));
        if (m[2] === "setWebhook") {
          if (typeof params.url !== "string" || !/^https?:\/\//.test(params.url))
            return send(400, { ok: false, error_code: 400, description: "Bad Request: bad webhook: invalid URL" });
          if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(params.secret_token))
            return send(400, {
              ok: false,
              error_code: 400,
              description: "Bad Request: secret token contains unallowed characters",
            });
          webhook = { url: params.url, secret: params.secret_token ?? null };
          return send(200, { ok: true, result: true, description: "Webhook was set" });
        }
        if (m[2] === "getMe")
          return send(200, {
            ok: true,
            result: { id: 1, is_bot: true, first_name: "Fillgrid stand-in", username: "fillgrid_stand_in_bot" },
          });
        return send(404, { ok: false, error_code: 404, description: "Not Found" });
      } catch (error) {
        send(500, { ok: false, error_code: 500, description: String(error) });
      }
    });
  });
  // A port in use is an answer the caller can act on (npm run dev then takes any free port), not a crash.
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    token,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
