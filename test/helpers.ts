import { exports } from "cloudflare:workers";
import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { Role } from "../domain/access";
import type { ContainerState } from "../domain/container";

const BASE = "http://fillgrid.test";

export function api(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(`${BASE}${path}`, { ...init, headers, body });
}

export async function json<T = Record<string, any>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

export async function login(email: string, password: string): Promise<string> {
  const body = await json<{ token: string }>(await api("/v1/auth/login", { method: "POST", json: { email, password } }), 200);
  return body.token;
}

export function adminToken(): Promise<string> {
  return login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
}

let people = 0;

/** A new user with `role`, logged in. */
export async function personWith(role: Role): Promise<string> {
  const email = `${role}${++people}-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
  const password = "correct horse battery";
  await json(await api("/v1/users", { method: "POST", token: await adminToken(), json: { email, password, role } }), 201);
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

/** The container's state straight from its Durable Object, or null when it holds none. */
export function containerState(containerId: string): Promise<ContainerState | null> {
  return env.CONTAINERS.getByName(containerId).getState() as Promise<ContainerState | null>;
}

/** Poll until `check` returns a value other than undefined, or fail after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = "condition"): Promise<T> {
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

/** A dashboard's WebSocket to the error stream, collecting every message it is sent. */
export async function openErrorStream(token: string | null, since?: number) {
  const query = new URLSearchParams();
  if (token) query.set("token", token);
  if (since !== undefined) query.set("since", String(since));
  const res = await exports.default.fetch(`http://fillgrid.test/v1/errors/stream?${query}`, { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) return { res, socket: null, messages: [] as any[] };
  const socket = res.webSocket;
  const messages: any[] = [];
  socket.addEventListener("message", (event) => {
    if (event.data !== "pong") messages.push(JSON.parse(String(event.data)));
  });
  socket.accept();
  return { res, socket, messages };
}
