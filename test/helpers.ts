import { exports } from "cloudflare:workers";
import {
  createExecutionContext,
  createMessageBatch,
  env,
  getQueueResult,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { expect, inject } from "vitest";
import type { Role } from "../domain/access";
import type { ContainerState } from "../domain/container";
import type { ErrorChange, ErrorRecord } from "../domain/errors";
import type { z } from "zod";
import type {
  containerEventSchema,
  fleetContainerSchema,
  orderSchema,
  readingResultSchema,
  storedReadingSchema,
} from "../domain/schemas";
import { hmacSha256Hex } from "../platform/crypto";
import type { ChangeRange, RangeBatch } from "../domain/change-message";
import worker from "../workers/index";

// What the routes answer, as their schemas declare it (the same types a typed client sees).
export type Order = z.infer<typeof orderSchema>;
export type ReadingResult = z.infer<typeof readingResultSchema>;
export type StoredReading = z.infer<typeof storedReadingSchema>;
export type ContainerEvent = z.infer<typeof containerEventSchema>;
export type FleetContainer = z.infer<typeof fleetContainerSchema>;
export type ReadingsAnswer = { results: ReadingResult[] };
export type OrderAnswer = { order: Order };
export type Page<K extends string, T> = { [key in K]: T[] } & { nextCursor: string | null };
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    issues?: { path: string; message: string }[];
    requestId?: string;
    order?: Order;
    record?: ErrorRecord;
  };
}
/** A line on the error stream: a change, or `ready` / `reset` with the latest seq. */
export type StreamMessage =
  | (ErrorChange & { type: ErrorChange["type"] })
  | { type: "ready" | "reset" | "notice"; seq: number; record?: undefined; message?: string };

const BASE = "http://fillgrid.test";

// Each test file speaks from an address of its own (a documentation-range one, only ever a header
// value), as separate clients would, so the per-address login limit counts each file on its own.
const CLIENT_IP = `2001:db8::${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}`;

export function api(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", CLIENT_IP);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(`${BASE}${path}`, { ...init, headers, body });
}

/** The body of an answer, after checking its status; name the type the route declares. */
export async function json<T = unknown>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export async function login(email: string, password: string): Promise<string> {
  const body = await json<{ token: string }>(
    await api("/v1/auth/login", { method: "POST", json: { email, password } }),
    200,
  );
  return body.token;
}

let admin: Promise<string> | null = null;

/** The first admin's token, logged in once per file (logins are rate limited per email). */
export function adminToken(): Promise<string> {
  admin ??= login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  return admin;
}

let people = 0;

