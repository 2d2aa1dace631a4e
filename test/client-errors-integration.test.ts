// POST /v1/client-errors: what a person's browser caught becomes an error record like any other
// failure (source "dashboard"), grouped so the same crash from many browsers is one record.
import { beforeAll, describe, expect, it } from "vitest";
import type { ErrorRecord } from "../domain/errors";
import { api, eventually, json, personWith, type ErrorBody, type Page } from "./helpers";

let viewer: string;
let otherViewer: string;

beforeAll(async () => {
  viewer = await personWith("viewer");
  otherViewer = await personWith("viewer");
});

const emailOf = (token: string) =>
  (JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { sub: string }).sub;

const CHROME_STACK = (id: string) =>
  `TypeError: Cannot read properties of null (reading 'id')\n    at OrderRows (http://127.0.0.1:8787/assets/index-${id}.js:41:1207)\n    at renderWithHooks (http://127.0.0.1:8787/assets/index-${id}.js:9:3012)`;
const FIREFOX_STACK =
  "OrderRows@http://127.0.0.1:8787/assets/index-Bx1.js:41:1301\nrenderWithHooks@http://127.0.0.1:8787/assets/index-Bx1.js:9:3100";

function report(marker: string, extra: Record<string, unknown> = {}) {
  return {
    kind: "render",
    name: "TypeError",
    message: `Cannot read properties of null (reading 'id') ${marker}`,
    stack: CHROME_STACK("a1"),
    componentStack: "\n    at OrdersPage\n    at View",
    view: "/orders",
    path: "/orders",
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/147.0",
    ...extra,
  };
}

const send = (body: unknown, token: string | null = viewer) =>
  api("/v1/client-errors", { method: "POST", json: body, ...(token ? { token } : {}) });

async function dashboardRecords(): Promise<ErrorRecord[]> {
  return (
    await json<Page<"errors", ErrorRecord>>(await api("/v1/errors?source=dashboard&limit=500", { token: viewer }), 200)
  ).errors;
}

const recordWhere = (predicate: (r: ErrorRecord) => boolean, what: string) =>
  eventually(async () => (await dashboardRecords()).find(predicate), 20_000, what);

