// A local stand-in for a partner's webhook receiver, for tests and `npm run dev`. It checks each
// request as a partner integrating with Fillgrid would: POST, JSON, X-Fillgrid-Timestamp within
// 300 s, X-Fillgrid-Signature = v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")> under the
// secret registered for that partner, and the event envelope (eventId, type, occurredAt,
// containerId, orderId, data). Valid events are kept (a repeated eventId once, as a partner
// would dedupe); anything else is answered 400/401 and kept as a refusal with its reason. During a
// secret rotation's overlap the signature header carries two signatures; one that matches is enough.
//   POST /partners/<partnerId>/events   the webhook
//   POST /__control  {partnerId, secret?, mode?: "ok" | "fail" | "timeout"}   set up a partner
//   GET  /__received?partnerId=…         {events, accepted: {eventId: times}, refusals, requests}
// `secretsFile`: where the secrets are kept, so a stand-in started again verifies as before.
import { createHmac, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";

export async function startPartnerStandIn({ port = 0, log = () => {}, secretsFile = null } = {}) {
  const partners = new Map(); // id -> { secret, mode, events: Map<eventId, event>, refusals: [], requests: 0 }
  const partner = (id) => {
    if (!partners.has(id))
      partners.set(id, { secret: null, mode: "ok", events: new Map(), accepted: {}, refusals: [], requests: 0 });
    return partners.get(id);
  };
  if (secretsFile && existsSync(secretsFile))
    for (const [id, secret] of Object.entries(JSON.parse(readFileSync(secretsFile, "utf8"))))
      partner(id).secret = secret;
  const keepSecrets = () => {
    if (!secretsFile) return;
    const secrets = Object.fromEntries([...partners].filter(([, p]) => p.secret).map(([id, p]) => [id, p.secret]));
    writeFileSync(secretsFile, JSON.stringify(secrets, null, 2));
  };
  const hanging = new Set();

  function verify(p, req, body) {
    if (req.headers["content-type"]?.split(";")[0] !== "application/json")
      return [400, "Content-Type is not application/json"];
    const timestamp = req.headers["x-fillgrid-timestamp"];
    const signature = req.headers["x-fillgrid-signature"];
    if (typeof timestamp !== "string" || !/^\d+$/.test(timestamp))
      return [401, "X-Fillgrid-Timestamp missing or not unix seconds"];
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300)
      return [401, "X-Fillgrid-Timestamp more than 300 s from now"];
    if (!p.secret) return [401, "no secret registered for this partner"];
    const expected = Buffer.from(`v1=${createHmac("sha256", p.secret).update(`${timestamp}.${body}`).digest("hex")}`);
    const given = (typeof signature === "string" ? signature : "").split(",").map((s) => Buffer.from(s.trim()));
    if (!given.some((g) => g.length === expected.length && timingSafeEqual(expected, g)))
      return [401, "X-Fillgrid-Signature does not match"];
    let event;
    try {
      event = JSON.parse(body);
    } catch {
      return [400, "body is not JSON"];
    }
    // A test event (ping) is about no container or order.
    const fields =
      event.type === "ping"
        ? ["eventId", "type", "occurredAt"]
        : ["eventId", "type", "occurredAt", "containerId", "orderId"];
    for (const field of fields) {
      if (typeof event[field] !== "string" || event[field] === "") return [400, `${field} missing`];
    }
    if (Number.isNaN(Date.parse(event.occurredAt))) return [400, "occurredAt is not a timestamp"];
    if (!event.data || typeof event.data !== "object") return [400, "data missing"];
    return [200, event];
  }

  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const url = new URL(req.url, "http://stand-in");
      const send = (status, value) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (url.pathname === "/__control" && req.method === "POST") {
        const { partnerId, secret, mode } = JSON.parse(body || "{}");
        const p = partner(partnerId);
        if (secret !== undefined) p.secret = secret;
        if (mode !== undefined) p.mode = mode;
        if (secret !== undefined) keepSecrets();
        return send(200, { partnerId, mode: p.mode });
      }
      if (url.pathname === "/__received" && req.method === "GET") {
        const p = partner(url.searchParams.get("partnerId"));
        return send(200, {
          events: [...p.events.values()],
          accepted: p.accepted,
          refusals: p.refusals,
          requests: p.requests,
        });
      }
      const m = /^\/partners\/([^/]+)\/events$/.exec(url.pathname);
      if (!m || req.method !== "POST") return send(404, { error: "no such endpoint" });
      const p = partner(decodeURIComponent(m[1]));
      p.requests++;
      if (p.mode === "timeout") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      if (p.mode === "fail") return send(503, { error: "partner unavailable (stand-in told to fail)" });
      const [status, result] = verify(p, req, body);
      if (status !== 200) {
        p.refusals.push({ status, reason: result });
        log(`refused: ${result}`);
        return send(status, { error: result });
      }
      if (!p.events.has(result.eventId)) p.events.set(result.eventId, result);
      p.accepted[result.eventId] = (p.accepted[result.eventId] ?? 0) + 1;
      log(`${m[1]} ← ${result.type} ${result.orderId}`);
      return send(200, { received: result.eventId });
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
    webhookUrl: (partnerId) => `${url}/partners/${encodeURIComponent(partnerId)}/events`,
    async close() {
      for (const res of hanging) res.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