/** A new user with `role`, logged in. */
export async function personWith(role: Role): Promise<string> {
  const email = `${role}${++people}-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
  const password = "correct horse battery";
  await json(
    await api("/v1/users", { method: "POST", token: await adminToken(), json: { email, password, role } }),
    201,
  );
  return login(email, password);
}

export async function deviceKey(containerId: string | null = null): Promise<{ key: string; id: string }> {
  const body = await json<{ key: string; deviceKey: { id: string } }>(
    await api("/v1/device-keys", { method: "POST", token: await adminToken(), json: { containerId } }),
    201,
  );
  return { key: body.key, id: body.deviceKey.id };
}

let clock = Date.parse("2026-01-01T00:00:00Z");

/** A valid reading, each one measured a second after the one before. */
export function reading(containerId: string, fillPercent: number, extra: Record<string, unknown> = {}) {
  clock += 1000;
  return {
    containerId,
    readingId: `r-${crypto.randomUUID()}`,
    fillPercent,
    location: { lat: 59.33, lon: 18.06 },
    battery: 90,
    contents: "diesel",
    measuredAt: new Date(clock).toISOString(),
    ...extra,
  };
}

export function postReadings(key: string, body: unknown): Promise<Response> {
  return api("/v1/readings", { method: "POST", token: key, json: body });
}

export function uniqueContainer(prefix = "tank"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** What goes to the projection queue: a container's own range, or ranges the worker relays for many. */
export type ProjectionMessage = ChangeRange | RangeBatch;

/** Each range a projection message carries. */
export const rangesOf = (body: ProjectionMessage): ChangeRange[] => ("ranges" in body ? body.ranges : [body]);

/**
 * The projection queue as one container's object and the worker posting its readings see it: each
 * send is handed to `send` (which may pass it on to the real queue, change it, or throw, as a
 * failing queue would), whether the object sends its events itself or the worker relays them. The
 * object keeps the watched queue until it is evicted or `unwatch` is called.
 */
export async function watchProjectionQueue(containerId: string, send: (bodies: ProjectionMessage[]) => Promise<void>) {
  // Senders send range messages as JSON text (contentType "text"); the watcher gets the value.
  const value = (body: unknown, contentType: string | undefined) =>
    (contentType === "text" ? JSON.parse(body as string) : body) as ProjectionMessage;
  const watched = {
    send: (body: unknown, options?: QueueSendOptions) => send([value(body, options?.contentType)]),
    sendBatch: (messages: Iterable<MessageSendRequest<unknown>>) =>
      send([...messages].map((m) => value(m.body, m.contentType))),
  } as unknown as Queue;
  const bindings: Env = { ...env, PROJECTION_QUEUE: watched };
  const rebind = (to: Env) =>
    runInDurableObject(env.CONTAINERS.getByName(containerId), (instance) => {
      // The object's bindings, as the runtime gave them, with the one queue replaced.
      Object.assign(instance, { env: to });
    });
  await rebind(bindings);
  return {
    /** POST /v1/readings through a worker with the watched queue; resolves once its relay is done. */
    async post(key: string, body: unknown): Promise<Response> {
      const ctx = createExecutionContext();
      const request = new Request(`${BASE}/v1/readings`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "CF-Connecting-IP": CLIENT_IP },
        body: JSON.stringify(body),
      });
      const res = await worker.fetch!(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    },
    /** Give the object its own queue back. */
    unwatch: () => rebind(env),
  };
}

/**
 * A batch of these bodies handed to the worker's consumer of `queue`, as the runtime would hand it;
 * fails the test if the consumer sends any back for a retry.
 */
export async function deliverBatch(queue: string, bodies: readonly unknown[]): Promise<void> {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  expect((await getQueueResult(batch, ctx)).retryMessages).toEqual([]);
}

/** Everything a container holds that a restore must bring back: its state, log, readings and orders. */
export async function containerHoldings(containerId: string) {
  const s = env.CONTAINERS.getByName(containerId);
  return {
    state: (await s.getState()) as ContainerState | null,
    events: (await s.listEvents(0, 10_000)) as ContainerEvent[],
    readings: (await s.listReadings(1000, null))?.items ?? [],
    orders: (await s.listOrders(1000, null))?.items ?? [],
  };
}

/** A Durable Object's storage gone, and the object started again on it (a wipe before a restore). */
export async function wipeObject(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, async (_instance, ctx) => {
    await ctx.storage.deleteAll();
  });
  // Aborting throws in the object by design: the next call gets a new instance on the empty storage.
  await runInDurableObject(stub, (_instance, ctx) => ctx.abort("wiped")).catch(() => undefined);
}

/** The container's state straight from its Durable Object, or null when it holds none. */
export function containerState(containerId: string): Promise<ContainerState | null> {
  return env.CONTAINERS.getByName(containerId).getState() as Promise<ContainerState | null>;
}

/** Poll until `check` returns a value other than undefined, or fail after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A single-use ticket for a stream, as a dashboard gets one before it connects. */
export async function streamTicket(token: string): Promise<string> {
  const body = await json<{ ticket: string }>(await api("/v1/stream-tickets", { method: "POST", token }), 201);
  return body.ticket;
}

/** A dashboard's WebSocket to the error stream (through a ticket), collecting every message it is sent. */
export async function openErrorStream(
  token: string | null,
  since?: number,
  auth: { ticket?: string; protocols?: string[] } = {},
) {
  const query = new URLSearchParams();
  const ticket = auth.ticket ?? (token && !auth.protocols ? await streamTicket(token) : undefined);
  if (ticket) query.set("ticket", ticket);
  if (since !== undefined) query.set("since", String(since));
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (auth.protocols) headers["Sec-WebSocket-Protocol"] = auth.protocols.join(", ");
  const res = await exports.default.fetch(`http://fillgrid.test/v1/errors/stream?${query}`, { headers });
  if (res.status !== 101 || !res.webSocket) return { res, socket: null, messages: [] as StreamMessage[] };
  const socket = res.webSocket;
  const messages: StreamMessage[] = [];
  socket.addEventListener("message", (event) => {
    if (event.data !== "pong") messages.push(JSON.parse(String(event.data)) as StreamMessage);
  });
  socket.accept();
  return { res, socket, messages };
}

