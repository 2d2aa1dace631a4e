import { env, runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { DirectoryDO } from "../durable-objects/directory";
import type { ErrorHub } from "../durable-objects/error-hub";
import {
  adminToken,
  api,
  deviceKey,
  eventually,
  json,
  login,
  openErrorStream,
  personWith,
  postReadings,
  reading,
  streamTicket,
  uniqueContainer,
} from "./helpers";

let viewer: string;

beforeAll(async () => {
  viewer = await personWith("viewer");
});

const ready = (messages: Array<{ type?: string }>) => eventually(async () => messages.find((m) => m.type === "ready"));

describe("opening the error stream", () => {
  it("with a ticket: it works once, and a reused ticket is refused", async () => {
    const ticket = await streamTicket(viewer);
    expect(ticket).toMatch(/^fgt_/);
    const first = await openErrorStream(null, undefined, { ticket });
    expect(first.res.status).toBe(101);
    await ready(first.messages);
    first.socket!.close();
    const reused = await openErrorStream(null, undefined, { ticket });
    expect(reused.res.status).toBe(401);
    expect((await json<{ error: { message: string } }>(reused.res, 401)).error.message).toMatch(/used or expired/);
  });

  it("an expired ticket is refused", async () => {
    const ticket = await streamTicket(viewer);
    await runInDurableObject(env.DIRECTORY.getByName("directory"), (_instance: DirectoryDO, state) => {
      state.storage.sql.exec("UPDATE stream_tickets SET expires_at = ? WHERE ticket = ?", Date.now() - 1, ticket);
    });
    expect((await openErrorStream(null, undefined, { ticket })).res.status).toBe(401);
  });

  it("a ticket lives 30 seconds", async () => {
    const issued = await json<{ expiresAt: string }>(
      await api("/v1/stream-tickets", { method: "POST", token: viewer }),
      201,
    );
    const left = Date.parse(issued.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(25_000);
    expect(left).toBeLessThanOrEqual(30_000);
    await json(await api("/v1/stream-tickets", { method: "POST" }), 401);
  });

  it("a login token in the URL is refused", async () => {
    const res = await exports.default.fetch(`http://fillgrid.test/v1/errors/stream?token=${viewer}`, {
      headers: { Upgrade: "websocket" },
    });
    const body = await json<{ error: { code: string; message: string } }>(res, 401);
    expect(body.error.code).toBe("token_in_url");
    expect(body.error.message).toMatch(/stream-tickets/);
  });

  it("with the token in Sec-WebSocket-Protocol, answered with the fillgrid subprotocol", async () => {
    const stream = await openErrorStream(null, undefined, { protocols: ["fillgrid", `bearer.${viewer}`] });
    expect(stream.res.status).toBe(101);
    expect(stream.res.headers.get("Sec-WebSocket-Protocol")).toBe("fillgrid");
    await ready(stream.messages);
    stream.socket!.close();
  });

  it("a disabled person's ticket opens nothing", async () => {
    const admin = await adminToken();
    const email = `streamer-${crypto.randomUUID().slice(0, 8)}@fillgrid.test`;
    await json(
      await api("/v1/users", {
        method: "POST",
        token: admin,
        json: { email, password: "a long enough password", role: "viewer" },
      }),
      201,
    );
    const ticket = await streamTicket(await login(email, "a long enough password"));
    await json(
      await api(`/v1/users/${encodeURIComponent(email)}`, { method: "PATCH", token: admin, json: { disabled: true } }),
      200,
    );
    expect((await openErrorStream(null, undefined, { ticket })).res.status).toBe(401);
  });
});

describe("the hub's socket handlers", () => {
  it("a socket error is logged and becomes an error record naming the dashboard's person", async () => {
    const stream = await openErrorStream(viewer);
    await ready(stream.messages);
    const marker = `socket broke ${crypto.randomUUID()}`;
    await runInDurableObject(env.ERROR_HUB.getByName("errors"), (instance: ErrorHub, state) => {
      const socket = state.getWebSockets("dashboard").at(-1)!;
      instance.webSocketError(socket, new Error(marker));
    });
    const record = await eventually(
      async () =>
        (await env.ERROR_HUB.getByName("errors").list({ limit: 500 })).items.find((r) => r.message === marker),
      20_000,
      "the socket error's record",
    );
    expect(record).toMatchObject({
      source: "durable-object",
      context: { object: "ErrorHub", email: expect.stringMatching(/^viewer/) },
    });
  });
});

describe("logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("carry no token, password, device key or ticket", async () => {
    const lines: string[] = [];
    for (const level of ["log", "info", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    }
    const admin = await login(env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
    const { key } = await deviceKey();
    await json(await postReadings(key, reading(uniqueContainer("logs"), 40)), 200);
    await json(await postReadings(key, { ...reading(uniqueContainer("logs"), 40), fillPercent: 300 }), 400);
    await api("/v1/auth/login", {
      method: "POST",
      json: { email: env.ADMIN_EMAIL, password: "a wrong password here" },
    });
    const ticket = await streamTicket(admin);
    const stream = await openErrorStream(null, undefined, { ticket });
    await ready(stream.messages);
    stream.socket!.close();
    await json(await api("/v1/diagnostics/fail", { method: "POST", token: admin }), 500);
    vi.restoreAllMocks();

    expect(lines.length).toBeGreaterThan(5);
    const all = lines.join("\n");
    for (const secret of [
      admin,
      key,
      key.slice(22),
      ticket,
      env.ADMIN_PASSWORD,
      "a wrong password here",
      env.JWT_SECRET,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