describe("POST /v1/client-errors", () => {
  it("is refused without a valid person's token (401)", async () => {
    const marker = `anonymous-${crypto.randomUUID()}`;
    expect((await json<ErrorBody>(await send(report(marker), null), 401)).error.code).toBe("unauthenticated");
    await json(await send(report(marker), "not-a-token"), 401);
  });

  it("answers 400 naming the field for a bad body, and stores nothing from it", async () => {
    const marker = `refused-${crypto.randomUUID()}`;
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ view: undefined }, "view", /is required/],
      [{ view: "" }, "view", /must not be empty/],
      [{ stack: "x".repeat(16_001) }, "stack", /at most 16000 characters/],
      [{ message: "m".repeat(2001) }, "message", /at most 2000 characters/],
      [{ path: "/orders?token=secret" }, "path", /without query or fragment/],
      [{ kind: "crash" }, "kind", /must be one of "render", "error", "rejection"/],
      [{ name: 42 }, "name", /must be a string/],
      [{ cookie: "session=1" }, "cookie", /is not a known field/],
    ];
    for (const [patch, field, message] of cases) {
      const body = await json<ErrorBody>(await send(report(marker, patch)), 400);
      expect(body.error.code).toBe("validation_failed");
      const issue = body.error.issues!.find((i) => i.path === field);
      expect(issue, `${field}: ${JSON.stringify(body.error)}`).toBeDefined();
      expect(issue!.message).toMatch(message);
      expect(body.error.message).toContain(field);
    }
    // Not JSON at all: 400 (unparseable) or 415 (not sent as JSON).
    expect(
      (
        await api("/v1/client-errors", {
          method: "POST",
          token: viewer,
          headers: { "Content-Type": "application/json" },
          body: "{not json",
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api("/v1/client-errors", {
          method: "POST",
          token: viewer,
          headers: { "Content-Type": "text/plain" },
          body: "boom",
        })
      ).status,
    ).toBe(415);

    // A good report sent after them arrives; none of the refused ones ever does.
    const after = `accepted-after-${crypto.randomUUID()}`;
    await json(await send(report(after)), 202);
    await recordWhere((r) => r.message.includes(after), "the report sent after the refused ones");
    expect((await dashboardRecords()).filter((r) => r.message.includes(marker))).toEqual([]);
  });

  it("answers 202 and the report becomes a record on GET /v1/errors: who, which view, the stacks", async () => {
    const marker = `recorded-${crypto.randomUUID()}`;
    const answer = await json<{ reportId: string; fingerprint: string }>(await send(report(marker)), 202);
    expect(answer.reportId).toMatch(/^[0-9a-f-]{36}$/);
    const record = await recordWhere((r) => r.message.includes(marker), "the dashboard's record");
    expect(record).toMatchObject({
      fingerprint: answer.fingerprint,
      source: "dashboard",
      name: "TypeError",
      count: 1,
      status: "open",
      context: {
        email: emailOf(viewer),
        view: "/orders",
        path: "/orders",
        kind: "render",
        userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/147.0",
      },
    });
    expect(record.context.requestId).toEqual(expect.any(String));
    expect(record.stack).toContain("at OrderRows");
    expect(record.stack).toContain("at OrdersPage");
    // Without a user agent in the body, the request's own is kept.
    const bare = `bare-${crypto.randomUUID()}`;
    await json(await send({ kind: "error", name: "Error", message: bare, view: "/", path: "/" }), 202);
    const plain = await recordWhere((r) => r.message === bare, "the bare report");
    expect(plain.stack).toBeNull();
    expect(plain.context).toMatchObject({ kind: "error", view: "/", email: emailOf(viewer) });
  });

  it("the same failure from other browsers, people, paths and numbers is one record with a count; another view is another record", async () => {
    const marker = `grouped-${crypto.randomUUID().slice(0, 8)}`;
    const first = await json<{ fingerprint: string }>(
      await send(
        report(marker, { message: `Order ord_01HZZZZZZZZZZZZZZZZZZZZZZZ has 3 lines ${marker}`, path: "/orders" }),
      ),
      202,
    );
    const second = await json<{ fingerprint: string }>(
      await send(
        report(marker, {
          message: `Order ord_01J000000000000000000000AB has 12 lines ${marker}`,
          stack: FIREFOX_STACK,
          userAgent: "Mozilla/5.0 Firefox/140.0",
        }),
        otherViewer,
      ),
      202,
    );
    const third = await json<{ fingerprint: string }>(
      await send(
        report(marker, {
          message: `Order ord_01J111111111111111111111CD has 7 lines ${marker}`,
          stack: CHROME_STACK("c9"),
        }),
      ),
      202,
    );
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(third.fingerprint).toBe(first.fingerprint);
    const record = await eventually(
      async () => {
        const r = (await dashboardRecords()).find((e) => e.fingerprint === first.fingerprint);
        return r && r.count >= 3 ? r : undefined;
      },
      20_000,
      "three reports counted on one record",
    );
    expect(record.count).toBe(3);
    expect((await dashboardRecords()).filter((r) => r.message.includes(marker))).toHaveLength(1);

    const elsewhere = await json<{ fingerprint: string }>(
      await send(
        report(marker, {
          message: `Order ord_01HZZZZZZZZZZZZZZZZZZZZZZZ has 3 lines ${marker}`,
          view: "/containers/:id",
          path: "/containers/silo-7",
        }),
      ),
      202,
    );
    expect(elsewhere.fingerprint).not.toBe(first.fingerprint);
    await recordWhere((r) => r.fingerprint === elsewhere.fingerprint, "the other view's record");
  });

  it("is in the API reference, and the dashboard is a source everywhere sources are named", async () => {
    type Doc = {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: unknown;
            responses: Record<string, unknown>;
            parameters?: { name: string; schema: { enum?: string[] } }[];
          }
        >
      >;
      components: { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> };
    };
    const doc = await json<Doc>(await api("/openapi.json"), 200);
    const post = doc.paths["/v1/client-errors"]!.post!;
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["202", "400", "401", "429"]));
    expect(doc.components.schemas.ErrorRecord!.properties.source!.enum).toContain("dashboard");
    expect(doc.paths["/v1/errors"]!.get!.parameters!.find((p) => p.name === "source")!.schema.enum).toContain(
      "dashboard",
    );
    await json(await api("/v1/errors?source=dashboard", { token: viewer }), 200);
  });
});