/** The worker's bindings with Postgres out of reach: no server at the address, no relay in front. */
export function withDatabaseDown(): Env {
  return { ...env, DATABASE_URL: "postgres://nobody@127.0.0.1:1/nothing", NEON_WS_PROXY: "127.0.0.1:1/v2" };
}

export type TokenAnswer = { token: string; expiresAt: string; role: string };
export type DeviceKeyRecord = {
  id: string;
  label: string | null;
  containerId: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  createdBy: string;
};
export type DeadLetter = { id: number; queue: string; messageId: string; body: unknown; replayedAt: string | null };

export type PartnerAnswer = {
  partner: { id: string; name: string; previousSecretValidUntil: string | null; disabled: boolean };
  secret: string;
};

let partners = 0;
/**
 * A new partner (`ipRanges` and `serves` as an admin would give them), receiving Fillgrid's events
 * at the partner stand-in, which knows its secret: what it is sent is accepted there.
 */
export async function newPartner(extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const id = `p${++partners}-${crypto.randomUUID().slice(0, 8)}`;
  const standIn = inject("partnerStandIn").url;
  const webhookUrl = `${standIn}/partners/${id}/events`;
  const body = await json<PartnerAnswer>(
    await api("/v1/partners", {
      method: "POST",
      token: await adminToken(),
      json: { id, name: `Partner ${id}`, webhookUrl, ...extra },
    }),
    201,
  );
  await fetch(`${standIn}/__control`, {
    method: "POST",
    body: JSON.stringify({ partnerId: id, secret: body.secret, mode: "ok" }),
  });
  return { id, secret: body.secret };
}

/** A partner's event, signed as the README's Partners section states (or as `tamper` spoils it). */
export async function partnerEvent(
  partner: { id: string; secret: string },
  event: Record<string, unknown>,
  tamper: { timestamp?: number; signature?: string; ip?: string; secret?: string; omit?: string } = {},
): Promise<Response> {
  const body = JSON.stringify({ occurredAt: new Date().toISOString(), eventId: `e-${crypto.randomUUID()}`, ...event });
  const timestamp = String(tamper.timestamp ?? Math.floor(Date.now() / 1000));
  const signature =
    tamper.signature ?? `v1=${await hmacSha256Hex(tamper.secret ?? partner.secret, `${timestamp}.${body}`)}`;
  const headers = new Headers({
    "Content-Type": "application/json",
    "X-Fillgrid-Timestamp": timestamp,
    "X-Fillgrid-Signature": signature,
    ...(tamper.ip ? { "CF-Connecting-IP": tamper.ip } : {}),
  });
  if (tamper.omit) headers.delete(tamper.omit);
  return api(`/v1/webhooks/partners/${partner.id}`, { method: "POST", headers, body });
}

/** A container's whole log as one range message, as the projection consumer passes it on to the backup. */
export async function logAsRange(containerId: string): Promise<ChangeRange> {
  const stub = env.CONTAINERS.getByName(containerId);
  const events = (await stub.listEvents(0, 10_000)) as ContainerEvent[];
  return { range: true, containerId, events, state: (await stub.getState()) as ContainerState, orders: [] };
}
