import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { roleAllows } from "../../domain/access";
import { errorBodySchema } from "../../domain/schemas";
import type { StreamRequest } from "../../durable-objects/stream-hub";
import { directory } from "../stubs";
import { personByEmail, personFromToken } from "./auth";
import type { AppEnv, Person } from "./context";
import { ApiError } from "./errors";
import { jsonContent, problems } from "./openapi";

/** The subprotocol a browser offers to carry its token: `new WebSocket(url, ["fillgrid", "bearer.<token>"])`. */
export const STREAM_PROTOCOL = "fillgrid";
const BEARER_PROTOCOL = "bearer.";

export const streamQuerySchema = z.strictObject({
  ticket: z.string().max(200).optional(),
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  token: z.string().optional().meta({ description: "Not accepted: tokens do not belong in URLs" }),
});

export const streamResponses = {
  101: { description: "Switching to the WebSocket" },
  426: jsonContent(errorBodySchema, "Not a WebSocket upgrade"),
  ...problems(400, 401, 403, 500),
};

/**
 * Who opens a stream: a single-use ticket (`?ticket=`, from POST /v1/stream-tickets), or a token in
 * `Sec-WebSocket-Protocol`, or `Authorization` for clients that can set headers. Long-lived tokens
 * are never taken from the URL, where logs and histories would keep them.
 */
async function streamPerson(
  env: Env,
  headers: Headers,
  ticket: string | undefined,
): Promise<{ person: Person | null; protocol: string | null }> {
  const offered = (headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const protocol = offered.includes(STREAM_PROTOCOL) ? STREAM_PROTOCOL : null;
  if (ticket !== undefined) {
    const email = await directory(env).redeemTicket(ticket);
    return { person: email ? await personByEmail(env, email) : null, protocol };
  }
  const fromProtocol = offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length);
  const fromHeader = /^Bearer\s+(\S+)$/i.exec(headers.get("Authorization") ?? "")?.[1];
  return { person: await personFromToken(env, fromProtocol ?? fromHeader ?? null), protocol };
}

/** Check who is asking, then hand the WebSocket upgrade to the hub that streams. */
export async function openStream(
  c: Context<AppEnv>,
  q: z.output<typeof streamQuerySchema>,
  hub: { fetch(request: Request): Promise<Response> },
): Promise<Response> {
  if (q.token !== undefined) {
    throw new ApiError(
      401,
      "token_in_url",
      "tokens are not accepted in the URL; get a ticket from POST /v1/stream-tickets and use ?ticket=",
    );
  }
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    throw new ApiError(426, "upgrade_required", "connect with a WebSocket");
  const { person, protocol } = await streamPerson(c.env, c.req.raw.headers, q.ticket);
  if (!person) {
    throw new ApiError(
      401,
      "unauthenticated",
      q.ticket !== undefined
        ? "the ticket is unknown, used or expired; get a new one"
        : "a valid viewer token or ticket is needed",
    );
  }
  if (!roleAllows(person.role, "viewer")) throw new ApiError(403, "forbidden", "this needs the viewer role");
  const stream: StreamRequest = { email: person.email, since: q.since ?? null, protocol };
  const headers = new Headers(c.req.raw.headers);
  headers.set("X-Fillgrid-Stream", JSON.stringify(stream));
  headers.delete("Authorization");
  return hub.fetch(new Request("https://hub/stream", { headers }));
}
